"""Housekeeping: retention in short batches, ``PRAGMA optimize`` and the meta table."""

from __future__ import annotations

from monitor.store.stories import StoryStore

# Rows of each kind one retention transaction deletes: ~20-40 ms of write lock each at
# 1M rows (bench/prune.py), so a poll waiting for the lock waits about that long.
PRUNE_BATCH = 2000


def story_keys_limit(limit: int) -> int:
    """Story band keys per retention transaction: half of ``limit``, because each deletes
    at a random place of the key index (measured at 3 million keys: 2,000 took 77 ms,
    150 ms with the commit; the keys of ~30 items)."""
    return max(1, limit // 2)


# Retention's statements, each on an index (tests/test_db_offloop.py checks the plans).
PRUNE_SQL = {
    "old_keys": "SELECT feed, key, item_id FROM item_keys WHERE last_seen < ? LIMIT ?",
    "delete_key": "DELETE FROM item_keys WHERE feed = ? AND key = ?",
    "delete_item": "DELETE FROM items WHERE id = ?"
    " AND NOT EXISTS (SELECT 1 FROM item_keys WHERE item_id = ?)",
    "old_alerts": "SELECT id FROM alerts AS a WHERE created_at < ? AND NOT EXISTS"
    " (SELECT 1 FROM outbox AS o WHERE o.alert_id = a.id"
    " AND o.status IN ('pending', 'sending')) LIMIT ?",
    "delete_deliveries": "DELETE FROM outbox WHERE alert_id = ?",
    "delete_alert": "DELETE FROM alerts WHERE id = ?",
}


def more_to_prune(got: dict[str, int], limit: int = PRUNE_BATCH) -> bool:
    """After a :meth:`HousekeepingStore.prune_batch`: was any kind cut off at ``limit``?"""
    return max(got["item_keys"], got["alerts"]) >= limit or got.get(
        "story_keys", 0
    ) >= story_keys_limit(limit)


class HousekeepingStore(StoryStore):
    def prune_batch(
        self,
        items_before: float,
        alerts_before: float,
        limit: int = PRUNE_BATCH,
        story_keys_before: float | None = None,
    ) -> dict[str, int]:
        """ONE short transaction of retention: forget at most ``limit`` identity keys not
        seen in any poll since ``items_before``, the items whose last key that was, and
        at most ``limit`` alerts created before ``alerts_before`` (with their finished
        deliveries). Pending deliveries are never pruned. Story copies go with their
        items; their band keys already once older than ``story_keys_before`` (now minus
        ``stories.window``: no look-up reads them), about ``limit`` / 2. Call again
        while :func:`more_to_prune` says so; each call holds the write lock briefly, so
        polls and deliveries go on between batches.

        Every statement (``PRUNE_SQL``) walks an index: at 1M rows a batch touches its
        own rows, never a whole table."""
        with self.write() as conn:
            gone = conn.execute(PRUNE_SQL["old_keys"], (items_before, limit)).fetchall()
            keys = conn.executemany(PRUNE_SQL["delete_key"], [r[:2] for r in gone]).rowcount
            # A key is forgotten only after its item was first seen (last_seen only grows),
            # so the items to forget are exactly those whose last key just went: found
            # from the deleted keys, never by walking every old item.
            ids = sorted({r[2] for r in gone})
            items = conn.executemany(PRUNE_SQL["delete_item"], [(i, i) for i in ids]).rowcount
            old = [(r[0],) for r in conn.execute(PRUNE_SQL["old_alerts"], (alerts_before, limit))]
            outbox = conn.executemany(PRUNE_SQL["delete_deliveries"], old).rowcount
            alerts = conn.executemany(PRUNE_SQL["delete_alert"], old).rowcount
            copies = self.prune_stories(conn, items_before)
            band_keys = self.prune_story_keys(
                conn,
                max(items_before, story_keys_before or items_before),
                story_keys_limit(limit),
            )
            # story keys go with their alerts (indexed by created_at)
            conn.execute("DELETE FROM alert_keys WHERE created_at < ?", (alerts_before,))
        return {
            "item_keys": keys, "items": items, "alerts": alerts, "deliveries": outbox,
            "story_items": copies, "story_keys": band_keys,
        }  # fmt: skip

    def prune(
        self,
        now: float,
        items_after: float,
        alerts_after: float,
        story_window: float | None = None,
    ) -> dict[str, int]:
        """All of retention (see :meth:`prune_batch`), batch after batch, each batch its
        own transaction. The daemon runs the batches itself, one database call each."""
        names = ("item_keys", "items", "alerts", "deliveries", "story_items", "story_keys")
        totals = dict.fromkeys(names, 0)
        keys_before = None if story_window is None else now - story_window
        while True:
            got = self.prune_batch(
                now - items_after, now - alerts_after, story_keys_before=keys_before
            )
            for name, count in got.items():
                totals[name] += count
            if not more_to_prune(got):
                return totals

    def optimize(self) -> None:
        if self.shared:
            return  # PostgreSQL's autovacuum analyzes and vacuums on its own
        self.conn.execute("PRAGMA optimize")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def set_meta(self, key: str, value: str | None) -> None:
        with self.write() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
