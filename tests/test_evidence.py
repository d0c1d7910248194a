"""Evidence: every alert carries the element that fired and a snippet around each hit,
stored with the alert, shown by each notifier and sent as the webhook's ``snippets``."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from monitor.feeds.identity import keyed
from monitor.matching.automaton import Automaton
from monitor.matching.rules import RuleSet, load_rule
from monitor.models import Delivery, Evidence, Item
from monitor.notify import console, email, payload, slack
from monitor.store import Route, Store
from monitor.store.schema import MIGRATIONS, _item_text_and_evidence

SEED_SUMMARY = (
    "Seoul, Nov 10 (IANS) South Korea and the US are actively discussing the possibility of"
    " declaring a formal end to the Korean War with North Korea, South Korean Ambassador to"
    " the US Lee Soo-hyuck said. Lee said the countries are also working to devise an end of"
    " the Korean War declaration draft."
)
RULE = """\
match:
  all:
    - near: {terms: [declar*, formal, korean], within: 8}
    - any: [Korea]
"""


def seed_item() -> Item:
    return Item(
        title="S. Korea, US in active discussion over end of war declaration: Envoy",
        summary=SEED_SUMMARY,
        content="",
        link="https://www.example-news.test/world/2021/11/10/end-of-war-declaration-envoy",
        guid="seed-1",
        published="2021-11-10T03:42:00Z",
    )


def matched_delivery(tmp_path: Path) -> Delivery:
    """The seed item through a real rule, a real store and back out of the outbox."""
    path = tmp_path / "why.yaml"
    path.write_text(RULE, encoding="utf-8")
    automaton = Automaton()
    rule = load_rule(path, automaton)
    ruleset = RuleSet([rule], automaton)
    item = seed_item()
    (result,) = ruleset.match(item.fields(), "seed", ())
    store = Store(tmp_path / "newsmon.db", lock=False)
    store.sync_feeds([("seed", "seed.xml")], 0)
    now = time.time()
    outcome = store.record_poll(
        "seed",
        [keyed(item)],
        lambda _: [Route(rule.id, rule.title, result.matched, ("hook",), (), result.evidence)],
        now=now,
        alert=True,
        title_window=86400,
        next_check_at=now + 60,
        etag=None,
        last_modified=None,
    )
    assert len(outcome.alerts) == 1
    (delivery,) = store.claim_deliveries(["hook"], now, 60, 10)
    return delivery


def test_evidence_survives_the_store_and_reaches_every_notifier(tmp_path: Path) -> None:
    delivery = matched_delivery(tmp_path)
    evidence = delivery.alert.evidence
    assert [(e.clause, e.term, e.field) for e in evidence] == [
        ("match.all[0]", "near [declar*, formal, korean] within 8", "summary"),
        ("match.all[1].any[0]", "Korea", "title"),
    ]
    near = evidence[0].snippet
    assert "declaring a formal end to the Korean War" in near
    assert len(near) <= 165
    assert near.startswith("…")  # cut before the hit, on a word boundary
    assert near.lstrip("…").split(" ")[0] in SEED_SUMMARY.split(" ")

    doc = json.loads(payload.alert_body(delivery))
    assert doc["snippets"] == [e.snippet for e in evidence]
    assert doc["matched"] == ["declar*", "formal", "korean", "Korea"]

    text = console.render(delivery)
    assert f"    why: match.all[0] in summary: {near}\n" in text

    blocks = json.dumps(slack.alert_blocks(delivery), ensure_ascii=False)
    assert "_match.all[0] in summary_" in blocks
    assert "*Korea*" in blocks

    _, markup = email._section(delivery.alert)
    assert "Why (match.all[1].any[0] in title)" in markup
    assert "<b>Korea</b>" in markup


def test_an_alert_from_before_evidence_still_delivers(tmp_path: Path) -> None:
    """A database made before the migration: its alerts have no evidence column."""
    db = tmp_path / "old.db"
    Store(db, lock=False).conn.close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE alerts DROP COLUMN evidence")
    for column in ("summary", "content", "author", "tags", "guid"):
        conn.execute(f"ALTER TABLE items DROP COLUMN {column}")
    # just before evidence (the stories step comes after it)
    conn.execute(f"PRAGMA user_version={MIGRATIONS.index(_item_text_and_evidence)}")
    conn.execute(
        "INSERT INTO alerts (id, rule_id, rule_title, feed, item_id, title, matched, created_at,"
        " kind) VALUES ('a1', 'r', 'R', 'f', 'i1', 'Old alert', '[\"x\"]', 0, 'alert')"
    )
    conn.execute(
        "INSERT INTO outbox (id, alert_id, notifier, status, attempts, next_attempt_at,"
        " created_at, updated_at, digest) VALUES ('o1', 'a1', 'hook', 'pending', 0, 0, 0, 0, 0)"
    )
    conn.commit()
    conn.close()
    store = Store(db, lock=False)  # migrates
    (delivery,) = store.claim_deliveries(["hook"], time.time(), 60, 10)
    assert delivery.alert.evidence == ()
    assert json.loads(payload.alert_body(delivery))["snippets"] == []
    assert "why:" not in console.render(delivery)


def test_snippets_of_an_operator_notice_are_empty() -> None:
    item = Item("t", "s", "", None, None, None)
    found = Evidence("match.any[0]", "x", "title", "")
    from monitor.models import Alert

    alert = Alert("a", "r", "R", "f", item, ("x",), 0.0, evidence=(found,))
    assert alert.snippets == []
