"""The status server of the real daemon (``newsmon run --http``): /healthz, /metrics, the
HTML page (escaped, CSP'd, rendered by a real headless Chromium) and the reload banner."""

from __future__ import annotations

import html
import http.client
import json
import re
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.service.web import CSP, StatusServer, healthz
from monitor.store import Store
from tests.conftest import SEED_TITLE, Workspace, base_config, rss, seed_item_xml
from tests.faults.proc import Daemon
from tests.servers import FeedServer, WebhookReceiver, free_port

HOSTILE = '<script>alert(1)</script> & "quotes"'
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"
WATCH_RULE = 'title: Watch list\nmatch:\n  any: ["end of war declaration", "quotes"]\n'
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_COPY = Path("/tmp/newsmon-status.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hostile_item() -> str:
    return (
        f"<item><title>{html.escape(HOSTILE, quote=False)}</title>"
        "<link>https://www.example-news.test/story/666</link>"
        "<guid>story-666</guid><description>Hostile title.</description></item>"
    )


class RunningDaemon(Daemon):
    """``newsmon run --http 127.0.0.1:<port>`` as a subprocess, output in a log file."""

    def __init__(self, ws: Workspace) -> None:
        self.port = free_port()
        super().__init__(ws, args=("--http", f"127.0.0.1:{self.port}"))

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(
        self, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            data = resp.read().decode("utf-8", errors="replace")
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


@pytest.fixture
def daemon(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> Iterator[RunningDaemon]:
    """A daemon that has alerted on the seed item and the hostile title (backfill)."""
    workspace.write_rule("watch", WATCH_RULE)
    feed = {"name": "wire", "url": feed_server.url("/w.xml"), "interval": "1s", "backfill": True}
    config = base_config([feed], receiver.url())
    config["poll"].update({"tick": "1s", "min_interval": "1s"})
    config["delivery"].update({"tick": "1s"})
    workspace.write_config(config)
    feed_server.put("/w.xml", rss([seed_item_xml(), hostile_item()]))
    proc = RunningDaemon(workspace)
    try:
        assert proc.wait_for(lambda: "status page on http://" in proc.output()), proc.output()
        assert receiver.wait_for(2, timeout=20), proc.output()
        yield proc
    finally:
        started = time.monotonic()
        code = proc.stop()
        elapsed = time.monotonic() - started
    assert code == 0, proc.output()
    assert elapsed < 10
    assert "Traceback" not in proc.output()


def test_healthz_metrics_and_methods(daemon: RunningDaemon) -> None:
    status, headers, body = daemon.request("/healthz")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["status"] == "ok"
    assert 0 <= doc["heartbeat_age"] < 33
    assert doc["reload_error"] is None
    assert doc["version"]

    def metrics_text() -> str:
        return daemon.request("/metrics")[2]

    # The receiver has the alerts; the outbox rows are marked sent right after.
    assert daemon.wait_for(lambda: 'newsmon_outbox_rows{status="sent"} 2.0' in metrics_text())
    status, headers, text = daemon.request("/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "newsmon_polls_total" in text
    assert "newsmon_deliveries_total" in text

    status, headers, _ = daemon.request("/", method="POST", body=b"x=1")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert daemon.request("/nope")[0] == 404
    assert daemon.request("/healthz/x")[0] == 404

    status, headers, body = daemon.request("/", method="HEAD")
    assert status == 200
    assert body == ""
    assert int(headers["content-length"]) > 1000


def test_status_page_escapes_and_sets_csp(daemon: RunningDaemon) -> None:
    status, headers, page = daemon.request("/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert "wire" in page
    assert SEED_TITLE in page
    assert HOSTILE_ESCAPED in page
    assert "<script" not in page.lower()
    assert "<svg" in page
    assert "watch" in page  # the rule, in the alerts table and the chart legend
    assert 'href="https://www.example-news.test/story/666"' in page


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1280,1000", *args,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
def test_status_page_in_headless_chromium(daemon: RunningDaemon, tmp_path: Path) -> None:
    shot = tmp_path / "status.png"
    result = _chromium(f"--screenshot={shot}", daemon.url(), profile=tmp_path / "profile-shot")
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.exists(), result.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    assert _png_size(shot) == (1280, 1000)
    shutil.copyfile(shot, SCREENSHOT_COPY)  # for people to look at

    result = _chromium("--dump-dom", daemon.url(), profile=tmp_path / "profile-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert SEED_TITLE in dom
    assert "<svg" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # text, not an element
    assert "<script" not in dom.lower()


def test_failed_reload_shows_banner_and_stays_healthy(daemon: RunningDaemon) -> None:
    ws_root = Path(daemon.log).parent
    assert 'class="banner"' not in daemon.request("/")[2]
    broken = ws_root / "rules" / "broken.yaml"
    broken.write_text("match:\n  any: [unclosed\n", encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)
    assert daemon.wait_for(lambda: "reload failed" in daemon.output()), daemon.output()

    status, _, page = daemon.request("/")
    assert status == 200
    assert 'class="banner"' in page
    assert "The last reload failed" in page
    assert re.search(r"rules/broken\.yaml:\d+", page), page
    status, _, body = daemon.request("/healthz")
    assert status == 200
    doc = json.loads(body)
    assert doc["status"] == "ok"
    assert re.search(r"rules/broken\.yaml:\d+", doc["reload_error"])

    # Fixed: the banner goes away and /healthz no longer reports an error.
    broken.write_text('match: ["armistice talks"]\n', encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)
    assert daemon.wait_for(lambda: "reloaded:" in daemon.output()), daemon.output()
    assert 'class="banner"' not in daemon.request("/")[2]
    assert json.loads(daemon.request("/healthz")[2])["reload_error"] is None


# -- the server on its own (no daemon) ---------------------------------------------------


def test_healthz_goes_stale_after_three_ticks_and_grace() -> None:
    now = 1_000_000.0
    info = {"heartbeat": now - 32, "tick": 1.0, "reload_error": None, "version": "x"}
    assert healthz(info, now)[0] == 200
    info["heartbeat"] = now - 34
    status, doc = healthz(info, now)
    assert (status, doc["status"]) == (503, "stale")


def test_hostile_database_strings_are_escaped_everywhere(tmp_path: Path) -> None:
    db = tmp_path / "newsmon.db"
    store = Store(db, lock=False)
    now = time.time()
    evil = '"><script>alert(2)</script><b x="'
    store.sync_feeds([("evil", "http://evil.test/feed")], now)
    with store.write() as conn:
        conn.execute(
            "UPDATE feeds SET last_poll_at = ?, last_status = 'error', last_error = ?,"
            " error_count = 1 WHERE name = 'evil'",
            (now, evil),
        )
        conn.execute(
            "INSERT INTO alerts (id, rule_id, rule_title, feed, item_id, title, link, matched,"
            " created_at, kind) VALUES ('a1', ?, 'r', 'evil', 'i1', ?, 'javascript:alert(3)',"
            " '[]', ?, 'alert')",
            (evil, evil, now),
        )
        conn.execute(
            "INSERT INTO outbox (id, alert_id, notifier, status, attempts, next_attempt_at,"
            " created_at, updated_at, digest, last_error)"
            " VALUES ('o1', 'a1', 'hook', 'dead', 3, ?, ?, ?, 0, ?)",
            (now, now, now, evil),
        )
    store.close()
    info = {
        "version": "t", "pid": 1, "started_at": now, "heartbeat": now, "tick": 1.0,
        "reload_error": evil, "config": "c.yaml", "feeds": ["evil", "never"],
        "rules": [evil], "notifiers": ["hook"],
    }  # fmt: skip
    server = StatusServer("127.0.0.1", 0, db, lambda: info)
    server.start()
    try:
        assert server.port != 0
        client = http.client.HTTPConnection(server.host, server.port, timeout=10)
        client.request("GET", "/")
        resp = client.getresponse()
        page = resp.read().decode()
        client.close()
    finally:
        server.stop()
        server.stop()  # idempotent
    assert resp.status == 200
    assert "<script" not in page.lower()
    assert "javascript:" not in page
    assert "<b x=" not in page
    assert "&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "never polled" in page
