"""The only package that speaks SQL (see ``db.py`` for the durability rules).

``Store`` combines the per-concern parts: ``feeds.py`` (feed state, seen-state, the
one-transaction record of a poll), ``housekeeping.py`` (retention, ``PRAGMA optimize``,
the meta table), ``outbox.py`` (delivery leases and outcomes) and ``workers.py`` (who
is running). ``db.py`` opens either backend; ``dialect.py`` and ``postgres.py`` let one
set of queries run on SQLite and on PostgreSQL.
It executes policies decided elsewhere (identity keys, alert repeats, schedules) and
must not import anything above ``models``/``errors``: no fetching, matching or sending.
"""

from __future__ import annotations

import sqlite3

from monitor.store.db import lock_holder
from monitor.store.feeds import FeedStore
from monitor.store.housekeeping import PRUNE_BATCH, PRUNE_SQL, HousekeepingStore, more_to_prune
from monitor.store.items import ItemStore, StoredItem
from monitor.store.outbox import OutboxStore
from monitor.store.rows import FeedState, PollOutcome, Route, StoryPolicy
from monitor.store.workers import WorkerStore


class Store(FeedStore, HousekeepingStore, OutboxStore, ItemStore, WorkerStore):
    """An open newsmon database, SQLite or PostgreSQL: every query newsmon makes is a
    method here."""


def is_unavailable(exc: BaseException) -> bool:
    """The database refused or lost a query (locked, disk full, server gone): the work
    is retried later; anything else is a bug."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    import sys  # noqa: PLC0415

    if "psycopg" not in sys.modules:  # never loaded: no PostgreSQL store is open
        return False
    from monitor.store.postgres import is_operational  # noqa: PLC0415

    return is_operational(exc)


__all__ = [
    "PRUNE_BATCH",
    "PRUNE_SQL",
    "FeedState",
    "PollOutcome",
    "Route",
    "Store",
    "StoredItem",
    "StoryPolicy",
    "is_unavailable",
    "lock_holder",
    "more_to_prune",
]
