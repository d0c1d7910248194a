"""A 200 whose body is byte-for-byte the one last recorded is not parsed again: the feed
is treated as not modified (servers without ETag/Last-Modified send the same body on
every poll). A changed body is parsed as usual, and once a day an unchanged body is
parsed anyway, so the seen-state of its items is refreshed for retention."""

from __future__ import annotations

import json
import sqlite3
import time

from monitor.store import Store
from tests.conftest import (
    END_OF_WAR_RULE,
    Workspace,
    base_config,
    plain_item,
    rss,
    seed_item_xml,
)
from tests.servers import FeedServer, WebhookReceiver

NO_VALIDATORS = {"ETag": "", "Last-Modified": ""}


def status(ws: Workspace) -> tuple[str, str | None]:
    with sqlite3.connect(ws.db) as conn:
        row = conn.execute("SELECT last_status, body_hash FROM feeds WHERE name = 'f'").fetchone()
    return str(row[0]), row[1]


def test_unchanged_body_is_not_parsed_again(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(base_config([{"name": "f", "url": feed_server.url("/f.xml")}],
                                       receiver.url("/hook")))  # fmt: skip
    feed_server.put("/f.xml", rss([plain_item(1)]), headers=NO_VALIDATORS)
    assert workspace.run("once").returncode == 0
    first = status(workspace)
    assert first[0] == "ok"
    assert first[1]

    # Same bytes, no validators: a 200 that is recorded as not modified, unparsed.
    done = workspace.run("once", "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    assert status(workspace) == ("not_modified", first[1])
    assert "body unchanged" in done.stderr

    # New bytes: parsed, the new story alerts.
    feed_server.put("/f.xml", rss([seed_item_xml(), plain_item(1)]), headers=NO_VALIDATORS)
    assert workspace.run("once").returncode == 0
    assert status(workspace)[0] == "ok"
    assert receiver.wait_for(1)

    # A day after the body was last parsed, the same bytes are parsed again.
    with sqlite3.connect(workspace.db) as conn:
        conn.execute("UPDATE feeds SET body_hashed_at = ?", (time.time() - 90_000,))
    assert workspace.run("once").returncode == 0
    assert status(workspace)[0] == "ok"
    assert len(receiver.received) == 1


def test_a_feed_answering_304_keeps_its_items_known_past_retention(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    """A feed that answers 304 for longer than ``retention.items`` still holds the items
    last parsed: their seen-state is refreshed once a day, as an unchanged 200 body's is.
    Before, retention forgot them, and when the feed changed they were all new again."""
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(base_config([{"name": "f", "url": feed_server.url("/f.xml")}],
                                       receiver.url("/hook")))  # fmt: skip
    feed_server.put("/f.xml", rss([plain_item(1)]))  # with an ETag
    assert workspace.run("once").returncode == 0  # the baseline
    feed_server.put("/f.xml", rss([seed_item_xml(), plain_item(1)]))
    assert workspace.run("once").returncode == 0
    assert receiver.wait_for(1)
    with sqlite3.connect(workspace.db) as conn:
        keys = conn.execute("SELECT count(*) FROM item_keys WHERE feed = 'f'").fetchone()[0]
        items = conn.execute("SELECT id, first_seen FROM items ORDER BY id").fetchall()
        # Two days since the body was last parsed, the keys last refreshed then.
        conn.execute("UPDATE item_keys SET last_seen = last_seen - 172800")
        conn.execute("UPDATE feeds SET body_hashed_at = body_hashed_at - 172800")
    assert keys > 0
    assert len(items) == 2

    done = workspace.run("once", "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    assert status(workspace)[0] == "not_modified"
    assert "not modified" in done.stderr  # a real 304: the server saw If-None-Match

    # Retention of one day, as housekeeping would run it now.
    store = Store(workspace.db, lock=False)
    try:
        store.prune(time.time(), 86400.0, 365 * 86400.0)
    finally:
        store.close()
    with sqlite3.connect(workspace.db) as conn:
        kept = conn.execute("SELECT count(*) FROM item_keys WHERE feed = 'f'").fetchone()[0]
        assert kept == keys
        assert conn.execute("SELECT id, first_seen FROM items ORDER BY id").fetchall() == items

    # The feed changes at last: one item is new, the two it held are not.
    feed_server.put("/f.xml", rss([plain_item(2), seed_item_xml(), plain_item(1)]))
    assert workspace.run("once").returncode == 0
    with sqlite3.connect(workspace.db) as conn:
        after = conn.execute("SELECT id, first_seen FROM items ORDER BY id").fetchall()
    assert len(after) == 3
    assert [row for row in after if row in items] == items  # first seen where they were
    assert len(receiver.received) == 1


def test_once_with_json_logs_writes_only_json_lines(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    """The README's cron line appends ``once --log-format json`` to a log file: its
    closing summary must be a JSON line too, not plain text among them."""
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(base_config([{"name": "f", "url": feed_server.url("/f.xml")},
                                        {"name": "gone", "url": feed_server.url("/gone.xml")}],
                                       receiver.url("/hook")))  # fmt: skip
    feed_server.put("/f.xml", rss([plain_item(1)]))
    done = workspace.run("once", "--log-format", "json", "--log-level", "debug")
    assert done.returncode == 1  # one feed failed: the summary says so
    records = [json.loads(line) for line in done.stderr.splitlines()]
    summary = [r for r in records if "feeds polled" in r["msg"]]
    assert summary == [
        {
            "ts": summary[0]["ts"],
            "level": "info",
            "logger": "newsmon",
            "msg": "newsmon: 2 feeds polled (1 failed), 0 new alerts, 0 deliveries sent",
        }
    ]
