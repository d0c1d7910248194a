"""POST to a receiver and classify the answer the way docs/reliability.md tabulates it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.httpheaders import parse_retry_after
from monitor.text import clean

if TYPE_CHECKING:
    import httpx  # imported where used: it costs ~0.25 s at start-up (``newsmon check``)

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _snippet(resp: httpx.Response) -> str:
    import httpx  # noqa: PLC0415 - see TYPE_CHECKING above

    try:
        return clean(resp.text, 200)
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""


def classify(resp: httpx.Response, what: str) -> None:
    """Return on 2xx; raise Transient/PermanentDelivery otherwise."""
    status = resp.status_code
    if 200 <= status < 300:
        return
    body = _snippet(resp)
    detail = f"{what} answered HTTP {status}" + (f": {body}" if body else "")
    if status in TRANSIENT_STATUS or status >= 500:
        retry_after = parse_retry_after(resp.headers.get("retry-after"), time.time())
        raise TransientDelivery(detail, retry_after)
    if 300 <= status < 400:
        # Not followed on purpose; counts as a failed attempt (bounded retries).
        raise TransientDelivery(detail + " (redirects are not followed: update the URL)")
    raise PermanentDelivery(detail, disable=status == 410)


async def post(
    client: httpx.AsyncClient,
    url: str,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
    what: str,
) -> httpx.Response:
    """POST with every phase bounded by ``timeout``; transport errors are transient."""
    import httpx  # noqa: PLC0415 - see TYPE_CHECKING above

    try:
        return await client.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise TransientDelivery(f"{what} did not answer within {timeout:g}s") from None
    except httpx.TransportError as exc:
        reason = f"{type(exc).__name__}: {clean(str(exc), 200)}"
        raise TransientDelivery(f"{what} unreachable: {reason}") from None
