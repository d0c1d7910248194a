"""Rows the store hands out and takes in (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.models import Alert


@dataclass(frozen=True)
class FeedState:
    name: str
    url: str
    next_check_at: float
    hold_until: float | None
    etag: str | None
    last_modified: str | None
    baseline_done: bool
    last_poll_at: float | None
    last_success_at: float | None
    last_status: str | None
    last_error: str | None
    error_count: int
    items_total: int


@dataclass(frozen=True)
class Route:
    """A rule match to record: the alert goes to each of ``notifiers``."""

    rule_id: str
    rule_title: str
    matched: tuple[str, ...]
    notifiers: tuple[str, ...]


@dataclass(frozen=True)
class PollOutcome:
    new_items: int
    alerts: list[Alert]
    deliveries: int
