"""Delivery faults end to end (fault cases D, E, F2/F4/F5): the real ``newsmon``
command (``once`` or the daemon) as a subprocess against loopback receivers — a Slack
mock that enforces Slack's limits, a scripted aiosmtpd server, the Debian ``webhook``
program, Standard-Webhooks checks with the reference library — and what each receiver
got, counted. Nothing of ours is mocked; backoff is scaled down in each test's config.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import Workspace, base_config, rss
from tests.faults.faultsrv import SilentListener
from tests.faults.proc import Daemon
from tests.faults.slackmock import (
    Post,
    Reply,
    ScriptedReceiver,
    SlackMock,
    rate_limited,
    slack_error,
    slow,
)
from tests.faults.smtpserver import ScriptedSMTP
from tests.servers import FeedServer, RecordedRequest, WebhookReceiver, free_port

RULE = 'id: watch\ntitle: Watch list\nmatch:\n  any: ["armistice", "injection test"]\n'
SECRET = "whsec_bmV3c21vbi1kZWxpdmVyeS10ZXN0LXNlY3JldC0wMTIz"  # 33 bytes once decoded
SENDER = "newsmon@example.test"
DESK = "desk@example.test"
HOOK_SECRET = "test-secret"


# -- helpers ---------------------------------------------------------------------------


def item(n: int, title: str, description: str = "", link: str | None = None) -> str:
    """An RSS <item>; ``title`` and ``description`` are plain text, XML-escaped here."""
    url = link if link is not None else f"https://www.example-news.test/story/{n}"
    return (
        f"<item><title>{xml_escape(title)}</title><link>{xml_escape(url)}</link>"
        f"<guid>delivery-{n}</guid>"
        f"<description>{xml_escape(description or f'Summary {n}.')}</description></item>"
    )


def burst(start: int, count: int, label: str = "round") -> list[str]:
    return [item(n, f"Armistice talks {label} {n}") for n in range(start, start + count)]


def slack(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "slack", "webhook_url": url, "timeout": "5s", **extra}


def email(port: int, to: list[str] | None = None, timeout: str = "5s") -> dict[str, Any]:
    return {
        "kind": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": SENDER,
        "to": to or [DESK],
        "timeout": timeout,
    }


def setup(
    ws: Workspace,
    feed_server: FeedServer,
    hook_url: str,
    notifiers: dict[str, dict[str, Any]],
    notify: list[str],
    *,
    secret: str | None = None,
    delivery: dict[str, Any] | None = None,
    ops: list[str] | None = None,
) -> dict[str, Any]:
    """Write the rule and a config (base_config + extra notifiers) for feed /w.xml."""
    ws.write_rule("watch", RULE)
    cfg = base_config(
        [{"name": "wire", "url": feed_server.url("/w.xml"), "backfill": True}],
        hook_url,
        secret=secret,
    )
    cfg["notifiers"].update(notifiers)
    cfg["defaults"]["notify"] = notify
    if ops is not None:
        cfg["defaults"]["ops_notify"] = ops
    cfg["delivery"] = {"backoff_base": "0s", "backoff_cap": "0s", **(delivery or {})}
    ws.write_config(cfg)
    return cfg


def once(ws: Workspace, expect: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    result = ws.run("once", timeout=60, env=env or None)
    if expect is not None:
        assert result.returncode == expect, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def alerts_json(ws: Workspace) -> list[dict[str, Any]]:
    """`newsmon alerts --json`, one row per delivery with its alert's id, title, kind."""
    result = ws.run("alerts", "--json", "--limit", "200")
    assert result.returncode == 0, result.stderr
    return [
        {**d, "alert_id": a["id"], "title": a["title"], "kind": a["kind"]}
        for a in json.loads(result.stdout)
        for d in a["deliveries"]
    ]


def deliveries(ws: Workspace) -> list[dict[str, Any]]:
    """The same rows as :func:`alerts_json`, read from the database (no subprocess), plus
    ``next_attempt_at``; oldest alert first."""
    names = ("id", "notifier", "status", "attempts", "last_error", "sent_at",
             "next_attempt_at", "alert_id", "title", "kind", "created_at")  # fmt: skip
    with closing(sqlite3.connect(ws.db)) as conn:
        rows = conn.execute(
            "SELECT o.id, o.notifier, o.status, o.attempts, o.last_error, o.sent_at,"
            " o.next_attempt_at, a.id, a.title, a.kind, a.created_at"
            " FROM outbox o JOIN alerts a ON a.id = o.alert_id"
            " ORDER BY a.created_at, a.id, o.notifier"
        ).fetchall()
    return [dict(zip(names, row, strict=True)) for row in rows]


def of(rows: list[dict[str, Any]], notifier: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["notifier"] == notifier]


def slack_title(post: Post) -> str:
    """The alert title a Slack post carries (its fallback text is "[rule] title")."""
    text = str(post.json()["text"])
    return html.unescape(text.removeprefix("[watch] "))


def integrity_ok(ws: Workspace) -> bool:
    with closing(sqlite3.connect(ws.db)) as conn:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for value in doc.values():
            yield from strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from strings(value)


def keys(doc: Any) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in keys(v)}
    return set()


def verify_standard(secret: str, request_body: bytes, headers: dict[str, str]) -> None:
    """Standard Webhooks check with the reference library (raises if invalid)."""
    wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
    Webhook(secret).verify(request_body.decode("utf-8"), {k: headers[k] for k in wanted})


# -- the Slack mock itself enforces the limits the D tests rely on ------------------------


def test_slack_mock_enforces_documented_limits() -> None:
    import httpx

    def post(mock: SlackMock, doc: Any) -> httpx.Response:
        return httpx.post(mock.url(), json=doc, timeout=5)

    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}
    with SlackMock() as mock:
        assert post(mock, {"text": "fine", "blocks": [section]}).text == "ok"
        too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
        assert post(mock, {"text": "t", "blocks": [too_long]}).text == "invalid_blocks"
        assert post(mock, {"blocks": [section]}).text == "invalid_blocks"
        many = [{"type": "divider"}] * 51
        assert post(mock, {"text": "t", "blocks": many}).text == "invalid_blocks"
        assert post(mock, {"text": "y" * 40_001}).text == "invalid_blocks"
        bulky = [section] * 14  # 42,000 chars in 14 valid sections
        assert post(mock, {"text": "t", "blocks": bulky}).text == "invalid_blocks"
        bad = httpx.post(mock.url(), content=b"text=hello", timeout=5)
        assert (bad.status_code, bad.text) == (400, "invalid_payload")
        posts = mock.posts
        statuses = [p.status for p in posts]
    assert statuses == [200, 400, 400, 400, 400, 400, 400]
    assert [bool(p.violations) for p in posts] == [False] + [True] * 6
    assert any("42001 chars > 40000" in v for v in mock.violations)


# -- D1: Slack 429 + Retry-After, a burst of alerts, pacing --------------------------------

RETRY_AFTER = 3


@dataclass(frozen=True)
class BurstRun:
    posts: list[Post]
    titles: list[str]
    rows: list[dict[str, Any]]
    output: str
    exit_code: int


@pytest.fixture(scope="module")
def d1_burst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BurstRun]:
    """The daemon (1 s delivery tick) sends 5 alerts to a Slack mock that answers the
    first post 429 with Retry-After: 3, then 200."""
    ws = Workspace(tmp_path_factory.mktemp("d1"))
    (ws.root / "rules").mkdir()
    titles = [f"Armistice talks burst {n}" for n in range(1, 6)]
    with ExitStack() as stack:
        feeds = stack.enter_context(FeedServer())
        mock = stack.enter_context(SlackMock())
        ws.write_rule("watch", RULE)
        ws.write_config(
            {
                "feeds": [
                    {"name": "wire", "url": feeds.url("/w.xml"), "backfill": True, "interval": "1h"}
                ],
                "notifiers": {"team": slack(mock.url())},
                "defaults": {"notify": ["team"]},
                "poll": {"tick": "1s", "min_interval": "1s", "timeout": "10s"},
                "delivery": {"tick": "1s", "backoff_base": "1s", "backoff_cap": "10s"},
            }
        )
        feeds.put("/w.xml", rss([item(n, t) for n, t in enumerate(titles, 1)]))
        mock.script(rate_limited(RETRY_AFTER))
        daemon = Daemon(ws)
        try:
            mock.wait_for(6, timeout=40)
            time.sleep(2.5)  # room for a duplicate to show up
        finally:
            code = daemon.stop()
        yield BurstRun(mock.posts, titles, deliveries(ws), daemon.output(), code)


@pytest.mark.slow
def test_d1_slack_burst_after_429_all_arrive_once_paced(d1_burst: BurstRun) -> None:
    run = d1_burst
    assert run.exit_code == 0, run.output
    assert "Traceback" not in run.output
    posts = run.posts
    assert [p.status for p in posts].count(429) == 1
    assert posts[0].status == 429
    accepted = [p for p in posts if p.status == 200]
    # NL + ND: every alert arrives, none twice; no body broke a Slack limit.
    assert sorted(slack_title(p) for p in accepted) == sorted(run.titles)
    assert all(not p.violations for p in posts)
    # Slack pacing: at least ~1 s between two posts to the same webhook URL.
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 0.9, gaps
    # The alert that got the 429 is not posted again before Retry-After has passed.
    limited = slack_title(posts[0])
    again = next(p for p in accepted if slack_title(p) == limited)
    assert again.at - posts[0].at >= RETRY_AFTER - 0.1
    assert sorted(r["status"] for r in run.rows) == ["sent"] * 5
    assert "429" in run.output


@pytest.mark.slow
def test_d1_slack_retry_after_holds_every_post_to_that_webhook(d1_burst: BurstRun) -> None:
    posts = d1_burst.posts
    limited_at = posts[0].at
    early = [
        round(p.at - limited_at, 2) for p in posts[1:] if p.at - limited_at < RETRY_AFTER - 0.1
    ]
    assert early == [], f"posts {early} s after a 429 with Retry-After: {RETRY_AFTER}"


# -- D2: Slack down while email delivers; recovery ----------------------------------------


@pytest.mark.slow
def test_d2_slack_down_email_on_time_then_each_slack_alert_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    port = free_port()
    mock = SlackMock(port=port)  # not started yet: connection refused
    with ScriptedSMTP() as smtp:
        setup(
            workspace,
            feed_server,
            receiver.url(),
            {"team": slack(mock.url(), timeout="1s"), "desk": email(smtp.port)},
            ["team", "desk"],
        )
        titles = ["Armistice talks outage 1", "Armistice talks outage 2"]
        feed_server.put("/w.xml", rss([item(n, t) for n, t in enumerate(titles, 1)]))

        first = once(workspace, expect=1)
        assert "unreachable" in first.stderr
        # Email is not held up by the Slack outage.
        assert smtp.wait_for(2, timeout=5)
        assert len(smtp.messages) == 2
        rows = deliveries(workspace)
        assert sorted(r["status"] for r in of(rows, "desk")) == ["sent", "sent"]
        assert {r["status"] for r in of(rows, "team")} == {"pending"}

        try:
            mock.start()
            # 500 (Slack's rollup_error), then a reply slower than the 1 s timeout.
            mock.script(Reply(500, "rollup_error"), slow(3))
            once(workspace, expect=1)
            timed_out = once(workspace, expect=1)
            assert "did not answer within 1s" in timed_out.stderr
            assert [p.status for p in mock.posts] == [500, 200]  # the slow one timed out
            once(workspace, expect=0)
            once(workspace, expect=0)  # nothing left: no duplicate
            posts = mock.posts
        finally:
            mock.stop()
        assert len(smtp.messages) == 2  # email not resent
    # Slack: each alert delivered exactly once after recovery (the slow 200 was not
    # counted as delivered by newsmon, so that alert was posted again: 2 + 2 posts).
    ok_titles = [slack_title(p) for p in posts[2:]]
    assert sorted(ok_titles) == sorted(titles)
    assert {r["status"] for r in deliveries(workspace)} == {"sent"}


@pytest.mark.slow
def test_d2_past_max_age_dead_letter_and_one_operator_notice(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    down = f"http://127.0.0.1:{free_port()}/services/T000/B000/XXXX"
    setup(
        workspace,
        feed_server,
        receiver.url(),
        {"team": slack(down)},
        ["team"],
        delivery={"max_age": "1s"},
        ops=["archive"],
    )
    feed_server.put("/w.xml", rss(burst(1, 2, "aged")))
    once(workspace, expect=1)
    time.sleep(1.2)
    gave_up = once(workspace)
    assert "gave up after max age" in gave_up.stderr
    once(workspace)
    once(workspace)
    rows = of(deliveries(workspace), "team")
    assert {r["status"] for r in rows if r["kind"] == "alert"} == {"dead"}
    assert all("max age" in r["last_error"] for r in rows)
    # One notice per notifier and hour, to the ops notifier, delivered once.
    assert receiver.wait_for(1)
    time.sleep(0.3)
    [notice] = [r.json() for r in receiver.received]
    assert notice["type"] == "notice"
    assert "team" in notice["item"]["title"]
    assert "--retry-dead" in notice["item"]["summary"]


# -- D3: Slack permanent errors; 410 disables the notifier until its config changes ------

SLACK_ERRORS = {
    "s-payload": (400, "invalid_payload"),
    "s-prohibited": (403, "action_prohibited"),
    "s-notfound": (404, "channel_not_found"),
    "s-noservice": (404, "no_service"),
    "s-archived": (410, "channel_is_archived"),
}


@pytest.mark.slow
def test_d3_slack_permanent_errors_dead_after_one_attempt_and_410_disables(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with SlackMock() as mock, WebhookReceiver() as ops:
        paths = {name: f"/services/T000/{name}/XXXX" for name in SLACK_ERRORS}
        notifiers = {name: slack(mock.url(paths[name])) for name in SLACK_ERRORS}
        notifiers["ops"] = {"kind": "webhook", "url": ops.url(), "timeout": "5s"}
        cfg = setup(
            workspace,
            feed_server,
            receiver.url(),
            notifiers,
            [*SLACK_ERRORS, "archive"],
            ops=["ops"],
        )
        for name, (status, code) in SLACK_ERRORS.items():
            mock.script(slack_error(status, code), path=paths[name])
        feed_server.put("/w.xml", rss([item(1, "Armistice talks permanent 1")]))

        first = once(workspace, expect=1)
        assert receiver.wait_for(1)  # the other notifier is unaffected
        for name, (status, code) in SLACK_ERRORS.items():
            assert [p.status for p in mock.posts_to(paths[name])] == [status], name
            assert code in first.stderr
        listing = workspace.run("alerts")
        assert listing.returncode == 0
        for name, (_status, code) in SLACK_ERRORS.items():
            line = next(ln for ln in listing.stdout.splitlines() if f"-> {name} " in ln)
            assert re.search(rf"-> {name} +dead +tries=1 .*{code}", line), line

        # No retry loop: nothing is attempted again; the operator gets notices instead.
        once(workspace, expect=0)
        for name in SLACK_ERRORS:
            assert len(mock.posts_to(paths[name])) == 1, name
        assert ops.wait_for(len(SLACK_ERRORS))
        notices = [r.json() for r in ops.received]
        assert {n["type"] for n in notices} == {"notice"}
        for name, (_status, code) in SLACK_ERRORS.items():
            assert any(name in n["item"]["title"] and code in n["item"]["summary"]
                       for n in notices), name  # fmt: skip

        # A later alert: the gone receivers (410 archived, no_service) are not tried.
        feed_server.put(
            "/w.xml",
            rss([item(2, "Armistice talks permanent 2"), item(1, "Armistice talks permanent 1")]),
        )
        once(workspace, expect=0)
        for name in ("s-payload", "s-prohibited", "s-notfound"):
            assert [p.status for p in mock.posts_to(paths[name])] == [SLACK_ERRORS[name][0], 200]
        for name in ("s-archived", "s-noservice"):
            assert len(mock.posts_to(paths[name])) == 1, name
        later = [r for r in alerts_json(workspace) if r["title"] == "Armistice talks permanent 2"]
        assert {r["notifier"]: r["status"] for r in later if r["notifier"].startswith("s-")} == {
            "s-payload": "sent", "s-prohibited": "sent", "s-notfound": "sent",
            "s-archived": "pending", "s-noservice": "pending",
        }  # fmt: skip

        # The archived channel's config changes (here: its timeout): it is tried again.
        cfg["notifiers"]["s-archived"]["timeout"] = "7s"
        workspace.write_config(cfg)
        once(workspace, expect=0)
        archived = mock.posts_to(paths["s-archived"])
        assert [p.status for p in archived] == [410, 200]
        assert slack_title(archived[1]) == "Armistice talks permanent 2"
        assert len(mock.posts_to(paths["s-noservice"])) == 1  # unchanged config: still off
        assert len(receiver.received) == 2


# -- D4: very long, non-ASCII title and summary stay within Slack's limits ---------------


def test_d4_long_cjk_emoji_alert_is_accepted_by_slack_limits(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    title = ("Armistice 종전선언 停戦 😀🇰🇷 " * 200)[:2000]
    summary = ("평화 협정 和平協定 🕊️ peace & <quiet> " * 400)[:10_000]
    assert len(title) == 2000
    assert len(summary) == 10_000
    with SlackMock() as mock:
        setup(workspace, feed_server, receiver.url(), {"team": slack(mock.url())}, ["team"])
        feed_server.put("/w.xml", rss([item(1, title, summary)]))
        once(workspace, expect=0)
        [post] = mock.posts
    assert post.status == 200
    assert post.violations == ()
    doc = post.json()
    post.raw.decode("utf-8")  # strict: no broken UTF-8 sequence
    texts = list(strings(doc))
    assert all(not any(0xD800 <= ord(c) <= 0xDFFF for c in t) for t in texts)
    assert sum(len(t) for t in texts) < 40_000
    assert "종전선언" in doc["text"]
    assert "😀" in doc["text"]
    assert any("평화 협정" in t for t in texts)
    assert [r["status"] for r in deliveries(workspace)] == ["sent"]


def test_d4_overlong_link_is_dropped_not_cut_and_the_heading_stays_whole(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    url = "https://www.example-news.test/story/1?ref=" + "b" * 3500
    with SlackMock() as mock:
        setup(workspace, feed_server, receiver.url(), {"team": slack(mock.url())}, ["team"])
        feed_server.put("/w.xml", rss([item(1, "Armistice talks long link", link=url)]))
        once(workspace, expect=0)
        [post] = mock.posts
    assert post.status == 200
    heading = post.json()["blocks"][0]["text"]["text"]
    # A 3,540-char link cannot fit a 3,000-char section: it is left out rather than cut
    # into a broken link, and the headline stays whole.
    assert heading == "*Armistice talks long link*", heading[-80:]


# -- D5: the Debian `webhook` receiver with a payload-hmac-sha256 rule ------------------


@contextmanager
def debian_webhook(root: Path) -> Iterator[tuple[str, Path, Path]]:
    """Run /usr/bin/webhook on loopback (docs/reliability.md); yield (url, record, log)."""
    binary = shutil.which("webhook")
    assert binary is not None
    record = root / "recorded.txt"
    script = root / "record.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n%s\\n" "$1" "$2" >> "{record}"\n')
    script.chmod(0o755)
    hooks = [
        {
            "id": "alert",
            "execute-command": str(script),
            "command-working-directory": str(root),
            "http-methods": ["POST"],
            "pass-arguments-to-command": [
                {"source": "header", "name": "webhook-id"},
                {"source": "entire-payload"},
            ],
            "trigger-rule": {
                "match": {
                    "type": "payload-hmac-sha256",
                    "secret": HOOK_SECRET,
                    "parameter": {"source": "header", "name": "X-Newsmon-Signature-256"},
                }
            },
        }
    ]
    (root / "hooks.json").write_text(json.dumps(hooks))
    port = free_port()
    log = root / "webhook.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "-hooks", str(root / "hooks.json"), "-ip", "127.0.0.1",
             "-port", str(port), "-verbose"],
            stdout=out, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "webhook did not start"
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/hooks/alert", record, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_file_lines(path: Path, n: int, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.skipif(
    shutil.which("webhook") is None,
    reason="Debian `webhook` is not installed (CI installs it: apt-get install webhook)",
)
@pytest.mark.slow
def test_d5_debian_webhook_hmac_rule_accepts_signed_and_dead_letters_wrong_secret(
    workspace: Workspace, feed_server: FeedServer, tmp_path: Path
) -> None:
    hookdir = tmp_path / "hookd"
    hookdir.mkdir()
    with debian_webhook(hookdir) as (url, record, log):
        cfg = setup(workspace, feed_server, url, {}, ["archive"], secret=HOOK_SECRET,
                    delivery={"max_attempts": 2})  # fmt: skip
        feed_server.put("/w.xml", rss([item(1, "Armistice talks signed 1")]))
        once(workspace, expect=0)
        lines = _wait_file_lines(record, 2)
        assert len(lines) == 2, lines
        webhook_id, payload = lines[0], json.loads(lines[1])
        [row] = alerts_json(workspace)
        assert row["status"] == "sent"
        assert webhook_id == row["id"] == payload["id"]
        assert payload["type"] == "alert"
        assert payload["item"]["title"] == "Armistice talks signed 1"
        assert payload["item"]["url"] == "https://www.example-news.test/story/1"
        assert payload["rule"] == {"id": "watch", "title": "Watch list"}
        assert payload["matched"] == ["armistice"]

        # The bot's secret no longer matches the receiver's: 500 on every attempt.
        cfg["notifiers"]["archive"]["secret"] = "not-the-secret"
        workspace.write_config(cfg)
        feed_server.put(
            "/w.xml",
            rss([item(2, "Armistice talks signed 2"), item(1, "Armistice talks signed 1")]),
        )
        first = once(workspace, expect=1)
        assert "HTTP 500" in first.stderr
        second = once(workspace, expect=1)
        assert "gave up after 2 attempts" in second.stderr
        once(workspace, expect=0)  # dead: no third attempt
        time.sleep(0.3)
        assert log.read_text().count("invalid payload signatures") == 2
        assert len(record.read_text(encoding="utf-8").splitlines()) == 2  # command never ran
    dead = next(r for r in deliveries(workspace) if r["title"] == "Armistice talks signed 2")
    assert dead["status"] == "dead"
    assert dead["attempts"] == 2
    assert "Error occurred while evaluating hook rules" in dead["last_error"]


# -- D6: Standard Webhooks retry keeps webhook-id; 302 is a failure, not followed ------


@pytest.mark.slow
def test_d6_timeout_then_success_same_webhook_id_fresh_timestamp_valid_signature(
    workspace: Workspace, feed_server: FeedServer
) -> None:
    with ScriptedReceiver() as hook:
        hook.script(slow(4))  # past the notifier's 2 s timeout
        cfg = setup(workspace, feed_server, hook.url(), {}, ["archive"], secret=SECRET)
        cfg["notifiers"]["archive"]["timeout"] = "2s"
        workspace.write_config(cfg)
        feed_server.put("/w.xml", rss([item(1, "Armistice talks slow receiver")]))
        started = time.monotonic()
        failed = once(workspace, expect=1)
        assert time.monotonic() - started < 15
        assert "did not answer within 2s" in failed.stderr
        once(workspace, expect=0)
        once(workspace, expect=0)
        requests = hook.posts
    assert [r.method for r in requests] == ["POST", "POST"]
    first, second = requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.json()["id"] == second.json()["id"] == first.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert abs(int(second.headers["webhook-timestamp"]) - second.wall) < 5
    for request in requests:
        verify_standard(SECRET, request.raw, request.headers)
    assert len({r.headers["webhook-id"] for r in requests}) == 1  # receiver dedupe: 1 effect
    [row] = deliveries(workspace)
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_d6_redirect_counts_as_failure_and_is_not_followed(
    workspace: Workspace, feed_server: FeedServer
) -> None:
    with ScriptedReceiver() as hook, ScriptedReceiver() as target:
        moved = Reply(302, "", {"Location": target.url("/elsewhere")})
        hook.script(moved, moved)
        setup(workspace, feed_server, hook.url(), {}, ["archive"], secret=SECRET)
        feed_server.put("/w.xml", rss([item(1, "Armistice talks redirected")]))
        first = once(workspace, expect=1)
        second = once(workspace, expect=1)
        assert target.posts == []  # Location never requested
        assert [p.status for p in hook.posts] == [302, 302]
    assert "302" in first.stderr
    assert "not followed" in second.stderr
    [row] = deliveries(workspace)
    assert (row["status"], row["attempts"]) == ("pending", 2)
    assert "302" in row["last_error"]


# -- D7: SMTP transient failures ----------------------------------------------------------


@pytest.mark.slow
def test_d7_smtp_451_at_data_twice_then_one_message_same_message_id(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with ScriptedSMTP(fail_data=2) as smtp:
        setup(workspace, feed_server, receiver.url(), {"desk": email(smtp.port)}, ["desk"])
        feed_server.put("/w.xml", rss([item(1, "Armistice talks mail retry")]))
        first = once(workspace, expect=1)
        assert "451" in first.stderr
        once(workspace, expect=1)
        once(workspace, expect=0)
        once(workspace, expect=0)
        attempts = smtp.attempts
    assert [a.accepted for a in attempts] == [False, False, True]
    [row] = deliveries(workspace)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert {a.message_id for a in attempts} == {f"<{row['id']}@newsmon>"}
    assert attempts[2].rcpt_tos == (DESK,)


@pytest.mark.slow
def test_d7_smtp_421_at_connect_then_delivered(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with ScriptedSMTP(refuse_connect=1) as smtp:
        setup(workspace, feed_server, receiver.url(), {"desk": email(smtp.port)}, ["desk"])
        feed_server.put("/w.xml", rss([item(1, "Armistice talks mail 421")]))
        first = once(workspace, expect=1)
        assert "421" in first.stderr
        assert smtp.attempts == []
        once(workspace, expect=0)
        once(workspace, expect=0)
        assert smtp.connections == 2
        assert len(smtp.messages) == 1


@pytest.mark.slow
def test_d7_smtp_server_down_then_started_delivers_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    port = free_port()
    setup(workspace, feed_server, receiver.url(), {"desk": email(port)}, ["desk", "archive"])
    feed_server.put("/w.xml", rss([item(1, "Armistice talks mail down")]))
    first = once(workspace, expect=1)
    assert "ConnectionRefusedError" in first.stderr
    assert receiver.wait_for(1)  # the webhook went out on time
    with ScriptedSMTP(port=port) as smtp:
        once(workspace, expect=0)
        once(workspace, expect=0)
        messages = smtp.messages
    assert len(messages) == 1
    assert "Armistice talks mail down" in str(messages[0].message()["Subject"])
    assert len(receiver.received) == 1


# -- D8: one of two recipients refused ----------------------------------------------------


@pytest.mark.slow
def test_d8_one_recipient_refused_550_good_one_gets_it_no_retry(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    to = ["good@example.test", "unknown@example.test"]
    with ScriptedSMTP() as smtp:
        setup(workspace, feed_server, receiver.url(), {"desk": email(smtp.port, to)}, ["desk"])
        feed_server.put("/w.xml", rss([item(1, "Armistice talks partial mail")]))
        once(workspace, expect=0)
        once(workspace, expect=0)
        attempts = smtp.attempts
    assert len(attempts) == 1
    assert attempts[0].rcpt_tos == ("good@example.test",)
    assert attempts[0].accepted
    [row] = deliveries(workspace)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert "unknown@example.test" in row["last_error"]
    assert "550" in row["last_error"]
    listing = workspace.run("alerts").stdout
    assert "refused for unknown@example.test" in listing


# -- D9: an SMTP server that never sends its banner ---------------------------------------


def test_d9_silent_smtp_times_out_other_notifier_delivers(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with SilentListener() as silent:
        setup(
            workspace,
            feed_server,
            receiver.url(),
            {"desk": email(silent.port, timeout="2s")},
            ["desk", "archive"],
        )
        feed_server.put("/w.xml", rss([item(1, "Armistice talks silent mail")]))
        started = time.monotonic()
        result = once(workspace, expect=1)
        elapsed = time.monotonic() - started
        assert silent.accepts >= 1
    assert elapsed < 12, elapsed
    assert receiver.wait_for(1)
    rows = deliveries(workspace)
    [mail] = of(rows, "desk")
    assert (mail["status"], mail["attempts"]) == ("pending", 1)
    assert "timed out" in mail["last_error"].lower()
    assert [r["status"] for r in of(rows, "archive")] == ["sent"]
    assert "email desk" in result.stderr


# -- E: crash points ----------------------------------------------------------------------


@pytest.mark.slow
def test_e1_crash_before_commit_records_nothing_restart_alerts_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(workspace, feed_server, receiver.url(), {}, ["archive"])
    feed_server.put("/w.xml", rss(burst(1, 2)))
    crashed = once(workspace, NEWSMON_CRASH_AT="before_commit")
    assert crashed.returncode == -9
    assert receiver.received == []
    assert deliveries(workspace) == []
    assert integrity_ok(workspace)
    once(workspace, expect=0)
    once(workspace, expect=0)
    assert receiver.wait_for(2)
    titles = sorted(r.json()["item"]["title"] for r in receiver.received)
    assert titles == ["Armistice talks round 1", "Armistice talks round 2"]


@pytest.mark.slow
def test_e2_crash_after_commit_restart_delivers_each_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(workspace, feed_server, receiver.url(), {}, ["archive"])
    feed_server.put("/w.xml", rss(burst(1, 3)))
    crashed = once(workspace, NEWSMON_CRASH_AT="after_commit")
    assert crashed.returncode == -9
    assert receiver.received == []
    assert [r["status"] for r in alerts_json(workspace)] == ["pending"] * 3
    assert integrity_ok(workspace)
    once(workspace, expect=0)
    once(workspace, expect=0)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 3
    assert len(set(ids)) == 3


def _crash_after_send(ws: Workspace, feed_server: FeedServer, receiver: WebhookReceiver) -> str:
    setup(ws, feed_server, receiver.url(), {}, ["archive"], secret=SECRET)
    feed_server.put("/w.xml", rss(burst(1, 2)))
    crashed = once(ws, NEWSMON_CRASH_AT="after_send")
    assert crashed.returncode == -9
    assert receiver.wait_for(1)
    [first] = receiver.received
    assert integrity_ok(ws)
    return first.headers["webhook-id"]


@pytest.mark.slow
def test_e3_crash_after_send_requeued_resend_has_same_webhook_id_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    first_id = _crash_after_send(workspace, feed_server, receiver)
    # The crashed process leased both rows; an operator requeues the alerts.
    for alert_id in {r["alert_id"] for r in deliveries(workspace)}:
        requeued = workspace.run("alerts", "--retry", alert_id)
        assert requeued.returncode == 0, requeued.stderr
    once(workspace, expect=0)
    once(workspace, expect=0)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids.count(first_id) == 2  # the documented window: one duplicate, same id
    assert len(ids) == 3
    assert len(set(ids)) == 2
    for request in receiver.received:
        verify_standard(SECRET, request.body, request.headers)


@pytest.mark.slow
def test_e3_crash_after_send_restart_resends_same_webhook_id(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    first_id = _crash_after_send(workspace, feed_server, receiver)
    once(workspace)
    once(workspace)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids.count(first_id) == 2
    assert len(ids) == 3
    assert len(set(ids)) == 2


# -- F2: Slack mrkdwn injection from feed text ---------------------------------------------

INJECTIONS = [
    "Injection test <!channel> <!here> <!everyone> <@U024BE7LH> <!subteam^S1> "
    "<https://evil.invalid|click>",
    "Injection test &lt;!channel&gt; entity-encoded",
    "Injection test @here *bold* _it_ ~strike~ ```code``` & AT&T",
]
BOT_LINK = re.compile(r"<https://www\.example-news\.test/story/\d+\|")


def test_f2_slack_injection_is_escaped_once_and_never_pings(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with SlackMock() as mock:
        setup(
            workspace, feed_server, receiver.url(), {"team": slack(mock.url())}, ["team", "archive"]
        )
        feed_server.put(
            "/w.xml",
            rss([item(n, t, f"Summary: {t}") for n, t in enumerate(INJECTIONS, 1)]),
        )
        once(workspace, expect=0)
        posts = mock.posts
    assert receiver.wait_for(3)
    plain = [r.json()["item"]["title"] for r in receiver.received]
    assert all("&amp;" not in t and "&lt;" not in t for t in plain), plain
    assert len(posts) == 3
    for post in posts:
        assert post.status == 200
        assert not post.violations
        doc = post.json()
        assert "link_names" not in keys(doc)
        assert doc.get("parse") != "full"
        for text in strings(doc):
            rest = BOT_LINK.sub("", text)
            assert "<" not in rest, text  # no <!channel>, <@U…>, <http…> from feed text
            assert "&amp;amp;" not in text
            assert "&amp;lt;" not in text
            assert "&amp;gt;" not in text
    # Escaped exactly once: Slack text == the plain title with & < > escaped, once.
    expected = {f"[watch] {t}".replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                for t in plain}  # fmt: skip
    assert {p.json()["text"] for p in posts} == expected
    for post in posts:
        heading = post.json()["blocks"][0]["text"]["text"]
        title = html.unescape(post.json()["text"]).removeprefix("[watch] ")
        escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f"|{escaped}>" in heading


# -- F4: the HTML part of an email carries no active content ------------------------------

HOSTILE_SUMMARY = (
    '<p>Armistice talks <a href="&#106;avascript:alert(1)">one</a>'
    ' <a href="java&#x09;script:alert(2)">two</a>'
    ' <a href="JaVaScRiPt&#58;alert(3)">three</a>'
    " <img src=javascript:alert(4)>"
    ' <form action="https://evil.invalid/steal"><input name="p"><button>Go</button></form>'
    " <script>alert(5)</script><svg onload=alert(6)></svg></p>"
)
URL_ATTRS = {"href", "src", "action", "formaction", "srcset", "background", "poster",
             "xlink:href", "data", "cite", "longdesc", "ping"}  # fmt: skip
ACTIVE_TAGS = {"form", "input", "button", "textarea", "select", "script", "iframe", "object",
               "embed", "svg", "math", "style", "meta", "base", "link", "img"}  # fmt: skip


class _Markup(HTMLParser):
    """Tags and URL attributes of an HTML document; html.parser decodes entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if name in URL_ATTRS and value is not None:
                self.urls.append(value)

    handle_startendtag = handle_starttag


def _scheme(url: str) -> str:
    """The scheme a browser would see: WHATWG strips tab/newline and edge C0/space."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else ""


def test_f4_html_email_has_only_http_links_and_no_active_tags(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with ScriptedSMTP() as smtp:
        setup(workspace, feed_server, receiver.url(), {"desk": email(smtp.port)}, ["desk"])
        feed_server.put(
            "/w.xml",
            rss(
                [
                    f"<item><title>Armistice talks hostile html</title>"
                    f"<link>https://www.example-news.test/story/1</link><guid>f4-1</guid>"
                    f"<description><![CDATA[{HOSTILE_SUMMARY}]]></description></item>",
                    '<item><title>Armistice talks <![CDATA[<a href="javascript:alert(8)">x</a>]]>'
                    "</title><link>javascript:alert(9)</link><guid>f4-2</guid>"
                    f"<description><![CDATA[{HOSTILE_SUMMARY}]]></description></item>",
                ]
            ),
        )
        once(workspace, expect=0)
        messages = smtp.messages
    assert len(messages) == 2
    for received in messages:
        msg = received.message()
        part = msg.get_body(preferencelist=("html",))
        assert part is not None
        markup = _Markup()
        markup.feed(part.get_content())
        markup.close()
        assert not set(markup.tags) & ACTIVE_TAGS, markup.tags
        assert markup.handlers == []
        for url in markup.urls:
            assert _scheme(url) in {"http", "https", "mailto"}, url
        assert msg.get_body(preferencelist=("plain",)) is not None
    hrefs = sorted(u for m in messages for u in _urls(m.message()))
    assert hrefs == ["https://www.example-news.test/story/1"]


def _urls(msg: Any) -> list[str]:
    markup = _Markup()
    markup.feed(msg.get_body(preferencelist=("html",)).get_content())
    return markup.urls


# -- F5: header injection through the title -----------------------------------------------


def test_f5_title_header_injection_one_clean_message_per_alert(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    titles = [
        "Armistice Subject line&#13;&#10;Bcc: victim@example.invalid&#13;&#10;X-Injected: yes",
        "Armistice line&#x2028;separator&#x2029;and nul&#0;byte&#x85;next",
        "Armistice " + "long title " * 455,
    ]
    feed = rss(
        [
            f"<item><title>{t}</title><link>https://www.example-news.test/story/{n}</link>"
            f"<guid>f5-{n}</guid><description>Header test {n}.</description></item>"
            for n, t in enumerate(titles, 1)
        ]
    )
    assert len(titles[2]) > 5000
    with ScriptedSMTP() as smtp:
        setup(workspace, feed_server, receiver.url(), {"desk": email(smtp.port)}, ["desk"])
        feed_server.put("/w.xml", feed)
        once(workspace, expect=0)
        once(workspace, expect=0)
        attempts = smtp.attempts
    assert len(attempts) == 3
    assert all(a.accepted for a in attempts)
    for received in attempts:
        assert received.rcpt_tos == (DESK,)
        msg = received.message()
        subjects = msg.get_all("Subject") or []
        assert len(subjects) == 1
        subject = str(subjects[0])
        assert not re.search("[\r\n\x00\x85\u2028\u2029]", subject), repr(subject)
        assert subject.startswith("[newsmon] Watch list: Armistice")
        assert msg.get_all("Bcc") is None
        assert msg.get_all("X-Injected") is None
        head = received.content.split(b"\r\n\r\n", 1)[0].lower()
        assert not re.search(rb"(^|\n)(bcc|x-injected):", head)
        assert b"\x00" not in received.content
    assert len({a.message_id for a in attempts}) == 3
    assert [r["status"] for r in deliveries(workspace)] == ["sent"] * 3


# -- digests, --retry-dead, send-test -------------------------------------------------------


DIGEST_RULES = {
    "watch": 'title: Watch list\nmatch: ["armistice"]\nfeeds: [wire]\nnotify: [archive]\n',
    "bulletin": 'title: Bulletins\nmatch: ["ceasefire"]\nfeeds: [longwire]\nnotify: [team]\n',
}
LONG_URL = "https://www.example-news.test/bulletin/{n}/" + "a" * 2600


@dataclass(frozen=True)
class DigestRun:
    before: list[dict[str, Any]]  # `alerts --json` rows right after recording
    before_db: list[dict[str, Any]]  # the same rows from the database (next_attempt_at)
    sent_early: int  # requests the receivers got before the window ended
    hook: list[RecordedRequest]
    slack: list[Post]
    after: list[dict[str, Any]]
    stderr: str


@pytest.fixture(scope="module")
def digest_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DigestRun]:
    """Both notifiers have ``digest: 1m``: a webhook gets 2 alerts, Slack gets 15 alerts
    with long (2,600-char) links and long titles. Record, wait for the window's end, send."""
    ws = Workspace(tmp_path_factory.mktemp("digest"))
    (ws.root / "rules").mkdir()
    with FeedServer() as feeds, WebhookReceiver() as hook, SlackMock() as mock:
        for name, text in DIGEST_RULES.items():
            ws.write_rule(name, text)
        cfg = base_config(
            [
                {"name": "wire", "url": feeds.url("/w.xml"), "backfill": True},
                {"name": "longwire", "url": feeds.url("/long.xml"), "backfill": True},
            ],
            hook.url(),
            secret=SECRET,
        )
        cfg["notifiers"]["archive"]["digest"] = "1m"
        cfg["notifiers"]["team"] = slack(mock.url(), digest="1m")
        cfg["delivery"] = {"backoff_base": "0s", "backoff_cap": "0s"}
        ws.write_config(cfg)
        feeds.put("/w.xml", rss(burst(1, 2, "digest")))
        long_items = [
            item(n, f"Ceasefire bulletin {n} " + "update " * 150, link=LONG_URL.format(n=n))
            for n in range(1, 16)
        ]
        feeds.put("/long.xml", rss(long_items))
        first = once(ws, expect=0)
        before, before_db = alerts_json(ws), deliveries(ws)
        sent_early = len(hook.received) + len(mock.posts)
        wait = max(r["next_attempt_at"] for r in before_db) - time.time() + 0.3
        assert wait < 61
        time.sleep(max(0.0, wait))
        second = once(ws)
        third = once(ws)
        hook.wait_for(1)
        yield DigestRun(
            before, before_db, sent_early, hook.received, mock.posts, deliveries(ws),
            first.stderr + second.stderr + third.stderr,
        )  # fmt: skip


@pytest.mark.slow
def test_digest_window_sends_one_digest_webhook_when_the_window_ends(
    digest_run: DigestRun,
) -> None:
    run = digest_run
    assert run.sent_early == 0  # recorded, not sent: the window has not ended
    assert {(r["notifier"], r["status"]) for r in run.before} == {
        ("archive", "pending"), ("team", "pending")
    }  # fmt: skip
    assert len(run.before) == 17
    for row in run.before_db:
        # Due at the end of the epoch-aligned minute the alert was recorded in.
        assert row["next_attempt_at"] == (row["created_at"] // 60 + 1) * 60
    [request] = run.hook
    body = request.json()
    assert body["type"] == "digest"
    assert request.headers["webhook-id"] == body["id"]
    assert sorted(a["item"]["title"] for a in body["alerts"]) == [
        "Armistice talks digest 1",
        "Armistice talks digest 2",
    ]
    assert {a["type"] for a in body["alerts"]} == {"alert"}
    verify_standard(SECRET, request.body, request.headers)
    assert [r["status"] for r in of(run.after, "archive")] == ["sent", "sent"]


@pytest.mark.slow
def test_digest_to_slack_with_long_links_stays_within_slack_limits(
    digest_run: DigestRun,
) -> None:
    run = digest_run
    assert run.slack, run.stderr
    assert [p.violations for p in run.slack] == [()] * len(run.slack)
    assert {p.status for p in run.slack} == {200}
    assert [r["status"] for r in of(run.after, "team")] == ["sent"] * 15


@pytest.mark.slow
def test_retry_dead_requeues_a_dead_row_and_it_is_delivered(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(workspace, feed_server, receiver.url(), {}, ["archive"])
    receiver.script([(400, {"Content-Type": "text/plain"}, b"bad request")])
    feed_server.put("/w.xml", rss([item(1, "Armistice talks dead letter")]))
    once(workspace, expect=1)
    [row] = deliveries(workspace)
    assert row["status"] == "dead"
    assert "HTTP 400" in row["last_error"]
    once(workspace, expect=0)
    assert len(receiver.received) == 1  # permanent: not retried on its own
    requeued = workspace.run("alerts", "--retry-dead")
    assert requeued.returncode == 0, requeued.stderr
    assert "1 deliveries queued again" in requeued.stdout
    once(workspace, expect=0)
    assert receiver.wait_for(2)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    [row] = deliveries(workspace)
    assert row["status"] == "sent"
    nothing = workspace.run("alerts", "--retry-dead")
    assert nothing.returncode == 1
    assert "0 deliveries queued again" in nothing.stdout


@pytest.mark.slow
def test_send_test_sends_a_marked_test_alert(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with SlackMock() as mock:
        setup(workspace, feed_server, receiver.url(), {"team": slack(mock.url())}, ["archive"],
              secret=SECRET)  # fmt: skip
        sent = workspace.run("send-test", "archive")
        assert sent.returncode == 0, sent.stderr
        assert "test alert sent to archive" in sent.stdout
        to_slack = workspace.run("send-test", "team")
        assert to_slack.returncode == 0, to_slack.stderr
        [post] = mock.posts
    assert post.status == 200
    assert not post.violations
    assert "newsmon test alert" in post.json()["text"]
    assert receiver.wait_for(1)
    [request] = receiver.received
    body = request.json()
    assert body["rule"]["id"] == "newsmon-test"
    assert "newsmon test alert" in body["item"]["title"]
    assert "send-test" in body["item"]["summary"]
    verify_standard(SECRET, request.body, request.headers)
    assert not workspace.db.exists()  # no outbox, no feed poll involved

    receiver.script([(500, {"Content-Type": "text/plain"}, b"down")])
    failed = workspace.run("send-test", "archive")
    assert failed.returncode == 1
    assert "test alert to archive failed" in failed.stderr
    assert "500" in failed.stderr
    unknown = workspace.run("send-test", "nope")
    assert unknown.returncode == 2
    assert "unknown notifier 'nope'" in unknown.stderr
