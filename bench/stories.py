"""Story grouping cost per item with 1,000 and 100,000 stored items (one run, ratios).

    .venv/bin/python bench/stories.py

Stored items are real headlines and leads (HuffPost, knews, rssfeed corpora); beyond the
~15,000 distinct ones, each repetition replaces half of a headline's words with made-up
words, so the store holds 100,000 distinct titles rather than 6 copies of each. All stored
items are inside the story window (the worst case: the window does not thin them out).
Then 300 new items (held-out rssfeed headlines and copies of stored ones) are grouped
through ``attach_story`` in one transaction, as a poll does. The machine is shared:
compare the per-item figures of one run.
"""

from __future__ import annotations

import html
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.feeds.identity import story_link  # noqa: E402
from monitor.store import Store, StoryPolicy  # noqa: E402
from monitor.stories import THRESHOLD, fingerprint, similarity  # noqa: E402
from monitor.text import html_to_text  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "corpus"


def corpus() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for line in (CORPUS / "huffpost_news_category_v3_first10k.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        rows.append((r["headline"], r["short_description"]))
    for line in (CORPUS / "knews_korean_headlines_2022-08-01.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        rows.append((html.unescape(r["title"]), html_to_text(r["partialText"] or "", 400)))
    return list(dict.fromkeys(rows))


def fill(store: Store, n: int, base: list[tuple[str, str]], rng: random.Random) -> None:
    """``n`` stored items, written directly (as attach_story would), all at time 0..n."""
    with store.write() as conn:
        for i in range(n):
            title, lead = base[i % len(base)]
            if i >= len(base):
                words = title.split()
                for j in rng.sample(range(len(words)), len(words) // 2):
                    words[j] = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(7))
                title = " ".join(words)
            sp = fingerprint(title, lead, None, "o")
            item = f"s{i}"
            conn.execute(
                "INSERT INTO story_items (item_id, story_id, feed, outlet, title, url, link_key,"
                " first_seen, ctitle, clead) VALUES (?, ?, 'f', 'o', ?, NULL, NULL, ?, ?, ?)",
                (item, item, title, float(i), sp.title, sp.lead),
            )
            conn.execute(
                "INSERT INTO stories (id, title, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                (item, title, float(i), float(i)),
            )
            conn.executemany(
                "INSERT INTO story_keys (key, first_seen, item_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(k, float(i), item) for k in dict.fromkeys(sp.keys)],
            )


def new_items(base: list[tuple[str, str]], rng: random.Random) -> list[tuple[str, str]]:
    rss = json.loads((CORPUS / "rssfeed_15_outlets_2025-05-28.json").read_text())
    fresh = [(html.unescape(r["title"]), html_to_text(r["description"] or "", 400)) for r in rss]
    copies = [("UPDATE 1-" + t + " - Wire", lead[:150]) for t, lead in rng.sample(base[:1000], 100)]
    return fresh[:200] + copies


def measure(n: int, base: list[tuple[str, str]], items: list[tuple[str, str]]) -> float:
    rng = random.Random(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db", lock=False)
        fill(store, n, base, rng)
        store.conn.execute("ANALYZE")
        policy = StoryPolicy(10.0 * n + 1e6, similarity, THRESHOLD)
        started = time.perf_counter()
        # One transaction, as a poll records all its new items in one (commit cost,
        # an fsync, is per poll, not per item).
        with store.write() as conn:
            for k, (title, lead) in enumerate(items):
                link = f"https://bench.test/{k}"
                sp = fingerprint(title, lead, story_link(link), "bench")
                store.attach_story(
                    conn, f"new{k}", "bench", title, link, story_link(link), sp,
                    float(n + k), policy,
                )  # fmt: skip
        elapsed = time.perf_counter() - started
        store.close()
    return elapsed / len(items)


def main() -> None:
    base = corpus()
    items = new_items(base, random.Random(1))
    print(f"{len(base)} distinct corpus items; grouping {len(items)} new items per size")
    small = measure(1_000, base, items)
    large = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, base, items)
    print(f"  1,000 stored:   {small * 1e6:8.0f} us per item (fingerprint + look-up + verify)")
    print(f"  100,000 stored: {large * 1e6:8.0f} us per item")
    print(f"  ratio 100k/1k:  {large / small:.2f}")


if __name__ == "__main__":
    main()
