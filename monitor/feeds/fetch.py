"""Fetch a feed: conditional GET with a total deadline, a decoded-size cap and guarded
redirects; local paths are read from disk.

Why not just ``httpx.get(..., timeout=...)``: httpx timeouts are per operation, so a server
dripping one byte per second holds a request forever (docs/reliability.md). The whole
fetch runs under ``asyncio.timeout``. Decompression is done here, from ``aiter_raw``, with
``max_length`` so that a 1 MB gzip bomb stops at the cap instead of inflating a 67 MB chunk.
Redirects are followed by hand (at most ``max_redirects``) so each hop can be checked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import os
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from monitor.errors import (
    FeedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RedirectRefused,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitor.feeds.netguard import PUBLIC_ONLY, GuardedTransport
from monitor.httpheaders import parse_max_age, parse_retry_after
from monitor.models import FetchResult
from monitor.text import clean

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_body: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "newsmon"
    allow_private_redirects: bool = False


# Tests mark loopback addresses as "public" with this variable to exercise the redirect
# guard without sending traffic anywhere but 127.0.0.1 (docs/reliability.md).
TEST_PUBLIC_ENV = "NEWSMON_TEST_PUBLIC_ADDRESSES"


def is_private_address(address: str) -> bool:
    """Loopback, RFC 1918, ULA, link-local, unspecified, multicast or reserved."""
    if address in os.environ.get(TEST_PUBLIC_ENV, "").split(","):
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
    )


async def _host_is_private(host: str) -> bool:
    """True if any address the host resolves to is private (unresolvable: not private;
    the connection attempt will fail on its own)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return is_private_address(host.strip("[]"))
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(is_private_address(str(info[4][0])) for info in infos)


def _redirect_target(source: httpx.URL, location: str) -> httpx.URL:
    """The absolute URL a Location names, checked the way the next request will use it
    (httpx.InvalidURL, idna.IDNAError and the like are not httpx.HTTPError)."""
    try:
        target = source.join(location)
        httpx.Request("GET", target)  # encodes the host (IDNA) as the next hop would
    except Exception as exc:
        raise RedirectRefused(
            f"redirect to an invalid URL refused ({clean(location, 80)!r}: {exc})"
        ) from None
    return target


async def _check_location(response: httpx.Response) -> None:
    if response.has_redirect_location:
        _redirect_target(response.request.url, response.headers["location"])


def _root_causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _describe_connect_error(exc: Exception, host: str) -> str:
    """httpx says "All connection attempts failed"; the useful reason is further down."""
    for cause in _root_causes(exc):
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host {host!r} (DNS lookup failed)"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate of {host} not trusted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error with {host}: {cause.reason or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"network unreachable for {host}"
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "name or service not known" in low or "name resolution" in low:
        return f"cannot resolve host {host!r} (DNS lookup failed)"
    if "certificate" in low or "ssl" in low:
        return f"TLS error with {host}: {text}"
    return f"cannot connect to {host}: {text}"


class Fetcher:
    """One shared HTTP client; ``fetch`` may run concurrently for different feeds."""

    def __init__(self, limits: FetchLimits, transport: httpx.AsyncBaseTransport | None = None):
        self.limits = limits
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=limits.connect_timeout,
                read=limits.read_timeout,
                write=limits.read_timeout,
                pool=limits.timeout,
            ),
            headers={
                "User-Agent": limits.user_agent,
                "Accept": ACCEPT,
                # Only encodings decoded below, under the size cap.
                "Accept-Encoding": "gzip, deflate",
            },
            # httpx builds the next request of a redirect even when not following it, and
            # an unparseable Location (IDNA, bad port) raises there: check it first.
            event_hooks={"response": [_check_location]},
            transport=transport
            or GuardedTransport(
                httpx.Limits(max_connections=10, max_keepalive_connections=10), is_private_address
            ),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(
        self, source: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        if not source.startswith(("http://", "https://")):
            return await asyncio.to_thread(self._read_file, Path(source), last_modified)
        try:
            async with asyncio.timeout(self.limits.timeout):
                return await self._fetch_http(source, etag, last_modified)
        except TimeoutError:
            raise FetchTimeout(
                f"timed out after {self.limits.timeout:g}s (total deadline)"
            ) from None
        except FeedError:
            raise
        except Exception as exc:
            # Whatever a server's answer makes httpx, h11 or idna raise is this feed's
            # failure (recorded, backed off), never an escape into the poll loop.
            raise FetchError(f"unexpected failure fetching: {type(exc).__name__}: {exc}") from None

    def _read_file(self, path: Path, last_modified: str | None) -> FetchResult:
        try:
            stat = path.stat()
            validator = f"file:{stat.st_mtime_ns}:{stat.st_size}"
            if validator == last_modified:
                return FetchResult(body=None, final_url=str(path), status=304)
            if stat.st_size > self.limits.max_body:
                raise ResponseTooLarge(
                    f"file too large: {stat.st_size} bytes (limit {self.limits.max_body})"
                )
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
        return FetchResult(body=body, final_url=str(path), last_modified=validator)

    async def _fetch_http(
        self, url: str, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = {url}
        codes: list[int] = []
        public_only = False  # once a chain has passed a public host, it must stay public
        for _hop in range(self.limits.max_redirects + 1):
            request_url = httpx.URL(url)
            host = request_url.host
            token = PUBLIC_ONLY.set(public_only)
            try:
                async with self.client.stream("GET", request_url, headers=headers) as resp:
                    if resp.status_code in _REDIRECTS and "location" in resp.headers:
                        target_url = _redirect_target(request_url, resp.headers["location"])
                        target = str(target_url)
                        public_only = await self._check_redirect(request_url, target_url)
                        if target in seen:
                            raise TooManyRedirects(f"too many redirects: loop back to {target}")
                        seen.add(target)
                        codes.append(resp.status_code)
                        url = target
                        continue
                    result = await self._result(resp)
                    return dataclasses.replace(result, redirects=tuple(codes))
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"timed out talking to {host} ({type(exc).__name__})") from None
            except httpx.ConnectError as exc:
                raise FetchError(_describe_connect_error(exc, host)) from None
            except httpx.RemoteProtocolError as exc:
                raise FetchError(f"connection to {host} broke off mid-response: {exc}") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"HTTP error with {host}: {exc}") from None
            finally:
                PUBLIC_ONLY.reset(token)
        raise TooManyRedirects(f"too many redirects (more than {self.limits.max_redirects})")

    async def _check_redirect(self, source: httpx.URL, target: httpx.URL) -> bool:
        """Refuse a hop from a public host to a private one; return whether the next
        connection must be checked to reach only public addresses (netguard.py)."""
        if target.scheme not in ("http", "https"):
            raise RedirectRefused(f"redirect to a non-HTTP URL refused ({target.scheme}:)")
        if self.limits.allow_private_redirects:
            return False
        source_public = not await _host_is_private(source.host)
        if source_public and await _host_is_private(target.host):
            raise RedirectRefused(
                f"redirect to a private address refused ({target.host}); configure that URL "
                "directly if it is meant"
            )
        return source_public

    async def _result(self, resp: httpx.Response) -> FetchResult:
        now = time.time()
        status = resp.status_code
        if status == 304:
            return FetchResult(
                body=None,
                final_url=str(resp.url),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                status=304,
                max_age=parse_max_age(
                    resp.headers.get("cache-control"), resp.headers.get("expires"), now
                ),
            )
        if not 200 <= status < 300:
            retry_after = parse_retry_after(resp.headers.get("retry-after"), now)
            reason = resp.reason_phrase or "error"
            raise HTTPStatusError(status, f"HTTP {status} {reason}", retry_after)
        body = await self._read_capped(resp)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        expires_zero = headers.get("expires", "").strip() == "0"
        return FetchResult(
            body=body,
            final_url=str(resp.url),
            content_type=headers.get("content-type", ""),
            etag=None if expires_zero else headers.get("etag"),
            last_modified=None if expires_zero else headers.get("last-modified"),
            max_age=parse_max_age(headers.get("cache-control"), headers.get("expires"), now),
            status=status,
            headers=headers,
        )

    async def _read_capped(self, resp: httpx.Response) -> bytes:
        cap = self.limits.max_body
        too_large = ResponseTooLarge(f"response too large: more than {cap} bytes")
        encoding = resp.headers.get("content-encoding", "").strip().lower()
        inflater = None
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding not in ("", "identity"):
            raise FetchError(f"unsupported Content-Encoding {encoding!r}")
        declared = resp.headers.get("content-length", "")
        if inflater is None and declared.isdigit() and int(declared) > cap:
            raise too_large
        out = bytearray()
        try:
            async for chunk in resp.aiter_raw():
                if inflater is None:
                    out += chunk
                else:
                    data = chunk
                    while data and len(out) <= cap:
                        out += inflater.decompress(data, cap + 1 - len(out))
                        data = inflater.unconsumed_tail
                if len(out) > cap:
                    raise too_large
        except zlib.error as exc:
            raise FetchError(f"broken {encoding} body: {exc}") from None
        return bytes(out)
