"""Everything one cycle needs, built from a config: rules, store, fetcher, notifiers.

``newsmon once`` runs one cycle; the daemon runs the same two steps on its ticks. Every
database call goes through ``self.db`` (:mod:`monitor.service.dbthread`), off the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import urlsplit

from monitor.config import Config, FeedConfig
from monitor.feeds.fetch import Fetcher, FetchLimits
from monitor.feeds.parsepool import ParsePool
from monitor.notify import build_notifiers, http_client
from monitor.service import metrics
from monitor.service.dbthread import StoreThread
from monitor.service.deliver import (
    DeliveryReport,
    InFlight,
    deliver_due,
    release_stale_leases,
)
from monitor.service.loading import Loaded, load_all
from monitor.service.pipeline import PollReport, poll_feed
from monitor.store import FeedState, Store
from monitor.text import redact_urls

__all__ = ["Loaded", "Runtime", "load_all"]  # load_all moved to loading.py; still here

log = logging.getLogger("newsmon")


class Runtime:
    def __init__(self, loaded: Loaded, store: Store) -> None:
        self.loaded = loaded
        self.store = store
        self.db = StoreThread(store)
        self.fetcher = self._fetcher()
        self.parser = ParsePool()
        self.http = http_client(loaded.config.poll.user_agent)
        self.notifiers = build_notifiers(loaded.config, self.http)
        self._hosts = self._host_gates()
        self._gate = asyncio.Semaphore(loaded.config.poll.concurrency)
        self._inflight: dict[str, asyncio.Task[PollReport]] = {}
        self._closing: set[asyncio.Future[None]] = set()
        self._pauses: dict[str, float] = {}
        self.in_flight = InFlight()

    async def start(self) -> None:
        """Make the feeds table match the config; resend what a crash left in flight."""
        await self.sync_feeds()
        released = await release_stale_leases(self.db)
        if released:
            log.warning(
                "%d deliveries were in flight when newsmon last stopped; sending them again "
                "(receivers see the same id and can drop a repeat)",
                released,
            )

    @property
    def config(self) -> Config:
        return self.loaded.config

    async def sync_feeds(self) -> None:
        feeds = [(f.name, self.config.feed_source(f)) for f in self.config.feeds]
        await self.db(self.store.sync_feeds, feeds, time.time())

    def _fetcher(self) -> Fetcher:
        poll = self.loaded.config.poll
        return Fetcher(
            FetchLimits(
                timeout=poll.timeout,
                connect_timeout=poll.connect_timeout,
                read_timeout=poll.read_timeout,
                max_body=poll.max_body,
                user_agent=poll.user_agent,
                allow_private_redirects=poll.allow_private_redirects,
            )
        )

    def _host_gates(self) -> defaultdict[str, asyncio.Semaphore]:
        per_host = self.loaded.config.poll.per_host
        return defaultdict(lambda: asyncio.Semaphore(per_host))

    async def replace(self, loaded: Loaded) -> None:
        """Swap in a new, already validated config and rule set (SIGHUP reload). Polls
        already running finish with the old settings; new ones use the new."""
        old = self.loaded.config.poll
        self.loaded = loaded
        self.notifiers = build_notifiers(loaded.config, self.http)
        if loaded.config.poll != old:
            previous = self.fetcher
            self.fetcher = self._fetcher()
            self._hosts = self._host_gates()
            self._gate = asyncio.Semaphore(loaded.config.poll.concurrency)
            self._closing.add(asyncio.ensure_future(self._close_later(previous)))
        await self.sync_feeds()

    async def _close_later(self, fetcher: Fetcher) -> None:
        await asyncio.sleep(self.loaded.config.poll.timeout + 5)  # let running polls end
        await fetcher.aclose()

    async def start_polls(
        self, *, all_now: bool = False, force: bool = False, limit: int | None = None
    ) -> list[asyncio.Task[PollReport]]:
        """Claim due feeds (never one already being polled) and start polling them."""
        config = self.config
        enabled = {f.name: f for f in config.feeds if f.enabled and f.name not in self._inflight}
        if not enabled:
            return []
        claimed = await self.db(
            self.store.claim_due_feeds,
            list(enabled),
            time.time(),
            lease=config.poll.timeout + 60,
            limit=len(enabled) if limit is None else limit,
            force=force,
            all_now=all_now,
        )
        tasks = []
        for state in claimed:
            if state.name in self._inflight:
                continue  # claimed again while the claim waited for the database
            task = asyncio.ensure_future(self._poll_one(enabled[state.name], state))
            self._inflight[state.name] = task
            task.add_done_callback(self._forget(state.name))
            tasks.append(task)
        return tasks

    def _forget(self, name: str) -> Callable[[asyncio.Task[PollReport]], None]:
        def done(_task: asyncio.Task[PollReport]) -> None:
            self._inflight.pop(name, None)

        return done

    async def _poll_one(self, feed: FeedConfig, state: FeedState) -> PollReport:
        config = self.config
        host = urlsplit(state.url).hostname or "(local)"
        async with self._gate, self._hosts[host]:
            try:
                report = await poll_feed(
                    config, self.loaded.rules, self.db, self.fetcher, self.parser, feed, state
                )
            except Exception as exc:  # a bug must not take the other feeds down
                log.error("feed %s: internal error", feed.name, exc_info=True)
                report = PollReport(
                    feed.name, "error", error=redact_urls(f"internal error: {exc!r}")
                )
        metrics.POLLS.labels(report.feed, report.status).inc()
        if len(self._inflight) <= 1:  # the last poll running (this one): the tick's end
            await self.db(self.store.flush)
        return report

    async def poll(self, *, all_now: bool = False, force: bool = False) -> list[PollReport]:
        """Poll every due feed (``once``: every feed not held) and wait for all of them."""
        tasks = await self.start_polls(all_now=all_now, force=force)
        reports = list(await asyncio.gather(*tasks))
        await self.db(self.store.flush)
        return reports

    async def pump(self, budget: float) -> None:
        """The daemon's poll tick: keep ``poll.concurrency`` polls running while feeds
        are due, for at most ``budget`` seconds. It does not wait for slow polls: a feed
        that hangs until its deadline holds one slot, not the tick (nor the other feeds)."""
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            free = self.config.poll.concurrency - len(self._inflight)
            if free <= 0 or not await self.start_polls(limit=free):
                return
            await asyncio.wait(
                list(self._inflight.values()),
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )

    def cancel_polls(self) -> list[asyncio.Task[PollReport]]:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        return tasks

    async def deliver(self, *, drain: bool = False) -> DeliveryReport:
        return await deliver_due(
            self.db, self.notifiers, self.config, self._pauses, self.in_flight, drain=drain
        )

    async def aclose(self, db_wait: float = 5.0) -> bool:
        """Close the network clients and the parse pool, then stop the database thread
        after what is queued (at most ``db_wait`` seconds). False when the database
        thread was stuck and left behind: then the Store must be left to process exit
        (``Store.close()`` sees that and leaves the connection alone)."""
        self.parser.close()
        for pending in self._closing:
            pending.cancel()
        await self.fetcher.aclose()
        await self.http.aclose()
        return await self.db.close(db_wait)
