"""Which outlet published an item (pure: the suffix list ships inside publicsuffixlist).

In order: the item's own ``<source>`` (aggregators such as Google News name the
publisher there), the feed's ``outlet:`` key, the registrable domain of the item's link
(``en.yna.co.kr`` and ``www.yna.co.kr`` are both ``yna.co.kr``), else the feed's name.
Two feeds of one outlet therefore count as one source.

publicsuffixlist reads the list bundled in its wheel and never fetches one (tldextract
would try the network unless told not to); the list is loaded once, on first use.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def domain_of(url: str | None) -> str | None:
    """Registrable domain of ``url`` ("yna.co.kr"), the bare host for an IP address or a
    single-label host, None when there is no usable host."""
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    if "." not in host:
        return host
    suffix = _psl().privatesuffix(host)
    return suffix if isinstance(suffix, str) else host


def outlet_of(item_source: str | None, feed_outlet: str | None, link: str | None, feed: str) -> str:
    for name in (item_source, feed_outlet):
        if name and name.strip():
            return " ".join(name.split())[:200]
    return domain_of(link) or feed
