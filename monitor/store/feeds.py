"""Feeds, seen-state and the one-transaction record of a successful poll."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from monitor.models import Item, KeyedItem, stable_id
from monitor.store.alerting import AlertWriter, Made
from monitor.store.rows import FeedState, PollOutcome, Route, StoryPolicy

_IN_BATCH = 500  # host parameters per IN (...) query


def _state(r: Sequence[Any]) -> FeedState:
    return FeedState(
        name=r[0],
        url=r[1],
        next_check_at=r[2],
        hold_until=r[3],
        etag=r[4],
        last_modified=r[5],
        baseline_done=bool(r[6]),
        last_poll_at=r[7],
        last_success_at=r[8],
        last_status=r[9],
        last_error=r[10],
        error_count=r[11],
        items_total=r[12],
        source_url=r[13] or r[1],
        failing_since=r[14],
        notice_sent=bool(r[15]),
        redirect_target=r[16],
        redirect_count=r[17],
        redirect_first_at=r[18],
        body_hash=r[19],
        body_hashed_at=r[20],
    )


class FeedStore(AlertWriter):
    # -- feeds ------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[tuple[str, str]], now: float) -> None:
        """Make the feeds table match the config (name, source). New feeds are due now;
        a changed source URL forgets validators and learned redirects. Removed feeds keep
        their seen-state (re-adding one does not re-alert its items)."""
        # Insert-or-skip, then update where the source changed: safe when several
        # workers start at once with the same config (no read-then-insert race).
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO feeds (name, source_url, url, next_check_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                [(name, url, url, now) for name, url in feeds],
            )
            conn.executemany(
                "UPDATE feeds SET source_url = ?, url = ?, etag = NULL,"
                " last_modified = NULL, next_check_at = ?, hold_until = NULL,"
                " redirect_target = NULL, redirect_count = 0, redirect_first_at = NULL,"
                " body_hash = NULL WHERE name = ? AND (source_url IS NULL OR source_url != ?)",
                [(url, url, now, name, url) for name, url in feeds],
            )

    _STATE_COLUMNS = (
        "name, url, next_check_at, hold_until, etag, last_modified, baseline_done,"
        " last_poll_at, last_success_at, last_status, last_error, error_count, items_total,"
        " source_url, failing_since, notice_sent, redirect_target, redirect_count,"
        " redirect_first_at, body_hash, body_hashed_at"
    )

    def feed_states(self, names: Sequence[str] | None = None) -> list[FeedState]:
        if names is None:
            rows = self.conn.execute(
                f"SELECT {self._STATE_COLUMNS} FROM feeds ORDER BY name"
            ).fetchall()
            return [_state(r) for r in rows]
        found: list[FeedState] = []
        unique = sorted(set(names))
        for start in range(0, len(unique), _IN_BATCH):
            chunk = unique[start : start + _IN_BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT {self._STATE_COLUMNS} FROM feeds WHERE name IN ({marks})", chunk
            ).fetchall()
            found.extend(_state(r) for r in rows)
        return sorted(found, key=lambda s: s.name)

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

        On PostgreSQL the SELECT locks the rows it picks and skips rows another worker is
        claiming (``FOR UPDATE SKIP LOCKED``); a row claimed meanwhile is re-checked
        against ``next_check_at`` after the other worker commits, so it drops out.

        ``all_now`` (``newsmon once``) claims every listed feed except those held by a
        Retry-After or an error backoff; ``force`` ignores those holds too."""
        if not names:
            return []
        if all_now:
            condition = "1 = 1" if force else "(hold_until IS NULL OR hold_until <= ?)"
        else:
            condition = "next_check_at <= ?"
        claimed: list[FeedState] = []
        with self.write() as conn:
            for start in range(0, len(names), _IN_BATCH):
                if len(claimed) >= limit:
                    break
                chunk = list(names[start : start + _IN_BATCH])
                marks = ",".join("?" * len(chunk))
                params: list[Any] = chunk
                if condition != "1 = 1":
                    params.append(now)
                rows = conn.execute(
                    f"SELECT {self._STATE_COLUMNS} FROM feeds"
                    f" WHERE name IN ({marks}) AND {condition}"
                    f" ORDER BY next_check_at LIMIT ?{self.dialect.skip_locked()}",
                    (*params, limit - len(claimed)),
                ).fetchall()
                picked = [dataclasses.replace(_state(r), next_check_at=now + lease) for r in rows]
                conn.executemany(
                    "UPDATE feeds SET next_check_at = ? WHERE name = ?",
                    [(now + lease, state.name) for state in picked],
                )
                claimed.extend(picked)
        return claimed

    def make_all_due(self, now: float) -> None:
        """Every feed due now (benchmarks; an operator's "poll everything" on a shared
        database, where `once` would not coordinate with running workers' schedules)."""
        with self.write() as conn:
            conn.execute("UPDATE feeds SET next_check_at = ?, hold_until = NULL", (now,))

    def record_failure(self, name: str, now: float, error: str, next_check_at: float) -> FeedState:
        """Count a failed poll; seen-state is never touched. Returns the new state."""
        with self.write() as conn:
            conn.execute(
                "UPDATE feeds SET last_poll_at = ?, last_status = 'error', last_error = ?,"
                " error_count = error_count + 1, next_check_at = ?, hold_until = ?,"
                " failing_since = COALESCE(failing_since, ?) WHERE name = ?",
                (now, error, next_check_at, next_check_at, now, name),
            )
        return self.feed_states([name])[0]

    def mark_failure_noticed(self, name: str) -> None:
        with self.write() as conn:
            conn.execute("UPDATE feeds SET notice_sent = 1 WHERE name = ?", (name,))

    def record_not_modified(
        self,
        name: str,
        now: float,
        next_check_at: float,
        last_modified: str | None,
        etag: str | None = None,
        refresh_since: float | None = None,
    ) -> None:
        """A 304, or a 200 whose body is the one last parsed (``etag`` then as sent).

        ``refresh_since``: the document is still the one last parsed, so its items are
        still in the feed: the keys seen since then (those of that document) are marked
        seen now, as parsing it again would, and retention keeps them (a feed answering
        304 for months must not have its items forgotten, then found new again).

        Deferred (``Database.defer``): written with the next transaction or at the end
        of the tick, so a cycle of 304s costs one commit, not one each. Losing it in a
        crash is harmless: the claim's lease already moved ``next_check_at``, so the
        feed is polled again after the lease, and nothing about its items changed."""
        refreshed = refresh_since is not None
        # A refresh counts as a parse of the same body (body_hashed_at): the next is a day away.
        self.defer(
            "UPDATE feeds SET last_poll_at = ?, last_success_at = ?,"
            " last_status = 'not_modified', last_error = NULL, error_count = 0,"
            " failing_since = NULL, notice_sent = 0,"
            " next_check_at = ?, hold_until = NULL,"
            " last_modified = COALESCE(?, last_modified), etag = COALESCE(?, etag),"
            " body_hashed_at = COALESCE(?, body_hashed_at)"
            " WHERE name = ?",
            (now, now, next_check_at, last_modified, etag, now if refreshed else None, name),
        )
        if refreshed:
            self.defer(
                "UPDATE item_keys SET last_seen = ? WHERE feed = ? AND last_seen >= ?",
                (now, name, refresh_since),
            )

    def note_redirect(
        self, name: str, target: str | None, now: float, *, times: int, span: float
    ) -> bool:
        """Track a permanent redirect (``target``) or its absence (None). When the same
        target was seen ``times`` times over at least ``span`` seconds, make it the URL
        that is fetched and return True. Temporary redirects are never learned."""
        with self.write() as conn:
            if target is None:
                conn.execute(
                    "UPDATE feeds SET redirect_target = NULL, redirect_count = 0,"
                    " redirect_first_at = NULL WHERE name = ? AND redirect_count > 0",
                    (name,),
                )
                return False
            row = conn.execute(
                "SELECT redirect_target, redirect_count, redirect_first_at FROM feeds"
                " WHERE name = ?",
                (name,),
            ).fetchone()
            if row is None:
                return False
            if row[0] != target:
                count, first = 1, now
            else:
                count, first = row[1] + 1, row[2] or now
            if count >= times and now - first >= span:
                conn.execute(
                    "UPDATE feeds SET url = ?, redirect_target = NULL, redirect_count = 0,"
                    " redirect_first_at = NULL WHERE name = ?",
                    (target, name),
                )
                return True
            conn.execute(
                "UPDATE feeds SET redirect_target = ?, redirect_count = ?,"
                " redirect_first_at = ? WHERE name = ?",
                (target, count, first, name),
            )
            return False

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

    def record_poll(
        self,
        feed: str,
        items: Sequence[KeyedItem],
        route: Callable[[Item], list[Route]],
        *,
        now: float,
        alert: bool,
        title_window: float,
        next_check_at: float,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None = None,
        before_commit: Callable[[], None] | None = None,
        stories: StoryPolicy | None = None,
    ) -> PollOutcome:
        return self.retrying(
            lambda: self._record_poll(
                feed, items, route, now=now, alert=alert, title_window=title_window,
                next_check_at=next_check_at, etag=etag, last_modified=last_modified,
                body_hash=body_hash, before_commit=before_commit, stories=stories,
            )
        )  # fmt: skip

    def _record_poll(
        self,
        feed: str,
        items: Sequence[KeyedItem],
        route: Callable[[Item], list[Route]],
        *,
        now: float,
        alert: bool,
        title_window: float,
        next_check_at: float,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None = None,
        before_commit: Callable[[], None] | None = None,
        stories: StoryPolicy | None = None,
    ) -> PollOutcome:
        """In ONE transaction: new item keys, items, alerts and one outbox row per
        (alert, notifier), and the feed's state. ``alert=False`` is the baseline poll.
        Which keys make an item seen, and which make an alert a repeat, was decided by
        the caller (``feeds/identity.py``); this only executes it."""
        with self.write() as conn:
            existing = self._existing_keys(feed, [k for ki in items for k in ki.keys])
            new_items: list[tuple[str, KeyedItem]] = []
            key_rows: list[tuple[str, str, str]] = []
            for ki in items:
                keys = ki.keys
                if not keys:
                    continue
                item_id = stable_id(feed, keys[0])
                if existing.isdisjoint(keys):
                    new_items.append((item_id, ki))
                # Learn every key (a seen item's new link or hash), and stop the same
                # story appearing twice within this one document.
                existing.update(keys)
                key_rows.extend((feed, k, item_id) for k in keys)
            # Every key still in the document is refreshed (last_seen), so retention only
            # ever forgets items that have left their feed. Refreshing at most daily keeps
            # a steady-state poll (nothing new) from rewriting every key's page.
            conn.executemany(
                "INSERT INTO item_keys (feed, key, item_id, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (feed, key) DO UPDATE SET last_seen = excluded.last_seen"
                " WHERE item_keys.last_seen < excluded.last_seen - 86400",
                [(*row, now) for row in key_rows],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO items (id, feed, title, link, published, first_seen,"
                " summary, content, author, tags, guid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (i, feed, it.title, it.link, it.published, now, it.summary, it.content,
                     it.author, json.dumps(list(it.tags), ensure_ascii=False), it.guid)
                    for i, it in ((i, ki.item) for i, ki in new_items)
                ],
            )  # fmt: skip
            alerts: list[Made] = []
            since = now - title_window
            routed = {item_id: route(ki.item) for item_id, ki in new_items} if alert else {}
            if any(routed.values()):
                # Alert writers on PostgreSQL take one transaction lock first, so two
                # workers recording the same stories cannot deadlock on alert_keys
                # (SQLite's BEGIN IMMEDIATE already serializes every writer).
                self.lock_names(["alerting"])
            for item_id, ki in new_items:
                story_id = None
                if stories is not None and ki.story is not None:
                    story_id = self.attach_story(
                        conn, item_id, feed, ki.item.title, ki.item.link, ki.story_link,
                        ki.story, now, stories,
                    )  # fmt: skip
                if alert:
                    alerts += self._alerts_for(
                        conn, feed, item_id, ki, routed[item_id], story_id, stories, now, since
                    )
            deliveries = sum(len(a.notifiers) for a in alerts)
            conn.execute(
                "UPDATE feeds SET last_poll_at = ?, last_success_at = ?, last_status = 'ok',"
                " last_error = NULL, error_count = 0, baseline_done = 1, next_check_at = ?,"
                " failing_since = NULL, notice_sent = 0,"
                " hold_until = NULL, etag = ?, last_modified = ?, body_hash = ?,"
                " body_hashed_at = ?, items_total = items_total + ? WHERE name = ?",
                (
                    now,
                    now,
                    next_check_at,
                    etag,
                    last_modified,
                    body_hash,
                    now,
                    len(new_items),
                    feed,
                ),
            )
            if before_commit is not None:
                before_commit()
        return PollOutcome(len(new_items), [a.alert for a in alerts], deliveries)
