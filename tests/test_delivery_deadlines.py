"""A total deadline on every delivery attempt (``delivery.timeout``): a receiver that
drips its answer, an SMTP server that stalls mid-conversation, and SIGTERM while a send is
stalled. Real ``newsmon`` subprocesses against loopback servers; nothing is mocked.
"""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import Workspace, rss
from tests.faults.faultsrv import FaultServer
from tests.faults.proc import Daemon, outbox_status
from tests.faults.smtpstall import StallingSMTP
from tests.servers import FeedServer, WebhookReceiver
from tests.test_delivery import deliveries, email, item, of, setup

DEADLINE = 3  # delivery.timeout in these tests (seconds)


def _once_in_background(ws: Workspace) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(ws.config), "once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ws.root,
    )


def _finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int | None, str, float]:
    """Wait (bounded) for ``once``; kill it if it overruns. Returns (code, stderr, secs)."""
    started = time.monotonic()
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate(timeout=10)
        return None, err, time.monotonic() - started
    return proc.returncode, err, time.monotonic() - started


def test_dripping_webhook_hits_the_deadline_other_notifier_delivered_meanwhile(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with FaultServer() as faults:
        setup(
            workspace,
            feed_server,
            receiver.url(),
            {"slowhook": {"kind": "webhook", "url": faults.url("/drip?rate=1"), "timeout": "5s"}},
            ["slowhook", "archive"],
            delivery={"timeout": f"{DEADLINE}s", "backoff_base": "60s", "backoff_cap": "60s"},
        )
        feed_server.put("/w.xml", rss([item(1, "Armistice talks drip")]))
        started = time.monotonic()
        proc = _once_in_background(workspace)
        # The healthy receiver is not held by the dripping one.
        assert receiver.wait_for(1, timeout=20)
        delivered_after = time.monotonic() - started
        code, err, elapsed = _finish(proc, timeout=30)
    assert code == 1, (code, elapsed, err)
    assert "Traceback" not in err, err
    assert delivered_after < DEADLINE + 10, delivered_after
    assert elapsed < DEADLINE + 15, elapsed
    rows = deliveries(workspace)
    [slow] = of(rows, "slowhook")
    assert (slow["status"], slow["attempts"]) == ("pending", 1)
    assert "delivery.timeout" in slow["last_error"], slow["last_error"]
    assert slow["next_attempt_at"] > time.time() + 30  # retried later, with backoff
    assert [r["status"] for r in of(rows, "archive")] == ["sent"]


def test_stalled_smtp_conversation_hits_the_deadline_webhook_delivered(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    with StallingSMTP() as smtp:
        setup(
            workspace,
            feed_server,
            receiver.url(),
            {"desk": email(smtp.port, timeout="5s")},
            ["desk", "archive"],
            delivery={"timeout": f"{DEADLINE}s"},
        )
        feed_server.put("/w.xml", rss([item(1, "Armistice talks stalled mail")]))
        proc = _once_in_background(workspace)
        assert receiver.wait_for(1, timeout=20)
        code, err, elapsed = _finish(proc, timeout=30)
        assert smtp.dripping.is_set()
    assert code == 1, (code, elapsed, err)
    assert "Traceback" not in err, err
    assert elapsed < DEADLINE + 15, elapsed
    rows = deliveries(workspace)
    [mail] = of(rows, "desk")
    assert (mail["status"], mail["attempts"]) == ("pending", 1)
    assert "delivery.timeout" in mail["last_error"], mail["last_error"]
    assert [r["status"] for r in of(rows, "archive")] == ["sent"]


def test_sigterm_during_stalled_smtp_send_exits_within_shutdown_grace(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    grace = 2.0
    with StallingSMTP() as smtp:
        cfg = setup(
            workspace,
            feed_server,
            receiver.url(),
            {"desk": email(smtp.port, timeout="30s")},
            ["desk"],
            # The attempt's own deadline is far away: only the shutdown grace can end it.
            delivery={"timeout": "120s", "tick": "1s", "shutdown_grace": f"{grace:g}s"},
        )
        cfg["poll"]["tick"] = "1s"
        workspace.write_config(cfg)
        feed_server.put("/w.xml", rss([item(1, "Armistice talks at shutdown")]))
        with Daemon(workspace) as daemon:
            assert daemon.wait_for(smtp.dripping.is_set, timeout=30), daemon.output()
            time.sleep(0.5)
            started = time.monotonic()
            code = daemon.stop(timeout=40)
            elapsed = time.monotonic() - started
            output = daemon.output()
    assert code == 0, output
    assert elapsed < grace + 5, (elapsed, output)
    assert "Traceback" not in output, output
    # Never sent, never lost: the row waits for the next start.
    assert [s for _n, s, _a in outbox_status(workspace.db)] == ["pending"], output
