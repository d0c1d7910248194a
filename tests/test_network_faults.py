"""fault-case group B (network faults on feeds), against the real ``newsmon``
command and loopback servers only: every fault gives one clear error line with a distinct
cause, the other feeds go on (ISO), and nothing is lost or sent twice once it clears.

Name-resolution failure is injected in-process (``socket.getaddrinfo`` patched), so no
DNS query ever leaves the machine.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import FetchError
from monitor.feeds.fetch import Fetcher, FetchLimits
from tests.conftest import (
    END_OF_WAR_RULE,
    SEED_TITLE,
    Workspace,
    base_config,
    plain_item,
    rss,
    seed_item_xml,
)
from tests.faults.faultsrv import FaultServer, SilentListener
from tests.faults.proc import Daemon, feed_rows, forged_lines, integrity, query
from tests.faults.tlsserver import TLSServer
from tests.servers import FeedServer, WebhookReceiver, free_port

MOON = (
    "<item><title>Moon renews call for End-of-War Declaration at UN</title>"
    "<link>https://n.test/moon</link><guid>moon-1</guid></item>"
)


def config(feeds: list[dict[str, Any]], hook: str, **poll: Any) -> dict[str, Any]:
    doc = base_config(feeds, hook)
    doc["poll"].update(
        {"tick": "1s", "min_interval": "1s", "default_interval": "1s", "per_host": 16, **poll}
    )
    doc["delivery"].update({"tick": "1s"})
    return doc


def once(ws: Workspace, *args: str, expect: int | None = None) -> str:
    result = ws.run("once", *args)
    if expect is not None:
        assert result.returncode == expect, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not forged_lines(result.stderr), result.stderr
    return result.stderr


def warnings_for(log: str, feed: str) -> list[str]:
    return [line for line in log.splitlines() if f"WARNING feed {feed}: " in line]


def posts(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received if r.path == path]


# -- B1: connection-level failures -----------------------------------------------------------


def test_b1_refused_tls_and_reset_each_give_a_distinct_cause(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    with FaultServer() as faults, TLSServer(tmp_path, body=rss([seed_item_xml()])) as tls:
        feed_server.put("/good.xml", rss([seed_item_xml()]))
        feeds: list[dict[str, Any]] = [
            {"name": "refused", "url": f"http://127.0.0.1:{free_port()}/rss"},
            {"name": "tls", "url": tls.url("/rss")},
            {"name": "reset", "url": faults.url("/reset")},
            {"name": "good", "url": feed_server.url("/good.xml"), "backfill": True},
        ]
        workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
        workspace.write_config(config(feeds, receiver.url()))
        log = once(workspace, expect=1)
        handshakes, tls_requests = tls.handshakes, tls.requests

    causes = {
        "refused": "connection refused by 127.0.0.1",
        "tls": "TLS certificate of 127.0.0.1 not trusted: self-signed certificate",
        "reset": "connection to 127.0.0.1 broke off mid-response",
    }
    for name, cause in causes.items():
        [line] = warnings_for(log, name)
        assert cause in line, line
    # No insecure fallback: the handshake was tried and no HTTP request went through.
    assert handshakes >= 1
    assert tls_requests == 0
    # ISO: the good feed alerted in the same cycle.
    assert receiver.wait_for(1)
    assert [p["item"]["title"] for p in posts(receiver, "/hook")] == [SEED_TITLE]
    # The partial body was never parsed; every failed feed is backing off.
    rows = {
        r[0]: r[1:]
        for r in query(
            workspace.db, "SELECT name, items_total, hold_until, last_poll_at FROM feeds"
        )
    }
    for name in causes:
        items, hold_until, last_poll = rows[name]
        assert items == 0
        assert hold_until is not None
        assert hold_until > last_poll
    assert integrity(workspace.db) == "ok"


def test_b1_name_resolution_failure_without_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host.decode() if isinstance(host, bytes) else str(host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)

    async def go() -> None:
        fetcher = Fetcher(FetchLimits(timeout=5, connect_timeout=2))
        try:
            await fetcher.fetch("http://feeds.newsmon-test.example/rss.xml")
        finally:
            await fetcher.aclose()

    with pytest.raises(FetchError) as caught:
        asyncio.run(go())
    assert str(caught.value) == (
        "cannot resolve host 'feeds.newsmon-test.example' (DNS lookup failed)"
    )
    assert "feeds.newsmon-test.example" in asked


# -- B2: hangs -------------------------------------------------------------------------------


@dataclass
class HangRun:
    log: str
    seed_latency: float
    good_polls_in_window: int
    alive: bool
    exit_code: int
    silent_accepts: int
    db: Path


@pytest.fixture(scope="module")
def hang_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangRun]:
    """A daemon with a drip feed and a silent server beside a good feed (poll.timeout 3 s)."""
    ws = Workspace(tmp_path_factory.mktemp("b2"))
    (ws.root / "rules").mkdir()
    with (
        FaultServer() as faults,
        SilentListener() as silent,
        FeedServer() as server,
        WebhookReceiver() as receiver,
    ):
        server.put("/good.xml", rss([plain_item(1)]))
        feeds = [
            {"name": "drip", "url": faults.url("/drip?rate=2")},
            {"name": "silent", "url": f"http://127.0.0.1:{silent.port}/rss"},
            {"name": "good", "url": server.url("/good.xml")},
        ]
        ws.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
        ws.write_config(config(feeds, receiver.url(), timeout="3s", read_timeout="10s"))
        with Daemon(ws) as daemon:
            assert daemon.wait_log("feed good: first poll"), daemon.output()
            assert daemon.wait_log("WARNING feed drip: timed out"), daemon.output()
            before = server.count("/good.xml")
            time.sleep(6)
            window = server.count("/good.xml") - before
            server.put("/good.xml", rss([seed_item_xml(), plain_item(1)]))
            put_at = time.monotonic()
            assert receiver.wait_for(1, timeout=15), daemon.output()
            latency = time.monotonic() - put_at
            assert daemon.wait_log("WARNING feed silent: timed out", count=2), daemon.output()
            alive = daemon.alive()
            code = daemon.stop()
        yield HangRun(daemon.output(), latency, window, alive, code, silent.accepts, ws.db)


@pytest.mark.slow
def test_b2_hanging_feeds_time_out_and_the_good_feed_alerts(hang_run: HangRun) -> None:
    log = hang_run.log
    assert hang_run.alive, log
    assert hang_run.exit_code == 0, log
    for name in ("drip", "silent"):
        lines = warnings_for(log, name)
        assert len(lines) >= 2, log
        assert all("timed out after 3s (total deadline)" in line for line in lines), lines
    assert hang_run.silent_accepts >= 2
    assert "Traceback" not in log
    assert integrity(hang_run.db) == "ok"


@pytest.mark.slow
def test_b2_a_hanging_feed_does_not_hold_the_next_poll_ticks(hang_run: HangRun) -> None:
    # tick 1 s, interval 1 s (+ up to 10 % jitter, so a feed is often due just after a
    # tick and waits for the next): in 6 s the good feed is polled 3-6 times. While the
    # hanging feeds held the poll job it was polled 2 times, every tick was skipped.
    assert hang_run.good_polls_in_window >= 3, (
        hang_run.good_polls_in_window,
        hang_run.seed_latency,
    )
    assert hang_run.seed_latency < 3, hang_run.seed_latency
    assert "maximum number of running instances" not in hang_run.log


# -- B3: 5xx for three cycles, then recovery -------------------------------------------------


@pytest.mark.slow
def test_b3_server_errors_then_recovery_alerts_once_and_notices_ops_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    doc = config(
        [{"name": "w", "url": feed_server.url("/w.xml")}],
        receiver.url("/hook"),
        notify_after_failures=2,
    )
    doc["notifiers"]["ops"] = {"kind": "webhook", "url": receiver.url("/ops"), "timeout": "5s"}
    doc["defaults"]["ops_notify"] = ["ops"]
    workspace.write_config(doc)
    feed_server.put("/w.xml", rss([plain_item(1), plain_item(2)]))
    assert "baseline" in once(workspace, expect=0)

    feed_server.script(
        "/w.xml",
        [(code, {"Content-Type": "text/plain"}, b"down") for code in (500, 503, 504)],
    )
    feed_server.put("/w.xml", rss([seed_item_xml(), MOON, plain_item(1), plain_item(2)]))
    for n, code in enumerate((500, 503, 504), start=1):
        log = once(workspace, "--force", expect=1)
        [line] = warnings_for(log, "w")
        assert f"HTTP {code}" in line, line
        assert f"(failure {n};" in line, line
    row = feed_rows(workspace)["w"]
    assert (row["status"], row["errors"]) == ("error", 3)
    assert "HTTP 504" in row["last_error"]
    assert posts(receiver, "/hook") == []

    assert "2 new alerts" in once(workspace, "--force", expect=0)
    once(workspace, "--force", expect=0)  # 304 now: nothing repeats
    row = feed_rows(workspace)["w"]
    assert (row["errors"], row["last_error"]) == (0, None)
    assert row["status"] in ("ok", "not_modified")

    titles = sorted(p["item"]["title"] for p in posts(receiver, "/hook"))
    assert titles == sorted([SEED_TITLE, "Moon renews call for End-of-War Declaration at UN"])
    notices = posts(receiver, "/ops")
    assert [n["type"] for n in notices] == ["notice", "notice"]
    assert "feed w keeps failing" in notices[0]["item"]["title"]
    assert "feed w works again" in notices[1]["item"]["title"]
    assert integrity(workspace.db) == "ok"


# -- B4: Retry-After -------------------------------------------------------------------------


@pytest.mark.slow
def test_b4_retry_after_holds_the_feed_and_garbage_means_normal_backoff(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    in_two_minutes = email.utils.formatdate(time.time() + 120, usegmt=True)
    answers = {
        "r120": (429, "120"),
        "rdate": (429, in_two_minutes),
        "r503": (503, "120"),
        "garbage": (429, "soon, maybe"),
    }
    for name, (code, value) in answers.items():
        feed_server.script(f"/{name}", [(code, {"Retry-After": value}, b"slow down")] * 3)
        feed_server.put(f"/{name}", rss([plain_item(1)]))
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    feeds = [{"name": n, "url": feed_server.url(f"/{n}")} for n in answers]
    workspace.write_config(config(feeds, receiver.url()))

    log = once(workspace, expect=1)
    for name, (code, _) in answers.items():
        [line] = warnings_for(log, name)
        assert f"HTTP {code}" in line, line
    rows = feed_rows(workspace)
    wait = {n: rows[n]["next_check"] - rows[n]["last_poll"] for n in answers}
    assert wait["r120"] >= 119, wait
    assert wait["r503"] >= 119, wait
    assert 100 <= wait["rdate"] <= 135, wait  # about 120 s plus up to 10 % jitter
    assert wait["garbage"] < 5, wait

    time.sleep(max(0.0, rows["garbage"]["next_check"] - time.time()) + 0.2)
    log = once(workspace, expect=1)
    assert "3 held by backoff/Retry-After" in log
    counts = {n: feed_server.count(f"/{n}") for n in answers}
    assert counts == {"r120": 1, "rdate": 1, "r503": 1, "garbage": 2}

    once(workspace, "--force", expect=1)
    counts = {n: feed_server.count(f"/{n}") for n in answers}
    assert counts == {"r120": 2, "rdate": 2, "r503": 2, "garbage": 3}


# -- B5: 404 / 410 for good ------------------------------------------------------------------


@pytest.mark.slow
def test_b5_404_and_410_one_line_per_poll_one_notice_never_disabled(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feed_server.script("/gone", [(410, {}, b"gone")] * 5)
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    doc = config(
        [
            {"name": "missing", "url": feed_server.url("/missing")},
            {"name": "gone", "url": feed_server.url("/gone")},
        ],
        receiver.url("/hook"),
        notify_after_failures=2,
    )
    doc["notifiers"]["ops"] = {"kind": "webhook", "url": receiver.url("/ops"), "timeout": "5s"}
    doc["defaults"]["ops_notify"] = ["ops"]
    workspace.write_config(doc)
    for _ in range(4):
        log = once(workspace, "--force", expect=1)
        assert len(warnings_for(log, "missing")) == 1
        assert "HTTP 404" in log
        assert len(warnings_for(log, "gone")) == 1
        assert "HTTP 410" in log
    rows = feed_rows(workspace)
    for name in ("missing", "gone"):
        assert rows[name]["enabled"] is True
        assert (rows[name]["status"], rows[name]["errors"]) == ("error", 4)
    notices = sorted(p["item"]["title"] for p in posts(receiver, "/ops"))
    assert notices == [
        "newsmon: feed gone keeps failing",
        "newsmon: feed missing keeps failing",
    ]
    status = workspace.run("status")
    assert status.returncode == 1
    assert "2 feeds keep failing: missing, gone" in status.stdout


# -- B6: Expires: 0 --------------------------------------------------------------------------


def test_b6_expires_zero_means_validators_are_not_stored(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feed_server.put("/w.xml", rss([plain_item(1)]), headers={"Expires": "0"})
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(
        config([{"name": "w", "url": feed_server.url("/w.xml")}], receiver.url())
    )
    once(workspace, expect=0)
    assert query(workspace.db, "SELECT etag, last_modified FROM feeds") == [(None, None)]
    once(workspace, "--force", expect=0)
    second = feed_server.requests[-1]
    assert "if-none-match" not in second.headers
    assert "if-modified-since" not in second.headers


# -- B7: redirects ---------------------------------------------------------------------------


@pytest.mark.slow
def test_b7_redirects_followed_temporary_never_learned_loops_refused(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    codes = {"p301": 301, "p308": 308, "p302": 302, "p307": 307}
    no_validators = {"ETag": "", "Last-Modified": ""}  # every poll is a 200
    for name, code in codes.items():
        feed_server.put(f"/new-{name}.xml", rss([plain_item(code)]), headers=no_validators)
        feed_server.redirect(f"/{name}", f"/new-{name}.xml", code=code)
    for hop in range(7):  # 7 hops: more than the 5 allowed
        feed_server.redirect(f"/chain{hop}", f"/chain{hop + 1}", code=302)
    feed_server.put("/chain7", rss([plain_item(7)]))
    with FaultServer() as faults:
        feeds = [{"name": n, "url": feed_server.url(f"/{n}")} for n in codes]
        feeds += [
            {"name": "loop", "url": faults.url("/loop")},
            {"name": "chain", "url": feed_server.url("/chain0")},
        ]
        workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
        workspace.write_config(config(feeds, receiver.url()))
        first = once(workspace, expect=1)
        second = once(workspace, "--force", expect=1)

    for log in (first, second):
        [loop] = warnings_for(log, "loop")
        assert "too many redirects: loop back to" in loop
        [chain] = warnings_for(log, "chain")
        assert "too many redirects (more than 5)" in chain
        for name in codes:
            assert warnings_for(log, name) == []

    def state() -> dict[str, tuple[Any, ...]]:
        rows = query(
            workspace.db,
            "SELECT name, url, redirect_target, redirect_count, items_total FROM feeds",
        )
        return {r[0]: r[1:] for r in rows}

    rows = state()
    for name, code in codes.items():
        url, target, count, items = rows[name]
        assert url == feed_server.url(f"/{name}"), name  # nothing learned yet
        assert items == 1, name  # followed and parsed
        if code in (301, 308):
            assert (target, count) == (feed_server.url(f"/new-{name}.xml"), 2), name
        else:
            assert (target, count) == (None, 0), name  # temporary: never counted

    # A day later (simulated), the third consistent 301 is learned and logged.
    with sqlite3.connect(workspace.db) as conn:
        conn.execute("UPDATE feeds SET redirect_first_at = redirect_first_at - 90000")
    conn.close()
    third = once(workspace, "--force", expect=1)
    assert "feed p301: permanent redirect seen 3 times over a day; now polling" in third
    rows = state()
    assert rows["p301"][0] == feed_server.url("/new-p301.xml")
    assert rows["p302"][0] == feed_server.url("/p302")
    # `newsmon feeds` shows the configured URL, and the next poll goes straight there.
    assert feed_rows(workspace)["p301"]["url"] == feed_server.url("/p301")
    before = feed_server.count("/p301")
    once(workspace, "--force", expect=1)
    assert feed_server.count("/p301") == before


def test_b7_permanent_redirect_is_counted_when_the_target_answers_304(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feed_server.put("/new.xml", rss([plain_item(1)]))  # with ETag and Last-Modified
    feed_server.redirect("/old.xml", "/new.xml", code=301)
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(
        config([{"name": "w", "url": feed_server.url("/old.xml")}], receiver.url())
    )
    once(workspace, expect=0)
    once(workspace, "--force", expect=0)
    assert feed_server.requests[-1].headers.get("if-none-match")  # the 304 path was taken
    [(target, count)] = query(workspace.db, "SELECT redirect_target, redirect_count FROM feeds")
    assert (target, count) == (feed_server.url("/new.xml"), 2)
