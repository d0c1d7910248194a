"""A 200 whose body is byte-for-byte the one last recorded is not parsed again: the feed
is treated as not modified (servers without ETag/Last-Modified send the same body on
every poll). A changed body is parsed as usual, and once a day an unchanged body is
parsed anyway, so the seen-state of its items is refreshed for retention."""

from __future__ import annotations

import sqlite3
import time

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
