"""Send due outbox rows: claim (lease) -> notifier -> sent / retry later / dead.

Each notifier drains its own queue: rows are claimed per notifier (at most ``BATCH`` each,
so one notifier's backlog never keeps another's rows unclaimed), notifiers are sent
concurrently, rows of one notifier in order, so a slow or failing Slack never delays the
email of the same alert. Every attempt has a total deadline (``delivery.timeout``). When a
notifier fails, the rest of its rows wait for the next tick instead of hammering a sick
receiver; a daemon tick gives each notifier at most ``delivery.tick`` of sending, ``once``
drains every queue. Rows of one digest window are sent together, at most ``max_batch``
per message, in a stable order, and a failed digest's rows are retried together: the
retry is the same digest (same id, same rows). The database is never held across a
send: claim and mark are separate short transactions, run on the database thread
(``db``), so a mark waiting for the lock holds only its own lane.

A row that gives up (permanent error, ``delivery.max_attempts`` or ``delivery.max_age``)
becomes ``dead`` and one operator notice per notifier and hour goes to
``defaults.ops_notify``; failures of the notices themselves are only logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitor.config import Config, NotifierSettings
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.models import Delivery
from monitor.notify import Notifier
from monitor.service import metrics, notices
from monitor.service.dbthread import StoreThread
from monitor.service.schedule import delivery_backoff
from monitor.store.rows import digest_due
from monitor.testhooks import crash_point
from monitor.text import clean

log = logging.getLogger("newsmon.deliver")

LEASE = 300.0  # a crashed send is retried after this long (or at the next start)
RETRY_AFTER_CAP = 86400.0  # honour a receiver's Retry-After up to a day
BATCH = 500


@dataclass
class DeliveryReport:
    sent: int = 0
    retry: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)
    left: dict[str, int] = field(default_factory=dict)  # notifier -> rows still due

    @property
    def failed(self) -> bool:
        return bool(self.retry or self.dead or self.left)


@dataclass
class InFlight:
    """How many sends are on the wire right now (a stop waits for those, not for rows
    waiting for the database)."""

    sends: int = 0


def config_hash(config: NotifierSettings) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


async def active_notifiers(db: StoreThread, config: Config) -> list[str]:
    """Configured notifiers minus those a receiver disabled (same config since)."""
    disabled = await db(db.store.disabled_notifiers)
    out = []
    for name, spec in config.notifiers.items():
        state = disabled.get(name)
        if state is None:
            out.append(name)
        elif state[1] != config_hash(spec):
            await db(db.store.enable_notifier, name)
            log.info("notifier %s: configuration changed, enabled again", name)
            out.append(name)
    return out


async def release_stale_leases(db: StoreThread) -> int:
    """Rows a crashed process left 'sending' are due again at once. Only safe while this
    process holds the database lock: no other sender can be mid-send."""
    return await db(db.store.release_all_sending)


def _units(rows: list[Delivery], max_batch: int) -> list[list[Delivery]]:
    """Instant rows one by one; digest rows grouped by their window (its length and its
    end: two windows of one length are two digests), in a stable order, chunked to
    max_batch, so a retry of the same rows makes the same chunks (same digest ids)."""
    units: list[list[Delivery]] = []
    digests: dict[tuple[float, float], list[Delivery]] = defaultdict(list)
    for row in rows:
        if row.digest > 0:
            digests[(row.digest, digest_due(row.alert.created_at, row.digest))].append(row)
        else:
            units.append([row])
    for _window, group in sorted(digests.items()):
        group.sort(key=lambda d: (d.alert.created_at, d.id))
        units += [group[i : i + max_batch] for i in range(0, len(group), max(1, max_batch))]
    return units


class _Run:
    def __init__(
        self,
        db: StoreThread,
        config: Config,
        report: DeliveryReport,
        pauses: dict[str, float],
        in_flight: InFlight,
    ) -> None:
        self.pauses = pauses
        self.in_flight = in_flight
        self.db = db
        self.store = db.store
        self.config = config
        self.policy = config.delivery
        self.report = report

    def _label(self, unit: list[Delivery]) -> str:
        first = unit[0]
        if len(unit) > 1:
            return f"digest of {len(unit)} alerts notifier={first.notifier}"
        return f"alert {first.alert.id} rule={first.alert.rule_id} notifier={first.notifier}"

    async def _dead(self, row: Delivery, error: str) -> None:
        now = time.time()
        await self.db(self.store.mark_dead, row.id, now, error)
        metrics.DELIVERIES.labels(row.notifier, "dead").inc()
        self.report.dead += 1
        if row.alert.kind == "notice":
            return  # never a notice about a notice
        targets = [n for n in self.config.defaults.ops_notify if n != row.notifier]
        notice = notices.delivery_dead(
            row.notifier, clean(row.alert.item.title, 200), row.alert.rule_id, error, now
        )
        if not targets:
            return
        queued = await self.db(
            self.store.add_notice, notice.key, notice.subject, notice.body, targets, now
        )
        if queued:
            log.info("operator notice queued for %s", ", ".join(targets))

    async def transient(self, unit: list[Delivery], exc: TransientDelivery) -> None:
        now = time.time()
        label = self._label(unit)
        if exc.retry_after:
            # The receiver asked for quiet (429/503 Retry-After): hold every row of this
            # notifier, not just the one that was answered.
            until = now + min(exc.retry_after, RETRY_AFTER_CAP)
            self.pauses[unit[0].notifier] = max(self.pauses.get(unit[0].notifier, 0), until)
        # One delay for the whole unit: jittered per row, a digest's rows would come back
        # one by one and the retry would be a different digest.
        delay = delivery_backoff(
            max(r.attempts for r in unit) + 1,
            base=self.policy.backoff_base,
            cap=self.policy.backoff_cap,
            retry_after=exc.retry_after,
        )
        for row in unit:
            attempts = row.attempts + 1
            # A digest row only became due at the end of its window: count from there.
            too_old = now - row.alert.created_at - row.digest > self.policy.max_age
            if attempts >= self.policy.max_attempts or too_old:
                why = "max age" if too_old else f"{attempts} attempts"
                await self._dead(row, f"{exc} (gave up after {why})")
                self.report.errors.append(f"notifier {row.notifier}: {exc}; gave up after {why}")
                log.error("%s: delivery failed, gave up after %s: %s", label, why, exc)
                continue
            await self.db(self.store.mark_retry, row.id, now, str(exc), now + delay)
            metrics.DELIVERIES.labels(row.notifier, "retry").inc()
            self.report.retry += 1
            self.report.errors.append(f"notifier {row.notifier}: {exc}; retry in {delay:.0f}s")
            log.warning(
                "%s: delivery failed (attempt %d), retry in %.0fs: %s", label, attempts, delay, exc
            )

    async def permanent(self, unit: list[Delivery], exc: PermanentDelivery) -> None:
        for row in unit:
            await self._dead(row, str(exc))
            self.report.errors.append(f"notifier {row.notifier}: {exc}")
        log.error("%s: delivery failed permanently: %s", self._label(unit), exc)
        name = unit[0].notifier
        if exc.disable and name in self.config.notifiers:
            await self.db(
                self.store.disable_notifier,
                name, str(exc), config_hash(self.config.notifiers[name]), time.time(),
            )  # fmt: skip
            log.error(
                "notifier %s disabled: the receiver says it is gone; its alerts wait in the "
                "outbox until its configuration changes",
                name,
            )

    async def sent(self, unit: list[Delivery], note: str | None) -> None:
        now = time.time()
        for row in unit:
            await self.db(self.store.mark_sent, row.id, now, clean(note) if note else None)
            metrics.DELIVERIES.labels(row.notifier, "sent").inc()
            self.report.sent += 1
        label = self._label(unit)
        if note:
            log.warning("%s: %s", label, clean(note))
        log.info("%s: delivered %s", label, repr(clean(unit[0].alert.item.title, 120)))

    async def lane(self, name: str, notifier: Notifier, budget: float | None) -> None:
        """Claim and send this notifier's due rows, batch after batch, until none is due,
        one fails, or ``budget`` seconds are spent (then the rest wait for the next tick)."""
        until = None if budget is None else time.monotonic() + budget
        while True:
            rows = await self.db(self.store.claim_deliveries, [name], time.time(), LEASE, BATCH)
            if not rows:
                return
            if not await self.send_rows(notifier, rows, until) or len(rows) < BATCH:
                return

    async def send_rows(
        self, notifier: Notifier, rows: list[Delivery], until: float | None
    ) -> bool:
        """Send claimed rows in order; False when the lane should stop here."""
        units = _units(rows, notifier.max_batch)
        for i, unit in enumerate(units):
            if until is not None and time.monotonic() > until:
                await self.db(self.store.release, [r.id for u in units[i:] for r in u])
                return False
            try:
                healthy = await self._attempt(notifier, unit)
            except asyncio.CancelledError:
                # Shutdown. Queued, not awaited (this task is being cancelled): the
                # database thread runs it after any mark already queued, and release only
                # touches rows still 'sending', so a row just marked sent stays sent.
                self.db.submit(self.store.release, [r.id for u in units[i:] for r in u])
                raise
            if not healthy:
                # This receiver is unwell: leave its other rows for the next tick.
                await self.db(self.store.release, [r.id for u in units[i + 1 :] for r in u])
                return False
        return True

    async def _attempt(self, notifier: Notifier, unit: list[Delivery]) -> bool:
        """Send one unit and record the outcome; False when the receiver failed."""
        try:
            note = await self._send(notifier, unit)
        except TransientDelivery as exc:
            await self.transient(unit, exc)
        except PermanentDelivery as exc:
            await self.permanent(unit, exc)
        except Exception as exc:  # a bug in a notifier must not stop the others
            log.exception("%s: internal error in notifier", self._label(unit))
            await self.transient(unit, TransientDelivery(f"internal error: {exc!r}"))
        else:
            crash_point("after_send")
            await self.sent(unit, note)
            return True
        return False

    async def _send(self, notifier: Notifier, unit: list[Delivery]) -> str | None:
        """One send under the total deadline ``delivery.timeout``: per-step timeouts
        (httpx, SMTP) cannot stop a receiver that answers one byte a second."""
        limit = self.policy.timeout
        self.in_flight.sends += 1
        try:
            async with asyncio.timeout(limit) as deadline:
                if len(unit) == 1 and unit[0].digest <= 0:
                    return await notifier.send(unit[0])
                return await notifier.send_digest(unit)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise TransientDelivery(
                f"notifier {notifier.name}: not done within {limit:g}s (delivery.timeout)"
            ) from None
        finally:
            self.in_flight.sends -= 1


async def deliver_due(
    db: StoreThread,
    notifiers: Mapping[str, Notifier],
    config: Config,
    pauses: dict[str, float] | None = None,
    in_flight: InFlight | None = None,
    *,
    drain: bool = False,
) -> DeliveryReport:
    """Deliver due rows, each notifier in its own lane; return what happened, with what
    is still due. ``pauses`` (notifier -> time) carries Retry-After holds from one tick to
    the next. ``drain`` (``once``): send until nothing is due or a notifier fails; else
    each notifier sends for at most one ``delivery.tick``."""
    report = DeliveryReport()
    pauses = {} if pauses is None else pauses
    now = time.time()
    active = [n for n in await active_notifiers(db, config) if n in notifiers]
    names = [n for n in active if pauses.get(n, 0) <= now]
    budget = None if drain else config.delivery.tick
    run = _Run(db, config, report, pauses, in_flight or InFlight())
    await asyncio.gather(*(run.lane(n, notifiers[n], budget) for n in names))
    report.left = await db(db.store.due_counts, active, time.time())
    return report
