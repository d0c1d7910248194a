"""One feed poll: fetch -> parse -> dedupe -> match -> record (one transaction).

A failure of one feed is recorded on that feed (error count, backoff, message) and
reported; it never raises into the caller, so the other feeds go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from monitor.config import Config, FeedConfig
from monitor.errors import FeedError
from monitor.faults import crash_point
from monitor.fetch import Fetcher
from monitor.models import Item
from monitor.parse import parse_feed
from monitor.rules import RuleSet
from monitor.schedule import next_poll_after_failure, next_poll_after_success
from monitor.store import FeedState, PollOutcome, Route, Store

log = logging.getLogger("newsmon.poll")


@dataclass(frozen=True)
class PollReport:
    feed: str
    status: str  # "ok" | "not_modified" | "baseline" | "error"
    new_items: int = 0
    alerts: int = 0
    error: str | None = None


async def poll_feed(
    config: Config,
    rules: RuleSet,
    store: Store,
    fetcher: Fetcher,
    feed: FeedConfig,
    state: FeedState,
) -> PollReport:
    interval = config.feed_interval(feed)
    source = config.feed_source(feed)
    try:
        fetched = await fetcher.fetch(source, state.etag, state.last_modified)
        now = time.time()
        if fetched.not_modified:
            delay = next_poll_after_success(
                interval,
                min_interval=config.poll.min_interval,
                max_interval=config.poll.max_interval,
                max_age=fetched.max_age,
            )
            store.record_not_modified(feed.name, now, now + delay, fetched.last_modified)
            log.debug("feed %s: not modified", feed.name)
            return PollReport(feed.name, "not_modified")
        assert fetched.body is not None
        parsed = await asyncio.to_thread(
            parse_feed,
            fetched.body,
            content_type=fetched.content_type,
            url=fetched.final_url,
            max_entries=config.poll.max_entries,
            max_bytes=config.poll.max_body,
        )
    except FeedError as exc:
        return _failed(config, store, feed, state, interval, str(exc), exc.retry_after)
    now = time.time()
    delay = next_poll_after_success(
        interval,
        min_interval=config.poll.min_interval,
        max_interval=config.poll.max_interval,
        ttl=parsed.ttl,
        max_age=fetched.max_age,
    )
    baseline = not state.baseline_done and not feed.backfill

    def route(item: Item) -> list[Route]:
        return [
            Route(
                m.rule.id,
                m.rule.title,
                m.matched,
                m.rule.notifiers(config),
                m.rule.digests(config),
            )
            for m in rules.match(item.fields(), feed.name, feed.tags)
        ]

    outcome: PollOutcome = store.record_poll(
        feed.name,
        parsed.items,
        route,
        now=now,
        alert=not baseline,
        title_window=config.dedupe.title_window,
        next_check_at=now + delay,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        before_commit=lambda: crash_point("before_commit"),
    )
    crash_point("after_commit")
    if state.error_count:
        log.info("feed %s: recovered after %d failed polls", feed.name, state.error_count)
    extra = ""
    if parsed.skipped:
        extra += f", {parsed.skipped} entries without identity skipped"
    if parsed.truncated:
        extra += f", {parsed.truncated} entries over the per-feed cap ignored"
    if baseline:
        log.info(
            "feed %s: first poll, %d items recorded as the baseline (no alerts)%s",
            feed.name,
            outcome.new_items,
            extra,
        )
        return PollReport(feed.name, "baseline", outcome.new_items)
    log.info(
        "feed %s: %d items, %d new, %d alerts%s",
        feed.name,
        len(parsed.items),
        outcome.new_items,
        len(outcome.alerts),
        extra,
    )
    return PollReport(feed.name, "ok", outcome.new_items, len(outcome.alerts))


def _failed(
    config: Config,
    store: Store,
    feed: FeedConfig,
    state: FeedState,
    interval: float,
    error: str,
    retry_after: float | None,
) -> PollReport:
    now = time.time()
    delay = next_poll_after_failure(
        interval,
        state.error_count + 1,
        min_interval=config.poll.min_interval,
        max_interval=config.poll.max_interval,
        retry_after=retry_after,
    )
    failures = store.record_failure(feed.name, now, error, now + delay)
    log.warning(
        "feed %s: %s (failure %d; next try in %s)", feed.name, error, failures, _human(delay)
    )
    return PollReport(feed.name, "error", error=error)


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
