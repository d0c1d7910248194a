"""The database never freezes the daemon: a write lock held by another process and a long
retention prune over 1,000,000 items leave ``/healthz``, fetches, deliveries and SIGTERM
responsive, because SQLite runs on its own thread (``monitor/service/dbthread.py``).

The real daemon runs as a subprocess; the lock is held by a real second process doing
``BEGIN IMMEDIATE`` and sleeping; the big database is built once per session with
``INSERT … SELECT`` from a recursive CTE and copied for each test.
"""

from __future__ import annotations

import http.client
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.store import PRUNE_BATCH, PRUNE_SQL, Store, more_to_prune
from tests.conftest import END_OF_WAR_RULE, Workspace, base_config, plain_item, rss, seed_item_xml
from tests.faults.proc import Daemon, integrity
from tests.servers import FeedServer, WebhookReceiver, free_port

BIG = 1_000_000
DAY = 86400.0
LOCK_SCRIPT = (
    "import sqlite3, sys, time\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "conn.execute(\"INSERT OR REPLACE INTO meta (key, value) VALUES ('holder', 'x')\")\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "conn.execute('ROLLBACK')\n"
)


class LockHolder:
    """A second process holding SQLite's write lock (``BEGIN IMMEDIATE``) on ``db``."""

    def __init__(self, db: Path, seconds: float = 60) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCK_SCRIPT, str(db), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class GateServer:
    """``/gate.xml`` answers only once :meth:`open` is called, with a 302 to
    ``/after.xml``: a request for ``/after.xml`` proves the daemon's event loop ran after
    the gate opened. Every request path is recorded with its arrival time."""

    def __init__(self, body: bytes) -> None:
        self.opened = threading.Event()
        self.hits: list[tuple[str, float]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits.append((self.path, time.monotonic()))
                if self.path == "/gate.xml":
                    owner.opened.wait(30)
                    self.send_response(302)
                    self.send_header("Location", owner.url("/after.xml"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def first(self, path: str) -> float | None:
        return next((t for p, t in list(self.hits) if p == path), None)

    def wait(self, path: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.first(path)
            if seen is not None:
                return seen
            time.sleep(0.05)
        return self.first(path)

    def close(self) -> None:
        self.opened.set()
        self.server.shutdown()
        self.server.server_close()


class HttpDaemon(Daemon):
    def __init__(self, ws: Workspace) -> None:
        self.port = free_port()
        super().__init__(ws, args=("--http", f"127.0.0.1:{self.port}"))

    def healthz(self) -> tuple[int, float]:
        """(status, seconds the answer took)."""
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            return response.status, time.monotonic() - started
        finally:
            conn.close()

    def stop_timed(self) -> tuple[int, float]:
        started = time.monotonic()
        code = self.stop(timeout=60)
        return code, time.monotonic() - started


def _config(ws: Workspace, feeds: list[dict[str, Any]], hook: str) -> None:
    ws.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    config = base_config(feeds, hook)
    config["poll"].update({"tick": "1s", "min_interval": "1s"})
    config["delivery"].update({"tick": "1s"})
    ws.write_config(config)


def build_big(path: Path, now: float, count: int = BIG) -> None:
    """1,000,000 items with one identity key each over 100 feeds: every other one left its
    feed 200 days ago (retention forgets it), the rest are still in their feeds."""
    Store(path, lock=False).close()  # the schema, every migration applied
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO item_keys (feed, key, item_id, last_seen)"
            " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " SELECT 'feed' || (i / 10000), printf('key-%07d', i),"
            " printf('item-%07d', i), CASE WHEN i % 2 = 0 THEN ? ELSE ? END FROM n",
            (count - 1, now - 200 * DAY, now),
        )
        conn.execute(
            "INSERT INTO items (id, feed, title, link, first_seen)"
            " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " SELECT printf('item-%07d', i), 'feed' || (i / 10000), 'Title ' || i,"
            " 'https://www.example-news.test/story/' || i, ? FROM n",
            (count - 1, now - 200 * DAY),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """Built once per module (a few seconds); tests copy it."""
    now = time.time()
    path = tmp_path_factory.mktemp("big") / "newsmon.db"
    build_big(path, now)
    return path, now


def copy_db(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


# -- retention at 1M items ---------------------------------------------------------------

PRUNE_QUERIES_NEED = ("item_keys_last_seen", "item_keys_item_id", "idx_alerts_created_at")


def test_prune_walks_indexes_in_bounded_batches(big_db: tuple[Path, float], tmp_path: Path) -> None:
    source, now = big_db
    store = Store(copy_db(source, tmp_path / "newsmon.db"), lock=False)
    try:
        plans: list[str] = []
        for sql in PRUNE_SQL.values():
            params = (now, PRUNE_BATCH)[: sql.count("?")] if "LIMIT" in sql else ("x",) * 2
            plan = store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params[: sql.count("?")])
            plans += [str(row[3]) for row in plan.fetchall()]
        print("\n" + "\n".join(plans))
        # Before the fix: "SCAN item_keys" (every key read for each prune: 5.6 s at 1M).
        assert not [p for p in plans if p.startswith("SCAN")], plans
        for index in PRUNE_QUERIES_NEED:
            assert any(index in p for p in plans), (index, plans)

        # Each batch is one short transaction of at most PRUNE_BATCH rows of each kind.
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        first = store.prune_batch(now - 180 * DAY, now - 365 * DAY)
        store.conn.set_trace_callback(None)
        assert first["item_keys"] == PRUNE_BATCH
        assert more_to_prune(first)
        assert statements.count("BEGIN IMMEDIATE") == 1
        assert statements.count("COMMIT") == 1
        started = time.perf_counter()
        store.prune_batch(now - 180 * DAY, now - 365 * DAY)
        print(f"one batch of {PRUNE_BATCH} at 1M rows: {time.perf_counter() - started:.3f}s")

    finally:
        store.close()


def test_prune_forgets_exactly_what_left_its_feed(tmp_path: Path) -> None:
    now = time.time()
    count = 5 * PRUNE_BATCH + 10  # several batches
    path = tmp_path / "newsmon.db"
    build_big(path, now, count)
    store = Store(path, lock=False)
    try:
        totals = store.prune(now, 180 * DAY, 365 * DAY)
        gone = (count + 1) // 2
        assert totals["item_keys"] == gone
        assert totals["items"] == gone
        assert store.conn.execute("SELECT count(*) FROM items").fetchone()[0] == count - gone
        assert store.prune(now, 180 * DAY, 365 * DAY)["items"] == 0
    finally:
        store.close()


# -- a write lock held by another process --------------------------------------------


def test_held_write_lock_leaves_fetches_healthz_and_sigterm_responsive(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    gate = GateServer(rss([seed_item_xml()]))
    feed_server.put("/o.xml", rss([plain_item(1)]))
    feeds: list[dict[str, Any]] = [
        {"name": "gated", "url": gate.url("/gate.xml"), "interval": "1s", "backfill": True},
        {"name": "other", "url": feed_server.url("/o.xml"), "interval": "1s"},
    ]
    _config(workspace, feeds, receiver.url())
    daemon = HttpDaemon(workspace)
    try:
        assert daemon.wait_log(r"feed other: first poll"), daemon.output()
        # The gated feed's fetch is in flight (its server has not answered yet).
        assert gate.wait("/gate.xml", 20) is not None, daemon.output()
        with LockHolder(workspace.db) as lock:
            # Let the daemon's next ticks run into the lock (they write every tick).
            time.sleep(2.5)
            latencies = [daemon.healthz() for _ in range(3)]
            opened = time.monotonic()
            gate.opened.set()
            followed = gate.wait("/after.xml", 10)
            assert lock.proc.poll() is None  # the lock was held all along
        print(f"\nunder a held write lock: /healthz {[f'{s} {t:.3f}s' for s, t in latencies]}")
        print(
            f"redirect followed {None if followed is None else round(followed - opened, 3)}s "
            "after the gated server answered"
        )
        assert all(status == 200 for status, _ in latencies), latencies
        assert max(t for _, t in latencies) < 2.0, latencies
        # The fetch in flight went on while the lock was held: the loop was not frozen.
        assert followed is not None, daemon.output()
        assert followed - opened < 5.0, daemon.output()
        # Lock released: the waiting record and the delivery go through.
        assert receiver.wait_for(1, timeout=20), daemon.output()

        # SIGTERM while another process holds the lock and a poll waits for it.
        with LockHolder(workspace.db):
            feed_server.put("/o.xml", rss([plain_item(2), plain_item(1)]))
            time.sleep(2.5)
            code, took = daemon.stop_timed()
        print(f"SIGTERM under a held write lock: exit {code} after {took:.3f}s")
        assert code == 0, daemon.output()
        assert took < 10.0, daemon.output()  # before: 58 s
    finally:
        if daemon.alive():
            daemon.stop()
        gate.close()
    assert "Traceback" not in daemon.output()
    assert integrity(workspace.db) == "ok"


# -- a long retention prune ----------------------------------------------------------------


@pytest.mark.slow
def test_long_prune_leaves_polls_deliveries_healthz_and_sigterm_responsive(
    big_db: tuple[Path, float],
    workspace: Workspace,
    feed_server: FeedServer,
    receiver: WebhookReceiver,
) -> None:
    """The daemon starts on the 1M-item database, whose first housekeeping forgets 500,000
    items: while it runs, a feed is polled and its alert delivered, ``/healthz`` answers,
    and SIGTERM stops the daemon at once."""
    copy_db(big_db[0], workspace.db)
    feed_server.put("/w.xml", rss([seed_item_xml()]))
    feeds = [{"name": "wire", "url": feed_server.url("/w.xml"), "interval": "1s", "backfill": True}]
    _config(workspace, feeds, receiver.url())
    daemon = HttpDaemon(workspace)
    try:
        assert daemon.wait_log("status page on http://", timeout=60), daemon.output()
        delivered = receiver.wait_for(1, timeout=20)
        pruned_already = "housekeeping: pruned" in daemon.output()
        latencies = [daemon.healthz() for _ in range(3)]
        pruned_already = pruned_already or "housekeeping: pruned" in daemon.output()
        code, took = daemon.stop_timed()
        print(f"\nduring the prune: /healthz {[f'{s} {t:.3f}s' for s, t in latencies]}")
        print(f"SIGTERM during the prune: exit {code} after {took:.3f}s")
        assert delivered, daemon.output()
        # The alert went out while the prune was still going.
        assert not pruned_already, daemon.output()
        assert all(status == 200 for status, _ in latencies), latencies
        assert max(t for _, t in latencies) < 2.0, latencies
        assert code == 0, daemon.output()
        assert took < 10.0, daemon.output()
    finally:
        if daemon.alive():
            daemon.stop()
    assert "Traceback" not in daemon.output()
    # Stopped between batches: what was pruned is gone, the rest is intact.
    assert integrity(workspace.db) == "ok"
