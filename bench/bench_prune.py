"""Retention at 1,000,000 items: the old one-transaction prune against the batched,
indexed one (one run, same machine, same database copied twice).

    .venv/bin/python bench/bench_prune.py [ITEMS]

Builds a database of ITEMS items (default 1,000,000) with one identity key each, half of
them gone from their feeds for 200 days, as ``tests/test_db_offloop.py`` does. Then:

* before: the statements ``prune()`` ran until migration 2 (no ``item_keys(item_id)``
  index, ``NOT IN (SELECT item_id FROM item_keys)``), in one transaction: prints how
  long that transaction held the write lock;
* after: ``Store.prune_batch`` until done: prints the total, the longest single batch
  (the longest anything else waits for the lock) and the number of batches.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.store import Store, more_to_prune  # noqa: E402
from tests.test_db_offloop import DAY, build_big  # noqa: E402

OLD_ITEMS = "DELETE FROM items WHERE first_seen < ? AND id NOT IN (SELECT item_id FROM item_keys)"


def before(path: Path, now: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP INDEX IF EXISTS item_keys_item_id")  # the schema before migration 2
    conn.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM item_keys WHERE last_seen < ?", (now - 180 * DAY,))
    conn.execute(OLD_ITEMS, (now - 180 * DAY,))
    conn.execute("COMMIT")
    took = time.perf_counter() - started
    conn.close()
    return took


def after(path: Path, now: float) -> tuple[float, float, int]:
    store = Store(path, lock=False)
    longest, batches = 0.0, 0
    started = time.perf_counter()
    while True:
        one = time.perf_counter()
        got = store.prune_batch(now - 180 * DAY, now - 365 * DAY)
        longest = max(longest, time.perf_counter() - one)
        batches += 1
        if not more_to_prune(got):
            break
    total = time.perf_counter() - started
    store.close()
    return total, longest, batches


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "big.db"
        now = time.time()
        started = time.perf_counter()
        build_big(source, now, items)
        print(f"built {items:,} items in {time.perf_counter() - started:.1f}s")
        old_copy, new_copy = Path(tmp) / "old.db", Path(tmp) / "new.db"
        shutil.copyfile(source, old_copy)
        shutil.copyfile(source, new_copy)
        old = before(old_copy, now)
        total, longest, batches = after(new_copy, now)
        print(f"before: one transaction, write lock held {old:.2f}s")
        print(
            f"after:  {batches} batches, {total:.2f}s in all, longest batch {longest * 1000:.0f}ms"
            f" (lock held {old / longest:.0f}x shorter at a time)"
        )


if __name__ == "__main__":
    main()
