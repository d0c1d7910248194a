"""Every real-world feed fixture goes through fetch + parse over real HTTP without an
unhandled exception; broken ones give one clear per-feed error and the others alert."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from monitor.errors import NotAFeed
from monitor.feeds.fetch import Fetcher, FetchLimits
from monitor.feeds.parse import parse_feed
from monitor.models import ParsedFeed
from tests.conftest import END_OF_WAR_RULE, FEEDS, SEED_XML, Workspace, base_config
from tests.servers import FeedServer, WebhookReceiver

FIXTURES = sorted(p for p in FEEDS.iterdir() if p.name != "SOURCES.md")
BROKEN = {"broken_allthis_truncated.json", "broken_reuters-mostread.xml"}


def content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/feed+json"
    if name.endswith(".gz"):
        return "application/octet-stream"  # a gzip file served without Content-Encoding
    return "application/xml"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def test_fixture_count_matches_sources() -> None:
    listed = set(re.findall(r"^\| `([^`]+)` \|", (FEEDS / "SOURCES.md").read_text(), re.M))
    assert {p.name for p in FIXTURES} <= listed
    assert len(FIXTURES) >= 60


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_parses_or_fails_cleanly(path: Path, feed_server: FeedServer) -> None:
    name = path.name
    feed_server.put("/" + name, path.read_bytes(), content_type(name))

    async def go() -> ParsedFeed:
        fetcher = Fetcher(FetchLimits(timeout=10))
        try:
            fetched = await fetcher.fetch(feed_server.url("/" + name))
        finally:
            await fetcher.aclose()
        assert fetched.body is not None
        return parse_feed(fetched.body, content_type=fetched.content_type, url=fetched.final_url)

    if name in BROKEN:
        with pytest.raises(NotAFeed):
            asyncio.run(go())
        return
    parsed = asyncio.run(go())
    items = parsed.items
    assert items, f"{name}: no items"
    for item in items:
        assert item.title or item.summary or item.link
        assert "\x00" not in item.title
        assert item.link is None or item.link.startswith(("http://", "https://"))


@pytest.mark.slow
def test_all_fixtures_in_one_run_broken_ones_reported_others_alert(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feeds = []
    for path in [*FIXTURES, SEED_XML]:
        feed_server.put("/" + path.name, path.read_bytes(), content_type(path.name))
        feeds.append(
            {"name": slug(path.name), "url": feed_server.url("/" + path.name), "backfill": True}
        )
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    config = base_config(feeds, receiver.url())
    workspace.write_config(config)
    result = workspace.run("once", timeout=120)
    assert result.returncode == 1  # the two broken fixtures failed
    assert "Traceback" not in result.stderr
    failed = re.findall(r"WARNING feed (\S+): ", result.stderr)
    assert sorted(failed) == sorted(slug(n) for n in BROKEN)
    assert receiver.wait_for(1)
    titles = [r.json()["item"]["title"] for r in receiver.received]
    assert "S. Korea, US in active discussion over end of war declaration: Envoy" in titles
    with sqlite3.connect(workspace.db) as conn:
        ok = conn.execute("SELECT count(*) FROM feeds WHERE last_status = 'ok'").fetchone()[0]
    assert ok == len(feeds) - len(BROKEN)
