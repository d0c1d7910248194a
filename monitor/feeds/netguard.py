"""The redirect guard inside the connect path (closes the DNS-rebinding gap).

fetch.py refuses a redirect from a public address to a private one by resolving the
target's name. A name can resolve differently a moment later, when httpcore connects
(DNS rebinding). So on hops that must stay public, this network backend resolves the
name itself, checks every address, and connects to the checked address: what was
checked is what is connected to (docs/reliability.md, Miniflux's dialer check). TLS
still verifies the certificate against the original host name.

httpx 0.28 does not take a network backend, so ``GuardedTransport`` rebuilds the
transport's connection pool with one; tests/test_netguard.py breaks if that changes.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import typing

import httpcore
import httpx

from monitor.errors import RedirectRefused

# True while the current request is a redirect hop that must reach only public addresses.
PUBLIC_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("public_only", default=False)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, is_private: typing.Callable[[str], bool]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._is_private = is_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if PUBLIC_ONLY.get():
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
            addresses = [str(info[4][0]) for info in infos]
            private = [a for a in addresses if self._is_private(a)]
            if private or not addresses:
                raise RedirectRefused(
                    f"redirect to a private address refused ({host} -> {private[0]})"
                    if private
                    else f"redirect target {host} has no address"
                )
            host = addresses[0]
        return await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with the guarded backend under its connection pool."""

    def __init__(self, limits: httpx.Limits, is_private: typing.Callable[[str], bool]) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(is_private),
        )
