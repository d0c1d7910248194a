"""Stories: the copies of one report, grouped inside the poll's transaction.

Grouping one item is a look-up by band key (``story_keys``, integer keys indexed on
``(key, first_seen)``) restricted to items first seen within the story window, then a
precise check of each candidate by the policy's similarity (``monitor/stories``): its cost
depends on how many near-copies exist, not on how many items are stored. Retention drops
band keys older than the window (nothing reads them), so the index holds the window's
items, not every stored one. Plain SQL that also runs on PostgreSQL (no ``INSERT OR``).

Corroboration: a rule with ``min_sources`` > 1 leaves a pending match per (rule, story)
in ``story_matches``; each later copy of that story re-counts the outlets, and the alert is
made once there are enough. One alert per (rule, story) is a unique index on ``alerts``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from monitor.models import Item, Source, StoryPrint, stable_id
from monitor.store.db import Conn, Database
from monitor.store.rows import StoryPolicy

# Candidates verified per item: those sharing the most band keys (the MinHash estimate of
# similarity), newest first. Bounds the cost when many items share a template ("Podcast
# 123: ..." x 500 made 500 x 200 verifications before).
_CANDIDATES = 20
_PER_KEY = 50


@functools.lru_cache(maxsize=64)
def _candidates_sql(n: int) -> str:
    """One statement for an item's ``n`` band keys: per key only its newest holders (one
    index range each), so a key that very many items share (a boilerplate lead, a title
    template) cannot make the look-up scan them all; then the candidates sharing the most
    keys (the MinHash estimate of similarity), newest first, with what verifies them.
    One statement instead of one per key: ~33 round trips per item were most of the
    look-up's cost (docs/stories.md)."""
    per_key = (
        "SELECT item_id, first_seen FROM story_keys WHERE key = ? AND first_seen >= ?"
        f" ORDER BY first_seen DESC LIMIT {_PER_KEY}"
    )
    hits = " UNION ALL ".join(f"SELECT * FROM ({per_key}) AS k{i}" for i in range(n))
    return (
        "SELECT s.story_id, s.ctitle, s.clead, s.link_key, s.first_seen FROM"
        f" (SELECT item_id, count(*) AS shared, max(first_seen) AS newest FROM ({hits})"
        " AS hits GROUP BY item_id ORDER BY shared DESC, newest DESC, item_id LIMIT ?) AS c"
        " JOIN story_items AS s ON s.item_id = c.item_id"
    )


def _pairs(keys: Sequence[int], since: float) -> list[object]:
    return [value for key in keys for value in (key, since)]


def sources_json(sources: Sequence[Source]) -> str:
    return json.dumps([{"outlet": s.outlet, "feed": s.feed, "url": s.url} for s in sources])


def sources_from_json(text: str | None) -> tuple[Source, ...]:
    if not text:
        return ()
    return tuple(Source(d["outlet"], d["feed"], d.get("url")) for d in json.loads(text))


def item_json(item: Item) -> str:
    return json.dumps(
        {
            "title": item.title, "summary": item.summary, "content": item.content,
            "link": item.link, "guid": item.guid, "published": item.published,
            "source": item.source,
        }
    )  # fmt: skip


def item_from_json(text: str) -> Item:
    d = json.loads(text)
    return Item(
        d["title"], d["summary"], d["content"], d["link"], d["guid"], d["published"],
        d.get("source"),
    )  # fmt: skip


class StoryStore(Database):
    def attach_story(
        self,
        conn: Conn,
        item_id: str,
        feed: str,
        title: str,
        url: str | None,
        link_key: str | None,
        sp: StoryPrint,
        now: float,
        policy: StoryPolicy,
    ) -> str:
        """Put a new item in the story of its nearest earlier copy, or start one. Returns
        the story id (a new story's id derives from its first item: stable)."""
        row = conn.execute(
            "SELECT story_id FROM story_items WHERE item_id = ?", (item_id,)
        ).fetchone()
        if row is not None:
            return str(row[0])
        best: tuple[float, float, str] | None = None  # (score, -first_seen, story)
        keys = list(dict.fromkeys(sp.keys))
        if keys:
            since = now - policy.window
            rows = conn.execute(_candidates_sql(len(keys)), [*_pairs(keys, since), _CANDIDATES])
            for story, ctitle, clead, other_link, first_seen in rows:
                if link_key is not None and other_link == link_key:
                    score = 1.0
                else:
                    score = policy.similar(sp.title, sp.lead, ctitle, clead)
                if score >= policy.threshold:
                    cand = (score, -first_seen, story)
                    if best is None or cand > best:
                        best = cand
        if best is not None:
            story_id = best[2]
            conn.execute(
                "UPDATE stories SET last_seen = ?, copies = copies + 1 WHERE id = ?",
                (now, story_id),
            )
        else:
            story_id = stable_id("story", item_id)
            conn.execute(
                "INSERT INTO stories (id, title, first_seen, last_seen, copies)"
                " VALUES (?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING",
                (story_id, title, now, now),
            )
        conn.execute(
            "INSERT INTO story_items (item_id, story_id, feed, outlet, title, url, link_key,"
            " first_seen, ctitle, clead) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (item_id) DO NOTHING",
            (item_id, story_id, feed, sp.outlet, title, url, link_key, now, sp.title, sp.lead),
        )
        conn.executemany(
            "INSERT INTO story_keys (key, first_seen, item_id) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(k, now, item_id) for k in keys],
        )
        return story_id

    def story_sources(self, conn: Conn, story_id: str, since: float | None = None) -> list[Source]:
        """The outlets carrying a story (each with its first copy), oldest first."""
        rows = conn.execute(
            "SELECT outlet, feed, url FROM story_items WHERE story_id = ? AND first_seen >= ?"
            " ORDER BY first_seen, item_id",
            (story_id, since if since is not None else float("-inf")),
        ).fetchall()
        seen: dict[str, Source] = {}
        for outlet, feed, url in rows:
            seen.setdefault(outlet, Source(outlet, feed, url))
        return list(seen.values())

    def story_alerted(self, conn: Conn, rule_id: str, story_id: str) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM alerts WHERE rule_id = ? AND story_id = ? LIMIT 1",
                (rule_id, story_id),
            ).fetchone()
            is not None
        )

    def note_match(
        self,
        conn: Conn,
        rule_id: str,
        story_id: str,
        feed: str,
        item_id: str,
        item: Item,
        route: dict[str, Any],
        now: float,
    ) -> None:
        """Remember that ``rule_id`` matched a copy of ``story_id`` (first match kept)."""
        conn.execute(
            "INSERT INTO story_matches (rule_id, story_id, feed, item_id, item, route,"
            " matched_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule_id, story_id) DO NOTHING",
            (rule_id, story_id, feed, item_id, item_json(item), json.dumps(route), now),
        )

    def pending_matches(
        self, conn: Conn, story_id: str
    ) -> list[tuple[str, str, str, Item, dict[str, Any], float]]:
        """(rule, feed, item id, item, route, matched_at) of rules that matched a copy of
        the story and have not alerted on it."""
        rows = conn.execute(
            "SELECT m.rule_id, m.feed, m.item_id, m.item, m.route, m.matched_at"
            " FROM story_matches m WHERE m.story_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM alerts a WHERE a.rule_id = m.rule_id AND a.story_id = m.story_id)"
            " ORDER BY m.matched_at, m.rule_id",
            (story_id,),
        ).fetchall()
        return [(r[0], r[1], r[2], item_from_json(r[3]), json.loads(r[4]), r[5]) for r in rows]

    # -- reading --------------------------------------------------------------------------

    def stories_since(self, since: float) -> list[dict[str, Any]]:
        """Every story with a copy first seen at or after ``since``, newest first (by its
        newest copy), each with all its copies, oldest first."""
        stories = self.conn.execute(
            "SELECT s.id, s.title, s.first_seen FROM stories s WHERE s.id IN"
            " (SELECT story_id FROM story_items WHERE first_seen >= ?)"
            " ORDER BY s.last_seen DESC, s.id",
            (since,),
        ).fetchall()
        out = []
        for story_id, title, first_seen in stories:
            items = self.conn.execute(
                "SELECT feed, outlet, title, url, first_seen FROM story_items"
                " WHERE story_id = ? ORDER BY first_seen, item_id",
                (story_id,),
            ).fetchall()
            out.append(
                {
                    "id": story_id,
                    "title": title,
                    "first_seen": first_seen,
                    "items": [
                        {"feed": f, "outlet": o, "title": t, "url": u, "first_seen": fs}
                        for f, o, t, u, fs in items
                    ],
                }
            )
        return out

    def current_sources(self, story_ids: Sequence[str]) -> dict[str, list[Source]]:
        """Each story's outlets as they are now (for ``newsmon alerts``)."""
        return {sid: self.story_sources(self.conn, sid) for sid in dict.fromkeys(story_ids)}

    def prune_stories(self, conn: Conn, before: float) -> int:
        """Forget copies first seen before ``before`` and stories left without copies
        (their band keys are older still: :meth:`prune_story_keys` takes them)."""
        gone = conn.execute("DELETE FROM story_items WHERE first_seen < ?", (before,)).rowcount
        conn.execute("DELETE FROM stories WHERE id NOT IN (SELECT story_id FROM story_items)")
        conn.execute("DELETE FROM story_matches WHERE story_id NOT IN (SELECT id FROM stories)")
        return int(gone)

    def prune_story_keys(self, conn: Conn, before: float, limit: int) -> int:
        """Forget band keys of copies first seen before ``before``, oldest first: at least
        ``limit`` of them when there are more (all of the last instant's, so a call
        always makes progress), and the rest in later calls. Both statements walk the
        ``first_seen`` index."""
        row = conn.execute(
            "SELECT first_seen FROM story_keys WHERE first_seen < ?"
            " ORDER BY first_seen LIMIT 1 OFFSET ?",
            (before, limit - 1),
        ).fetchone()
        if row is None:
            return int(
                conn.execute("DELETE FROM story_keys WHERE first_seen < ?", (before,)).rowcount
            )
        return int(conn.execute("DELETE FROM story_keys WHERE first_seen <= ?", (row[0],)).rowcount)
