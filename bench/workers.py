"""Throughput of `newsmon run` workers: 1 and 2 on PostgreSQL, 1 on SQLite.

    NEWSMON_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/workers.py [FEEDS]

Serves FEEDS (default 600) feeds of 20 items each from 10 loopback hosts and times two
cycles per setup, measured from the database (every feed's last_poll_at past the start):
  all-new:   first sight of every feed (every item parsed, keyed and recorded);
  unchanged: every feed made due again and re-polled with a changed body whose items are
             all known (parsed and checked, nothing new; the server sends no validators).
Prints feeds/s and items/s for each, and the second PostgreSQL worker's gain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from monitor.models import PostgresURL  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.conftest import plain_item, rss  # noqa: E402
from tests.pgserver import fresh_database  # noqa: E402
from tests.test_workers import Farm  # noqa: E402

ITEMS = 20


def run_setup(label: str, workers: int, target: Path | PostgresURL, feeds: int) -> None:
    version = {"v": 0}

    def body(n: int) -> bytes:
        # The unchanged cycle serves the same items in another order: a new body (so no
        # 304 shortcut), every item known.
        order = range(ITEMS) if version["v"] == 0 else reversed(range(ITEMS))
        return rss([plain_item(n * 100 + i) for i in order])

    farm = Farm(body)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rules").mkdir()
        config = root / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database": target.url if isinstance(target, PostgresURL) else str(target),
                    "feeds": [
                        {"name": f"f{n}", "url": farm.url(n), "interval": "1h"}
                        for n in range(feeds)
                    ],
                    "poll": {"tick": "1s", "concurrency": 32, "per_host": 8},
                }
            )
        )
        env = {**os.environ, "NEWSMON_LOG_LEVEL": "warning"}
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitor",
                    "--config",
                    str(config),
                    "--log-level",
                    "warning",
                    "run",
                ],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        try:
            for cycle in ("all-new", "unchanged"):
                start = time.time()
                if cycle == "unchanged":
                    version["v"] = 1
                    store = Store(target, lock=False)
                    store.make_all_due(start)
                    store.close()
                elapsed = wait_all_polled(target, feeds, start)
                print(
                    f"{label:<22} {cycle:<10} {feeds / elapsed:8.1f} feeds/s "
                    f"{feeds * ITEMS / elapsed:9.0f} items/s  ({elapsed:.1f}s)"
                )
                RESULTS[(label, cycle)] = feeds / elapsed
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(60)
            farm.close()


RESULTS: dict[tuple[str, str], float] = {}


def wait_all_polled(target: Path | PostgresURL, feeds: int, start: float) -> float:
    deadline = time.time() + 600
    while time.time() < deadline:
        time.sleep(0.25)
        try:
            store = Store(target, lock=False, readonly=True)
            try:
                states = store.feed_states()
            finally:
                store.close()
        except Exception:
            continue  # the database is still being created
        done = [s.last_poll_at for s in states if s.last_poll_at and s.last_poll_at >= start]
        if len(done) == feeds:
            return max(done) - start
    raise SystemExit("timed out")


def main() -> None:
    feeds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    with tempfile.TemporaryDirectory() as tmp:
        run_setup("sqlite, 1 worker", 1, Path(tmp) / "state.db", feeds)
    for workers in (1, 2):
        with fresh_database() as url:
            run_setup(f"postgresql, {workers} worker(s)", workers, url, feeds)
    for cycle in ("all-new", "unchanged"):
        one = RESULTS[("postgresql, 1 worker(s)", cycle)]
        two = RESULTS[("postgresql, 2 worker(s)", cycle)]
        lite = RESULTS[("sqlite, 1 worker", cycle)]
        print(
            f"{cycle}: the second PostgreSQL worker adds {100 * (two / one - 1):+.0f} %; "
            f"1 PostgreSQL worker = {one / lite:.2f} x SQLite"
        )


if __name__ == "__main__":
    main()
