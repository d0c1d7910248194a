"""HTTP caching and retry headers as seconds (pure): shared by feeds and notifiers."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def parse_max_age(cache_control: str | None, expires: str | None, now: float) -> float | None:
    """Freshness lifetime from ``Cache-Control: max-age`` or, failing that, ``Expires``."""
    if cache_control:
        match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cache_control, re.IGNORECASE)
        if match:
            return float(match.group(1))
    if expires:
        return parse_retry_after(expires, now)
    return None
