"""A cycle of 304s costs one commit, not one per feed (each commit is an fsync with
synchronous=FULL); the state is on disk when the cycle ends; a later write for a feed is
never overwritten by its older deferred 304."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from monitor.service.runtime import Runtime, load_all
from monitor.store import Store
from tests.conftest import Workspace, base_config, plain_item, rss
from tests.servers import FeedServer, WebhookReceiver

FEEDS = 12


def test_a_cycle_of_304s_commits_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feeds = []
    for i in range(FEEDS):
        feed_server.put(f"/f{i}.xml", rss([plain_item(i)]))
        feeds.append({"name": f"f{i}", "url": feed_server.url(f"/f{i}.xml")})
    workspace.write_config(base_config(feeds, receiver.url("/hook")))
    assert workspace.run("once").returncode == 0  # baseline: validators learned

    loaded = load_all(workspace.config, examples=False)
    store = Store(loaded.config.database)
    commits: list[str] = []
    store.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)

    async def cycle() -> list[str]:
        runtime = Runtime(loaded, store)
        await runtime.start()
        commits.clear()
        try:
            return [r.status for r in await runtime.poll(all_now=True)]
        finally:
            await runtime.aclose()

    try:
        statuses = asyncio.run(cycle())
        assert statuses == ["not_modified"] * FEEDS
        # The claim (lease) and one transaction for every 304 together.
        assert len(commits) <= 3, commits
        with sqlite3.connect(workspace.db) as other:
            rows = other.execute("SELECT last_status, next_check_at FROM feeds").fetchall()
        assert [r[0] for r in rows] == ["not_modified"] * FEEDS
        assert all(r[1] > time.time() + 60 for r in rows)  # the interval, not the lease
    finally:
        store.close()


def test_a_later_write_wins_over_a_deferred_304(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        store.sync_feeds([("f", "http://feeds.example/f.xml")], 0.0)
        store.record_not_modified("f", 1.0, 1000.0, None)
        after = store.record_failure("f", 2.0, "boom", 3000.0)
        assert after.error_count == 1
        assert after.last_status == "error"
        assert after.next_check_at == 3000.0
        store.record_not_modified("f", 4.0, 5000.0, None)
    finally:
        store.close()  # writes what was deferred
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        assert conn.execute(
            "SELECT last_status, error_count, next_check_at FROM feeds"
        ).fetchone() == (
            "not_modified",
            0,
            5000.0,
        )
