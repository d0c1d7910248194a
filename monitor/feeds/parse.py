"""Bytes of a feed document -> plain-text items (pure: no files, no network).

Two measured hazards shape this module (docs/reliability.md):

* ``feedparser.parse(str_or_bytes)`` opens local paths and fetches URLs named by the
  data itself, so the body is only ever handed over as ``io.BytesIO``.
* feedparser's loose parser expands "safe" DTD entities without limit: a 171 KB feed
  grows into a 2-billion-character title. ``refuse_entities`` rejects any document whose
  head (the part feedparser harvests entities from, in feedparser's own transcoding)
  declares an entity. It mirrors feedparser 6.0.x internals, hence the version pin.
"""

from __future__ import annotations

import calendar
import io
import re
import time
import zlib
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.namespaces._base import Namespace
from feedparser.urls import _urljoin

from monitor.errors import FeedRefused, NotAFeed, ResponseTooLarge
from monitor.feeds.jsonfeed import SUMMARY_LIMIT, TITLE_LIMIT, looks_like_json, parse_json_feed
from monitor.models import Item, ParsedFeed
from monitor.text import clean, html_to_text, safe_url

_HEAD_END = re.compile(rb"<\w")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def refuse_entities(body: bytes, headers: dict[str, str]) -> None:
    """Raise ``FeedRefused`` if the document head declares XML entities."""
    utf8 = convert_to_utf8(dict(headers), body, {})
    if not isinstance(utf8, bytes):  # feedparser returns the bytes it would parse
        utf8 = body
    match = _HEAD_END.search(utf8)
    head = utf8[: match.start()] if match else utf8
    if _ENTITY.search(head):
        raise FeedRefused("feed declares XML entities (<!ENTITY); refused")


_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_ROOT = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF|rdf))[\s>]")


def cap_entries(body: bytes, max_entries: int) -> bytes:
    """Cut a document with more than ``max_entries`` items before feedparser sees it.

    feedparser builds every entry before the cap could apply (100,000 entries in a
    10 MB feed: 40 s and 200 MB). The cut falls just before the first extra item, where
    everything before it is complete, and the root is closed again. Documents this
    cannot read (UTF-16, odd layouts) are left whole: the body cap still bounds them."""
    starts = _ENTRY_START.finditer(body)
    cut = None
    for n, match in enumerate(starts):
        if n == max_entries:
            cut = match.start()
            break
    if cut is None:
        return body
    root = _ROOT.search(body)
    if root is None:
        return body
    name = root.group(1)
    closing = b"</channel></" + name + b">" if name.endswith(b"rss") else b"</" + name + b">"
    return body[:cut] + closing


def gunzip_if_needed(body: bytes, cap: int) -> bytes:
    """Some servers send a gzip file without Content-Encoding: inflate it, bounded."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        raise NotAFeed(f"not a feed: broken gzip data ({exc})") from None
    if len(out) > cap:
        raise ResponseTooLarge(f"response too large: more than {cap} bytes once inflated")
    return out


_ID_IS_URL = "newsmon_id_is_url"


def _remember_url_ids() -> None:
    """Record per entry whether feedparser would have resolved its id as a URL.

    feedparser resolves a ``<guid>``/``<id>`` against the base when the element is a
    permalink (no ``isPermaLink="false"``), but keeps that fact only until a ``<link>``
    turns ``guidislink`` off. Wrapping its end handler keeps it, so ``_entry_to_item``
    resolves exactly the ids feedparser did (feedparser 6.0.x; hence the version pin)."""
    original = Namespace._end_guid

    def end_guid(self: Any) -> None:
        is_url = bool(self.guidislink)
        original(self)
        self._get_context()[_ID_IS_URL] = is_url

    Namespace._end_guid = Namespace._end_id = end_guid


_remember_url_ids()


def _published(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict.get would map updated->published with a warning.
        value = dict.get(entry, key)
        if value:
            try:
                return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(value)))
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _text(detail: Any, value: str, limit: int) -> str:
    kind = detail.get("type", "") if detail else ""
    if kind == "text/plain":
        return clean(value, limit)
    return html_to_text(value, limit)


def _entry_to_item(entry: Any, base: str = "") -> Item | None:
    title = _text(entry.get("title_detail"), entry.get("title", ""), TITLE_LIMIT)
    summary = _text(entry.get("summary_detail"), entry.get("summary", ""), SUMMARY_LIMIT)
    content = ""
    for part in entry.get("content") or ():
        text = _text(part, part.get("value", ""), SUMMARY_LIMIT)
        if text and text != summary:
            content = text
            break
    if not summary and content:
        summary, content = content, ""
    link = entry.get("link") or ""
    guid = entry.get("id") or ""
    if base:
        # What feedparser does for these two fields when given a content-location (a
        # permalink guid is a URL; other guids are opaque), with its own join function.
        link = link and _urljoin(base, link)
        if guid and entry.get(_ID_IS_URL):
            guid = _urljoin(base, guid)
    if not (title or summary or link or guid):
        return None  # feedparser's empty {} for a truncated last entry
    return Item(
        title=title,
        summary=summary,
        content=content,
        link=safe_url(link),
        guid=clean(guid, 2000) or None,
        published=_published(entry),
        author=clean(str(entry.get("author") or ""), 200),
        tags=_tags(entry.get("tags")),
        source=_source(entry),
    )


def _tags(raw: Any) -> tuple[str, ...]:
    """Category names (RSS <category>, Atom <category term=...>), at most 20, cleaned."""
    out: list[str] = []
    for tag in raw if isinstance(raw, list) else ():
        term = clean(str(tag.get("label") or tag.get("term") or ""), 100)
        if term and term not in out:
            out.append(term)
    return tuple(out[:20])


def _source(entry: Any) -> str | None:
    """The publisher named by the entry's own ``<source>`` (RSS 2.0, Atom; Google News
    sets it on every item), which is the outlet of a re-published item."""
    source = entry.get("source")
    if not isinstance(source, dict):
        return None
    return clean(str(source.get("title") or ""), 200) or None


_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(
    body: bytes,
    *,
    content_type: str = "",
    url: str = "",
    max_entries: int = 500,
    max_bytes: int = 10 * 1024 * 1024,
) -> ParsedFeed:
    """Parse RSS, Atom, RDF or JSON Feed bytes; raise ``ParseError`` subclasses."""
    body = gunzip_if_needed(body, max_bytes)
    if not body.strip():
        raise NotAFeed("not a feed: empty response body")
    if looks_like_json(body, content_type) and not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(
        b"<"
    ):
        return parse_json_feed(body, max_entries)
    headers = {"content-type": content_type} if content_type else {}
    refuse_entities(body, headers)
    original_entries = len(_ENTRY_START.findall(body))
    body = cap_entries(body, max_entries)
    # No content-location: feedparser would then resolve a base URI for every element
    # (12.7 % of a parse, in _urljoin). Only the item link and a permalink guid are
    # URLs newsmon keeps; _entry_to_item resolves those (tests/test_parse_links.py
    # proves the items identical on every fixture). xml:base still applies.
    # newsmon never passes feed HTML on: html_to_text() keeps only the text (script and
    # style dropped). So feedparser's own HTML sanitizing and URI rewriting inside
    # content are wasted work: off, parsing is 1.75x faster, with identical items for
    # every fixture feed (bench/bench_pipeline.py checks both).
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = result.get("entries") or []
    if not result.get("version") and not entries:
        reason = result.get("bozo_exception")
        detail = f" ({clean(str(reason), 200)})" if reason else ""
        raise NotAFeed(f"not a feed: no RSS, Atom or JSON Feed document found{detail}")
    # A feed with no entries is valid (a quiet feed); only a broken document is an error.
    # feedparser also flags a missing or non-XML Content-Type (a local file, a terse
    # server) and a charset override: those say nothing about the document itself.
    if (
        not entries
        and result.get("bozo")
        and not isinstance(result.get("bozo_exception"), _BENIGN_BOZO)
    ):
        reason = clean(str(result.get("bozo_exception")), 200)
        raise NotAFeed(f"malformed feed with no complete entries ({reason})")
    items, skipped = [], 0
    for entry in entries[:max_entries]:
        item = _entry_to_item(entry, url)
        if item is None:
            skipped += 1
        else:
            items.append(item)
    feed = result.get("feed", {})
    ttl = None
    raw_ttl = feed.get("ttl")
    if isinstance(raw_ttl, str) and raw_ttl.strip().isdigit():
        ttl = float(raw_ttl.strip()) * 60
    return ParsedFeed(
        items=items,
        title=clean(feed.get("title", ""), TITLE_LIMIT),
        ttl=ttl,
        skipped=skipped,
        truncated=max(0, len(entries) - max_entries, original_entries - max_entries),
    )
