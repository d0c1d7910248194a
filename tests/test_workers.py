"""Several ``newsmon run`` workers on one PostgreSQL database (real processes, real server).

Scale, chosen to stay under a minute on a loaded 2-core machine (where three workers
poll about 50 feeds/s together): 400 feeds over 10 loopback hosts (127.0.0.2 ...
127.0.0.11), 3 workers, a 15 s interval, a 16 s poll lease (longer than the interval,
so even a dead worker's feeds are not polled again inside their interval) and an 8 s
delivery lease. The issue's 1,000 feeds at this interval need ~70 polls/s: measured by
bench/workers.py instead.
"""

from __future__ import annotations

import collections
import itertools
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.models import PostgresURL
from tests.conftest import Workspace, plain_item, rss
from tests.faults.proc import Daemon
from tests.servers import WebhookReceiver

HOSTS = [f"127.0.0.{n}" for n in range(2, 12)]
FEEDS = 400
INTERVAL = 15.0
POLL_LEASE = 16.0
RULE = """id: ceasefire
title: Ceasefire
match:
  any: [ceasefire agreement]
examples:
  match: ["Ceasefire agreement signed"]
  no_match: ["Weather report"]
"""


class Farm:
    """Feed ``/f/<n>`` on one of ``HOSTS``; records when each feed was fetched."""

    def __init__(self, body: Callable[[int], bytes]) -> None:
        self.body = body
        self.hits: dict[int, list[float]] = collections.defaultdict(list)
        self.lock = threading.Lock()
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                match = re.fullmatch(r"/f/(\d+)", self.path)
                if not match:
                    self.send_error(404)
                    return
                n = int(match.group(1))
                with farm.lock:
                    farm.hits[n].append(time.time())
                data = farm.body(n)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.servers = []
        for host in HOSTS:
            server = ThreadingHTTPServer((host, 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def url(self, n: int) -> str:
        server = self.servers[n % len(self.servers)]
        return f"http://{HOSTS[n % len(HOSTS)]}:{server.server_address[1]}/f/{n}"

    def snapshot(self) -> dict[int, list[float]]:
        with self.lock:
            return {n: list(times) for n, times in self.hits.items()}

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _wait(what: str, cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _config(ws: Workspace, url: PostgresURL, feeds: list[dict[str, Any]], hook: str) -> None:
    ws.write_config(
        {
            "database": url.url,
            "feeds": feeds,
            "notifiers": {"hook": {"kind": "webhook", "url": hook, "timeout": "5s"}},
            "defaults": {"notify": ["hook"]},
            "poll": {
                "tick": "1s", "min_interval": "1s", "timeout": "5s", "connect_timeout": "2s",
                "read_timeout": "4s", "lease": f"{POLL_LEASE:g}s", "concurrency": 32,
                "per_host": 8, "allow_private_redirects": True,
            },
            "delivery": {"tick": "1s", "lease": "8s", "backoff_base": "1s", "backoff_cap": "2s"},
        }
    )  # fmt: skip
    ws.write_rule("ceasefire", RULE)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.mark.slow
@pytest.mark.serial  # CPU-heavy: 3 daemons and 400 feeds; not beside other serial tests
def test_three_workers_share_feeds_and_survive_a_kill(
    tmp_path: Path, pg_url: PostgresURL, receiver: WebhookReceiver
) -> None:
    phase = {"b": False}
    shared = "https://news.example/shared-ceasefire"

    def body(n: int) -> bytes:
        items = [plain_item(n * 10), plain_item(n * 10 + 1)]
        if phase["b"]:
            items.append(plain_item(n * 10 + 2))
            if n % 10 == 0:  # 40 feeds: their own matching story
                items.append(
                    f"<item><title>Ceasefire agreement {n}</title>"
                    f"<link>https://news.example/c/{n}</link><guid>c{n}</guid></item>"
                )
            if n % 50 == 1:  # 8 feeds: the same story (one alert for all of them)
                items.append(
                    f"<item><title>Ceasefire agreement reached</title><link>{shared}</link>"
                    f"<guid>shared-{n}</guid></item>"
                )
        return rss(items)

    expected = {f"https://news.example/c/{n}" for n in range(0, FEEDS, 10)} | {shared}
    farm = Farm(body)
    ws = Workspace(tmp_path)
    (tmp_path / "rules").mkdir()
    feeds = [{"name": f"f{n}", "url": farm.url(n), "interval": f"{INTERVAL:g}s"}
             for n in range(FEEDS)]  # fmt: skip
    _config(ws, pg_url, feeds, receiver.url())
    workers = [Daemon(ws, log_name=f"worker{i}.log") for i in range(3)]
    try:
        # Round one: every feed's baseline (recorded, not alerted).
        _wait("every feed's first poll", lambda: len(farm.snapshot()) == FEEDS, 45)
        phase["b"] = True
        switched = time.time()

        def received() -> list[dict[str, Any]]:
            return [r.json() for r in receiver.received]

        # Kill one worker once deliveries are under way (polls are too: the phase-B
        # round is spread over the interval).
        _wait("the first deliveries", lambda: len(received()) >= 10, 40)
        os.kill(workers[2].pid, signal.SIGKILL)
        killed = time.time()
        _wait(
            "every matching story delivered",
            lambda: {d["item"]["url"] for d in received()} >= expected,
            POLL_LEASE + 2 * INTERVAL + 25,
        )
        recovered = time.time() - killed
        # the dead worker's other feeds come back too (under load the round runs late)
        _wait(
            "every feed's phase-B poll",
            lambda: all(any(t >= switched for t in ts) for ts in farm.snapshot().values()),
            POLL_LEASE + 2 * INTERVAL + 25,
        )
        time.sleep(2)  # a late duplicate would show up here
        docs = received()
    finally:
        for w in workers:
            if w.alive():
                w.proc.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.proc.wait(20)
            except Exception:
                w.proc.kill()
        farm.close()

    by_url = collections.defaultdict(set)
    for d in docs:
        by_url[d["item"]["url"]].add(d["id"])
    # every matching story alerted once per rule: one delivery id per story, no extras
    assert set(by_url) == expected
    assert all(len(ids) == 1 for ids in by_url.values()), {
        u: ids for u, ids in by_url.items() if len(ids) > 1
    }
    # delivered once; only a send in flight at the kill may arrive again (same id)
    repeats = len(docs) - len(expected)
    assert repeats <= 5, f"{repeats} repeated deliveries"
    # no feed polled twice inside its interval (jitter only adds)
    hits = farm.snapshot()
    gaps = [b - a for times in hits.values() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= INTERVAL - 1.0, f"a feed was polled again after {min(gaps):.2f}s"
    # every feed's phase-B content was fetched (the dead worker's feeds too)
    assert all(any(t >= switched for t in hits[n]) for n in range(FEEDS))
    assert recovered <= POLL_LEASE + 2 * INTERVAL + 25
    print(
        f"\n3 workers, {FEEDS} feeds: {sum(map(len, hits.values()))} polls, min gap "
        f"{min(gaps):.1f}s, {len(docs)} deliveries ({repeats} repeats), all stories in "
        f"{recovered:.1f}s after the kill"
    )


@pytest.mark.slow
def test_status_flags_a_worker_with_other_rules(
    tmp_path: Path, pg_url: PostgresURL, receiver: WebhookReceiver
) -> None:
    one, two = Workspace(tmp_path / "one"), Workspace(tmp_path / "two")
    for ws in (one, two):
        (ws.root / "rules").mkdir(parents=True)
        _config(ws, pg_url, [], receiver.url())
    two.write_rule("extra", RULE.replace("id: ceasefire", "id: extra"))
    workers = [Daemon(one, log_name="a.log"), Daemon(two, log_name="b.log")]
    try:
        _wait(
            "two workers registered",
            lambda: one.run("status").stdout.count("worker:") == 2,
            30,
        )
        out = one.run("status")
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("worker:")]
        assert out.returncode == 1, out.stdout
        assert sum("rules differ" in ln for ln in lines) == 1, out.stdout
        assert f":{workers[1].pid}:" in next(ln for ln in lines if "rules differ" in ln)
        assert "its rules differ from" in out.stdout
        assert "***" not in out.stdout or "password" not in out.stdout
    finally:
        for w in workers:
            w.proc.send_signal(signal.SIGTERM)
        for w in workers:
            w.proc.wait(20)
    # stopped workers are not listed as running, nor flagged
    out = one.run("status")
    assert "worker:" not in out.stdout
    assert "no worker is running on this database" in out.stdout


def test_check_reports_an_unreachable_database_without_its_password(
    workspace: Workspace,
) -> None:
    workspace.write_config(
        {"database": "postgresql://newsmon:${PGPW}@127.0.0.1:1/newsmon", "feeds": []}
    )
    out = workspace.run("check", env={"PGPW": "hunter2-secret"})
    assert out.returncode == 1
    assert "cannot reach the database postgresql://newsmon:***@127.0.0.1:1/newsmon" in out.stderr
    assert "hunter2-secret" not in out.stdout + out.stderr


def test_copy_a_sqlite_installation_then_once_on_postgresql(
    tmp_path: Path, pg_url: PostgresURL, receiver: WebhookReceiver
) -> None:
    from tests.servers import FeedServer

    with FeedServer() as feeds:
        items = [plain_item(1), plain_item(2)]
        feeds.put("/a.xml", rss(items))
        ws = Workspace(tmp_path)
        (tmp_path / "rules").mkdir()
        doc = {
            "feeds": [{"name": "a", "url": feeds.url("/a.xml")}],
            "notifiers": {"hook": {"kind": "webhook", "url": receiver.url(), "timeout": "5s"}},
            "defaults": {"notify": ["hook"]},
            "poll": {"allow_private_redirects": True},
        }
        ws.write_config(doc)
        ws.write_rule("ceasefire", RULE)
        assert ws.run("once").returncode == 0  # baseline
        feeds.put("/a.xml", rss([*items, "<item><title>Ceasefire agreement now</title>"
                                      "<link>https://news.example/c/1</link></item>"]))  # fmt: skip
        receiver.script([(503, {}, b"busy")])  # the alert stays pending in SQLite
        assert ws.run("once").returncode == 1
        assert len(receiver.received) == 1
        out = ws.run("db", "copy", "--to", pg_url.url)
        assert out.returncode == 0, out.stderr
        assert "outbox: 1 rows" in out.stderr
        ws.write_config({**doc, "database": pg_url.url})
        # The copied row is pending until its retry delay (up to backoff_base) is over:
        # run `once` until it is due and sent.
        deadline = time.monotonic() + 30
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            out = ws.run("once", "--force")
            assert out.returncode == 0, out.stderr
            assert "0 new alerts" in out.stderr
            time.sleep(0.5)
        assert len(receiver.received) == 2
        first, second = (r.json() for r in receiver.received)
        assert first["id"] == second["id"]  # the same delivery, sent once more
        assert ws.run("once", "--force").returncode == 0
        assert len(receiver.received) == 2  # ... and only once
        # a second copy into the now-used database is refused
        again = ws.run("db", "copy", "--to", pg_url.url, "--config", str(ws.config))
        assert again.returncode != 0


def test_compose_example_is_valid() -> None:
    root = Path(__file__).resolve().parent.parent / "examples" / "postgres"
    doc = yaml.safe_load((root / "compose.yaml").read_text(encoding="utf-8"))
    services = doc["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    workers = [s for name, s in services.items() if name.startswith("worker")]
    assert len(workers) == 2
    for w in workers:
        assert w["command"][:1] == ["run"] or "run" in w["command"]
        assert "postgres" in w["depends_on"]
        assert "NEWSMON_DB_PASSWORD" in str(w["environment"])
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    assert config["database"].startswith("postgresql://")
    assert "${NEWSMON_DB_PASSWORD}" in config["database"]
