"""The daemon: APScheduler 3 runs three fixed jobs on the asyncio loop; per-feed timing
lives in SQLite (``next_check_at``), not in the scheduler.

Jobs: poll tick (claim due feeds, poll them), deliver tick (send due outbox rows),
housekeeping (``PRAGMA optimize``). Each job has ``max_instances=1``, ``coalesce=True``
and a misfire grace of one tick, so a suspended laptop catches up with one run, not N.
Every fetch carries its own total deadline, so no job can hang and block its next runs.

Signals: SIGHUP reloads config and rules (fully validated first; on error the last good
set stays active). SIGTERM/SIGINT stop claiming work, let in-flight deliveries finish
within ``delivery.shutdown_grace`` and exit 0; a second signal exits at once. Whatever
was not sent stays in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import __version__
from monitor.errors import ConfigError
from monitor.runtime import Loaded, Runtime, load_all
from monitor.store import Store

log = logging.getLogger("newsmon.daemon")


class Daemon:
    def __init__(self, config_path: Path, loaded: Loaded, store: Store) -> None:
        self.config_path = config_path
        self.runtime = Runtime(loaded, store)
        self.stopping = asyncio.Event()
        self.signals = 0
        self.polls: set[asyncio.Task[object]] = set()
        self.sends: set[asyncio.Task[object]] = set()
        self.reload_error: str | None = None

    def _tracked(
        self, bucket: set[asyncio.Task[object]], job: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self.stopping.is_set():
                return
            task: asyncio.Task[object] = asyncio.ensure_future(job())
            bucket.add(task)
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("job failed; it runs again on its next tick")
            finally:
                bucket.discard(task)

        return run

    async def _housekeeping(self) -> None:
        self.runtime.store.conn.execute("PRAGMA optimize")

    def reload(self) -> None:
        try:
            loaded = load_all(self.config_path, examples=False)
        except ConfigError as exc:
            self.reload_error = str(exc)
            for problem in exc.problems:
                log.error("reload failed, keeping the last good config: %s", problem)
            return
        if loaded.config.database != self.runtime.config.database:
            log.error("reload failed: the database path cannot change while running; restart")
            return
        self.runtime.replace(loaded)
        self.reload_error = None
        log.info("reloaded: %d feeds, %d rules", len(loaded.config.feeds), len(loaded.rules.rules))

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            log.info("SIGHUP: reloading %s", self.config_path)
            self.reload()
            return
        self.signals += 1
        if self.signals > 1:
            log.warning("second stop signal: exiting now; unsent alerts stay in the outbox")
            os._exit(1)
        log.info("%s: stopping (in-flight deliveries get up to %gs)", signal.Signals(signum).name,
                 self.runtime.config.delivery.shutdown_grace)  # fmt: skip
        self.stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self._on_signal, signum)
        config = self.runtime.config
        scheduler = AsyncIOScheduler(timezone="UTC")
        common = {"max_instances": 1, "coalesce": True}
        scheduler.add_job(
            self._tracked(self.polls, self.runtime.poll),
            "interval",
            seconds=config.poll.tick,
            next_run_time=_now(),
            misfire_grace_time=max(1, int(config.poll.tick)),
            id="poll",
            **common,
        )
        scheduler.add_job(
            self._tracked(self.sends, self.runtime.deliver),
            "interval",
            seconds=config.delivery.tick,
            next_run_time=_now(),
            misfire_grace_time=max(1, int(config.delivery.tick)),
            id="deliver",
            **common,
        )
        scheduler.add_job(
            self._housekeeping, "interval", hours=1, misfire_grace_time=3600, id="housekeeping",
            **common,
        )  # fmt: skip
        scheduler.start()
        log.info(
            "newsmon %s running: %d feeds, %d rules, notifiers %s, database %s",
            __version__,
            sum(1 for f in config.feeds if f.enabled),
            len(self.runtime.loaded.rules.rules),
            ", ".join(config.notifiers) or "(none)",
            config.database,
        )
        await self.stopping.wait()
        scheduler.shutdown(wait=False)
        for task in list(self.polls):
            task.cancel()
        if self.sends:
            _done, pending = await asyncio.wait(
                list(self.sends), timeout=config.delivery.shutdown_grace
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        if self.polls:
            await asyncio.wait(list(self.polls), timeout=1)
        await self.runtime.aclose()
        log.info("stopped")
        return 0


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)
