"""Large feeds parse in worker processes with the same result as in-thread parsing; a
parse that overruns its deadline costs the pool (rebuilt), not the caller."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from monitor.errors import FetchTimeout, NotAFeed
from monitor.feeds.parse import parse_feed
from monitor.feeds.parsepool import INLINE_BELOW, ParsePool
from monitor.models import ParsedFeed
from tests.conftest import FEEDS

BIG = FEEDS / "rss2_time-world_100items.xml"  # 1 MB: goes to the worker processes


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    parser = ParsePool(workers=2)
    yield parser
    parser.close()


def run(pool: ParsePool, body: bytes, deadline: float = 60) -> ParsedFeed:
    return asyncio.run(pool.parse(body, deadline, max_entries=500))


def test_big_feed_parses_in_a_worker_like_in_process(pool: ParsePool) -> None:
    body = BIG.read_bytes()
    assert len(body) >= INLINE_BELOW
    assert run(pool, body) == parse_feed(body, max_entries=500)
    assert pool._pool is not None  # the worker pool was used


def test_worker_errors_come_back_as_feed_errors(pool: ParsePool) -> None:
    body = b"<html><body>" + b"<p>not a feed</p>" * 10_000 + b"</body></html>"
    assert len(body) >= INLINE_BELOW
    with pytest.raises(NotAFeed):
        run(pool, body)


def test_overrunning_parse_is_cut_off_and_the_pool_rebuilt(pool: ParsePool) -> None:
    body = BIG.read_bytes()
    with pytest.raises(FetchTimeout, match="parsing took longer"):
        run(pool, body, deadline=0.001)
    assert pool._pool is None  # terminated
    assert run(pool, body).items  # and a fresh pool works
