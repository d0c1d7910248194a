"""Where sending a body to the parse worker processes starts to pay (ParsePool.INLINE_BELOW).

    .venv/bin/python bench/parse_crossover.py [BODIES]

For feeds of 1 to 50 corpus items (bench/feedserver.py's documents), parses BODIES
bodies (default 120) three ways, 16 at a time as the poll does: all in threads (the GIL:
one core), all in the worker pool, and through ParsePool with the current threshold.
Prints the body size and, per body each way, wall ms and CPU ms of the event-loop
process and of all processes. The event-loop process is the poll's bottleneck (it also
fetches, matches and records), so the pool pays where its CPU there is lower: the
main pool/thread column below 1. CPU figures hold up on a loaded machine; wall does not.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from feedserver import Feeds, load_corpus  # noqa: E402
from procstats import Tree  # noqa: E402

from monitor.feeds import parsepool  # noqa: E402
from monitor.feeds.parse import parse_feed  # noqa: E402


async def run_all(
    pool: parsepool.ParsePool, bodies: list[bytes], mode: str
) -> tuple[float, float, float]:
    """Wall s, CPU s of the event-loop process, CPU s of all processes."""
    gate = asyncio.Semaphore(16)
    tree = Tree(set())

    async def one(body: bytes) -> None:
        async with gate:
            if mode == "thread":
                await asyncio.to_thread(parse_feed, body, url="http://x.example/f")
            else:
                await pool.parse(body, 60, url="http://x.example/f")

    start, main, every = time.perf_counter(), time.process_time(), tree.cpu()
    await asyncio.gather(*(one(b) for b in bodies))
    wall = time.perf_counter() - start
    return wall, time.process_time() - main, tree.cpu() - every


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    stories = load_corpus()
    pool = parsepool.ParsePool()
    warm = Feeds(1, 2, stories).bodies[0]
    parsepool.INLINE_BELOW = 0
    await asyncio.gather(*(pool.parse(warm, 60) for _ in range(8)))  # start the workers
    parsepool.INLINE_BELOW = saved = 64 * 1024
    print("ms per body; 'main' = CPU of the event-loop process, the poll's bottleneck")
    print(
        f"{'items':>5} {'bytes':>7} | {'thread wall':>11} {'main':>6} {'all':>6} |"
        f" {'pool wall':>9} {'main':>6} {'all':>6} | {'main pool/thread':>16}"
    )
    try:
        for items in (1, 2, 5, 10, 20, 50):
            feeds = Feeds(count, items, stories)
            bodies = feeds.bodies
            thread = await run_all(pool, bodies, "thread")
            parsepool.INLINE_BELOW = 0
            pooled = await run_all(pool, bodies, "pool")
            parsepool.INLINE_BELOW = saved
            size = sum(map(len, bodies)) // len(bodies)
            t = [x / count * 1000 for x in thread]
            p = [x / count * 1000 for x in pooled]
            print(
                f"{items:5d} {size:7d} | {t[0]:11.2f} {t[1]:6.2f} {t[2]:6.2f} |"
                f" {p[0]:9.2f} {p[1]:6.2f} {p[2]:6.2f} | {p[1] / t[1]:16.2f}"
            )
    finally:
        parsepool.INLINE_BELOW = saved
        pool.close()


if __name__ == "__main__":
    asyncio.run(main())
