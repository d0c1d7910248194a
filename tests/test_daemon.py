"""The real daemon as a subprocess: polls on its tick, delivers, reloads on SIGHUP
(keeping the last good rules when the new ones are broken), refuses a second process on
the same database, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import END_OF_WAR_RULE, Workspace, base_config, plain_item, rss, seed_item_xml
from tests.faults.proc import Daemon
from tests.servers import FeedServer, WebhookReceiver


@pytest.fixture
def daemon_ws(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> tuple[Workspace, FeedServer, WebhookReceiver]:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    config = base_config(
        [{"name": "wire", "url": feed_server.url("/w.xml"), "interval": "1s"}], receiver.url()
    )
    config["poll"].update({"tick": "1s", "min_interval": "1s"})
    config["delivery"].update({"tick": "1s"})
    workspace.write_config(config)
    feed_server.put("/w.xml", rss([plain_item(1)]))
    return workspace, feed_server, receiver


@pytest.mark.slow
def test_daemon_alerts_reloads_and_stops(
    daemon_ws: tuple[Workspace, FeedServer, WebhookReceiver],
) -> None:
    ws, server, receiver = daemon_ws
    daemon = Daemon(ws)
    try:
        assert daemon.wait_for(lambda: "baseline" in daemon.output()), daemon.output()
        server.put("/w.xml", rss([seed_item_xml(), plain_item(1)]))
        assert receiver.wait_for(1, timeout=20), daemon.output()

        # A second process on the same database is refused with a clear message.
        second = ws.run("once")
        assert second.returncode == 1
        assert "another newsmon process" in second.stderr

        # A broken rule file on reload: the daemon keeps the last good rules.
        ws.write_rule("broken", "match:\n  any: [unclosed\n")
        daemon.proc.send_signal(signal.SIGHUP)
        assert daemon.wait_for(lambda: "reload failed" in daemon.output()), daemon.output()
        assert "rules/broken.yaml:" in daemon.output()
        assert daemon.proc.poll() is None
        server.put(
            "/w.xml",
            rss([plain_item(7, "Envoys revive end-of-war declaration push"), seed_item_xml()]),
        )
        assert receiver.wait_for(2, timeout=20), daemon.output()

        # Fix the file: the reload succeeds and the new rule is active.
        (ws.root / "rules" / "broken.yaml").write_text('match: ["armistice talks"]\n')
        daemon.proc.send_signal(signal.SIGHUP)
        assert daemon.wait_for(lambda: "reloaded: 1 feeds, 2 rules" in daemon.output())
        server.put("/w.xml", rss([plain_item(8, "Armistice talks resume in Panmunjom")]))
        assert receiver.wait_for(3, timeout=20), daemon.output()
        assert receiver.received[2].json()["rule"]["id"] == "broken"
    finally:
        started = time.monotonic()
        code = daemon.stop()
        elapsed = time.monotonic() - started
    assert code == 0, daemon.output()
    assert elapsed < 10
    assert "stopped" in daemon.output()
    assert "Traceback" not in daemon.output()
    assert len(receiver.received) == 3


def test_daemon_refuses_broken_config_at_start(workspace: Workspace) -> None:
    workspace.config.write_text("feeds:\n  - name: x\n    url: [oops\n")
    result = workspace.run("run", timeout=20)
    assert result.returncode == 2
    assert "config.yaml:4:1: YAML syntax" in result.stderr
    assert "began on line 3, column 10" in result.stderr


@pytest.mark.slow
def test_unreachable_feeds_one_line_each_no_traceback(
    workspace: Workspace, receiver: WebhookReceiver
) -> None:
    from tests.servers import free_port

    ports = [free_port() for _ in range(3)]
    feeds = [{"name": f"down-{i}", "url": f"http://127.0.0.1:{p}/rss"} for i, p in enumerate(ports)]
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(base_config(feeds, receiver.url()))
    result = workspace.run("once")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "WARNING feed down-" in line]
    assert len(lines) == 3
    assert all("connection refused" in line for line in lines)
    assert "Traceback" not in result.stderr
    # A second `once` skips feeds under error backoff, unless --force.
    again = workspace.run("once")
    assert "held by backoff" in again.stderr
    forced = workspace.run("once", "--force")
    assert len([ln for ln in forced.stderr.splitlines() if "WARNING feed down-" in ln]) == 3


@pytest.mark.slow
def test_offline_example_prints_the_seed_alert_once(tmp_path: Path) -> None:
    import shutil

    root = Path(__file__).resolve().parent.parent
    example = tmp_path / "offline"
    shutil.copytree(root / "examples" / "offline", example, ignore=shutil.ignore_patterns("state"))
    cmd = [sys.executable, "-m", "monitor", "--config", str(example / "config.yaml"), "once"]
    env = {**os.environ}
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert first.returncode == 0, first.stderr
    assert "=== ALERT [end-of-war-declaration]" in first.stdout
    assert "S. Korea, US in active discussion over end of war declaration: Envoy" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert second.returncode == 0
    assert "ALERT" not in second.stdout


@pytest.mark.slow
def test_rule_file_change_is_picked_up_without_a_signal(
    daemon_ws: tuple[Workspace, FeedServer, WebhookReceiver],
) -> None:
    ws, server, receiver = daemon_ws
    daemon = Daemon(ws)
    try:
        assert daemon.wait_for(lambda: "baseline" in daemon.output()), daemon.output()
        ws.write_rule("armistice", 'match: ["armistice talks"]\n')
        assert daemon.wait_for(lambda: "reloaded: 1 feeds, 2 rules" in daemon.output()), (
            daemon.output()
        )
        assert "config or rule files changed" in daemon.output()
        server.put("/w.xml", rss([plain_item(8, "Armistice talks resume"), plain_item(1)]))
        assert receiver.wait_for(1, timeout=20), daemon.output()
        assert receiver.received[0].json()["rule"]["id"] == "armistice"
    finally:
        assert daemon.stop() == 0
