"""Stored item text, read back for backtests (items are kept for ``retention.items``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from monitor.store.db import Database


@dataclass(frozen=True)
class StoredItem:
    feed: str
    title: str
    link: str | None
    published: str | None
    first_seen: float
    fields: dict[str, str]  # title, summary, content, link, author, tags, feed


def _tags(raw: str | None) -> str:
    try:
        tags = json.loads(raw) if raw else []
    except ValueError:
        return ""
    return " ; ".join(str(t) for t in tags) if isinstance(tags, list) else ""


class ItemStore(Database):
    def count_items(self, since: float) -> int:
        row = self.conn.execute("SELECT count(*) FROM items WHERE first_seen >= ?", (since,))
        return int(row.fetchone()[0])

    def items_since(self, since: float, batch: int = 2000) -> Iterator[StoredItem]:
        """Items first seen at or after ``since``, newest first, read in batches."""
        cursor = self.conn.execute(
            "SELECT feed, title, link, published, first_seen, summary, content, author, tags"
            " FROM items WHERE first_seen >= ? ORDER BY first_seen DESC, rowid DESC",
            (since,),
        )
        while rows := cursor.fetchmany(batch):
            for feed, title, link, published, first_seen, summary, content, author, tags in rows:
                fields = {
                    "title": title or "",
                    "summary": summary or "",
                    "content": content or "",
                    "link": link or "",
                    "author": author or "",
                    "tags": _tags(tags),
                    "feed": feed,
                }
                yield StoredItem(feed, title or "", link, published, first_seen, fields)
