"""The small differences between SQLite's and PostgreSQL's SQL, in one place.

Queries in this package are written once, in SQLite's spelling (``?`` placeholders,
``INSERT OR IGNORE``, ``INSERT OR REPLACE``, ``REAL``), and :meth:`Dialect.sql` rewrites
them for PostgreSQL. The few things that cannot be rewritten mechanically are methods:
the row-lock suffix of a claim, a day from a Unix time. Everything else (``ON CONFLICT
... DO UPDATE``, ``excluded.``, ``count``/``min``/``max``, ``LIMIT``) is common syntax.
"""

from __future__ import annotations

import functools
import re

# Primary keys, for rewriting INSERT OR REPLACE into an upsert. A table missing here
# fails loudly (KeyError) the first time such a query runs on PostgreSQL.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "feeds": ("name",),
    "meta": ("key",),
    "items": ("id",),
    "alerts": ("id",),
    "outbox": ("id",),
    "notifier_state": ("name",),
    "item_keys": ("feed", "key"),
    "alert_keys": ("rule_id", "key"),
    "workers": ("id",),
    "stories": ("id",),
    "story_items": ("item_id",),
    "story_keys": ("key", "first_seen", "item_id"),
    "story_matches": ("rule_id", "story_id"),
}

_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)


class Dialect:
    name = "sqlite"
    # Claims lock the rows they pick; SQLite's BEGIN IMMEDIATE already excludes writers.
    shared = False
    # A tie-breaker that follows insertion order (PostgreSQL has none: the primary key).
    insertion_order = "rowid"

    def sql(self, text: str) -> str:
        return text

    def skip_locked(self, table: str | None = None) -> str:
        """The suffix that makes a claim's SELECT skip rows another worker is claiming."""
        return ""

    def day(self, column: str) -> str:
        """``YYYY-MM-DD`` (UTC) of a Unix-time column."""
        return f"date({column}, 'unixepoch')"


class Postgres(Dialect):
    name = "postgresql"
    shared = True
    insertion_order = "id"

    def sql(self, text: str) -> str:
        return _translate(text)

    def skip_locked(self, table: str | None = None) -> str:
        return f" FOR UPDATE OF {table} SKIP LOCKED" if table else " FOR UPDATE SKIP LOCKED"

    def day(self, column: str) -> str:
        return f"to_char(to_timestamp({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@functools.lru_cache(maxsize=512)
def _translate(text: str) -> str:
    out = text.replace("%", "%%").replace("?", "%s")
    if _OR_IGNORE.match(out):
        out = _OR_IGNORE.sub("INSERT INTO", out, count=1) + " ON CONFLICT DO NOTHING"
    elif match := _OR_REPLACE.match(out):
        table = match.group(1)
        columns = [c.strip().strip('"') for c in match.group(2).split(",")]
        keys = PRIMARY_KEYS[table]
        rest = [c for c in columns if c not in keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest)
            if rest
            else "DO NOTHING"
        )
        out = (
            f"INSERT INTO {table} ({', '.join(columns)})"
            + out[match.end() :]
            + f" ON CONFLICT ({', '.join(keys)}) {action}"
        )
    return out


def postgres_ddl(text: str) -> str:
    """SQLite DDL as PostgreSQL: REAL is 4 bytes there (too coarse for Unix times)."""
    out = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
    return re.sub(r"\)\s*WITHOUT ROWID", ")", out)


SQLITE = Dialect()
POSTGRES = Postgres()
