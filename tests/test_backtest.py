"""``newsmon backtest`` over a database filled from the headline corpora in tests/data,
through the real command line; the expected answer is computed independently by matching
the corpus items in memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from monitor.feeds.identity import keyed
from monitor.matching.automaton import Automaton
from monitor.matching.rules import RuleSet, load_rule
from monitor.models import Item
from monitor.store import Store

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "corpus"
DAY = 86400.0

CONFIG = """\
feeds:
  - {name: hp-world, url: feeds/w.xml, tags: [world]}
  - {name: hp-politics, url: feeds/p.xml, tags: [us]}
  - {name: outlets, url: feeds/o.xml, tags: [world]}
notifiers:
  term: {kind: console}
defaults:
  notify: [term]
"""
NEW_RULE = "match:\n  any: [korea*, kim jong*, pyongyang]\n  none: [olympic*, k-pop]\n"
OLD_RULE = "match: [north korea, south korea, kim jong un, k-pop]\n"
SCOPED_RULE = 'match: [north korea, kim jong*, pyongyang]\nfeeds: ["tag:world"]\n'


def corpus() -> dict[str, list[Item]]:
    feeds: dict[str, list[Item]] = {"hp-world": [], "hp-politics": [], "outlets": []}
    path = CORPUS / "huffpost_news_category_v3_first10k.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        feed = "hp-world" if doc["category"] == "WORLD NEWS" else "hp-politics"
        feeds[feed].append(
            Item(doc["headline"], doc["short_description"], "", doc["link"], doc["link"], None,
                 author=doc["authors"], tags=(doc["category"],))
        )  # fmt: skip
    outlets = json.loads((CORPUS / "rssfeed_15_outlets_2025-05-28.json").read_text("utf-8"))
    for doc in outlets:
        feeds["outlets"].append(
            Item(doc["title"] or "", doc["description"] or "", "", doc["link"], doc["id"], None)
        )
    return {name: unique(items) for name, items in feeds.items()}


def unique(items: list[Item]) -> list[Item]:
    """Drop repeats the way the store would (same link, or same title and summary), so
    every item written is stored and the expected counts are exact."""
    seen: set[object] = set()
    out = []
    for item in items:
        text = (
            " ".join(item.title.casefold().split())
            + "|"
            + " ".join(item.summary.casefold().split())
        )
        keys = {item.link, text}
        if seen.isdisjoint(keys):
            out.append(item)
        seen.update(keys)
    return out


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Item]]]:
    """A config and a database: half of each feed first seen 40 days ago, half now."""
    root = tmp_path_factory.mktemp("backtest")
    (root / "rules").mkdir()
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "new.yaml").write_text(NEW_RULE, encoding="utf-8")
    (root / "old.yaml").write_text(OLD_RULE, encoding="utf-8")
    (root / "scoped.yaml").write_text(SCOPED_RULE, encoding="utf-8")
    (root / "state").mkdir()
    store = Store(root / "state" / "newsmon.db", lock=False)
    feeds = corpus()
    store.sync_feeds([(name, f"feeds/{name}.xml") for name in feeds], 0)
    now = time.time()
    recent: dict[str, list[Item]] = {}
    for name, items in feeds.items():
        half = len(items) // 2
        for when, batch in ((now - 40 * DAY, items[:half]), (now, items[half:])):
            store.record_poll(
                name, [keyed(i) for i in batch], lambda _: [], now=when, alert=False,
                title_window=7 * DAY, next_check_at=when, etag=None, last_modified=None,
            )  # fmt: skip
        recent[name] = items[half:]  # the 2018 half: the inter-Korean summits
    store.close()
    return root, recent


def newsmon(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(root / "config.yaml"), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def matcher(path: Path) -> RuleSet:
    automaton = Automaton()
    return RuleSet([load_rule(path, automaton)], automaton)


def expected(root: Path, recent: dict[str, list[Item]], rule: str) -> Counter[str]:
    ruleset = matcher(root / rule)
    return Counter(
        name for name, items in recent.items() for i in items if ruleset.match(i.fields(name))
    )


def test_backtest_json_counts_per_feed(installation: tuple[Path, dict[str, list[Item]]]) -> None:
    root, recent = installation
    result = newsmon(root, "backtest", str(root / "new.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"scanned", "matched", "by_feed", "examples"}
    assert doc["scanned"] == sum(len(v) for v in recent.values())
    want = expected(root, recent, "new.yaml")
    assert doc["by_feed"] == dict(want)
    assert doc["matched"] == sum(want.values()) > 20
    assert 0 < len(doc["examples"]) <= 10
    for example in doc["examples"]:
        assert set(example) == {"feed", "title", "url"}
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_backtest_against_lists_every_gain_and_loss(
    installation: tuple[Path, dict[str, list[Item]]],
) -> None:
    root, recent = installation
    result = newsmon(
        root, "backtest", str(root / "new.yaml"), "--against", str(root / "old.yaml"), "--json"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    new, old = matcher(root / "new.yaml"), matcher(root / "old.yaml")
    gained, lost = set(), set()
    for name, items in recent.items():
        for item in items:
            a, b = bool(new.match(item.fields(name))), bool(old.match(item.fields(name)))
            if a and not b:
                gained.add(item.link)
            if b and not a:
                lost.add(item.link)
    assert {g["url"] for g in doc["gained"]} == gained
    assert len(doc["gained"]) == len(gained) > 10  # complete, not a sample
    assert {g["url"] for g in doc["lost"]} == lost
    assert lost  # the veto drops some


def test_backtest_since_and_scope(installation: tuple[Path, dict[str, list[Item]]]) -> None:
    root, recent = installation
    everything = json.loads(
        newsmon(root, "backtest", str(root / "new.yaml"), "--since", "60d", "--json").stdout
    )
    assert everything["scanned"] == sum(len(v) for v in corpus().values())
    scoped = json.loads(newsmon(root, "backtest", str(root / "scoped.yaml"), "--json").stdout)
    assert set(scoped["by_feed"]) <= {"hp-world", "outlets"}
    assert scoped["by_feed"]["hp-world"] == expected(root, recent, "scoped.yaml")["hp-world"]


def test_backtest_text_report(installation: tuple[Path, dict[str, list[Item]]]) -> None:
    root, _ = installation
    result = newsmon(root, "backtest", str(root / "new.yaml"), "--against", str(root / "old.yaml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("scanned 54")
    assert " items from the last 30d; " in lines[0]
    assert "per feed:" in lines
    assert "newest examples:" in lines
    assert any(line.startswith("gained against the old rule: ") for line in lines)


def test_backtest_errors(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "r.yaml").write_text("match: ['de*']\n", encoding="utf-8")
    broken = newsmon(tmp_path, "backtest", str(tmp_path / "r.yaml"))
    assert broken.returncode == 2
    assert "r.yaml:1:9: match[0]: term 'de*': a wildcard needs at least 3 letters" in broken.stderr
    (tmp_path / "r.yaml").write_text("match: [korea]\n", encoding="utf-8")
    missing = newsmon(tmp_path, "backtest", str(tmp_path / "r.yaml"))
    assert missing.returncode == 2
    assert "no database at" in missing.stderr
    bad_since = newsmon(tmp_path, "backtest", str(tmp_path / "r.yaml"), "--since", "soon")
    assert bad_since.returncode == 2
    assert "--since" in bad_since.stderr
