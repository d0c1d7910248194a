"""PostgreSQL schema and migrations, numbered like SQLite's ``user_version``.

Step i of :data:`PG_MIGRATIONS` moves ``newsmon_schema.version`` i -> i+1 and must leave
the same tables and columns as step i of ``schema.MIGRATIONS`` does on SQLite (a test
compares the two). Statements are SQLite-spelled DDL passed through ``postgres_ddl``.
Workers starting together migrate one at a time: each migration runs in one transaction
under an advisory lock, and DDL is transactional in PostgreSQL.
"""

from __future__ import annotations

from monitor.errors import StateError
from monitor.models import LEAD_BAND, LINK_KEY, TITLE_BAND
from monitor.store.dialect import postgres_ddl
from monitor.store.postgres import Pg
from monitor.store.schema import (
    MIGRATIONS,
    V2_WORKERS,
    V7_STORY_KEYS_SWAP,
    V7_STORY_KEYS_TABLE,
)

_V1 = (
    "CREATE TABLE feeds (name TEXT PRIMARY KEY, source_url TEXT, url TEXT NOT NULL,"
    " next_check_at REAL NOT NULL DEFAULT 0, hold_until REAL, etag TEXT, last_modified TEXT,"
    " baseline_done INTEGER NOT NULL DEFAULT 0, last_poll_at REAL, last_success_at REAL,"
    " last_status TEXT, last_error TEXT, error_count INTEGER NOT NULL DEFAULT 0,"
    " items_total BIGINT NOT NULL DEFAULT 0, failing_since REAL,"
    " notice_sent INTEGER DEFAULT 0, redirect_target TEXT, redirect_count INTEGER DEFAULT 0,"
    " redirect_first_at REAL)",
    "CREATE TABLE item_keys (feed TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT NOT NULL,"
    " last_seen REAL NOT NULL DEFAULT 0, PRIMARY KEY (feed, key))",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE items (id TEXT PRIMARY KEY, feed TEXT NOT NULL, title TEXT, link TEXT,"
    " published TEXT, first_seen REAL NOT NULL)",
    "CREATE TABLE alerts (id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, rule_title TEXT,"
    " feed TEXT NOT NULL, item_id TEXT NOT NULL, story_link TEXT, title_key TEXT, title TEXT,"
    " link TEXT, summary TEXT, content TEXT, guid TEXT, published TEXT, matched TEXT,"
    " created_at REAL NOT NULL, kind TEXT NOT NULL DEFAULT 'alert')",
    "CREATE TABLE outbox (id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, notifier TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at REAL NOT NULL, lease_until REAL, last_error TEXT, created_at REAL,"
    " updated_at REAL, sent_at REAL, digest REAL NOT NULL DEFAULT 0)",
    "CREATE TABLE notifier_state (name TEXT PRIMARY KEY, disabled_at REAL, reason TEXT,"
    " config_hash TEXT)",
    "CREATE INDEX idx_alerts_rule_id_story_link ON alerts (rule_id, story_link)",
    "CREATE INDEX idx_alerts_rule_id_title_key_created_at"
    " ON alerts (rule_id, title_key, created_at)",
    "CREATE INDEX idx_alerts_created_at ON alerts (created_at)",
    "CREATE INDEX idx_outbox_status_next_attempt_at ON outbox (status, next_attempt_at)",
    "CREATE INDEX idx_outbox_alert_id ON outbox (alert_id)",
    "CREATE INDEX idx_items_first_seen ON items (first_seen)",
    "CREATE INDEX item_keys_last_seen ON item_keys (last_seen)",
    # The due-feed claim scans by next_check_at (SQLite's table is small enough to scan).
    "CREATE INDEX feeds_next_check_at ON feeds (next_check_at)",
)

_STORIES = (
    "CREATE TABLE stories (id TEXT PRIMARY KEY, title TEXT NOT NULL, first_seen REAL NOT NULL,"
    " last_seen REAL NOT NULL, copies INTEGER NOT NULL DEFAULT 1)",
    "CREATE INDEX stories_last_seen ON stories (last_seen)",
    "CREATE TABLE story_items (item_id TEXT PRIMARY KEY, story_id TEXT NOT NULL,"
    " feed TEXT NOT NULL, outlet TEXT NOT NULL, title TEXT NOT NULL, url TEXT, link_key TEXT,"
    " first_seen REAL NOT NULL, ctitle TEXT NOT NULL, clead TEXT NOT NULL)",
    "CREATE INDEX story_items_story ON story_items (story_id, first_seen)",
    "CREATE INDEX story_items_first_seen ON story_items (first_seen)",
    "CREATE TABLE story_keys (key TEXT NOT NULL, first_seen REAL NOT NULL,"
    " item_id TEXT NOT NULL, PRIMARY KEY (key, first_seen, item_id))",
    "CREATE INDEX story_keys_first_seen ON story_keys (first_seen)",
    "CREATE TABLE story_matches (rule_id TEXT NOT NULL, story_id TEXT NOT NULL,"
    " feed TEXT NOT NULL, item_id TEXT NOT NULL, item TEXT NOT NULL, route TEXT NOT NULL,"
    " matched_at REAL NOT NULL, PRIMARY KEY (rule_id, story_id))",
    "ALTER TABLE alerts ADD COLUMN story_id TEXT",
    "ALTER TABLE alerts ADD COLUMN sources TEXT",
    "CREATE UNIQUE INDEX alerts_rule_story ON alerts (rule_id, story_id)",
)

# schema.text_band_key in SQL: the kind from the prefix in the top byte, then the first 56
# bits (14 hex digits) of the digest.
_V7_CONVERT = (
    "INSERT INTO story_keys_v7 (key, first_seen, item_id)"
    f" SELECT (CAST(CASE substr(key, 1, 1) WHEN 'u' THEN {LINK_KEY}"
    f" WHEN 't' THEN {TITLE_BAND} + CAST(substr(split_part(key, ':', 1), 2) AS INTEGER)"
    f" ELSE {LEAD_BAND} + CAST(substr(split_part(key, ':', 1), 2) AS INTEGER) END AS BIGINT)"
    " << 56) | CAST(CAST('x' || substr(split_part(key, ':', 2), 1, 14) AS BIT(56)) AS BIGINT),"
    " first_seen, item_id FROM story_keys ON CONFLICT DO NOTHING",
)

# Index i migrates version i -> i+1. Append, never edit a released step.
PG_MIGRATIONS: list[tuple[str, ...]] = [
    _V1,
    ("CREATE INDEX item_keys_item_id ON item_keys (item_id)",),
    (
        "ALTER TABLE feeds ADD COLUMN body_hash TEXT",
        "ALTER TABLE feeds ADD COLUMN body_hashed_at REAL",
    ),
    (
        "ALTER TABLE items ADD COLUMN summary TEXT",
        "ALTER TABLE items ADD COLUMN content TEXT",
        "ALTER TABLE items ADD COLUMN author TEXT",
        "ALTER TABLE items ADD COLUMN tags TEXT",
        "ALTER TABLE items ADD COLUMN guid TEXT",
        "ALTER TABLE alerts ADD COLUMN evidence TEXT",
    ),
    _STORIES,
    V2_WORKERS,
    (V7_STORY_KEYS_TABLE, *_V7_CONVERT, *V7_STORY_KEYS_SWAP),
]

_LOCK = 0x6E6577736D6F6E  # "newsmon": the advisory lock key of migrations


def version(pg: Pg) -> int:
    exists = pg.conn.execute("SELECT to_regclass('newsmon_schema') IS NOT NULL").fetchone()
    if not exists[0]:
        return 0
    row = pg.conn.execute("SELECT version FROM newsmon_schema").fetchone()
    return int(row[0]) if row else 0


def check_version(pg: Pg) -> int:
    current = version(pg)
    if current > len(PG_MIGRATIONS):
        raise StateError(
            f"{pg.url} has schema version {current}, newer than this newsmon understands "
            f"({len(PG_MIGRATIONS)}); upgrade newsmon"
        )
    return current


def migrate(pg: Pg) -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS), "a migration lacks its PostgreSQL step"
    if check_version(pg) == len(PG_MIGRATIONS):
        return
    with pg.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS newsmon_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM newsmon_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO newsmon_schema (version) VALUES (0)")
        current = int(row[0]) if row else 0
        for step in range(current, len(PG_MIGRATIONS)):
            for statement in PG_MIGRATIONS[step]:
                conn.execute(postgres_ddl(statement))
        conn.execute("UPDATE newsmon_schema SET version = ?", (len(PG_MIGRATIONS),))
