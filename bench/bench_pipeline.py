"""Per-stage costs of one poll after the fetch: parse, match, record (one run, ratios).

    .venv/bin/python bench/bench_pipeline.py

Prints items/s for parsing every fixture feed with feedparser, matching a corpus of
real headlines against 1 / 100 / 1,000 / 10,000 rule terms with the Aho-Corasick
automaton (and, for scale, a regex-per-term matcher at 100 terms), and recording 50-item
polls in SQLite. The machine is shared: compare ratios within one run.
"""

from __future__ import annotations

import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.feeds.identity import keyed  # noqa: E402
from monitor.feeds.parse import parse_feed  # noqa: E402
from monitor.matching.automaton import Automaton, normalize  # noqa: E402
from monitor.models import Item  # noqa: E402
from monitor.store import Route, Store  # noqa: E402

FEEDS = ROOT / "tests" / "data" / "feeds"
CORPUS = ROOT / "tests" / "data" / "corpus" / "huffpost_news_category_v3_first10k.jsonl"


def timed(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def bench_parse_options() -> None:
    """feedparser with and without its HTML sanitizer: same items, different cost."""
    import feedparser

    bodies = [p.read_bytes() for p in sorted(FEEDS.iterdir()) if p.name != "SOURCES.md"]
    original = feedparser.parse

    def collect(opts: dict[str, bool]) -> tuple[list[object], float]:
        def patched(src: object, **kw: object) -> object:
            kw.update(opts)
            return original(src, **kw)

        feedparser.parse = patched
        start = time.perf_counter()
        out: list[object] = []
        for body in bodies:
            try:
                out.append(parse_feed(body).items)
            except Exception as exc:
                out.append(repr(exc))
        feedparser.parse = original
        return out, time.perf_counter() - start

    on, t_on = collect({"sanitize_html": True, "resolve_relative_uris": True})
    off, t_off = collect({"sanitize_html": False, "resolve_relative_uris": False})
    differing = sum(1 for a, b in zip(on, off, strict=True) if a != b)
    print(
        f"parse    feedparser sanitizer on {t_on:.2f} s, off {t_off:.2f} s "
        f"({t_on / t_off:.2f}x); fixtures with different items: {differing}"
    )


def bench_parse() -> None:
    bodies = [
        (p.name, p.read_bytes())
        for p in sorted(FEEDS.iterdir())
        if p.name != "SOURCES.md" and not p.name.startswith("broken_")
    ]
    items = 0

    def run() -> None:
        nonlocal items
        items = 0
        for name, body in bodies:
            ct = "application/json" if name.endswith(".json") else ""
            items += len(parse_feed(body, content_type=ct).items)

    seconds = timed(run, repeat=2)
    print(
        f"parse    {len(bodies)} fixture feeds, {items} items: {seconds:.2f} s "
        f"= {items / seconds:,.0f} items/s, {1000 * seconds / len(bodies):.1f} ms/feed"
    )


def corpus_texts() -> list[dict[str, str]]:
    rows = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            rows.append({"title": doc["headline"], "summary": doc["short_description"]})
    return rows


def bench_match(texts: list[dict[str, str]]) -> None:
    words = sorted({w for t in texts[:3000] for w in normalize(t["title"]).split() if len(w) > 3})
    rng = random.Random(7)
    results = {}
    for n in (1, 100, 1000, 10000):
        automaton = Automaton()
        automaton.add("end of war declaration")
        while len(automaton.keys) < n:
            automaton.add(" ".join(rng.sample(words, rng.choice((1, 2, 2, 3)))))
        automaton.find("warm up")
        seconds = timed(lambda a=automaton: [a.scan(t) for t in texts])
        results[n] = len(texts) / seconds
        print(f"match    {n:>6} terms, {len(texts)} items: {len(texts) / seconds:,.0f} items/s")
    regexes = [re.compile(r"\b" + re.escape(f" {w} ".strip()) + r"\b", re.I) for w in words[:100]]
    sample = texts[:2000]
    seconds = timed(
        lambda: [[r.search(t["title"] + " " + t["summary"]) for r in regexes] for t in sample], 1
    )
    print(
        f"match    regex per term, 100 terms: {len(sample) / seconds:,.0f} items/s "
        f"(automaton at 100 terms is {results[100] / (len(sample) / seconds):.0f}x faster)"
    )


def bench_store(texts: list[dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        polls = 100
        batches = [
            [
                Item(
                    t["title"],
                    t["summary"],
                    "",
                    f"https://news.example.test/{i}-{j}",
                    f"g-{i}-{j}",
                    None,
                )
                for j, t in enumerate(texts[i * 50 : (i + 1) * 50])
            ]
            for i in range(polls)
        ]
        store.sync_feeds([("bench", "https://news.example.test/feed")], time.time())

        def route(item: Item) -> list[Route]:
            return [Route("r", "R", ("x",), ("n",))] if "trump" in item.title.lower() else []

        def record_all() -> float:
            start = time.perf_counter()
            for batch in batches:
                store.record_poll(
                    "bench",
                    [keyed(item) for item in batch],
                    route,
                    now=time.time(),
                    alert=True,
                    title_window=7 * 86400,
                    next_check_at=0,
                    etag=None,
                    last_modified=None,
                )
            return time.perf_counter() - start

        first = record_all()
        again = record_all()  # steady state: every item already seen
        store.close()
    print(
        f"record   50-item poll, all new: {1000 * first / polls:.2f} ms; "
        f"all seen: {1000 * again / polls:.2f} ms (synchronous=FULL, one transaction per poll)"
    )


def main() -> None:
    texts = corpus_texts()
    bench_parse_options()
    bench_parse()
    bench_match(texts)
    bench_store(texts)


if __name__ == "__main__":
    main()
