"""Notifier kind ``apprise`` end to end: the real ``newsmon`` against a loopback receiver
reached through Apprise's ``json://`` scheme; outbox, retries, deadline and secrecy of the
URLs (they carry tokens) checked from outside."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import Workspace, rss
from tests.faults.faultsrv import FaultServer
from tests.faults.slackmock import Reply, ScriptedReceiver
from tests.servers import FeedServer, WebhookReceiver
from tests.test_delivery import deliveries, item, of, once, setup

TOKEN = "tok-S3CR3T-a1b2c3"
ENV = {"PHONE_TOKEN": TOKEN}


def apprise_url(port: int, path: str = "/notify") -> str:
    return f"json://127.0.0.1:{port}{path}/${{PHONE_TOKEN}}"


def test_apprise_json_delivers_the_alert_and_retries_a_failure_without_leaking_the_url(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with ScriptedReceiver() as phone:
        phone.script(Reply(503, "busy"))
        setup(
            workspace,
            feed_server,
            receiver.url(),
            {"phone": {"kind": "apprise", "urls": [apprise_url(phone.port)]}},
            ["phone"],
        )
        link = "https://www.example-news.test/story/1"
        feed_server.put(
            "/w.xml", rss([item(1, "Armistice talks @everyone <!channel>", "Both sides met.")])
        )
        checked = workspace.run("check", env=ENV)
        first = once(workspace, expect=1, **ENV)
        [row] = of(deliveries(workspace), "phone")
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert row["last_error"] == "apprise phone: 1 of 1 URLs failed: url 1 (json): HTTP 503"
        second = once(workspace, expect=0, **ENV)
        posts = phone.posts
        listing = workspace.run("alerts", env=ENV)
        status = workspace.run("status", env=ENV)
    assert checked.returncode == 0, checked.stderr
    assert len(posts) == 2
    assert [p.path for p in posts] == [f"/notify/{TOKEN}"] * 2
    doc = posts[1].json()
    assert doc["title"] == "[newsmon] Watch list: Armistice talks @\u2060everyone ‹!channel>"
    assert link in doc["message"]
    assert "Both sides met." in doc["message"]
    assert "Rule: Watch list · Feed: wire" in doc["message"]
    assert doc["type"] == "info"
    assert [r["status"] for r in of(deliveries(workspace), "phone")] == ["sent"]
    for out in (checked, first, second, listing, status):
        text = out.stdout + out.stderr
        assert TOKEN not in text, text
        assert "127.0.0.1:" + str(phone.port) not in text, text
    assert not any(TOKEN in (r["last_error"] or "") for r in deliveries(workspace))


def test_apprise_url_apprise_cannot_load_is_a_check_error_without_the_url(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(
        workspace,
        feed_server,
        receiver.url(),
        {"phone": {"kind": "apprise", "urls": ["json://127.0.0.1/ok", f"nosuch://{TOKEN}@x/y"]}},
        ["phone"],
    )
    result = workspace.run("check")
    assert result.returncode == 2, result.stderr
    assert "url 2 (nosuch://…): Apprise cannot load this URL" in result.stderr, result.stderr
    assert "config.yaml:" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_apprise_send_that_hangs_is_ended_by_the_deadline(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with FaultServer() as faults:
        setup(
            workspace,
            feed_server,
            receiver.url(),
            {"phone": {"kind": "apprise", "urls": [f"json://127.0.0.1:{faults.port}/drip"]}},
            ["phone", "archive"],
            delivery={"timeout": "3s"},
        )
        feed_server.put("/w.xml", rss([item(1, "Armistice talks hanging")]))
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(workspace.config), "once"],
            capture_output=True,
            text=True,
            timeout=40,
            cwd=workspace.root,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 30, elapsed  # a hang runs into the 40 s bound above; 3 s deadline + start-up
    rows = deliveries(workspace)
    [row] = of(rows, "phone")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "delivery.timeout" in row["last_error"]
    assert [r["status"] for r in of(rows, "archive")] == ["sent"]
