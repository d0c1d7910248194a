"""The outbox: leases on due deliveries, outcomes, listings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from monitor.models import Alert, Delivery, Item
from monitor.store.db import Database


class OutboxStore(Database):
    # -- outbox -------------------------------------------------------------------------

    def claim_deliveries(
        self, notifiers: Sequence[str], now: float, lease: float, limit: int
    ) -> list[Delivery]:
        """Lease due outbox rows. A row whose lease ran out (crash mid-send) is due again."""
        if not notifiers:
            return []
        marks = ",".join("?" * len(notifiers))
        with self.write() as conn:
            rows = conn.execute(
                "SELECT o.id, o.notifier, o.attempts, a.id, a.rule_id, a.rule_title, a.feed,"
                " a.title, a.summary, a.content, a.link, a.guid, a.published, a.matched,"
                " a.created_at FROM outbox o JOIN alerts a ON a.id = o.alert_id"
                f" WHERE o.notifier IN ({marks}) AND ("
                " (o.status = 'pending' AND o.next_attempt_at <= ?)"
                " OR (o.status = 'sending' AND o.lease_until <= ?))"
                " ORDER BY o.next_attempt_at, o.created_at LIMIT ?",
                (*notifiers, now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET status = 'sending', lease_until = ?, updated_at = ?"
                " WHERE id = ?",
                [(now + lease, now, r[0]) for r in rows],
            )
        out = []
        for r in rows:
            item = Item(
                title=r[7] or "", summary=r[8] or "", content=r[9] or "", link=r[10],
                guid=r[11], published=r[12],
            )  # fmt: skip
            alert = Alert(r[3], r[4], r[5] or r[4], r[6], item, tuple(json.loads(r[13])), r[14])
            out.append(Delivery(id=r[0], alert=alert, notifier=r[1], attempts=r[2]))
        return out

    def mark_sent(self, delivery_id: str, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
                " updated_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?",
                (now, now, delivery_id),
            )

    def mark_retry(self, delivery_id: str, now: float, error: str, next_attempt_at: float) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = ?,"
                " next_attempt_at = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
                (error, next_attempt_at, now, delivery_id),
            )

    def mark_dead(self, delivery_id: str, now: float, error: str) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?,"
                " lease_until = NULL, updated_at = ? WHERE id = ?",
                (error, now, delivery_id),
            )

    def release(self, delivery_ids: Sequence[str]) -> None:
        """Give leased rows back untouched (shutdown before they were attempted)."""
        with self.write() as conn:
            conn.executemany(
                "UPDATE outbox SET status = 'pending', lease_until = NULL"
                " WHERE id = ? AND status = 'sending'",
                [(d,) for d in delivery_ids],
            )

    def outbox_counts(self) -> dict[str, int]:
        return dict(
            self.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
        )

    def recent_alerts(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT a.id, a.created_at, a.rule_id, a.feed, a.title, a.link,"
            " group_concat(o.notifier || '=' || o.status, ' ')"
            " FROM alerts a LEFT JOIN outbox o ON o.alert_id = a.id"
            " GROUP BY a.id ORDER BY a.created_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        keys = ("id", "created_at", "rule_id", "feed", "title", "link", "deliveries")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def integrity_ok(self) -> bool:
        return bool(self.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
