"""The end-to-end promise of issue 2, against a real feed server and webhook receiver:
baseline without alerts, the seed story alerts exactly once with a valid signed body,
a 304 does no work, and the same story from a second feed under another guid does not
alert the same rule again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3

from standardwebhooks.webhooks import Webhook

from tests.conftest import (
    END_OF_WAR_RULE,
    SEED_LINK,
    SEED_TITLE,
    Workspace,
    base_config,
    plain_item,
    rss,
    seed_item_xml,
)
from tests.servers import FeedServer, WebhookReceiver

SECRET_BYTES = b"newsmon-test-secret-0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()


def _feed_status(ws: Workspace, name: str) -> str:
    with sqlite3.connect(ws.db) as conn:
        row = conn.execute("SELECT last_status FROM feeds WHERE name = ?", (name,)).fetchone()
    return str(row[0])


def test_seed_story_alerts_once_across_polls_and_feeds(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(
        base_config(
            [
                {"name": "wire", "url": feed_server.url("/wire.xml"), "tags": ["korea"]},
                {"name": "mirror", "url": feed_server.url("/mirror.xml"), "tags": ["korea"]},
            ],
            receiver.url("/hook"),
            secret=SECRET,
        )
    )
    feed_server.put("/wire.xml", rss([plain_item(1), plain_item(2)]))
    feed_server.put("/mirror.xml", rss([plain_item(10)]))

    # 1. Baseline: recorded, not alerted.
    first = workspace.run("once")
    assert first.returncode == 0, first.stderr
    assert "baseline" in first.stderr
    assert receiver.received == []

    # 2. The seed story appears: exactly one signed webhook request.
    feed_server.put("/wire.xml", rss([seed_item_xml(), plain_item(1), plain_item(2)]))
    second = workspace.run("once")
    assert second.returncode == 0, second.stderr
    assert receiver.wait_for(1)
    [request] = receiver.received
    body = request.json()
    assert body["type"] == "alert"
    assert body["rule"] == {
        "id": "end-of-war-declaration",
        "title": "End-of-war declaration (Korea)",
    }
    assert body["item"]["title"] == SEED_TITLE
    assert body["item"]["url"] == SEED_LINK
    assert body["item"]["feed"] == "wire"
    assert body["item"]["published"] == "2021-11-10T03:42:00Z"
    assert body["item"]["summary"].startswith("Seoul, Nov 10 (IANS)")
    assert body["matched"] == ["end of war declaration"]
    assert request.headers["webhook-id"] == body["id"]
    assert request.headers["content-type"] == "application/json"
    # Standard Webhooks signature, verified by the reference library, not our code.
    Webhook(SECRET).verify(
        request.body.decode(),
        {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")},
    )
    # GitHub-style signature over the raw body, keyed with the decoded whsec_ secret.
    expected = hmac.new(SECRET_BYTES, request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-newsmon-signature-256"] == f"sha256={expected}"

    # 3. Nothing changed: the server answers 304 and no work is done.
    requests_before = len(feed_server.requests)
    third = workspace.run("once")
    assert third.returncode == 0, third.stderr
    wire_requests = [r for r in feed_server.requests[requests_before:] if r.path == "/wire.xml"]
    assert len(wire_requests) == 1
    assert wire_requests[0].headers.get("if-none-match") == feed_server.etag("/wire.xml")
    assert _feed_status(workspace, "wire") == "not_modified"
    assert len(receiver.received) == 1

    # 4. The same story in another feed, another guid and a tracking-laden link: the
    #    rule has alerted this story already, so no second alert.
    feed_server.put(
        "/mirror.xml",
        rss(
            [
                seed_item_xml(guid="mirror-8841", link=SEED_LINK + "?utm_source=rss&utm_medium=x"),
                plain_item(10),
            ]
        ),
    )
    fourth = workspace.run("once")
    assert fourth.returncode == 0, fourth.stderr
    assert _feed_status(workspace, "mirror") == "ok"
    assert len(receiver.received) == 1

    # 5. And a re-run later still sends nothing new (the outbox row is 'sent').
    assert workspace.run("once").returncode == 0
    assert len(receiver.received) == 1
    with sqlite3.connect(workspace.db) as conn:
        rows = conn.execute("SELECT status, attempts FROM outbox").fetchall()
    assert rows == [("sent", 1)]


def test_same_title_other_link_in_second_feed_is_not_realerted(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    feeds = [
        {"name": "a", "url": feed_server.url("/a.xml"), "backfill": True},
        {"name": "b", "url": feed_server.url("/b.xml"), "backfill": True},
    ]
    workspace.write_config(base_config(feeds, receiver.url()))
    feed_server.put("/a.xml", rss([seed_item_xml()]))
    feed_server.put(
        "/b.xml", rss([seed_item_xml(guid="syndicated-1", link="https://other.example.test/x")])
    )
    result = workspace.run("once")
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(1)
    assert len(receiver.received) == 1


def test_two_rules_two_alerts_each_delivered_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_rule("korea-envoy", 'match:\n  all: ["korea", "envoy"]\n')
    workspace.write_config(
        base_config(
            [{"name": "wire", "url": feed_server.url("/w.xml"), "backfill": True}],
            receiver.url(),
        )
    )
    feed_server.put("/w.xml", rss([seed_item_xml(), plain_item(3)]))
    assert workspace.run("once").returncode == 0
    assert receiver.wait_for(2)
    rules = sorted(r.json()["rule"]["id"] for r in receiver.received)
    assert rules == ["end-of-war-declaration", "korea-envoy"]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 2
    # Run again: both rows are sent, nothing repeats.
    assert workspace.run("once").returncode == 0
    assert len(receiver.received) == 2


def test_failed_delivery_stays_pending_and_is_retried_with_same_id(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    config = base_config(
        [{"name": "wire", "url": feed_server.url("/w.xml"), "backfill": True}], receiver.url()
    )
    config["delivery"] = {"backoff_base": "0s", "backoff_cap": "0s"}
    workspace.write_config(config)
    feed_server.put("/w.xml", rss([seed_item_xml()]))
    receiver.script([(503, {"Retry-After": "0"}, b"busy")])
    failed = workspace.run("once")
    assert failed.returncode == 1
    assert "503" in failed.stderr
    ok = workspace.run("once")
    assert ok.returncode == 0, ok.stderr
    assert receiver.wait_for(2)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]
    assert workspace.run("once").returncode == 0
    assert len(receiver.received) == 2


def test_one_broken_feed_does_not_stop_the_others(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    feeds = [
        {"name": "html-page", "url": feed_server.url("/login.html"), "backfill": True},
        {"name": "gone", "url": feed_server.url("/missing.xml"), "backfill": True},
        {"name": "wire", "url": feed_server.url("/w.xml"), "backfill": True},
    ]
    workspace.write_config(base_config(feeds, receiver.url()))
    feed_server.put("/login.html", b"<html><body><form>login</form></body></html>", "text/html")
    feed_server.put("/w.xml", rss([seed_item_xml()]))
    result = workspace.run("once")
    assert result.returncode == 1
    assert receiver.wait_for(1)
    assert "feed html-page: not a feed" in result.stderr
    assert "feed gone: HTTP 404" in result.stderr
    assert "Traceback" not in result.stderr
