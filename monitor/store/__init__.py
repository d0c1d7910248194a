"""The only package that speaks SQL (see ``db.py`` for the durability rules).

``Store`` combines the per-concern parts: ``feeds.py`` (feed state, seen-state, the
one-transaction record of a poll) and ``outbox.py`` (delivery leases and outcomes).
It executes policies decided elsewhere (identity keys, alert repeats, schedules) and
must not import anything above ``models``/``errors``: no fetching, matching or sending.
"""

from __future__ import annotations

from monitor.store.db import lock_holder
from monitor.store.feeds import PRUNE_BATCH, PRUNE_SQL, FeedStore, more_to_prune
from monitor.store.items import ItemStore, StoredItem
from monitor.store.outbox import OutboxStore
from monitor.store.rows import FeedState, PollOutcome, Route, StoryPolicy


class Store(FeedStore, OutboxStore, ItemStore):
    """An open newsmon database: every query newsmon makes is a method here."""


__all__ = [
    "PRUNE_BATCH",
    "PRUNE_SQL",
    "FeedState",
    "PollOutcome",
    "Route",
    "Store",
    "StoredItem",
    "StoryPolicy",
    "lock_holder",
    "more_to_prune",
]
