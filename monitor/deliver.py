"""Send due outbox rows: claim (lease) -> notifier -> sent / retry later / dead.

Rows of different notifiers are sent concurrently, rows of one notifier in order, so a
slow or failing Slack never delays the email of the same alert. The database is never
held across a send: claim and mark are separate short transactions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitor.config import DeliveryConfig
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.faults import crash_point
from monitor.models import Delivery
from monitor.notify import Notifier
from monitor.schedule import delivery_backoff
from monitor.store import Store
from monitor.text import clean

log = logging.getLogger("newsmon.deliver")

LEASE = 300.0  # a crashed send is retried after this long
BATCH = 200


@dataclass
class DeliveryReport:
    sent: int = 0
    retry: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.retry or self.dead)


async def _send_one(
    store: Store, notifier: Notifier, row: Delivery, policy: DeliveryConfig, report: DeliveryReport
) -> None:
    label = f"alert {row.alert.id} rule={row.alert.rule_id} notifier={row.notifier}"
    try:
        note = await notifier.send(row)
    except TransientDelivery as exc:
        now = time.time()
        attempts = row.attempts + 1
        too_old = now - row.alert.created_at > policy.max_age
        if attempts >= policy.max_attempts or too_old:
            why = "max age" if too_old else f"{attempts} attempts"
            store.mark_dead(row.id, now, f"{exc} (gave up after {why})")
            report.dead += 1
            report.errors.append(f"notifier {row.notifier}: {exc}; gave up after {why}")
            log.error("%s: delivery failed, gave up after %s: %s", label, why, exc)
            return
        delay = delivery_backoff(
            attempts, base=policy.backoff_base, cap=policy.backoff_cap, retry_after=exc.retry_after
        )
        store.mark_retry(row.id, now, str(exc), now + delay)
        report.retry += 1
        report.errors.append(f"notifier {row.notifier}: {exc}; retry in {delay:.0f}s")
        log.warning(
            "%s: delivery failed (attempt %d), retry in %.0fs: %s", label, attempts, delay, exc
        )
        return
    except PermanentDelivery as exc:
        store.mark_dead(row.id, time.time(), str(exc))
        report.dead += 1
        report.errors.append(f"notifier {row.notifier}: {exc}")
        log.error("%s: delivery failed permanently: %s", label, exc)
        return
    except Exception as exc:  # a bug in a notifier must not stop the others
        store.mark_retry(row.id, time.time(), f"internal error: {exc!r}", time.time() + LEASE)
        report.retry += 1
        report.errors.append(f"notifier {row.notifier}: internal error {exc!r}")
        log.exception("%s: internal error in notifier", label)
        return
    crash_point("after_send")
    store.mark_sent(row.id, time.time())
    report.sent += 1
    if note:
        log.warning("%s: %s", label, clean(note))
    log.info("%s: delivered %s", label, repr(clean(row.alert.item.title, 120)))


async def deliver_due(
    store: Store, notifiers: Mapping[str, Notifier], policy: DeliveryConfig
) -> DeliveryReport:
    """Deliver every due row once; return what happened."""
    report = DeliveryReport()
    rows = store.claim_deliveries(list(notifiers), time.time(), LEASE, BATCH)
    by_notifier: dict[str, list[Delivery]] = defaultdict(list)
    for row in rows:
        by_notifier[row.notifier].append(row)

    async def lane(name: str, lane_rows: list[Delivery]) -> None:
        for i, row in enumerate(lane_rows):
            try:
                await _send_one(store, notifiers[name], row, policy, report)
            except asyncio.CancelledError:
                store.release([r.id for r in lane_rows[i:]])
                raise

    await asyncio.gather(*(lane(name, lane_rows) for name, lane_rows in by_notifier.items()))
    return report
