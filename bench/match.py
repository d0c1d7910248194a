"""Rule matching at scale: items/s for 10 to 10,000 rules, against a naive baseline.

    .venv/bin/python bench/match.py [--items 20000] [--quick]

Builds 20,000 realistic items from the headline corpora in tests/data/corpus (real
title + summary pairs, then re-paired ones to reach the count), and rule sets of 10 /
100 / 1,000 / 10,000 rules that mix phrases (most), prefix wildcards, ``near`` elements
and a few regular expressions, written as rule files and loaded the way the daemon loads
them. For each set it prints items/s through ``RuleSet.match`` (normalization, the one
automaton, verifiers, boolean evaluation and evidence for every alert), beside a naive
baseline measured in the same run: one compiled ``re`` pattern per rule, tried on every
item (on a sample when that would take too long). It also measures a set of 10,000
phrase-only rules and the load time of 10,000 rule files. The machine is shared: compare
the ratios printed in one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.matching.automaton import Automaton  # noqa: E402
from monitor.matching.normal import normalize  # noqa: E402
from monitor.matching.rules import RuleSet, load_rules  # noqa: E402
from monitor.text import html_to_text  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "corpus"
SIZES = (10, 100, 1_000, 10_000)
REGEXES = 4  # "a few": regexes alone are checked on every item, whatever the rule count


def corpus_items() -> list[dict[str, str]]:
    items = []
    with (CORPUS / "huffpost_news_category_v3_first10k.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            items.append(
                {
                    "title": doc["headline"],
                    "summary": doc["short_description"],
                    "author": doc["authors"],
                    "tags": doc["category"],
                    "link": doc["link"],
                }
            )
    outlets = json.loads((CORPUS / "rssfeed_15_outlets_2025-05-28.json").read_text("utf-8"))
    for doc in outlets:
        items.append(
            {
                "title": doc.get("title") or "",
                "summary": html_to_text(doc.get("description") or ""),
                "link": doc.get("link") or "",
                "feed": doc.get("source") or "",
            }
        )
    return items


def make_items(count: int, rng: random.Random) -> list[dict[str, str]]:
    real = corpus_items()
    items = real[:count]
    while len(items) < count:  # re-pair titles and summaries: realistic text, new items
        a, b = rng.choice(real), rng.choice(real)
        items.append({**a, "summary": b["summary"]})
    return items


def vocabulary(items: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    words: set[str] = set()
    phrases: list[str] = []
    for item in items[:6000]:
        tokens = normalize(item["title"]).split()
        words.update(t for t in tokens if len(t) > 3 and t.isalpha())
        if len(tokens) >= 3:
            i = random.Random(len(phrases)).randrange(len(tokens) - 1)
            phrases.append(" ".join(tokens[i : i + 2]))
    return sorted(words), phrases


def rule_doc(i: int, kind: str, words: list[str], phrases: list[str], rng: random.Random) -> dict:
    if kind == "phrase":
        terms = [rng.choice(phrases) for _ in range(3)] + [rng.choice(words)]
        return {"match": {"any": terms, "none": [rng.choice(words)]}}
    if kind == "wildcard":
        stem = rng.choice([w for w in words if len(w) >= 6])[:5]
        return {"match": {"all": [f"{stem}*", {"any": [rng.choice(words), rng.choice(phrases)]}]}}
    if kind == "near":
        a, b = rng.choice(words), rng.choice(words)
        return {"match": {"near": {"terms": [a, b], "within": 6}}}
    patterns = [r"\b[A-Z]{2,5}-\d{1,3}\b", r"\$\d+(\.\d+)? (million|billion)", r"\b\d{4} election", r"(?i)covid-?19"]
    return {"match": {"any": [{"regex": patterns[i % len(patterns)]}]}}


def write_rules(folder: Path, n: int, words: list[str], phrases: list[str], mix: bool) -> None:
    rng = random.Random(n)
    for i in range(n):
        if not mix:
            kind = "phrase"
        elif i < REGEXES:
            kind = "regex"
        else:
            kind = rng.choices(["phrase", "wildcard", "near"], weights=[80, 10, 10])[0]
        doc = rule_doc(i, kind, words, phrases, rng)
        (folder / f"r{i:05d}.yaml").write_text(json.dumps(doc) + "\n", encoding="utf-8")


def naive(folder: Path) -> list[re.Pattern[str]]:
    """One regex per rule: its positive terms as alternatives with word boundaries."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        doc = json.loads(path.read_text("utf-8"))["match"]
        terms: list[str] = []

        def walk(node: object) -> None:
            if isinstance(node, str):
                terms.append(node)
            elif isinstance(node, list):
                for n in node:
                    walk(n)
            elif isinstance(node, dict):
                if "regex" in node:
                    terms.append(node["regex"])
                elif "near" in node:
                    walk(node["near"]["terms"])
                else:
                    walk(node.get("any", []))
                    walk(node.get("all", []))

        walk(doc)
        alts = [
            t if t.startswith(("\\", "(", "$")) else r"\b" + re.escape(t).replace(r"\*", r"\w*") + r"\b"
            for t in terms
        ]
        out.append(re.compile("|".join(alts), re.IGNORECASE))
    return out


def per_second(fn, items: list[dict[str, str]]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 items, smaller baseline")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.items
    rng = random.Random(7)
    items = make_items(count, rng)
    words, phrases = vocabulary(items)
    print(f"{len(items)} items, {len(words)} words and {len(phrases)} phrases for rules")
    print(f"{'rules':>7} {'mix':<8} {'load s':>7} {'items/s':>9} {'alerts':>7} "
          f"{'naive items/s':>14} {'speed-up':>9}")  # fmt: skip
    results: dict[tuple[int, bool], float] = {}
    for mix, sizes in ((True, SIZES), (False, (10_000,))):
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                write_rules(folder, n, words, phrases, mix)
                start = time.perf_counter()
                ruleset, problems = load_rules(folder)
                load = time.perf_counter() - start
                assert not problems, problems[:3]
                alerts = 0

                def run(item: dict[str, str], rs: RuleSet = ruleset) -> None:
                    nonlocal alerts
                    alerts += len(rs.match(item, "bench", ()))

                rate = per_second(run, items)
                results[(n, mix)] = rate
                patterns = naive(folder)
                sample = items[: max(50, min(len(items), 2_000_000 // (n * 10)))]

                def slow(item: dict[str, str], ps: list[re.Pattern[str]] = patterns) -> None:
                    text = [v for v in item.values() if v]
                    for p in ps:
                        for t in text:
                            if p.search(t):
                                break

                base = per_second(slow, sample)
                print(f"{n:>7} {'mixed' if mix else 'phrases':<8} {load:>7.2f} {rate:>9,.0f} "
                      f"{alerts:>7} {base:>14,.0f} {rate / base:>8.0f}x")  # fmt: skip
    ratio = results[(10_000, True)] / results[(10, True)]
    print(f"10,000 mixed rules run at {ratio:.2f}x the speed of 10 rules (target >= 0.5)")
    print(f"10,000 phrase rules: {results[(10_000, False)]:,.0f} items/s (target >= 20,000)")
    automaton = Automaton()
    print(f"(empty automaton check: {automaton.find('warm up')})")


if __name__ == "__main__":
    main()
