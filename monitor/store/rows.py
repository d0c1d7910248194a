"""Rows the store hands out and takes in (plain data)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from monitor.models import Alert, Evidence


def evidence_json(evidence: tuple[Evidence, ...]) -> str:
    return json.dumps(
        [{"clause": e.clause, "term": e.term, "field": e.field, "snippet": e.snippet}
         for e in evidence],
        ensure_ascii=False,
    )  # fmt: skip


def evidence_from_json(raw: str | None) -> tuple[Evidence, ...]:
    """Stored evidence back; an alert from before evidence was kept has none."""
    try:
        docs = json.loads(raw) if raw else []
    except ValueError:
        return ()
    return tuple(
        Evidence(str(d.get("clause", "")), str(d.get("term", "")), str(d.get("field", "")),
                 str(d.get("snippet", "")))
        for d in docs if isinstance(d, dict)
    )  # fmt: skip


def digest_due(now: float, window: float) -> float:
    """When a row in a digest of ``window`` seconds is due: the end of the current window,
    windows aligned to the Unix epoch (so ``1h`` ends on the hour, ``1d`` at 00:00 UTC)."""
    if window <= 0:
        return now
    return (now // window + 1) * window


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
    source_url: str = ""
    failing_since: float | None = None
    notice_sent: bool = False
    redirect_target: str | None = None
    redirect_count: int = 0
    redirect_first_at: float | None = None
    body_hash: str | None = None  # of the last body parsed (None: never, or forgotten)
    body_hashed_at: float | None = None


@dataclass(frozen=True)
class Route:
    """A rule match to record: the alert goes to each of ``notifiers``."""

    rule_id: str
    rule_title: str
    matched: tuple[str, ...]
    notifiers: tuple[str, ...]
    digests: tuple[float, ...] = ()  # per notifier: digest window in seconds (0 = instant)
    evidence: tuple[Evidence, ...] = ()  # why the rule fired: clause and snippet per hit
    min_sources: int = 1  # alert once this many outlets carry the story ...
    within: float | None = None  # ... first seen within this many seconds (None: the window)

    def targets(self) -> list[tuple[str, float]]:
        windows = list(self.digests) + [0.0] * (len(self.notifiers) - len(self.digests))
        return list(zip(self.notifiers, windows, strict=False))


@dataclass(frozen=True)
class PollOutcome:
    new_items: int
    alerts: list[Alert]
    deliveries: int


@dataclass(frozen=True)
class StoryPolicy:
    """How the store groups items into stories, decided in ``monitor/stories``: a new item
    joins the story of its most ``similar`` earlier copy first seen within ``window``
    seconds, if that similarity (0..1, over cleaned title and lead) is >= ``threshold``."""

    window: float
    similar: Callable[[str, str, str, str], float]
    threshold: float
