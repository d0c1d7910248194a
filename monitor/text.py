"""Make feed text safe plain text: HTML stripped, entities decoded, controls removed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

# C0/C1 controls, DEL, line/paragraph separators, bidi overrides and zero-width joiners
# used for spoofing: none of them belong in a title, a log line or a mail header.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u3000]+")
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_SKIP = frozenset({"script", "style", "template", "noscript", "head", "title"})


class _Stripper(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def clean(text: str, limit: int | None = None) -> str:
    """One line of plain text: controls removed, whitespace collapsed, length capped."""
    text = _SPACES.sub(" ", _CONTROLS.sub(" ", text)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def html_to_text(html: str, limit: int | None = None) -> str:
    if "<" not in html and "&" not in html:
        return clean(html, limit)
    parser = _Stripper()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pathological markup: keep what was read
        pass
    return clean("".join(parser.parts), limit)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL re-serialized, or None: no javascript:, data:, file: or controls."""
    if not url:
        return None
    url = url.strip()
    if len(url) > 4096 or _CONTROLS.search(url) or re.search(r"\s", url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, parts.query, parts.fragment))


_URL_IN_TEXT = re.compile(r"""[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>]+""")


def redact_url(url: str) -> str:
    """Scheme, host, port and path of a URL; user-info, query and fragment dropped (a feed
    URL may carry a token there). A query is marked ``?…``. Paths are returned as given."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or not parts.scheme or not parts.netloc:
        return url if "://" not in url else url.split("://", 1)[0] + "://…"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def redact_urls(text: str) -> str:
    """``text`` with every URL in it shown as :func:`redact_url` shows it."""
    return _URL_IN_TEXT.sub(lambda m: _redact_match(m.group(0)), text)


def _redact_match(url: str) -> str:
    # A sentence may end right after a URL: keep its punctuation outside.
    trail = len(url) - len(url.rstrip(".,;:)]"))
    return redact_url(url[: len(url) - trail]) + url[len(url) - trail :]
