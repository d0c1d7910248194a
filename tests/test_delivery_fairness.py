"""Each notifier drains its own queue, and a digest is one window's rows, repeated as the
same digest on retry. The real ``newsmon once`` against loopback receivers; digest
windows in the past are made by moving recorded rows back in time in the real database.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

from tests.conftest import Workspace, rss
from tests.faults.slackmock import Reply, ScriptedReceiver
from tests.servers import FeedServer, WebhookReceiver
from tests.test_delivery import burst, deliveries, item, of, once, setup

SICK_RULE = 'title: Watch list\nmatch: ["armistice"]\nnotify: [sick]\n'
DESK_RULE = 'title: Desk\nmatch: ["ceasefire"]\nnotify: [archive]\n'


def test_failing_notifier_backlog_never_holds_another_notifiers_row(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with ScriptedReceiver() as sick:
        sick.script(*[Reply(503, "busy")] * 50)
        cfg = setup(
            workspace,
            feed_server,
            receiver.url(),
            {"sick": {"kind": "webhook", "url": sick.url(), "timeout": "5s"}},
            ["archive"],
        )
        cfg["poll"]["max_entries"] = 1000
        workspace.write_config(cfg)
        workspace.write_rule("watch", SICK_RULE)
        workspace.write_rule("desk", DESK_RULE)
        feed_server.put("/w.xml", rss(burst(1, 600)))
        once(workspace, expect=1)  # 600 rows for sick, all due again (backoff 0s)
        feed_server.put("/w.xml", rss([*burst(1, 600), item(9999, "Ceasefire holds")]))
        result = once(workspace, expect=1)
        rows = deliveries(workspace)
    assert len(of(rows, "sick")) == 600
    assert [r["status"] for r in of(rows, "archive")] == ["sent"], result.stderr
    assert receiver.wait_for(1)
    # What is left is said, per notifier.
    assert "still due: sick 600" in result.stderr, result.stderr


def test_once_sends_everything_due_beyond_one_batch(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    cfg = setup(workspace, feed_server, receiver.url(), {}, ["archive"])
    cfg["poll"]["max_entries"] = 1000
    workspace.write_config(cfg)
    feed_server.put("/w.xml", rss(burst(1, 620)))
    result = once(workspace, expect=0)
    assert receiver.wait_for(620, timeout=30)
    assert {r["status"] for r in deliveries(workspace)} == {"sent"}, result.stderr
    assert "still due" not in result.stderr


def _shift_windows(ws: Workspace, hour: float) -> list[str]:
    """Move alerts 1-2 into the window ending ``2*hour`` ago and 3-4 into the one ending
    ``hour`` ago (both past). Returns the delivery ids oldest first."""
    now = time.time()
    end_old = (now // hour - 1) * hour
    end_new = (now // hour) * hour
    with closing(sqlite3.connect(ws.db)) as conn, conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT o.id FROM outbox o JOIN alerts a ON a.id = o.alert_id ORDER BY a.title"
            )
        ]
        for n, delivery in enumerate(ids):
            end = end_old if n < 2 else end_new
            conn.execute(
                "UPDATE alerts SET created_at = ? WHERE id ="
                " (SELECT alert_id FROM outbox WHERE id = ?)",
                (end - hour / 2, delivery),
            )
            conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (end, delivery))
    return ids


def test_digest_is_one_window_and_a_retry_repeats_it_with_the_same_rows(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with ScriptedReceiver() as hook:
        hook.script(Reply(503, "busy"))
        cfg = setup(
            workspace,
            feed_server,
            receiver.url(),
            {"digest": {"kind": "webhook", "url": hook.url(), "timeout": "5s", "digest": "1h"}},
            ["digest"],
            # Jittered backoff: rows of one digest must still come back together.
            delivery={"backoff_base": "1s", "backoff_cap": "1s"},
        )
        feed_server.put("/w.xml", rss(burst(1, 4, "window")))
        once(workspace, expect=0)  # recorded; the current window has not ended
        ids = _shift_windows(workspace, 3600.0)
        once(workspace, expect=1)  # first window's digest answered 503
        retry_at = {r["id"]: r["next_attempt_at"] for r in deliveries(workspace)}
        assert retry_at[ids[0]] == retry_at[ids[1]], retry_at
        time.sleep(max(0.0, max(retry_at.values()) - time.time()) + 0.2)
        once(workspace, expect=0)
        posts = hook.posts
    assert cfg["notifiers"]["digest"]["digest"] == "1h"
    docs = [p.json() for p in posts]
    windows = [sorted(a["id"] for a in d["alerts"]) for d in docs]
    assert windows[0] == sorted(ids[:2]), windows
    # The retry: the same digest id, carrying the same rows; then the second window alone.
    assert [d["id"] for d in docs[:2]] == [docs[0]["id"]] * 2
    assert windows[1] == windows[0]
    assert windows[2:] == [sorted(ids[2:])]
    assert [p.headers["webhook-id"] for p in posts[:2]] == [docs[0]["id"]] * 2
    assert {r["status"] for r in deliveries(workspace)} == {"sent"}
