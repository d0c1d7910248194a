"""DNS rebinding: a redirect target that resolves to a public address when checked and
to a private one when connected is refused inside the connect path, and the private
server sees nothing. In-process, with the resolver patched: no DNS query leaves here."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.errors import RedirectRefused
from monitor.feeds.fetch import TEST_PUBLIC_ENV, Fetcher, FetchLimits
from monitor.models import FetchResult
from tests.faults.hosts import Answer, HostServer
from tests.servers import FeedServer


@pytest.fixture
def private_target() -> Iterator[HostServer]:
    with HostServer("127.0.0.2", default=Answer(body=b"<rss/>")) as server:
        yield server


def fetch(url: str) -> FetchResult:
    async def go() -> FetchResult:
        fetcher = Fetcher(FetchLimits(timeout=10))
        try:
            return await fetcher.fetch(url)
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def test_rebinding_between_check_and_connect_is_refused(
    monkeypatch: pytest.MonkeyPatch, feed_server: FeedServer, private_target: HostServer
) -> None:
    # 127.0.0.1 (the first hop) counts as public; the redirect target name first resolves
    # to that public address (the hostname check passes), then to 127.0.0.2 (private).
    monkeypatch.setenv(TEST_PUBLIC_ENV, "127.0.0.1")
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.2"])
    real = asyncio.BaseEventLoop.getaddrinfo

    async def fake(self: Any, host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host == "rebind.test":
            ip = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 0))]
        return await real(self, host, port, *args, **kw)

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", fake)
    feed_server.redirect("/feed", f"http://rebind.test:{private_target.port}/x", 302)
    with pytest.raises(RedirectRefused, match="private address refused"):
        fetch(feed_server.url("/feed"))
    assert private_target.hits == []


def test_public_redirect_target_is_connected_by_its_checked_address(
    monkeypatch: pytest.MonkeyPatch, feed_server: FeedServer, private_target: HostServer
) -> None:
    # Same set-up, but 127.0.0.2 also counts as public: the hop is followed and connects
    # to the address that was checked (the name itself never resolves for real).
    monkeypatch.setenv(TEST_PUBLIC_ENV, "127.0.0.1,127.0.0.2")
    real = asyncio.BaseEventLoop.getaddrinfo

    async def fake(self: Any, host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host == "rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port or 0))]
        return await real(self, host, port, *args, **kw)

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", fake)
    feed_server.redirect("/feed", f"http://rebind.test:{private_target.port}/x", 302)
    result = fetch(feed_server.url("/feed"))
    assert result.body == b"<rss/>"
    assert [hit.headers.get("host") for hit in private_target.hits] == [
        f"rebind.test:{private_target.port}"
    ]
