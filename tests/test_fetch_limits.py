"""Fetch limits against a misbehaving loopback server: the total deadline, the decoded
size cap (gzip bomb, endless body), redirect loops, truncated bodies, local files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.errors import FetchError, FetchTimeout, ResponseTooLarge, TooManyRedirects
from monitor.feeds.fetch import Fetcher, FetchLimits, is_private_address
from monitor.models import FetchResult
from tests.faults.faultsrv import FaultServer, SilentListener


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def fetch(url: str, **limits: float) -> FetchResult:
    async def go() -> FetchResult:
        fetcher = Fetcher(FetchLimits(**limits))  # type: ignore[arg-type]
        try:
            return await fetcher.fetch(url)
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def test_total_deadline_stops_a_drip_feed(faults: FaultServer) -> None:
    # read_timeout alone never fires: a byte arrives every 0.1 s.
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="total deadline"):
        fetch(faults.url("/drip?rate=10"), timeout=1.5, read_timeout=5)
    assert time.monotonic() - started < 5


def test_silent_server_times_out() -> None:
    with SilentListener() as silent:
        started = time.monotonic()
        with pytest.raises(FetchTimeout):
            fetch(f"http://127.0.0.1:{silent.port}/feed", timeout=10, read_timeout=1)
        assert time.monotonic() - started < 5
        assert silent.accepts == 1


@pytest.mark.slow
def test_gzip_bomb_stops_at_the_decoded_cap(faults: FaultServer) -> None:
    with pytest.raises(ResponseTooLarge, match="too large"):
        fetch(faults.url("/gzipbomb"), max_body=5 * 1024 * 1024)


def test_endless_body_stops_at_the_cap(faults: FaultServer) -> None:
    with pytest.raises(ResponseTooLarge):
        fetch(faults.url("/endless"), max_body=2 * 1024 * 1024)


def test_declared_huge_body_refused_before_reading(faults: FaultServer) -> None:
    with pytest.raises(ResponseTooLarge):
        fetch(faults.url("/huge?mb=20"), max_body=5 * 1024 * 1024)


def test_redirect_loop_is_an_error(faults: FaultServer) -> None:
    with pytest.raises(TooManyRedirects):
        fetch(faults.url("/loop"))


def test_truncated_body_is_never_parsed(faults: FaultServer) -> None:
    with pytest.raises(FetchError, match="broke off"):
        fetch(faults.url("/reset"))


def test_local_file_and_unchanged_file(tmp_path: Path) -> None:
    feed = tmp_path / "f.xml"
    feed.write_bytes(b"<rss/>")

    async def go() -> tuple[FetchResult, FetchResult]:
        fetcher = Fetcher(FetchLimits())
        try:
            first = await fetcher.fetch(str(feed))
            second = await fetcher.fetch(str(feed), last_modified=first.last_modified)
        finally:
            await fetcher.aclose()
        return first, second

    first, second = asyncio.run(go())
    assert first.body == b"<rss/>"
    assert second.not_modified


def test_missing_local_file_is_a_feed_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="cannot read"):
        fetch(str(tmp_path / "nope.xml"))


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("0.0.0.0", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("fc00::1", True),
        ("fe80::1", True),
        ("::ffff:127.0.0.1", True),
        ("93.184.215.14", False),
        ("2606:4700::1111", False),
        ("not-an-ip", True),
    ],
)
def test_private_address_classifier(address: str, private: bool) -> None:
    assert is_private_address(address) is private
