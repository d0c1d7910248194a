"""One feed poll: fetch -> parse -> dedupe -> match -> record (one transaction).

A failure of one feed is recorded on that feed (error count, backoff, message) and
reported; it never raises into the caller, so the other feeds go on. Database calls go
through ``db`` (the database thread), so a poll waiting for the database never stops the
others' fetches.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, replace

from monitor.config import Config, FeedConfig
from monitor.errors import FeedError
from monitor.feeds.fetch import Fetcher
from monitor.feeds.identity import keyed
from monitor.feeds.parsepool import ParsePool
from monitor.matching.rules import RuleSet
from monitor.models import Item, KeyedItem
from monitor.service import metrics, notices
from monitor.service.dbthread import StoreThread
from monitor.service.schedule import (
    REDIRECT_SPAN,
    REDIRECT_TIMES,
    failing_long_enough,
    next_poll_after_failure,
    next_poll_after_success,
)
from monitor.store import FeedState, PollOutcome, Route, StoryPolicy, is_unavailable
from monitor.stories import THRESHOLD, similarity, story_print
from monitor.testhooks import crash_point
from monitor.text import redact_url, redact_urls

log = logging.getLogger("newsmon.poll")

# An unchanged body is parsed again after this long anyway, so that the keys of its
# items are refreshed (last_seen) for retention as a full poll would do; a 304 refreshes
# them after this long too (``_refresh_since``).
REPARSE_UNCHANGED_AFTER = 86400.0


def _refresh_since(state: FeedState, now: float) -> float | None:
    """For a 304: the ``last_seen`` from which keys belong to the document last parsed,
    once a day after that parse (None: not due). A parse refreshes each key at most daily,
    so those keys were all seen within a day before it."""
    parsed_at = state.body_hashed_at or 0.0
    if not state.baseline_done or now - parsed_at < REPARSE_UNCHANGED_AFTER:
        return None
    return parsed_at - REPARSE_UNCHANGED_AFTER


def body_digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


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
    db: StoreThread,
    fetcher: Fetcher,
    parser: ParsePool,
    feed: FeedConfig,
    state: FeedState,
) -> PollReport:
    interval = config.feed_interval(feed)
    try:
        fetched = await fetcher.fetch(state.url, state.etag, state.last_modified)
        now = time.time()
        if fetched.not_modified:
            delay = next_poll_after_success(
                interval,
                min_interval=config.poll.min_interval,
                max_interval=config.poll.max_interval,
                max_age=fetched.max_age,
            )
            await db(
                db.store.record_not_modified,
                feed.name,
                now,
                now + delay,
                fetched.last_modified,
                refresh_since=_refresh_since(state, now),
            )
            await _recovered(config, db, feed, state, now)
            await _learn_redirect(
                config, db, feed, state, fetched.redirects, fetched.final_url, now
            )
            log.debug("feed %s: not modified", feed.name)
            return PollReport(feed.name, "not_modified")
        assert fetched.body is not None
        digest = body_digest(fetched.body)
        if (
            state.baseline_done
            and state.body_hash == digest
            and now - (state.body_hashed_at or 0) < REPARSE_UNCHANGED_AFTER
        ):
            # The bytes last parsed (servers without validators send them every time):
            # parsing them again can find nothing new. Recorded like a 304.
            delay = next_poll_after_success(
                interval,
                min_interval=config.poll.min_interval,
                max_interval=config.poll.max_interval,
                max_age=fetched.max_age,
            )
            await db(
                db.store.record_not_modified,
                feed.name,
                now,
                now + delay,
                fetched.last_modified,
                etag=fetched.etag,
            )
            await _recovered(config, db, feed, state, now)
            await _learn_redirect(
                config, db, feed, state, fetched.redirects, fetched.final_url, now
            )
            log.debug("feed %s: body unchanged since the last parse", feed.name)
            return PollReport(feed.name, "not_modified")
        parsed = await parser.parse(
            fetched.body,
            config.poll.timeout,
            content_type=fetched.content_type,
            url=fetched.final_url,
            max_entries=config.poll.max_entries,
            max_bytes=config.poll.max_body,
        )
    except FeedError as exc:
        return await _failed(config, db, feed, state, interval, str(exc), exc.retry_after)
    except Exception as exc:
        # A bug in fetching or parsing is still this feed's failure: recorded and backed
        # off like any other, so `feeds`, `status` and the notices see it.
        log.exception("feed %s: unexpected error while fetching or parsing", feed.name)
        return await _failed(config, db, feed, state, interval, f"internal error: {exc!r}", None)
    now = time.time()
    delay = next_poll_after_success(
        interval,
        min_interval=config.poll.min_interval,
        max_interval=config.poll.max_interval,
        ttl=parsed.ttl,
        max_age=fetched.max_age,
    )
    baseline = not state.baseline_done and not feed.backfill
    feed_label = f"{feed.name} {parsed.title}".strip()  # what `fields: [feed]` reads

    def route(item: Item) -> list[Route]:
        return [
            Route(
                m.rule.id,
                m.rule.title,
                m.matched,
                m.rule.notifiers(config),
                m.rule.digests(config),
                m.evidence,
                m.rule.min_sources,
                m.rule.within,
            )
            for m in rules.match(item.fields(feed_label), feed.name, feed.tags)
        ]

    # Story fingerprints are pure CPU (≈0.2 ms per item): computed in a thread so a big
    # feed does not hold the event loop while other feeds connect.
    keyed_items = await asyncio.to_thread(
        lambda: [_with_story(keyed(item), feed) for item in parsed.items]
    )
    try:
        outcome: PollOutcome = await db(
            db.store.record_poll,
            feed.name,
            keyed_items,
            route,
            now=now,
            alert=not baseline,
            title_window=config.dedupe.title_window,
            next_check_at=now + delay,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            body_hash=digest,
            before_commit=lambda: crash_point("before_commit"),
            stories=StoryPolicy(config.stories.window, similarity, THRESHOLD),
        )
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # Disk full, I/O error, locked past busy_timeout: nothing was committed, so no
        # alert exists without its outbox row. The feed's lease runs out and it is
        # polled again; its items are still new then.
        log.error("feed %s: could not record the poll: database error: %s", feed.name, exc)
        return PollReport(feed.name, "error", error=f"database error: {exc}")
    crash_point("after_commit")
    metrics.ITEMS.labels(feed.name).inc(outcome.new_items)
    for made in outcome.alerts:
        metrics.ALERTS.labels(made.rule_id).inc()
    await _recovered(config, db, feed, state, now)
    await _learn_redirect(config, db, feed, state, fetched.redirects, fetched.final_url, now)
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


def _with_story(ki: KeyedItem, feed: FeedConfig) -> KeyedItem:
    return replace(ki, story=story_print(ki.item, ki.story_link, feed.outlet, feed.name))


async def _failed(
    config: Config,
    db: StoreThread,
    feed: FeedConfig,
    state: FeedState,
    interval: float,
    error: str,
    retry_after: float | None,
) -> PollReport:
    error = redact_urls(error)  # an error may quote a URL with a token in it
    now = time.time()
    delay = next_poll_after_failure(
        interval,
        state.error_count + 1,
        min_interval=config.poll.min_interval,
        max_interval=config.poll.max_interval,
        retry_after=retry_after,
    )
    after = await db(db.store.record_failure, feed.name, now, error, now + delay)
    log.warning(
        "feed %s: %s (failure %d; next try in %s)",
        feed.name,
        error,
        after.error_count,
        notices.human(delay),
    )
    if not after.notice_sent and failing_long_enough(
        after.error_count,
        after.failing_since,
        now,
        after_failures=config.poll.notify_after_failures,
        after=config.poll.notify_after,
    ):
        since = after.failing_since or now
        notice = notices.feed_failing(feed.name, feed.url, after.error_count, since, error, delay)
        await db(
            db.store.add_notice,
            notice.key, notice.subject, notice.body, config.defaults.ops_notify, now,
        )  # fmt: skip
        await db(db.store.mark_failure_noticed, feed.name)
        log.error("feed %s: failing since %s; operator notified", feed.name, notices.utc(since))
    return PollReport(feed.name, "error", error=error)


async def _recovered(
    config: Config, db: StoreThread, feed: FeedConfig, state: FeedState, now: float
) -> None:
    if not state.error_count:
        return
    log.info("feed %s: recovered after %d failed polls", feed.name, state.error_count)
    if state.notice_sent:
        since = state.failing_since or now
        notice = notices.feed_recovered(feed.name, feed.url, state.error_count, since)
        await db(
            db.store.add_notice,
            notice.key, notice.subject, notice.body, config.defaults.ops_notify, now,
        )  # fmt: skip


async def _learn_redirect(
    config: Config,
    db: StoreThread,
    feed: FeedConfig,
    state: FeedState,
    codes: tuple[int, ...],
    final_url: str,
    now: float,
) -> None:
    """301/308 on every hop, seen consistently, moves the fetched URL (never 302/307)."""
    permanent = bool(codes) and all(c in (301, 308) for c in codes)
    if not config.poll.learn_redirects or (not permanent and not state.redirect_count):
        return
    target = final_url if permanent else None
    if await db(
        db.store.note_redirect, feed.name, target, now, times=REDIRECT_TIMES, span=REDIRECT_SPAN
    ):
        log.warning(
            "feed %s: permanent redirect seen %d times over a day; now polling %s "
            "(config says %s: update it to silence this)",
            feed.name,
            REDIRECT_TIMES,
            redact_url(final_url),
            redact_url(state.source_url),
        )
