"""Which matches of a poll become alerts: repeats, one alert per (rule, story), and
corroboration (``min_sources``). Runs inside ``record_poll``'s transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.models import Alert, Item, KeyedItem, Source, stable_id
from monitor.store.rows import Route, StoryPolicy, digest_due, evidence_from_json, evidence_json
from monitor.store.stories import StoryStore, sources_json


@dataclass(frozen=True)
class Made:
    alert: Alert
    notifiers: tuple[str, ...]


def _route_json(r: Route) -> dict[str, Any]:
    return {
        "title": r.rule_title,
        "matched": list(r.matched),
        "notifiers": list(r.notifiers),
        "digests": list(r.digests),
        "evidence": evidence_json(r.evidence),
        "min_sources": r.min_sources,
        "within": r.within,
    }


def _route_from(rule_id: str, d: dict[str, Any]) -> Route:
    return Route(
        rule_id, d["title"], tuple(d["matched"]), tuple(d["notifiers"]), tuple(d["digests"]),
        evidence=evidence_from_json(d.get("evidence")), min_sources=d["min_sources"],
        within=d["within"],
    )  # fmt: skip


class AlertWriter(StoryStore):
    def _already_alerted(
        self, rule_id: str, link: str | None, tkey: str | None, since: float
    ) -> bool:
        if (
            link is not None
            and self.conn.execute(
                "SELECT 1 FROM alerts WHERE rule_id = ? AND story_link = ? LIMIT 1", (rule_id, link)
            ).fetchone()
        ):
            return True
        return tkey is not None and bool(
            self.conn.execute(
                "SELECT 1 FROM alerts WHERE rule_id = ? AND title_key = ? AND created_at >= ?"
                " LIMIT 1",
                (rule_id, tkey, since),
            ).fetchone()
        )

    def _alerts_for(
        self,
        conn: sqlite3.Connection,
        feed: str,
        item_id: str,
        ki: KeyedItem,
        routes: Sequence[Route],
        story_id: str | None,
        stories: StoryPolicy | None,
        now: float,
        since: float,
    ) -> list[Made]:
        """Alerts for one new item: for each rule that matched it, unless that rule already
        alerted on this link, title or story, or wants more sources first. Then rules that
        matched an earlier copy of the story and were waiting for this one."""
        made: list[Made] = []
        handled: set[str] = set()
        link, tkey = ki.story_link, ki.title_key
        for r in routes:
            handled.add(r.rule_id)
            if self._already_alerted(r.rule_id, link, tkey, since):
                continue
            if story_id is None or stories is None:
                one = self._insert_alert(conn, feed, item_id, ki.item, r, link, tkey, now)
            else:
                if self.story_alerted(conn, r.rule_id, story_id):
                    continue
                within = r.within if r.within is not None else stories.window
                sources = self.story_sources(conn, story_id, now - within)
                if len(sources) < r.min_sources:
                    self.note_match(
                        conn, r.rule_id, story_id, feed, item_id, ki.item, _route_json(r), now
                    )
                    continue
                one = self._insert_alert(
                    conn, feed, item_id, ki.item, r, link, tkey, now, story_id, sources
                )
            if one is not None:
                made.append(one)
        if story_id is None or stories is None:
            return made
        for rule_id, mfeed, mitem_id, mitem, rdict, matched_at in self.pending_matches(
            conn, story_id
        ):
            if rule_id in handled:
                continue
            r = _route_from(rule_id, rdict)
            within = r.within if r.within is not None else stories.window
            if matched_at < now - within:
                continue
            sources = self.story_sources(conn, story_id, now - within)
            if len(sources) < r.min_sources:
                continue
            one = self._insert_alert(
                conn, mfeed, mitem_id, mitem, r, link, tkey, now, story_id, sources
            )
            if one is not None:
                made.append(one)
        return made

    def _insert_alert(
        self,
        conn: sqlite3.Connection,
        feed: str,
        item_id: str,
        item: Item,
        r: Route,
        link: str | None,
        tkey: str | None,
        now: float,
        story_id: str | None = None,
        sources: Sequence[Source] = (),
    ) -> Made | None:
        """The alert row and one outbox row per notifier; None if the database already
        holds this alert (or one for this rule and story)."""
        record = Alert(
            id=stable_id(feed, item_id, r.rule_id),
            rule_id=r.rule_id,
            rule_title=r.rule_title,
            feed=feed,
            item=item,
            matched=r.matched,
            created_at=now,
            evidence=r.evidence,
            story_id=story_id,
            sources=tuple(sources),
        )
        inserted = conn.execute(
            "INSERT OR IGNORE INTO alerts (id, rule_id, rule_title, feed, item_id,"
            " story_link, title_key, title, link, summary, content, guid,"
            " published, matched, created_at, evidence, story_id, sources)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id, r.rule_id, r.rule_title, feed, item_id, link, tkey,
                item.title, item.link, item.summary, item.content, item.guid,
                item.published, json.dumps(list(r.matched)), now, evidence_json(r.evidence),
                story_id,
                sources_json(sources) if story_id is not None else None,
            ),
        ).rowcount  # fmt: skip
        if not inserted:
            return None
        conn.executemany(
            "INSERT OR IGNORE INTO outbox (id, alert_id, notifier, status,"
            " attempts, next_attempt_at, created_at, updated_at, digest)"
            " VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
            [(stable_id(record.id, n), record.id, n, digest_due(now, w), now,
              now, w) for n, w in r.targets()],
        )  # fmt: skip
        return Made(record, r.notifiers)
