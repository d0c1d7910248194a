"""fault-case group E (crash, stop, lock and disk faults: E1, E4, E5, E6) and F7
(secrets and log injection), against the real ``newsmon`` command.

E2/E3 (crash after commit / after send) live in test_delivery.py; the second-daemon
refusal of E5 in test_daemon.py.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import (
    END_OF_WAR_RULE,
    SEED_TITLE,
    Workspace,
    base_config,
    plain_item,
    rss,
    seed_item_xml,
)
from tests.faults.hosts import Answer, HostServer
from tests.faults.proc import Daemon, forged_lines, integrity, outbox_status
from tests.servers import FeedServer, WebhookReceiver, free_port


def setup(
    ws: Workspace, server: FeedServer, hook: str, *, backfill: bool = True, **delivery: Any
) -> dict[str, Any]:
    ws.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    doc = base_config([{"name": "w", "url": server.url("/w.xml"), "backfill": backfill}], hook)
    doc["poll"].update({"tick": "1s", "min_interval": "1s", "default_interval": "1s"})
    doc["delivery"].update({"tick": "1s", **delivery})
    ws.write_config(doc)
    return doc


def once(
    ws: Workspace, *args: str, expect: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = ws.run("once", *args, env=env)
    if expect is not None:
        assert result.returncode == expect, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


# -- E1: SIGKILL before the seen+outbox commit -----------------------------------------------


@pytest.mark.slow
def test_e1_kill_before_commit_then_restart_alerts_once(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(workspace, feed_server, receiver.url(), backfill=False)
    feed_server.put("/w.xml", rss([plain_item(1)]))
    once(workspace, expect=0)  # baseline
    feed_server.put("/w.xml", rss([seed_item_xml(), plain_item(1)]))
    crashed = once(workspace, env={"NEWSMON_CRASH_AT": "before_commit"})
    assert crashed.returncode == -signal.SIGKILL
    assert receiver.received == []
    assert integrity(workspace.db) == "ok"
    assert outbox_status(workspace.db) == []
    once(workspace, expect=0)
    once(workspace, "--force", expect=0)
    assert receiver.wait_for(1)
    assert [r.json()["item"]["title"] for r in receiver.received] == [SEED_TITLE]
    assert outbox_status(workspace.db) == [("archive", "sent", 1)]
    assert integrity(workspace.db) == "ok"


# -- E4: SIGTERM while a delivery is in flight -----------------------------------------------


@pytest.mark.slow
def test_e4_sigterm_lets_the_in_flight_delivery_finish(
    workspace: Workspace, feed_server: FeedServer
) -> None:
    with HostServer() as hook:
        hook.answer("/hook", Answer(delay=3.0))
        setup(workspace, feed_server, hook.url("/hook"), shutdown_grace="10s")
        feed_server.put("/w.xml", rss([seed_item_xml()]))
        with Daemon(workspace) as daemon:
            assert daemon.wait_for(lambda: len(hook.hits) == 1), daemon.output()
            fetches = len(feed_server.requests)
            started = time.monotonic()
            daemon.proc.send_signal(signal.SIGTERM)
            code = daemon.proc.wait(timeout=20)
            elapsed = time.monotonic() - started
            answered = hook.answered
    log = daemon.output()
    assert code == 0, log
    # waited for the answer (3 s), not for the grace (10 s); the margin absorbs a loaded machine
    assert 1.5 < elapsed < 3.0 + 5.0, elapsed
    assert answered == 1
    assert outbox_status(workspace.db) == [("archive", "sent", 1)]
    assert len(feed_server.requests) == fetches  # no new fetch after the signal
    assert "stopped" in log
    assert "Traceback" not in log


@pytest.mark.slow
def test_e4_sigterm_with_a_hanging_receiver_exits_in_grace_then_delivers_once(
    workspace: Workspace, feed_server: FeedServer
) -> None:
    with HostServer() as hook:
        hook.answer("/hook", Answer(hang=True))
        doc = setup(workspace, feed_server, hook.url("/hook"), shutdown_grace="2s")
        doc["notifiers"]["archive"]["timeout"] = "30s"
        workspace.write_config(doc)
        feed_server.put("/w.xml", rss([seed_item_xml()]))
        with Daemon(workspace) as daemon:
            assert daemon.wait_for(lambda: len(hook.hits) == 1), daemon.output()
            started = time.monotonic()
            daemon.proc.send_signal(signal.SIGTERM)
            code = daemon.proc.wait(timeout=20)
            elapsed = time.monotonic() - started
        assert code == 0, daemon.output()
        assert elapsed < 2.0 + 5.0, elapsed  # the 2 s grace, with a margin for a loaded machine
        assert outbox_status(workspace.db) == [("archive", "pending", 0)]

        hook.release()  # the hung request ends unanswered (its client is gone anyway)
        hook.answer("/hook", Answer())
        once(workspace, expect=0)
        once(workspace, "--force", expect=0)
        hits, answered = hook.hits, hook.answered
    assert len(hits) == 2
    assert answered == 1
    assert hits[0].headers["webhook-id"] == hits[1].headers["webhook-id"]
    assert outbox_status(workspace.db) == [("archive", "sent", 1)]
    assert integrity(workspace.db) == "ok"


# -- E5: another process holds the write lock ------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
conn.close()
"""


def test_e5_a_held_write_lock_makes_once_wait_not_fail(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(workspace, feed_server, receiver.url(), backfill=False)
    feed_server.put("/w.xml", rss([plain_item(1)]))
    once(workspace, expect=0)
    feed_server.put("/w.xml", rss([seed_item_xml(), plain_item(1)]))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(workspace.db), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], 10)
        assert ready
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = once(workspace, expect=0)
        elapsed = time.monotonic() - started
    finally:
        holder.wait(timeout=15)
    assert holder.returncode == 0
    assert elapsed > 1.5, elapsed  # it did wait for the lock
    assert "database is locked" not in result.stderr
    assert receiver.wait_for(1)
    assert [r.json()["item"]["title"] for r in receiver.received] == [SEED_TITLE]
    assert integrity(workspace.db) == "ok"


# -- E6: disk full, corrupt database ---------------------------------------------------------


@pytest.mark.slow
def test_e6_write_failure_sends_nothing_then_recovers(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    setup(workspace, feed_server, receiver.url(), backfill=False)
    feed_server.put("/w.xml", rss([plain_item(1)]))
    once(workspace, expect=0)
    # Enough new items that recording them needs far more than 64 KiB of WAL.
    items = [plain_item(n, f"Ordinary headline {n} " + "x" * 300) for n in range(2, 300)]
    feed_server.put("/w.xml", rss([seed_item_xml(), *items]))
    limit = 64 * 1024

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(workspace.config), "once"],
        capture_output=True,
        text=True,
        cwd=workspace.root,
        preexec_fn=small_files,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [ln for ln in result.stderr.splitlines() if "feed w:" in ln]
    assert "ERROR feed w: could not record the poll: database error: " in line, line
    assert receiver.received == []  # no alert without a committed outbox row
    assert outbox_status(workspace.db) == []

    once(workspace, expect=0)  # the limit is gone: the same items are new, alerted once
    once(workspace, "--force", expect=0)
    assert receiver.wait_for(1)
    assert [r.json()["item"]["title"] for r in receiver.received] == [SEED_TITLE]
    assert integrity(workspace.db) == "ok"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.slow
def test_e6_corrupt_database_is_refused_and_left_untouched(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver, damage: str
) -> None:
    setup(workspace, feed_server, receiver.url())
    feed_server.put("/w.xml", rss([plain_item(1)]))
    once(workspace, expect=0)
    good = workspace.db.read_bytes()
    bad = os.urandom(64 * 1024) if damage == "garbage" else good[: len(good) // 2]
    workspace.db.write_bytes(bad)
    feed_server.clear_requests()
    for command in ("once", "run"):
        result = workspace.run(command, timeout=30)
        assert result.returncode == 1, (command, result.stderr)
        assert result.stderr.startswith(f"newsmon: cannot open the database {workspace.db}: "), (
            result.stderr
        )
        assert "(the file was left untouched)" in result.stderr
        assert "Traceback" not in result.stderr
    assert workspace.db.read_bytes() == bad
    assert sorted(p.name for p in workspace.db.parent.iterdir()) == [
        "newsmon.db",
        "newsmon.db.lock",
    ]
    assert feed_server.requests == []
    assert receiver.received == []


# -- F7: secrets and log injection -----------------------------------------------------------

TOKEN = "SECRETTOKEN123"
SMTP_PASSWORD = "Sm7p-Pa55w0rd-F7"
HOOK_SECRET = "F7-webhook-signing-secret-42"


def hostile_titles() -> bytes:
    items = [
        "<item><title>End of war declaration\n2026-01-01 00:00:00 ERROR forged line</title>"
        "<guid>f1</guid><link>https://n.test/1</link></item>",
        "<item><title>End of war declaration talks\r\nINFO carriage\rreturn</title>"
        "<guid>f2</guid><link>https://n.test/2</link></item>",
        "<item><title>End of war declaration \x1b[2J\x1b[31mred\x1b[0m screen</title>"
        "<guid>f3</guid><link>https://n.test/3</link>"
        "<description>clear \x1b[2J screen \x1b]0;owned\x07</description></item>",
    ]
    return rss(items)


@pytest.mark.slow
def test_f7_no_secret_and_no_raw_control_in_logs_status_and_listings(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with WebhookReceiver() as slack:
        f7_scenario(workspace, feed_server, receiver, slack)


def f7_scenario(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver, slack: WebhookReceiver
) -> None:
    slack_url = slack.url(f"/services/T000/B000/{TOKEN}")
    env = {
        "SLACK_WEBHOOK_URL": slack_url,
        "NEWSMON_SMTP_PASSWORD": SMTP_PASSWORD,
        "NEWSMON_HOOK_SECRET": HOOK_SECRET,
    }
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    doc = base_config(
        [
            {"name": "w", "url": feed_server.url("/w.xml"), "backfill": True},
            {"name": "down", "url": f"http://127.0.0.1:{free_port()}/rss"},
        ],
        receiver.url("/hook"),
        secret="${NEWSMON_HOOK_SECRET}",
    )
    doc["notifiers"]["team"] = {"kind": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"}
    doc["notifiers"]["desk"] = {
        "kind": "email",
        "host": "127.0.0.1",
        "port": free_port(),  # refused: the failure is logged and listed
        "security": "none",
        "username": "newsmon",
        "password": "${NEWSMON_SMTP_PASSWORD}",
        "sender": "newsmon@example.test",
        "to": ["desk@example.test"],
        "timeout": "2s",
    }
    doc["defaults"]["notify"] = ["archive", "team", "desk"]
    doc["poll"].update({"tick": "1s", "min_interval": "1s", "default_interval": "1s"})
    doc["delivery"].update({"tick": "1s"})
    workspace.write_config(doc)
    feed_server.put("/w.xml", hostile_titles())
    # Slack fails once (its error is logged and listed), then accepts.
    slack.script([(500, {"Content-Type": "text/plain"}, b"server_error")])

    with Daemon(workspace, env=env) as daemon:
        assert slack.wait_for(4, timeout=30), daemon.output()  # 3 alerts + 1 failed try
        assert receiver.wait_for(3), daemon.output()
        assert daemon.wait_log(r"email desk via 127\.0\.0\.1: ConnectionRefusedError"), (
            daemon.output()
        )
        assert daemon.wait_log(r"WARNING feed down: connection refused")
        code = daemon.stop()
    assert code == 0, daemon.output()
    log = daemon.log.read_bytes().decode("utf-8")

    outputs = {"daemon log": log}
    for args in (
        ("status",),
        ("status", "--json"),
        ("alerts",),
        ("alerts", "--json"),
        ("feeds",),
        ("feeds", "--json"),
    ):
        result = workspace.run(*args, env=env)
        assert "Traceback" not in result.stderr, result.stderr
        outputs[" ".join(args)] = result.stdout + result.stderr
    payloads = [r.body.decode("utf-8") for r in receiver.received]
    slack_payloads = [r.body.decode("utf-8") for r in slack.received]
    outputs |= {f"payload {n}": body for n, body in enumerate(payloads + slack_payloads)}

    for name, text in outputs.items():
        for secret in (TOKEN, SMTP_PASSWORD, HOOK_SECRET):
            assert secret not in text, (name, secret)
        for control in ("\x1b", "\r", "\x07"):
            assert control not in text, (name, control)
    assert forged_lines(log) == []
    assert "forged line" in log  # the title was logged, on its own record's line
    # The hostile titles were delivered (cleaned), and the listings show the errors.
    titles = {json.loads(b)["item"]["title"] for b in payloads}
    assert "End of war declaration talks INFO carriage return" in titles
    assert "slack team answered HTTP 500: server_error" in log
    assert "team             sent     tries=2" in outputs["alerts"]
    assert "ConnectionRefusedError" in outputs["alerts"]


def test_f7_debug_logging_does_not_print_the_slack_token(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    doc = setup(workspace, feed_server, receiver.url("/hook"))
    doc["notifiers"]["team"] = {"kind": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"}
    doc["defaults"]["notify"] = ["team"]
    workspace.write_config(doc)
    feed_server.put("/w.xml", rss([seed_item_xml()]))
    env = {"SLACK_WEBHOOK_URL": receiver.url(f"/services/T000/B000/{TOKEN}")}
    result = once(workspace, "--log-level", "debug", expect=0, env=env)
    assert receiver.wait_for(1)
    assert TOKEN not in result.stderr


def test_f7_a_malformed_secret_url_is_not_echoed(
    workspace: Workspace, receiver: WebhookReceiver
) -> None:
    doc = base_config([], receiver.url())
    doc["notifiers"]["team"] = {"kind": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"}
    workspace.write_config(doc)
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    env = {"SLACK_WEBHOOK_URL": f"hooks.slack.com/services/T000/B000/{TOKEN}"}
    result = workspace.run("check", env=env)
    assert result.returncode == 2
    assert "notifiers.team.webhook_url" in result.stderr
    assert TOKEN not in result.stderr
