"""Item identity: guid, canonical link and content hash (pure).

An item is already seen when any of its keys is recorded for its feed (README). The
canonical link lower-cases scheme and host, drops the default port, the fragment and
tracking parameters, so that ``utm_*`` added to a re-published story do not make it new.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.matching.automaton import normalize
from monitor.models import Item, KeyedItem

TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "piwik_", "matomo_", "hsa_", "_hs")
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mkt_tok", "_ga", "_gl", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid",
        "vero_id", "wickedid", "cmpid", "ocid", "ito", "smid", "ref_src", "spm",
        "at_medium", "at_campaign", "cmp",
    }
)  # fmt: skip


def canonical_link(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit drops the brackets
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def story_link(url: str | None) -> str | None:
    """Canonical link without scheme and ``www.``: the same story over http and https."""
    canon = canonical_link(url)
    if canon is None:
        return None
    rest = canon.split("://", 1)[1]
    return rest.removeprefix("www.")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def title_key(title: str) -> str | None:
    norm = normalize(title)
    return _digest(norm) if norm else None


def item_keys(item: Item) -> list[str]:
    """Identity keys, strongest first: guid, canonical link, content hash."""
    keys = []
    if item.guid and item.guid.strip():
        keys.append("g:" + _digest(item.guid.strip()))
    link = story_link(item.link)
    if link:
        keys.append("l:" + _digest(link))
    text = normalize(item.title) + "\n" + normalize(item.summary)
    if text.strip():
        keys.append("h:" + _digest(text))
    return keys


def keyed(item: Item) -> KeyedItem:
    """The whole identity policy for one item: its seen-keys and its story keys."""
    return KeyedItem(item, tuple(item_keys(item)), story_link(item.link), title_key(item.title))
