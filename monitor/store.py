"""The only module that speaks SQL: schema, migrations, leases, items, alerts, outbox.

Durability rules (RELIABILITY.md §4): WAL with ``synchronous=FULL``; every write in a short
``BEGIN IMMEDIATE`` transaction (a deferred transaction that upgrades to a writer fails at
once with "database is locked" instead of waiting); no network I/O inside a transaction;
one process per database, enforced by an ``flock`` on ``<db>.lock``.

sqlite-utils creates and migrates the schema; the hot paths (batched key look-ups, one
``executemany`` per poll) are plain SQL because sqlite-utils' ``insert_all`` commits every
100 rows (PERFORMANCE.md: 20 k rows/s against 105-165 k in one transaction).

Every claim query (due feeds, due outbox rows) is a select-then-update of a lease column,
which maps one-to-one onto PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import LockedError, StateError
from monitor.identity import item_keys, stable_id, story_link, title_key
from monitor.models import Alert, Delivery, Item

SCHEMA_VERSION = 1
_IN_BATCH = 500  # host parameters per IN (...) query


@dataclass(frozen=True)
class FeedState:
    name: str
    url: str
    next_check_at: float
    hold_until: float | None
    etag: str | None
    last_modified: str | None
    baseline_done: bool
    last_poll_at: float | None
    last_success_at: float | None
    last_status: str | None
    last_error: str | None
    error_count: int
    items_total: int


@dataclass(frozen=True)
class Route:
    """A rule match to record: the alert goes to each of ``notifiers``."""

    rule_id: str
    rule_title: str
    matched: tuple[str, ...]
    notifiers: tuple[str, ...]


@dataclass(frozen=True)
class PollOutcome:
    new_items: int
    alerts: list[Alert]
    deliveries: int


def _create_schema(db: sqlite_utils.Database) -> None:
    db.table("feeds").create(
        {
            "name": str,
            "url": str,
            "next_check_at": float,
            "hold_until": float,
            "etag": str,
            "last_modified": str,
            "baseline_done": int,
            "last_poll_at": float,
            "last_success_at": float,
            "last_status": str,
            "last_error": str,
            "error_count": int,
            "items_total": int,
        },
        pk="name",
        not_null={"url", "next_check_at", "baseline_done", "error_count", "items_total"},
        defaults={"next_check_at": 0, "baseline_done": 0, "error_count": 0, "items_total": 0},
        if_not_exists=True,
    )
    # Seen-state: one row per identity key. WITHOUT ROWID keeps the key lookup one B-tree
    # probe (sqlite-utils cannot declare that, hence raw DDL).
    db.execute(
        "CREATE TABLE IF NOT EXISTS item_keys ("
        " feed TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT NOT NULL,"
        " PRIMARY KEY (feed, key)) WITHOUT ROWID"
    )
    db.table("items").create(
        {
            "id": str,
            "feed": str,
            "title": str,
            "link": str,
            "published": str,
            "first_seen": float,
        },
        pk="id",
        not_null={"feed", "first_seen"},
        if_not_exists=True,
    )
    db.table("alerts").create(
        {
            "id": str,
            "rule_id": str,
            "rule_title": str,
            "feed": str,
            "item_id": str,
            "story_link": str,
            "title_key": str,
            "title": str,
            "link": str,
            "summary": str,
            "content": str,
            "guid": str,
            "published": str,
            "matched": str,
            "created_at": float,
        },
        pk="id",
        not_null={"rule_id", "feed", "item_id", "created_at"},
        if_not_exists=True,
    )
    db.table("outbox").create(
        {
            "id": str,
            "alert_id": str,
            "notifier": str,
            "status": str,
            "attempts": int,
            "next_attempt_at": float,
            "lease_until": float,
            "last_error": str,
            "created_at": float,
            "updated_at": float,
            "sent_at": float,
        },
        pk="id",
        not_null={"alert_id", "notifier", "status", "attempts", "next_attempt_at"},
        defaults={"status": "pending", "attempts": 0},
        if_not_exists=True,
    )
    db.table("alerts").create_index(["rule_id", "story_link"], if_not_exists=True)
    db.table("alerts").create_index(["rule_id", "title_key", "created_at"], if_not_exists=True)
    db.table("alerts").create_index(["created_at"], if_not_exists=True)
    db.table("outbox").create_index(["status", "next_attempt_at"], if_not_exists=True)
    db.table("outbox").create_index(["alert_id"], if_not_exists=True)


# Index i migrates user_version i -> i+1. Append, never edit a released step.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_create_schema]


class Store:
    """One open database plus its process lock. Use from one thread (the event loop)."""

    def __init__(self, path: Path, *, lock: bool = True, readonly: bool = False) -> None:
        self.path = path
        self._lock_file: Any = None
        if lock:
            self._acquire_lock()
        try:
            self.conn = self._connect(readonly)
            self.db = sqlite_utils.Database(self.conn)
            if not readonly:
                self._migrate()
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise LockedError(
                f"another newsmon process (pid {holder}) is using {self.path}; "
                "stop it first, or point this one at another database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=30, isolation_level=None
                )
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"cannot open the database {self.path}: {exc} (the file was left untouched)"
            ) from None
        return conn

    def _migrate(self) -> None:
        (version,) = self.conn.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path} has schema version {version}, newer than this newsmon "
                f"understands ({len(MIGRATIONS)}); upgrade newsmon"
            )
        for step in range(version, len(MIGRATIONS)):
            with self.write():
                MIGRATIONS[step](self.db)
                self.conn.execute(f"PRAGMA user_version={step + 1}")

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
            self.conn = None  # type: ignore[assignment]
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: waits for other writers up to busy_timeout."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- feeds ------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[tuple[str, str]], now: float) -> None:
        """Make the feeds table match the config (name, source). New feeds are due now;
        a changed URL forgets the old validators. Removed feeds keep their seen-state."""
        with self.write() as conn:
            for name, url in feeds:
                row = conn.execute("SELECT url FROM feeds WHERE name = ?", (name,)).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO feeds (name, url, next_check_at) VALUES (?, ?, ?)",
                        (name, url, now),
                    )
                elif row[0] != url:
                    conn.execute(
                        "UPDATE feeds SET url = ?, etag = NULL, last_modified = NULL,"
                        " next_check_at = ?, hold_until = NULL WHERE name = ?",
                        (url, now, name),
                    )

    def feed_states(self, names: Sequence[str] | None = None) -> list[FeedState]:
        rows = self.conn.execute(
            "SELECT name, url, next_check_at, hold_until, etag, last_modified, baseline_done,"
            " last_poll_at, last_success_at, last_status, last_error, error_count, items_total"
            " FROM feeds ORDER BY name"
        ).fetchall()
        states = [FeedState(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), *r[7:]) for r in rows]
        if names is None:
            return states
        wanted = set(names)
        return [s for s in states if s.name in wanted]

    def claim_due_feeds(
        self,
        names: Sequence[str],
        now: float,
        lease: float,
        limit: int,
        *,
        force: bool = False,
        all_now: bool = False,
    ) -> list[FeedState]:
        """Take a lease on due feeds by moving ``next_check_at`` forward first, so that a
        crash mid-poll retries after the lease instead of never or twice at once.

        ``all_now`` (``newsmon once``) claims every listed feed except those held by a
        Retry-After or an error backoff; ``force`` ignores those holds too."""
        if not names:
            return []
        marks = ",".join("?" * len(names))
        if all_now:
            condition = "1" if force else "(hold_until IS NULL OR hold_until <= ?)"
        else:
            condition = "next_check_at <= ?"
        params: list[Any] = list(names)
        if condition != "1":
            params.append(now)
        with self.write() as conn:
            picked = [
                r[0]
                for r in conn.execute(
                    f"SELECT name FROM feeds WHERE name IN ({marks}) AND {condition}"
                    " ORDER BY next_check_at LIMIT ?",
                    (*params, limit),
                )
            ]
            conn.executemany(
                "UPDATE feeds SET next_check_at = ? WHERE name = ?",
                [(now + lease, name) for name in picked],
            )
        return self.feed_states(picked)

    def record_failure(self, name: str, now: float, error: str, next_check_at: float) -> int:
        """Count a failed poll; seen-state is never touched. Returns the failure count."""
        with self.write() as conn:
            conn.execute(
                "UPDATE feeds SET last_poll_at = ?, last_status = 'error', last_error = ?,"
                " error_count = error_count + 1, next_check_at = ?, hold_until = ?"
                " WHERE name = ?",
                (now, error, next_check_at, next_check_at, name),
            )
            row = conn.execute("SELECT error_count FROM feeds WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def record_not_modified(
        self, name: str, now: float, next_check_at: float, last_modified: str | None
    ) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE feeds SET last_poll_at = ?, last_success_at = ?,"
                " last_status = 'not_modified', last_error = NULL, error_count = 0,"
                " next_check_at = ?, hold_until = NULL,"
                " last_modified = COALESCE(?, last_modified) WHERE name = ?",
                (now, now, next_check_at, last_modified, name),
            )

    # -- a successful poll --------------------------------------------------------------

    def _existing_keys(self, feed: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), _IN_BATCH):
            chunk = keys[start : start + _IN_BATCH]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT key FROM item_keys WHERE feed = ? AND key IN ({marks})",
                    (feed, *chunk),
                )
            )
        return found

    def _already_alerted(
        self, rule_id: str, link: str | None, tkey: str | None, since: float
    ) -> bool:
        if (
            link is not None
            and self.conn.execute(
                "SELECT 1 FROM alerts WHERE rule_id = ? AND story_link = ? LIMIT 1", (rule_id, link)
            ).fetchone()
        ):
            return True
        return tkey is not None and bool(
            self.conn.execute(
                "SELECT 1 FROM alerts WHERE rule_id = ? AND title_key = ? AND created_at >= ?"
                " LIMIT 1",
                (rule_id, tkey, since),
            ).fetchone()
        )

    def record_poll(
        self,
        feed: str,
        items: Sequence[Item],
        route: Callable[[Item], list[Route]],
        *,
        now: float,
        alert: bool,
        title_window: float,
        next_check_at: float,
        etag: str | None,
        last_modified: str | None,
        before_commit: Callable[[], None] | None = None,
    ) -> PollOutcome:
        """In ONE transaction: new item keys, items, alerts and one outbox row per
        (alert, notifier), and the feed's state. ``alert=False`` is the baseline poll."""
        with self.write() as conn:
            keyed = [(item, item_keys(item)) for item in items]
            existing = self._existing_keys(feed, [k for _, keys in keyed for k in keys])
            new_items: list[tuple[str, Item]] = []
            key_rows: list[tuple[str, str, str]] = []
            for item, keys in keyed:
                if not keys:
                    continue
                item_id = stable_id(feed, keys[0])
                if existing.isdisjoint(keys):
                    new_items.append((item_id, item))
                # Learn every key (a seen item's new link or hash), and stop the same
                # story appearing twice within this one document.
                existing.update(keys)
                key_rows.extend((feed, k, item_id) for k in keys)
            conn.executemany(
                "INSERT OR IGNORE INTO item_keys (feed, key, item_id) VALUES (?, ?, ?)", key_rows
            )
            conn.executemany(
                "INSERT OR IGNORE INTO items (id, feed, title, link, published, first_seen)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(i, feed, it.title, it.link, it.published, now) for i, it in new_items],
            )
            alerts: list[Alert] = []
            deliveries = 0
            if alert:
                since = now - title_window
                for item_id, item in new_items:
                    link, tkey = story_link(item.link), title_key(item.title)
                    for r in route(item):
                        if self._already_alerted(r.rule_id, link, tkey, since):
                            continue
                        record = Alert(
                            id=stable_id(feed, item_id, r.rule_id),
                            rule_id=r.rule_id,
                            rule_title=r.rule_title,
                            feed=feed,
                            item=item,
                            matched=r.matched,
                            created_at=now,
                        )
                        conn.execute(
                            "INSERT OR IGNORE INTO alerts (id, rule_id, rule_title, feed, item_id,"
                            " story_link, title_key, title, link, summary, content, guid,"
                            " published, matched, created_at)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                record.id, r.rule_id, r.rule_title, feed, item_id, link, tkey,
                                item.title, item.link, item.summary, item.content, item.guid,
                                item.published, json.dumps(list(r.matched)), now,
                            ),
                        )  # fmt: skip
                        conn.executemany(
                            "INSERT OR IGNORE INTO outbox (id, alert_id, notifier, status,"
                            " attempts, next_attempt_at, created_at, updated_at)"
                            " VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)",
                            [(stable_id(record.id, n), record.id, n, now, now, now)
                             for n in r.notifiers],
                        )  # fmt: skip
                        deliveries += len(r.notifiers)
                        alerts.append(record)
            conn.execute(
                "UPDATE feeds SET last_poll_at = ?, last_success_at = ?, last_status = 'ok',"
                " last_error = NULL, error_count = 0, baseline_done = 1, next_check_at = ?,"
                " hold_until = NULL, etag = ?, last_modified = ?,"
                " items_total = items_total + ? WHERE name = ?",
                (now, now, next_check_at, etag, last_modified, len(new_items), feed),
            )
            if before_commit is not None:
                before_commit()
        return PollOutcome(len(new_items), alerts, deliveries)

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
