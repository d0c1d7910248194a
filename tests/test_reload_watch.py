"""The real daemon reloads by itself when a rule file is added, changed or removed: through
file-system notifications (watchfiles), or, when those are unavailable, through the
timestamp check every 2 seconds. A broken file keeps the last good rules either way."""

from __future__ import annotations

import pytest

from tests.conftest import END_OF_WAR_RULE, Workspace, base_config, plain_item, rss, seed_item_xml
from tests.faults.proc import Daemon
from tests.servers import FeedServer, WebhookReceiver

NOTIFIED = r"INFO +config or rule files changed \(file notification\): reloading"
POLLED = r"INFO +config or rule files changed \(timestamp check\): reloading"


def _setup(ws: Workspace, server: FeedServer, receiver: WebhookReceiver) -> None:
    ws.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    config = base_config(
        [{"name": "wire", "url": server.url("/w.xml"), "interval": "1s"}], receiver.url()
    )
    config["poll"].update({"tick": "1s", "min_interval": "1s"})
    config["delivery"].update({"tick": "1s"})
    ws.write_config(config)
    server.put("/w.xml", rss([plain_item(1)]))


def _add_change_remove(ws: Workspace, daemon: Daemon, pattern: str) -> None:
    assert daemon.wait_log(r"running: 1 feeds, 1 rules"), daemon.output()
    # Added.
    extra = ws.write_rule("armistice", 'match: ["armistice talks"]\n')
    assert daemon.wait_log(pattern), daemon.output()
    assert daemon.wait_log(r"reloaded: 1 feeds, 2 rules"), daemon.output()
    # Changed to something broken: refused with file:line, the last good set stays.
    extra.write_text("match:\n  any: [unclosed\n", encoding="utf-8")
    assert daemon.wait_log(pattern, count=2), daemon.output()
    assert daemon.wait_log(r"reload failed, keeping the last good config: rules/armistice\.yaml:")
    # Removed.
    extra.unlink()
    assert daemon.wait_log(pattern, count=3), daemon.output()
    assert daemon.wait_log(r"reloaded: 1 feeds, 1 rules"), daemon.output()


@pytest.mark.slow
def test_rule_file_changes_reload_through_notifications(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    _setup(workspace, feed_server, receiver)
    with Daemon(workspace) as daemon:
        _add_change_remove(workspace, daemon, NOTIFIED)
        # The reloaded set is the one in use: the first rule still alerts.
        feed_server.put("/w.xml", rss([seed_item_xml(), plain_item(1)]))
        assert receiver.wait_for(1, timeout=20), daemon.output()
        assert daemon.stop() == 0
    text = daemon.output()
    assert "file notifications unavailable" not in text
    assert "(timestamp check)" not in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_without_notifications_timestamps_are_checked(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    _setup(workspace, feed_server, receiver)
    # watchfiles' own switch to polling: newsmon falls back to its timestamp check.
    with Daemon(workspace, env={"WATCHFILES_FORCE_POLLING": "1"}) as daemon:
        assert daemon.wait_log(r"WARNING +file notifications unavailable"), daemon.output()
        _add_change_remove(workspace, daemon, POLLED)
        assert daemon.stop() == 0
    text = daemon.output()
    assert "(file notification)" not in text
    assert "Traceback" not in text
