"""Large feeds parse in worker processes with the same result as in-thread parsing; a
parse that overruns its deadline costs only its own feed: its worker is replaced, the
other feeds being parsed at that moment finish normally."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from monitor.errors import FetchTimeout, NotAFeed
from monitor.feeds.parse import parse_feed
from monitor.feeds.parsepool import INLINE_BELOW, ParsePool
from monitor.models import ParsedFeed
from tests.conftest import FEEDS, plain_item, rss

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


def test_overrunning_parse_is_cut_off_and_a_fresh_worker_takes_over(pool: ParsePool) -> None:
    body = BIG.read_bytes()
    with pytest.raises(FetchTimeout, match="parsing took longer"):
        run(pool, body, deadline=0.001)
    assert run(pool, body).items  # the pool still works


def test_an_overrun_costs_only_its_own_feed(pool: ParsePool) -> None:
    """Two large feeds parse at once; one overruns its deadline. Before: the overrun
    terminated the whole pool and the other feed failed too ("parsing took longer than
    20s"). After: only the overrunning feed fails. The other feed's deadline is generous
    (its parse takes seconds, many more on a loaded machine): what matters is that it is
    not cut off when the overrunning one is."""
    slow = rss([plain_item(n) for n in range(10_000)])  # seconds of feedparser work

    async def both() -> tuple[ParsedFeed | BaseException, ...]:
        await pool.parse(BIG.read_bytes(), 60, max_entries=500)  # workers up and warm
        other = asyncio.ensure_future(pool.parse(slow, 100, max_entries=50_000))
        await asyncio.sleep(0.1)  # the other feed is being parsed now
        overrun = asyncio.ensure_future(pool.parse(slow, 0.5, max_entries=50_000))
        return tuple(await asyncio.gather(other, overrun, return_exceptions=True))

    other, overrun = asyncio.run(both())
    assert isinstance(overrun, FetchTimeout), overrun
    assert isinstance(other, ParsedFeed), other
    assert len(other.items) == 10_000
