"""``newsmon import-opml``: feeds from a feed reader's OPML export into a feed file.

config.yaml is never rewritten (that would lose the user's comments): the import writes
a separate YAML file that config.yaml pulls in with ``feed_files: [feeds/*.yaml]``.
Feeds whose URL or name is already configured are skipped, so re-importing is safe.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from monitor.config import Config
from monitor.errors import NewsmonError

MAX_OPML_BYTES = 20 * 1024 * 1024


@dataclass
class OpmlFeed:
    name: str
    url: str
    title: str
    tags: list[str] = field(default_factory=list)


def slugify(text: str, fallback: str = "feed") -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:48].strip("-")
    return slug or fallback


def read_opml(path: Path) -> list[tuple[str, str, list[str]]]:
    """(title, xmlUrl, folder names) for every feed outline, in document order."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NewsmonError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_OPML_BYTES:
        raise NewsmonError(f"{path}: larger than {MAX_OPML_BYTES // 1024 // 1024} MiB")
    first_tag = re.search(rb"<\w", data)
    head = data[: first_tag.start()] if first_tag else data
    if b"<!ENTITY" in head.upper():
        raise NewsmonError(f"{path}: declares XML entities; refused")
    try:
        root = ET.fromstring(data)  # noqa: S314 - entities refused above; expat >= 2.4 caps the rest
    except ET.ParseError as exc:
        raise NewsmonError(f"{path}: not valid OPML/XML ({exc})") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise NewsmonError(f"{path}: not an OPML document (no <opml><body>)")
    out: list[tuple[str, str, list[str]]] = []

    def walk(node: ET.Element, folders: list[str]) -> None:
        for child in node.findall("outline"):
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            title = (child.get("title") or child.get("text") or "").strip()
            if url:
                out.append((title, url, folders))
            else:
                walk(child, [*folders, title] if title else folders)

    walk(body, [])
    return out


def plan_import(
    config: Config,
    entries: Iterable[tuple[str, str, list[str]]],
    *,
    extra_tags: list[str],
    progress: Callable[[int], None] = lambda n: None,
) -> tuple[list[OpmlFeed], list[str]]:
    """New feeds to add, and why others were skipped."""
    names = {f.name for f in config.feeds}
    urls = {f.url for f in config.feeds}
    feeds: list[OpmlFeed] = []
    skipped: list[str] = []
    for title, url, folders in entries:
        progress(1)
        if not url.startswith(("http://", "https://")):
            skipped.append(f"{title or url}: not an http(s) URL")
            continue
        if url in urls:
            skipped.append(f"{title or url}: already configured")
            continue
        # A title in another script (한겨레, Правда) has no ASCII slug: use the host.
        base = slugify(title, "") or slugify(urlsplit(url).hostname or url)
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        urls.add(url)
        tags = sorted({*(slugify(f, "") for f in folders), *extra_tags} - {""})
        feeds.append(OpmlFeed(name, url, title, tags))
    return feeds, skipped


def render(feeds: list[OpmlFeed], source: Path, interval: str | None) -> str:
    docs: list[dict[str, Any]] = []
    for feed in feeds:
        doc: dict[str, Any] = {"name": feed.name, "url": feed.url}
        if interval:
            doc["interval"] = interval
        if feed.tags:
            doc["tags"] = feed.tags
        docs.append(doc)
    header = (
        f"# Feeds imported from {source.name} by `newsmon import-opml`.\n"
        "# Pulled in by config.yaml through `feed_files:`; edit freely.\n"
    )
    return header + yaml.safe_dump({"feeds": docs}, sort_keys=False, allow_unicode=True)


def covered(config: Config, output: Path) -> bool:
    return output.resolve() in {p.resolve() for p in config.files}
