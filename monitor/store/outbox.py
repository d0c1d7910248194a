"""The outbox: leases on due deliveries, outcomes, operator notices, listings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from monitor.models import Alert, Delivery, Item, stable_id
from monitor.store.rows import evidence_from_json
from monitor.store.stories import StoryStore, sources_from_json

_SELECT = (
    "SELECT o.id, o.notifier, o.attempts, o.digest, a.id, a.rule_id, a.rule_title, a.feed,"
    " a.title, a.summary, a.content, a.link, a.guid, a.published, a.matched, a.created_at,"
    " a.kind, a.evidence, a.story_id, a.sources FROM outbox o JOIN alerts a ON a.id = o.alert_id"
)


def _delivery(r: Sequence[Any]) -> Delivery:
    item = Item(
        title=r[8] or "", summary=r[9] or "", content=r[10] or "", link=r[11], guid=r[12],
        published=r[13],
    )  # fmt: skip
    alert = Alert(
        r[4], r[5], r[6] or r[5], r[7], item, tuple(json.loads(r[14])), r[15], r[16],
        evidence=evidence_from_json(r[17]), story_id=r[18], sources=sources_from_json(r[19]),
    )  # fmt: skip
    return Delivery(id=r[0], alert=alert, notifier=r[1], attempts=r[2], digest=r[3])


class OutboxStore(StoryStore):
    def claim_deliveries(
        self, notifiers: Sequence[str], now: float, lease: float, limit: int
    ) -> list[Delivery]:
        """Lease due outbox rows, at most ``limit`` per notifier (a fair share: one
        notifier's backlog never keeps another's rows unclaimed). A row whose lease ran out
        (crash mid-send) is due again."""
        claimed: list[Any] = []
        with self.write() as conn:
            for name in dict.fromkeys(notifiers):
                claimed += conn.execute(
                    f"{_SELECT} WHERE o.notifier = ? AND ("
                    " (o.status = 'pending' AND o.next_attempt_at <= ?)"
                    " OR (o.status = 'sending' AND o.lease_until <= ?))"
                    " ORDER BY o.next_attempt_at, o.created_at, o.id LIMIT ?",
                    (name, now, now, limit),
                ).fetchall()
            conn.executemany(
                "UPDATE outbox SET status = 'sending', lease_until = ?, updated_at = ?"
                " WHERE id = ?",
                [(now + lease, now, r[0]) for r in claimed],
            )
        return [_delivery(r) for r in claimed]

    def due_counts(self, notifiers: Sequence[str], now: float) -> dict[str, int]:
        """notifier -> rows due now and not sent (what a run leaves behind)."""
        if not notifiers:
            return {}
        marks = ",".join("?" * len(notifiers))
        rows = self.conn.execute(
            f"SELECT notifier, count(*) FROM outbox WHERE notifier IN ({marks})"
            " AND status IN ('pending', 'sending') AND next_attempt_at <= ? GROUP BY notifier",
            (*notifiers, now),
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def delivery(self, delivery_id: str) -> Delivery | None:
        row = self.conn.execute(f"{_SELECT} WHERE o.id = ?", (delivery_id,)).fetchone()
        return _delivery(row) if row else None

    def mark_sent(self, delivery_id: str, now: float, note: str | None = None) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
                " updated_at = ?, lease_until = NULL, last_error = ? WHERE id = ?",
                (now, now, note, delivery_id),
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

    def release_all_sending(self) -> int:
        with self.write() as conn:
            return conn.execute(
                "UPDATE outbox SET status = 'pending', lease_until = NULL WHERE status = 'sending'"
            ).rowcount

    def has_delivery(self, ident: str) -> bool:
        """Is ``ident`` an alert id or a delivery id in the outbox?"""
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE id = ? OR alert_id = ? LIMIT 1", (ident, ident)
        ).fetchone()
        return row is not None

    def requeue(self, ident: str | None, now: float) -> int:
        """Make rows due now again: every dead row (``ident`` None), or the unsent rows
        of one alert or one delivery id. Returns how many rows were requeued."""
        with self.write() as conn:
            if ident is None:
                cur = conn.execute(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = ?, attempts = 0,"
                    " updated_at = ? WHERE status = 'dead'",
                    (now, now),
                )
            else:
                cur = conn.execute(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = ?, attempts = 0,"
                    " updated_at = ? WHERE (id = ? OR alert_id = ?) AND status != 'sent'",
                    (now, now, ident, ident),
                )
            return cur.rowcount

    # -- operator notices ------------------------------------------------------------

    def add_notice(
        self, key: str, title: str, text: str, notifiers: Sequence[str], now: float
    ) -> bool:
        """Queue one operator notice per ``key`` (a second call with the same key is a
        no-op, which is what keeps "feed failing" from repeating every poll)."""
        notice_id = stable_id("notice", key)
        with self.write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO alerts (id, rule_id, rule_title, feed, item_id, title,"
                " summary, content, matched, created_at, kind)"
                " VALUES (?, 'newsmon', 'newsmon operator notice', 'newsmon', ?, ?, ?, '', '[]',"
                " ?, 'notice')",
                (notice_id, key, title, text, now),
            )
            if cur.rowcount == 0:
                return False
            conn.executemany(
                "INSERT OR IGNORE INTO outbox (id, alert_id, notifier, status, attempts,"
                " next_attempt_at, created_at, updated_at, digest)"
                " VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, 0)",
                [(stable_id(notice_id, n), notice_id, n, now, now, now) for n in notifiers],
            )
        return True

    # -- notifiers disabled by their receiver ----------------------------------------

    def disable_notifier(self, name: str, reason: str, config_hash: str, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO notifier_state (name, disabled_at, reason, config_hash)"
                " VALUES (?, ?, ?, ?)",
                (name, now, reason, config_hash),
            )

    def enable_notifier(self, name: str) -> None:
        with self.write() as conn:
            conn.execute("DELETE FROM notifier_state WHERE name = ?", (name,))

    def disabled_notifiers(self) -> dict[str, tuple[str, str]]:
        """name -> (reason, config_hash) for notifiers disabled by a receiver."""
        rows = self.conn.execute("SELECT name, reason, config_hash FROM notifier_state")
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- listings ----------------------------------------------------------------------

    def outbox_counts(self) -> dict[str, int]:
        return dict(
            self.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
        )

    def recent_alerts(self, limit: int = 20) -> list[dict[str, Any]]:
        """Newest alerts first, each with its deliveries (notifier, status, attempts,
        last error)."""
        alerts = self.conn.execute(
            "SELECT id, created_at, kind, rule_id, feed, title, link, story_id FROM alerts"
            " ORDER BY created_at DESC, id LIMIT ?",
            (limit,),
        ).fetchall()
        keys = ("id", "created_at", "kind", "rule_id", "feed", "title", "link")
        out = []
        for row in alerts:
            doc: dict[str, Any] = dict(zip(keys, row[:7], strict=True))
            # The story as it is now: every outlet that carried it so far.
            doc["story"] = None if row[7] is None else {
                "id": row[7],
                "sources": [
                    {"outlet": s.outlet, "feed": s.feed, "url": s.url}
                    for s in self.story_sources(self.conn, row[7])
                ],
            }  # fmt: skip
            doc["deliveries"] = [
                dict(zip(("id", "notifier", "status", "attempts", "last_error", "sent_at"), d,
                         strict=True))
                for d in self.conn.execute(
                    "SELECT id, notifier, status, attempts, last_error, sent_at FROM outbox"
                    " WHERE alert_id = ? ORDER BY notifier",
                    (row[0],),
                )
            ]  # fmt: skip
            out.append(doc)
        return out

    def alerts_by_day(self, since: float) -> list[tuple[str, str, int]]:
        """(UTC day, rule id, alerts) since ``since``, for the status page chart."""
        rows = self.conn.execute(
            "SELECT date(created_at, 'unixepoch') AS day, rule_id, count(*) FROM alerts"
            " WHERE created_at >= ? AND kind = 'alert' GROUP BY day, rule_id ORDER BY day",
            (since,),
        ).fetchall()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def health(self, now: float) -> dict[str, Any]:
        """Numbers for /metrics, /healthz and `newsmon status`."""
        oldest = self.conn.execute(
            "SELECT min(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')"
            " AND next_attempt_at <= ?",
            (now,),
        ).fetchone()[0]
        failing = self.conn.execute(
            "SELECT count(*) FROM feeds WHERE last_status = 'error'"
        ).fetchone()[0]
        dead_recent = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE status = 'dead' AND updated_at >= ?",
            (now - 86400,),
        ).fetchone()[0]
        return {
            "outbox": self.outbox_counts(),
            "lag": max(0.0, now - oldest) if oldest is not None else 0.0,
            "failing": failing,
            "dead_24h": dead_recent,
        }

    def integrity_ok(self) -> bool:
        return bool(self.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
