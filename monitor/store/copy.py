"""``newsmon db copy --to postgresql://…``: a SQLite installation, moved into PostgreSQL.

Every table the two schemas share is copied row for row (``COPY``, in one transaction):
feed state, identity keys, items, alerts with their story keys, the outbox, notifier
state, and whatever tables later versions add, since the list comes from the schema.
Nothing is re-alerted afterwards, because the seen-state and the alert keys travel too.
Deliveries that were in flight when the SQLite daemon stopped become pending again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.errors import StateError
from monitor.models import PostgresURL
from monitor.store import Store

# Per-process rows that mean nothing on the new database.
SKIP_TABLES = frozenset({"workers"})
SKIP_META = frozenset({"daemon"})
# Tables that must be empty in the target (anything else is someone's live data).
MUST_BE_EMPTY = ("feeds", "item_keys", "alerts", "outbox")


def _tables(store: Store) -> dict[str, list[str]]:
    if store.shared:
        rows = store.conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name != 'newsmon_schema'"
            " ORDER BY table_name, ordinal_position"
        ).fetchall()
    else:
        rows = store.conn.execute(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p"
            " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _fix(table: str, columns: list[str], row: tuple[Any, ...]) -> tuple[Any, ...] | None:
    if table == "meta" and row[columns.index("key")] in SKIP_META:
        return None
    if table == "outbox" and row[columns.index("status")] == "sending":
        fixed = list(row)
        fixed[columns.index("status")] = "pending"
        fixed[columns.index("lease_until")] = None
        return tuple(fixed)
    return row


def copy_database(
    source: Path, target: PostgresURL, progress: Callable[[str, int], None]
) -> dict[str, int]:
    """Copy ``source`` (holding its lock, so no daemon starts meanwhile) into ``target``
    (created or migrated to this version first). Refuses a target that holds data."""
    if not source.exists():
        raise StateError(f"no database at {source}: nothing to copy")
    src = Store(source)  # takes the process lock and brings the file up to date
    try:
        dst = Store(target)
        try:
            return _copy(src, dst, progress)
        finally:
            dst.close()
    finally:
        src.close()


def _copy(src: Store, dst: Store, progress: Callable[[str, int], None]) -> dict[str, int]:
    theirs = _tables(dst)
    for table in MUST_BE_EMPTY:
        if dst.conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            raise StateError(
                f"{dst.target} already holds newsmon data (table {table}); "
                "copy into an empty database"
            )
    counts: dict[str, int] = {}
    pg = dst._pg
    assert pg is not None
    with pg.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        for table, columns in sorted(_tables(src).items()):
            if table in SKIP_TABLES:
                continue
            if table not in theirs:
                raise StateError(f"table {table} is missing in {dst.target}: schema mismatch")
            shared = [c for c in columns if c in theirs[table]]
            names = ", ".join(shared)
            copied = 0
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as out:
                for row in src.conn.execute(f"SELECT {names} FROM {table}"):
                    fixed = _fix(table, shared, tuple(row))
                    if fixed is not None:
                        out.write_row(fixed)
                        copied += 1
            counts[table] = copied
            progress(table, copied)
    return counts
