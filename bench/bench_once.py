"""End-to-end cost of `newsmon once` over many local feeds (one run, ratios).

    .venv/bin/python bench/bench_once.py [FEEDS]

Serves the fixture feeds (repeated up to FEEDS, default 200) from a loopback server,
then times three `newsmon once` runs in-process: first sight (parse, dedupe, record
every item), unchanged (every feed answers 304) and a forced re-poll after the bodies
change (every item re-checked, nothing new). Prints feeds/s and items/s.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from monitor.feeds import parsepool  # noqa: E402
from monitor.service.runtime import Runtime, load_all  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.servers import FeedServer  # noqa: E402

FEEDS = ROOT / "tests" / "data" / "feeds"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    bodies = [
        p.read_bytes()
        for p in sorted(FEEDS.iterdir())
        if p.suffix == ".xml" and not p.name.startswith("broken_")
    ]
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        root = Path(tmp)
        (root / "rules").mkdir()
        (root / "rules" / "r.yaml").write_text('match: ["end of war declaration", "종전선언"]\n')
        feeds = []
        for i in range(count):
            server.put(f"/f{i}.xml", bodies[i % len(bodies)])
            feeds.append({"name": f"f{i}", "url": server.url(f"/f{i}.xml"), "backfill": True})
        config = {
            "feeds": feeds,
            "notifiers": {"null": {"kind": "console", "stream": "stderr"}},
            "defaults": {"notify": ["null"]},
            "poll": {"per_host": 16, "concurrency": 16},
        }
        (root / "config.yaml").write_text(yaml.safe_dump(config))
        loaded = load_all(root / "config.yaml", examples=False)

        def cycle(force: bool = False) -> tuple[float, int]:
            store = Store(loaded.config.database)
            try:

                async def go() -> int:
                    runtime = Runtime(loaded, store)
                    await runtime.start()
                    try:
                        reports = await runtime.poll(all_now=True, force=force)
                    finally:
                        await runtime.aclose()
                    return sum(r.new_items for r in reports)

                start = time.perf_counter()
                new = asyncio.run(go())
                return time.perf_counter() - start, new
            finally:
                store.close()

        first, items = cycle()
        unchanged, _ = cycle()
        for i in range(count):  # same items, new bytes: a full parse that finds nothing new
            server.put(f"/f{i}.xml", bodies[i % len(bodies)] + b"\n")
        reparse, _ = cycle()
        # The same re-parse with every body parsed in a thread (no worker processes).
        parsepool.INLINE_BELOW = 1 << 62
        for i in range(count):
            server.put(f"/f{i}.xml", bodies[i % len(bodies)] + b"\n\n")
        threads, _ = cycle()
    print(
        f"once     {count} feeds, first sight: {first:.2f} s = {count / first:.0f} feeds/s, "
        f"{items / first:,.0f} items/s"
    )
    print(
        f"once     {count} feeds, all 304:     {unchanged:.2f} s = {count / unchanged:.0f} feeds/s "
        f"({first / unchanged:.1f}x faster than first sight)"
    )
    print(
        f"once     {count} feeds, changed bytes, nothing new: {reparse:.2f} s = "
        f"{count / reparse:.0f} feeds/s with parser processes, {count / threads:.0f} feeds/s "
        f"with threads only ({threads / reparse:.2f}x)"
    )


if __name__ == "__main__":
    main()
