"""``newsmon test-rule``: one rule against free text, a JSON item file or a live feed, with
every hit, miss, veto and ``near`` window explained."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, FeedError, Problem
from monitor.feeds.fetch import Fetcher, FetchLimits
from monitor.feeds.parse import parse_feed
from monitor.matching.evidence import collect
from monitor.matching.rules import Rule, RuleSet
from monitor.matching.ruletree import Fired, evaluate, explain
from monitor.models import Item

ITEM_KEYS = ("title", "summary", "content", "link", "author", "tags", "feed")


def item_from_json(path: Path) -> dict[str, str]:
    """An item file: a JSON object with any of title, summary, content, link, author,
    tags (a list or a string) and feed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([Problem(str(path), None, None, "", f"cannot read item: {exc}")]) from exc
    if not isinstance(doc, dict):
        raise ConfigError([Problem(str(path), None, None, "", "an item file holds a JSON object")])
    unknown = [k for k in doc if k not in ITEM_KEYS]
    if unknown:
        raise ConfigError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    unknown[0],
                    f"unknown key (an item has {', '.join(ITEM_KEYS)})",
                )
            ]
        )
    fields: dict[str, str] = {}
    for key in ITEM_KEYS:
        value: Any = doc.get(key) or ""
        if isinstance(value, list):
            value = " ; ".join(str(v) for v in value)
        fields[key] = str(value)
    return fields


def items_from_url(url: str, timeout: float = 30.0) -> list[tuple[Item, str]]:
    """Fetch and parse one feed (http(s) URL or local file); each item with its feed label."""

    async def fetch() -> bytes:
        fetcher = Fetcher(FetchLimits(timeout=timeout, user_agent="newsmon test-rule"))
        try:
            result = await fetcher.fetch(url)
        finally:
            await fetcher.aclose()
        return result.body or b""

    try:
        body = asyncio.run(fetch())
        parsed = parse_feed(body, url=url)
    except FeedError as exc:
        raise ConfigError([Problem(url, None, None, "", str(exc))]) from exc
    return [(item, parsed.title) for item in parsed.items]


def report(ruleset: RuleSet, rule: Rule, fields: dict[str, str]) -> tuple[bool, list[str]]:
    """Verdict and the lines that explain it (matched terms, evidence, the clause tree)."""
    scan = ruleset.scan(fields)
    fired: Fired = []
    ok = evaluate(rule.root, scan, rule.fields, fired)
    lines = [f"{'MATCH' if ok else 'NO MATCH'}: rule {rule.id} ({rule.title})"]
    if ok:
        names = dict.fromkeys(
            t.written for leaf, _ in fired for t in getattr(leaf, "terms", (leaf,))
        )
        lines.append("matched terms: " + ", ".join(repr(m) for m in names))
        for found in collect(fired, scan):
            lines.append(f"  {found.clause} {found.term!r} in {found.field}: {found.snippet}")
    lines.append("match:")
    lines.extend(explain(rule.root, scan, rule.fields))
    return ok, lines


def text_fields(rule: Rule, text: str, field: str) -> dict[str, str]:
    names = rule.fields if field == "any" else (field,)
    return dict.fromkeys(names, text)


def feed_items(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    for item, title in items_from_url(url):
        yield item.title or item.link or "(untitled)", item.fields(title)
