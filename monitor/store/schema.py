"""Schema and migrations. Index i of ``MIGRATIONS`` moves ``user_version`` i -> i+1."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from monitor.models import LEAD_BAND, LINK_KEY, TITLE_BAND, band_key


def _create_schema(db: sqlite_utils.Database) -> None:
    db.table("feeds").create(
        {
            "name": str,
            "source_url": str,  # as configured
            "url": str,  # what is fetched: the configured URL or a learned redirect
            "next_check_at": float,
            "hold_until": float,
            "etag": str,
            "last_modified": str,
            "baseline_done": int,
            "last_poll_at": float,
            "last_success_at": float,
            "last_status": str,
            "last_error": str,
            "error_count": int,
            "items_total": int,
            "failing_since": float,
            "notice_sent": int,
            "redirect_target": str,
            "redirect_count": int,
            "redirect_first_at": float,
        },
        pk="name",
        not_null={"url", "next_check_at", "baseline_done", "error_count", "items_total"},
        defaults={
            "next_check_at": 0,
            "baseline_done": 0,
            "error_count": 0,
            "items_total": 0,
            "notice_sent": 0,
            "redirect_count": 0,
        },
        if_not_exists=True,
    )
    # Seen-state: one row per identity key. WITHOUT ROWID keeps the key lookup one B-tree
    # probe (sqlite-utils cannot declare that, hence raw DDL).
    db.execute(
        "CREATE TABLE IF NOT EXISTS item_keys ("
        " feed TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT NOT NULL,"
        " last_seen REAL NOT NULL DEFAULT 0,"
        " PRIMARY KEY (feed, key)) WITHOUT ROWID"
    )
    db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db.table("items").create(
        {
            "id": str,
            "feed": str,
            "title": str,
            "link": str,
            "published": str,
            "first_seen": float,
        },
        pk="id",
        not_null={"feed", "first_seen"},
        if_not_exists=True,
    )
    db.table("alerts").create(
        {
            "id": str,
            "rule_id": str,
            "rule_title": str,
            "feed": str,
            "item_id": str,
            "story_link": str,
            "title_key": str,
            "title": str,
            "link": str,
            "summary": str,
            "content": str,
            "guid": str,
            "published": str,
            "matched": str,
            "created_at": float,
            "kind": str,
        },
        pk="id",
        not_null={"rule_id", "feed", "item_id", "created_at", "kind"},
        defaults={"kind": "alert"},
        if_not_exists=True,
    )
    db.table("outbox").create(
        {
            "id": str,
            "alert_id": str,
            "notifier": str,
            "status": str,
            "attempts": int,
            "next_attempt_at": float,
            "lease_until": float,
            "last_error": str,
            "created_at": float,
            "updated_at": float,
            "sent_at": float,
            "digest": float,
        },
        pk="id",
        not_null={"alert_id", "notifier", "status", "attempts", "next_attempt_at", "digest"},
        defaults={"status": "pending", "attempts": 0, "digest": 0},
        if_not_exists=True,
    )
    # A notifier whose receiver said "gone for good" (HTTP 410, Slack channel_is_archived)
    # stays disabled until its configuration changes (config_hash differs).
    db.table("notifier_state").create(
        {"name": str, "disabled_at": float, "reason": str, "config_hash": str},
        pk="name",
        if_not_exists=True,
    )
    db.table("alerts").create_index(["rule_id", "story_link"], if_not_exists=True)
    db.table("alerts").create_index(["rule_id", "title_key", "created_at"], if_not_exists=True)
    db.table("alerts").create_index(["created_at"], if_not_exists=True)
    db.table("outbox").create_index(["status", "next_attempt_at"], if_not_exists=True)
    db.table("outbox").create_index(["alert_id"], if_not_exists=True)
    db.table("items").create_index(["first_seen"], if_not_exists=True)
    db.execute("CREATE INDEX IF NOT EXISTS item_keys_last_seen ON item_keys (last_seen)")


def _stories(db: sqlite_utils.Database) -> None:
    """Stories (copies of one report across outlets) and per-rule corroboration.
    Portable DDL (PostgreSQL runs the same statements)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS stories ("
        " id TEXT PRIMARY KEY, title TEXT NOT NULL, first_seen REAL NOT NULL,"
        " last_seen REAL NOT NULL, copies INTEGER NOT NULL DEFAULT 1)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS stories_last_seen ON stories (last_seen)")
    # One row per item in a story; ctitle/clead are the cleaned texts candidates are
    # verified against, link_key the canonical link (same link = same story).
    db.execute(
        "CREATE TABLE IF NOT EXISTS story_items ("
        " item_id TEXT PRIMARY KEY, story_id TEXT NOT NULL, feed TEXT NOT NULL,"
        " outlet TEXT NOT NULL, title TEXT NOT NULL, url TEXT, link_key TEXT,"
        " first_seen REAL NOT NULL, ctitle TEXT NOT NULL, clead TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS story_items_story ON story_items (story_id, first_seen)")
    db.execute("CREATE INDEX IF NOT EXISTS story_items_first_seen ON story_items (first_seen)")
    # LSH band keys: the primary key is the look-up index (key, then the window bound).
    db.execute(
        "CREATE TABLE IF NOT EXISTS story_keys ("
        " key TEXT NOT NULL, first_seen REAL NOT NULL, item_id TEXT NOT NULL,"
        " PRIMARY KEY (key, first_seen, item_id))"
    )
    db.execute("CREATE INDEX IF NOT EXISTS story_keys_first_seen ON story_keys (first_seen)")
    # A rule matched a copy of a story but wants more sources first (min_sources).
    db.execute(
        "CREATE TABLE IF NOT EXISTS story_matches ("
        " rule_id TEXT NOT NULL, story_id TEXT NOT NULL, feed TEXT NOT NULL,"
        " item_id TEXT NOT NULL, item TEXT NOT NULL, route TEXT NOT NULL,"
        " matched_at REAL NOT NULL, PRIMARY KEY (rule_id, story_id))"
    )
    have = set(db.table("alerts").columns_dict)
    for column in ("story_id", "sources"):
        if column not in have:  # idempotent: a step re-run after a partial copy is harmless
            db.execute(f"ALTER TABLE alerts ADD COLUMN {column} TEXT")
    # One alert per (rule, story), kept by the database (NULL story ids never collide).
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS alerts_rule_story ON alerts (rule_id, story_id)")


def _index_item_keys_by_item(db: sqlite_utils.Database) -> None:
    # Retention asks "does any key still point at this item?" for each old item; without
    # this index that question scanned every key (5.6 s for one prune at 1M rows).
    db.execute("CREATE INDEX IF NOT EXISTS item_keys_item_id ON item_keys (item_id)")


def _body_hash(db: sqlite_utils.Database) -> None:
    """The hash of the last body parsed, and when: the same bytes again are not parsed."""
    db.execute("ALTER TABLE feeds ADD COLUMN body_hash TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN body_hashed_at FLOAT")


def _item_text_and_evidence(db: sqlite_utils.Database) -> None:
    """Items keep their text for backtests (``newsmon backtest``, as long as
    ``retention.items`` keeps the item); alerts keep their evidence (clause and snippet
    per hit, JSON) for the notifiers and the webhook's ``snippets``."""
    items = db.table("items")
    for column in ("summary", "content", "author", "tags", "guid"):
        if column not in items.columns_dict:
            items.add_column(column, str)
    if "evidence" not in db.table("alerts").columns_dict:
        db.table("alerts").add_column("evidence", str)


# Version 6, the same statements on both backends (pgschema.py runs them on PostgreSQL):
# - alert_keys: one row per (rule, story key) that alerted. Its primary key is what makes
#   "one alert per rule and story" hold when several workers record at once; the rows are
#   seeded from the alerts already recorded.
# - workers: one row per running `newsmon run` (heartbeat, version, config and rules hash).
V2_WORKERS: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS alert_keys (rule_id TEXT NOT NULL, key TEXT NOT NULL,"
    " created_at REAL NOT NULL, PRIMARY KEY (rule_id, key))",
    "INSERT INTO alert_keys (rule_id, key, created_at)"
    " SELECT rule_id, 'link:' || story_link, max(created_at) FROM alerts"
    " WHERE story_link IS NOT NULL AND kind = 'alert' GROUP BY rule_id, story_link",
    "INSERT INTO alert_keys (rule_id, key, created_at)"
    " SELECT rule_id, 'title:' || title_key, max(created_at) FROM alerts"
    " WHERE title_key IS NOT NULL AND kind = 'alert' GROUP BY rule_id, title_key",
    "CREATE INDEX IF NOT EXISTS alert_keys_created_at ON alert_keys (created_at)",
    "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, host TEXT NOT NULL,"
    " pid INTEGER NOT NULL, version TEXT NOT NULL, config_hash TEXT NOT NULL,"
    " rules_hash TEXT NOT NULL, started_at REAL NOT NULL, heartbeat REAL NOT NULL,"
    " stopped_at REAL, info TEXT)",
)


def _statements(statements: tuple[str, ...]) -> Callable[[sqlite_utils.Database], None]:
    def step(db: sqlite_utils.Database) -> None:
        for statement in statements:
            db.execute(statement)

    return step


# Version 7: story band keys as integers (models.band_key) in a WITHOUT ROWID table. At
# 100,000 items inside the story window the text keys made a 3-million-row index whose
# look-ups and page writes grew with it (docs/stories.md). The new table is created under
# a temporary name, filled with every old key converted (so a story already in the window
# still groups after the upgrade), then takes the old name.
V7_STORY_KEYS_TABLE = (
    "CREATE TABLE story_keys_v7 (key BIGINT NOT NULL, first_seen REAL NOT NULL,"
    " item_id TEXT NOT NULL, PRIMARY KEY (key, first_seen, item_id)) WITHOUT ROWID"
)
V7_STORY_KEYS_SWAP = (
    "DROP TABLE story_keys",
    "ALTER TABLE story_keys_v7 RENAME TO story_keys",
    "CREATE INDEX story_keys_first_seen ON story_keys (first_seen)",
)


def text_band_key(text: str) -> int:
    """A version-6 key (``t3:<16 hex>``, ``l3:<16 hex>``, ``u:<20 hex>``) as the integer
    ``monitor/stories`` now computes for the same item: the hex is the digest."""
    prefix, _, digest = text.partition(":")
    if prefix == "u":
        kind = LINK_KEY
    else:
        kind = (TITLE_BAND if prefix[0] == "t" else LEAD_BAND) + int(prefix[1:])
    return band_key(kind, bytes.fromhex(digest))


def _integer_story_keys(db: sqlite_utils.Database) -> None:
    db.execute(V7_STORY_KEYS_TABLE)
    db.conn.create_function("newsmon_band_key", 1, text_band_key, deterministic=True)
    db.execute(
        "INSERT INTO story_keys_v7 (key, first_seen, item_id)"
        " SELECT newsmon_band_key(key), first_seen, item_id FROM story_keys"
        " ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING"
    )
    for statement in V7_STORY_KEYS_SWAP:
        db.execute(statement)


# Index i migrates user_version i -> i+1. Append, never edit a released step; add the
# same step to pgschema.PG_MIGRATIONS.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _create_schema,
    _index_item_keys_by_item,
    _body_hash,
    _item_text_and_evidence,
    _stories,
    _statements(V2_WORKERS),
    _integer_story_keys,
]
