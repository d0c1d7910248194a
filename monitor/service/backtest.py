"""``newsmon backtest``: what a rule would have caught among the items already stored.

Items keep their text for ``retention.items`` (store/items.py). A backtest reads them
newest first, matches each against the rule (and ``--against`` an older version) without
evidence, and counts: how many would have alerted, per feed, the newest examples, and
with ``--against`` the complete lists of items gained and lost.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from monitor.config import Config
from monitor.errors import StateError
from monitor.matching.automaton import Automaton
from monitor.matching.rules import Rule, RuleSet, load_rule
from monitor.matching.ruletree import evaluate
from monitor.matching.scan import ItemScan
from monitor.store import Store, StoredItem

EXAMPLES = 10


@dataclass
class BacktestResult:
    scanned: int = 0
    matched: int = 0
    by_feed: Counter[str] = field(default_factory=Counter)
    examples: list[StoredItem] = field(default_factory=list)
    gained: list[StoredItem] | None = None
    lost: list[StoredItem] | None = None

    def document(self) -> dict[str, Any]:
        """The ``--json`` document (README "Backtesting a rule")."""
        doc: dict[str, Any] = {
            "scanned": self.scanned,
            "matched": self.matched,
            "by_feed": dict(self.by_feed.most_common()),
            "examples": [_example(i) for i in self.examples],
        }
        if self.gained is not None and self.lost is not None:
            doc["gained"] = [_example(i) for i in self.gained]
            doc["lost"] = [_example(i) for i in self.lost]
        return doc


def _example(item: StoredItem) -> dict[str, Any]:
    return {"feed": item.feed, "title": item.title, "url": item.link}


class _Matcher:
    """One rule, scoped to feeds the way the daemon scopes it, evaluated on a scan."""

    def __init__(self, rule: Rule, config: Config | None) -> None:
        self.rule = rule
        self.tags = {f.name: tuple(f.tags) for f in config.feeds} if config else {}

    def __call__(self, item: StoredItem, scan: ItemScan) -> bool:
        if self.rule.feeds and not self.rule.applies_to(item.feed, self.tags.get(item.feed, ())):
            return False
        return evaluate(self.rule.root, scan, self.rule.fields, [])


def backtest(
    items: Iterable[StoredItem],
    rules: RuleSet,
    new: Rule,
    old: Rule | None = None,
    config: Config | None = None,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Match stored items (newest first) against ``new`` and, if given, ``old``. Both
    rules share one automaton, so each item is normalized and scanned once."""
    result = BacktestResult()
    matches_new = _Matcher(new, config)
    matches_old = _Matcher(old, config) if old else None
    if old is not None:
        result.gained, result.lost = [], []
    read = set(new.fields) | set(old.fields if old else ())
    for item in items:
        result.scanned += 1
        scan = rules.scan({k: v for k, v in item.fields.items() if k in read and v})
        hit = matches_new(item, scan)
        if hit:
            result.matched += 1
            result.by_feed[item.feed] += 1
            if len(result.examples) < EXAMPLES:
                result.examples.append(item)
        if matches_old is not None:
            was = matches_old(item, scan)
            if hit and not was:
                assert result.gained is not None
                result.gained.append(item)
            elif was and not hit:
                assert result.lost is not None
                result.lost.append(item)
        if progress is not None:
            progress(1)
    return result


def render(result: BacktestResult, since: str) -> list[str]:
    """The text report: totals, per feed, newest examples, gained and lost."""
    lines = [
        f"scanned {result.scanned} items from the last {since}; {result.matched} would have alerted"
    ]
    if result.by_feed:
        lines.append("per feed:")
        width = max(len(name) for name in result.by_feed)
        lines += [f"  {name:<{width}}  {n}" for name, n in result.by_feed.most_common()]
    if result.examples:
        lines.append("newest examples:")
        lines += [_line(i) for i in result.examples]
    for label, found in (("gained", result.gained), ("lost", result.lost)):
        if found is None:
            continue
        lines.append(f"{label} against the old rule: {len(found)}")
        lines += [_line(i) for i in found]
    return lines


def _line(item: StoredItem) -> str:
    when = item.published or ""
    url = f"  {item.link}" if item.link else ""
    return f"  [{item.feed}] {item.title or '(no title)'} {when}".rstrip() + url


def load_pair(path: Path, against: Path | None) -> tuple[RuleSet, Rule, Rule | None]:
    """Both versions in one automaton (they may share an id: they are evaluated apart)."""
    automaton = Automaton()
    new = load_rule(path, automaton, str(path))
    old = load_rule(against, automaton, str(against)) if against is not None else None
    return RuleSet([new], automaton), new, old


def run(
    config: Config,
    rule_file: Path,
    since: float,
    against: Path | None,
    *,
    progress: bool,
) -> BacktestResult:
    """Open the database, match every item first seen in the last ``since`` seconds."""
    rules, new, old = load_pair(rule_file, against)
    if not config.database.exists():
        raise StateError(
            f"no database at {config.database}: newsmon has not polled yet (run newsmon once)"
        )
    store = Store(config.database, lock=False)
    try:
        start = time.time() - since
        items = store.items_since(start)
        if not progress:
            return backtest(items, rules, new, old, config)
        total = store.count_items(start)
        with click.progressbar(length=total, label="backtest", file=sys.stderr) as bar:
            return backtest(items, rules, new, old, config, bar.update)
    finally:
        store.close()
