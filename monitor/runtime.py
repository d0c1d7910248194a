"""Everything one cycle needs, built from a config: rules, store, fetcher, notifiers.

``newsmon once`` runs one cycle; the daemon runs the same two steps on its ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from monitor import metrics
from monitor.config import Config, load_config
from monitor.deliver import DeliveryReport, deliver_due, release_stale_leases
from monitor.errors import ConfigError
from monitor.fetch import Fetcher, FetchLimits
from monitor.notify import build_notifiers, http_client
from monitor.parse import check_expat
from monitor.pipeline import PollReport, poll_feed
from monitor.rules import RuleSet, check_examples, check_rules, load_rules
from monitor.store import Store

log = logging.getLogger("newsmon")


@dataclass(frozen=True)
class Loaded:
    config: Config
    rules: RuleSet


def load_all(path: Path, *, examples: bool = True) -> Loaded:
    """Config plus every rule, fully validated; raise ConfigError listing every problem."""
    check_expat()
    config = load_config(path)
    rules, problems = load_rules(config.rules_dir)
    cross = check_rules(rules, config)
    if not examples:
        example_problems = {str(p) for r in rules.rules for p in check_examples(rules, r)}
        for problem in cross:
            if str(problem) in example_problems:
                log.warning("rule example fails: %s", problem)
        cross = [p for p in cross if str(p) not in example_problems]
    problems += cross
    if problems:
        raise ConfigError(problems)
    if not rules.rules:
        log.warning("no rules in %s: feeds are polled but nothing can alert", config.rules_dir)
    return Loaded(config, rules)


class Runtime:
    def __init__(self, loaded: Loaded, store: Store) -> None:
        self.loaded = loaded
        self.store = store
        self.fetcher = self._fetcher()
        self.http = http_client(loaded.config.poll.user_agent)
        self.notifiers = build_notifiers(loaded.config, self.http)
        self._hosts = self._host_gates()
        self._closing: set[asyncio.Future[None]] = set()
        self._pauses: dict[str, float] = {}
        self.sync_feeds()
        released = release_stale_leases(store)
        if released:
            log.warning(
                "%d deliveries were in flight when newsmon last stopped; sending them again "
                "(receivers see the same id and can drop a repeat)",
                released,
            )

    @property
    def config(self) -> Config:
        return self.loaded.config

    def sync_feeds(self) -> None:
        feeds = [(f.name, self.config.feed_source(f)) for f in self.config.feeds]
        self.store.sync_feeds(feeds, time.time())

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

    def replace(self, loaded: Loaded) -> None:
        """Swap in a new, already validated config and rule set (SIGHUP reload). Polls
        already running finish with the old settings; new ones use the new."""
        old = self.loaded.config.poll
        self.loaded = loaded
        self.notifiers = build_notifiers(loaded.config, self.http)
        if loaded.config.poll != old:
            previous = self.fetcher
            self.fetcher = self._fetcher()
            self._hosts = self._host_gates()
            self._closing.add(asyncio.ensure_future(self._close_later(previous)))
        self.sync_feeds()

    async def _close_later(self, fetcher: Fetcher) -> None:
        await asyncio.sleep(self.loaded.config.poll.timeout + 5)  # let running polls end
        await fetcher.aclose()

    async def poll(self, *, all_now: bool = False, force: bool = False) -> list[PollReport]:
        config = self.config
        enabled = {f.name: f for f in config.feeds if f.enabled}
        claimed = self.store.claim_due_feeds(
            list(enabled),
            time.time(),
            lease=config.poll.timeout + 60,
            limit=len(enabled) or 1,
            force=force,
            all_now=all_now,
        )
        gate = asyncio.Semaphore(config.poll.concurrency)

        async def one(name: str) -> PollReport:
            feed = enabled[name]
            state = next(s for s in claimed if s.name == name)
            host = urlsplit(state.url).hostname or "(local)"
            async with gate, self._hosts[host]:
                try:
                    return await poll_feed(
                        config, self.loaded.rules, self.store, self.fetcher, feed, state
                    )
                except Exception as exc:  # a bug must not take the other feeds down
                    log.exception("feed %s: internal error", name)
                    return PollReport(name, "error", error=f"internal error: {exc!r}")

        reports = list(await asyncio.gather(*(one(s.name) for s in claimed)))
        for report in reports:
            metrics.POLLS.labels(report.feed, report.status).inc()
        return reports

    async def deliver(self) -> DeliveryReport:
        return await deliver_due(self.store, self.notifiers, self.config, self._pauses)

    async def aclose(self) -> None:
        for pending in self._closing:
            pending.cancel()
        await self.fetcher.aclose()
        await self.http.aclose()
