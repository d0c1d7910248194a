"""Whole-cycle benchmark: newsmon against N loopback feeds, next to the bare-fetch ceiling.

    .venv/bin/python bench/cycle.py [--quick] [--feeds N] [--items K] [--rules M] ...

In one run (README "Benchmarks" explains every figure): a feed server in its own process
(bench/feedserver.py), M generated phrase rules plus the repo's rules/, a webhook
receiver; then, through the daemon's poll tick (``Runtime.pump``) and ``newsmon once``:
a baseline cycle, steady-state cycles (a fraction of the feeds gains items, the rest
answer 304 or send their unchanged body), an all-new cycle; next to each, a bare httpx
client fetching the same URLs with the same validators in its own process (the ceiling);
the same cycles again over a database holding ``--stored`` more items; and a per-stage
profile of an all-new cycle. Ratios are measured in the same run: compare those.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import yaml  # noqa: E402
from feedserver import feed_path, host_of, load_corpus, serve  # noqa: E402
from procstats import Tree, ceiling  # noqa: E402
from stages import profile_stages  # noqa: E402

from monitor.feeds import parsepool  # noqa: E402
from monitor.feeds.parsepool import ParsePool  # noqa: E402
from monitor.service.runtime import Runtime, load_all  # noqa: E402
from monitor.store import Store  # noqa: E402

SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Result:
    name: str
    wall: float
    poll: float
    cpu: float
    feeds: int
    new: int
    alerts: int
    peak: int

    def line(self, ceiling: float | None = None) -> str:
        ratio = f"  poll/ceiling {self.poll / ceiling:5.2f}" if ceiling else ""
        return (
            f"{self.name:<24} wall {self.wall:6.2f} s (poll {self.poll:6.2f})"
            f"  CPU {self.cpu:6.2f} s"
            f"  {self.feeds / self.poll:5.0f} feeds/s  new {self.new:6d} = "
            f"{self.new / self.poll:5.0f}/s  alerts {self.alerts:5d}  "
            f"peak RSS {self.peak / 2**20:4.0f} MB{ratio}"
        )


def options(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: about a minute")
    p.add_argument("--smoke", action="store_true", help="tiniest sizes (the test suite's run)")
    p.add_argument("--feeds", type=int, help="feeds served (default 1000)")
    p.add_argument("--items", type=int, default=20, help="items per feed (default 20)")
    p.add_argument("--rules", type=int, help="generated phrase rules (default 1000)")
    p.add_argument("--workers", type=int, default=None, help="parse worker processes")
    p.add_argument("--concurrency", type=int, default=16, help="poll.concurrency (default 16)")
    p.add_argument("--hosts", type=int, default=8, help="loopback addresses (default 8)")
    p.add_argument("--changed", type=float, default=0.10, help="feeds gaining items per cycle")
    p.add_argument("--new", type=int, default=3, help="items a changed feed gains (default 3)")
    p.add_argument("--steady", type=int, help="steady-state cycles (default 3)")
    p.add_argument("--stored", type=int, help="items stored before the repeat (default 1e6)")
    p.add_argument(
        "--inline-below",
        type=int,
        help="parse bodies under this many bytes in a "
        "thread, the rest in worker processes (default: newsmon's)",
    )
    p.add_argument("--no-profile", action="store_true", help="skip the per-stage profile")
    args = p.parse_args(argv)
    size = {"smoke": (12, 4, 3, 1, 2000), "quick": (200, 20, 200, 2, 100_000)}
    feeds, rules, steady, stored = 1000, 1000, 3, 1_000_000
    if args.smoke:
        feeds, args.items, rules, steady, stored = size["smoke"]
        args.hosts = 2
    elif args.quick:
        feeds, _, rules, steady, stored = size["quick"]
    args.feeds = args.feeds or feeds
    args.rules = args.rules if args.rules is not None else rules
    args.steady = args.steady or steady
    args.stored = args.stored if args.stored is not None else stored
    return args


def phrases(count: int) -> list[str]:
    """Word pairs from the corpus headlines, frequent enough that some items match but
    not so frequent that every item alerts on every rule."""
    pairs: collections.Counter[str] = collections.Counter()
    for story in load_corpus():
        words = re.findall(r"[a-z]+", story.title.lower())
        pairs.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    ranked = [p for p, n in pairs.most_common() if n >= 2]
    skip = min(len(ranked) // 10, 300)  # "of the", "in the": every rule would fire
    return ranked[skip : skip + count]


def write_setup(root: Path, args: argparse.Namespace, port: int) -> Path:
    rules = root / "rules"
    rules.mkdir()
    for real in (ROOT / "rules").glob("*.yaml"):
        shutil.copy(real, rules / real.name)
    terms = phrases(args.rules * 3)
    for r in range(args.rules):
        chosen = terms[r * 3 : r * 3 + 3] or ["bench phrase"]
        (rules / f"bench-{r:05d}.yaml").write_text(yaml.safe_dump({"match": chosen}))
    feeds = [
        {"name": f"f{i}", "url": f"http://{host_of(i, args.hosts)}:{port}{feed_path(i)}"}
        for i in range(args.feeds)
    ]
    config = {
        "database": str(root / "state.db"),
        "rules_dir": str(rules),
        "feeds": feeds,
        "notifiers": {"hook": {"kind": "webhook", "url": f"http://127.0.0.2:{port}/hook"}},
        "defaults": {"notify": ["hook"]},
        "poll": {
            "concurrency": args.concurrency,
            "per_host": max(1, args.concurrency // args.hosts),
        },
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class Bench:
    def __init__(self, args: argparse.Namespace, config: Path, server: Any, exclude: set[int]):
        self.args, self.config, self.server, self.exclude = args, config, server, exclude
        self.loaded = load_all(config, examples=False)
        self.store: Store | None = None
        self.runtime: Runtime | None = None

    async def open(self) -> Runtime:
        self.store = Store(self.loaded.config.database)
        self.runtime = Runtime(self.loaded, self.store)
        await self.runtime.start()
        if self.args.workers:
            self.runtime.parser = ParsePool(self.args.workers)
        return self.runtime

    async def close(self) -> None:
        if self.runtime is not None:
            await self.runtime.aclose()
        if self.store is not None:
            self.store.close()
        self.runtime = self.store = None

    def command(self, *msg: object) -> int:
        self.server.send(msg)
        reply = self.server.recv()
        assert reply[0] == "done", reply
        return int(reply[1])

    def totals(self) -> tuple[int, int]:
        assert self.store is not None
        conn = self.store.conn
        items = conn.execute("SELECT coalesce(sum(items_total), 0) FROM feeds").fetchone()[0]
        alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        return int(items), int(alerts)

    def validators(self, conditional: bool) -> list[tuple[str, str | None, str | None]]:
        assert self.store is not None
        rows = self.store.conn.execute("SELECT url, etag, last_modified FROM feeds ORDER BY name")
        return [(u, e, m) if conditional else (u, None, None) for u, e, m in rows]

    def ceiling(self, conditional: bool) -> float:
        """Best of two runs of the bare client over the same requests."""
        requests = self.validators(conditional)
        best = float("inf")
        for _ in range(2):
            mine, theirs = SPAWN.Pipe()
            proc = SPAWN.Process(
                target=ceiling,
                args=(theirs, requests, self.args.concurrency, self.args.concurrency),
            )
            proc.start()
            assert proc.pid is not None
            self.exclude.add(proc.pid)
            wall, _cpu, _statuses = mine.recv()
            proc.join()
            best = min(best, wall)
        return float(best)

    async def tick(self, name: str, *, once: bool = False) -> Result:
        """One cycle: the daemon's poll tick over every feed (or once's poll), then
        deliveries until none is due."""
        runtime = self.runtime
        assert runtime is not None
        assert self.store is not None
        self.store.conn.execute("UPDATE feeds SET next_check_at = 0, hold_until = NULL")
        items0, alerts0 = self.totals()
        with Tree(self.exclude) as tree:
            cpu0, wall0 = tree.cpu(), time.perf_counter()
            if once:
                await runtime.poll(all_now=True)
            else:
                await runtime.pump(3600)
                await asyncio.gather(*list(runtime._inflight.values()))
            poll = time.perf_counter() - wall0
            while (await runtime.deliver()).sent:
                pass
            wall, cpu = time.perf_counter() - wall0, tree.cpu() - cpu0
        items, alerts = self.totals()
        n = self.args.feeds
        return Result(name, wall, poll, cpu, n, items - items0, alerts - alerts0, tree.peak)

    def bulk_store(self, count: int) -> float:
        """``count`` more items (one guid key each) spread over the feeds, in one
        transaction of executemany: how a big history looks to the dedupe queries."""
        assert self.store is not None
        conn, n, now = self.store.conn, self.args.feeds, time.time()
        start = time.perf_counter()
        conn.execute("BEGIN")
        for first in range(0, count, 100_000):
            ids = [os.urandom(12).hex() for _ in range(min(100_000, count - first))]
            conn.executemany(
                "INSERT INTO items (id, feed, title, link, published, first_seen)"
                " VALUES (?, ?, 'stored', NULL, NULL, ?)",
                [(x, f"f{j % n}", now) for j, x in enumerate(ids, first)],
            )
            conn.executemany(
                "INSERT INTO item_keys (feed, key, item_id, last_seen) VALUES (?, ?, ?, ?)",
                [(f"f{j % n}", "g:" + x + "0" * 8, x, now) for j, x in enumerate(ids, first)],
            )
        conn.execute("COMMIT")
        return time.perf_counter() - start


def timed(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall, CPU (the process and its reaped children) and max RSS of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, err


async def run(args: argparse.Namespace) -> None:
    if args.inline_below is not None:
        parsepool.INLINE_BELOW = args.inline_below
    mine, theirs = SPAWN.Pipe()
    port = 20000 + os.getpid() % 20000
    server = SPAWN.Process(target=serve, args=(theirs, args.feeds, args.items, args.hosts, port))
    server.start()
    assert server.pid is not None
    ready = mine.recv()
    assert ready[0] == "ready"
    tmp = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    try:
        config = write_setup(tmp, args, port)
        t0 = time.perf_counter()
        bench = Bench(args, config, mine, {server.pid})
        load = time.perf_counter() - t0
        nrules = len(bench.loaded.rules.rules)
        print(
            f"setup: {args.feeds} feeds x {args.items} items on {args.hosts} addresses, "
            f"{nrules} rules (loaded in {load:.2f} s), concurrency {args.concurrency}, "
            f"{args.changed:.0%} of feeds gain {args.new} items per steady cycle"
        )
        await phases(bench, args, config)
    finally:
        mine.send(("stop",))
        server.join(10)
        shutil.rmtree(tmp, ignore_errors=True)


async def phases(bench: Bench, args: argparse.Namespace, config: Path) -> None:
    await bench.open()
    print(
        "\n-- cycles: the daemon's poll tick over every feed, then deliveries until none is due;"
        "\n   new items/s and poll/ceiling use the poll part (ceiling: bare httpx, same requests)"
    )
    base = await bench.tick("baseline (first sight)")
    print(base.line())
    steady: list[tuple[Result, float]] = []
    for k in range(args.steady):
        bench.command("step", args.changed, args.new, k)
        ceil = bench.ceiling(conditional=True)
        res = await bench.tick(f"steady {k + 1}")
        steady.append((res, ceil))
        print(res.line(ceil))
    bench.command("step", args.changed, args.new, 100)
    ceil = bench.ceiling(conditional=True)
    res = await bench.tick("steady, once's poll", once=True)
    print(res.line(ceil))
    bench.command("all_new")
    ceil_new = bench.ceiling(conditional=False)
    allnew = await bench.tick("all new")
    print(allnew.line(ceil_new))
    ratio = statistics.median(r.poll / c for r, c in steady)
    print(f"steady-state poll tick / ceiling (median of {len(steady)}): {ratio:.2f}")

    # `newsmon once` as a whole process, and its start-up.
    await bench.close()
    bench.command("step", args.changed, args.new, 200)
    await bench.open()
    ceil = bench.ceiling(conditional=True)
    await bench.close()
    exe = [sys.executable, "-m", "monitor"]
    helpw, _, _, _ = timed([*exe, "--help"])
    checkw, _, _, _ = timed([*exe, "check", "--config", str(config)])
    oncew, oncec, oncer, err = timed(
        [*exe, "once", "--config", str(config), "--log-level", "error"]
    )
    print("\n-- `newsmon once` as a process (steady state)")
    print(
        f"--help {helpw:.2f} s; check {checkw:.2f} s; once {oncew:.2f} s wall, {oncec:.2f} s CPU, "
        f"max RSS {oncer / 2**20:.0f} MB; ceiling {ceil:.2f} s; "
        f"once / (ceiling + check) {oncew / (ceil + checkw):.2f}; "
        f"(once - check) / ceiling {(oncew - checkw) / ceil:.2f}"
    )
    if "Traceback" in err:
        print(err, file=sys.stderr)

    # The same cycles over a big history.
    await bench.open()
    spent = bench.bulk_store(args.stored)
    print(f"\n-- with {args.stored:,} more items stored (bulk insert {spent:.1f} s)")
    big_steady = []
    for k in range(args.steady):
        bench.command("step", args.changed, args.new, 300 + k)
        res = await bench.tick(f"steady {k + 1}, stored")
        big_steady.append(res)
        print(res.line())
    bench.command("all_new")
    big_new = await bench.tick("all new, stored")
    print(big_new.line())
    s0 = statistics.median(r.poll for r, _ in steady)
    s1 = statistics.median(r.poll for r in big_steady)
    print(
        f"stored/fresh (poll time): steady {s1 / s0:.2f}x, "
        f"all new {big_new.poll / allnew.poll:.2f}x"
        f" (new items/s {big_new.new / big_new.poll:.0f} vs {allnew.new / allnew.poll:.0f})"
    )
    if not args.no_profile:
        bench.command("all_new")
        assert bench.runtime is not None
        print("\n-- where an all-new cycle goes (cProfile, parse inline so it is seen)")
        print(await profile_stages(bench.runtime, bench.store))
    await bench.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nbench process max RSS {peak / 1024:.0f} MB")


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(options(argv)))


if __name__ == "__main__":
    main()
