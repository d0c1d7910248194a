"""The daemon: APScheduler 3 runs a few fixed jobs on the asyncio loop; per-feed timing
lives in SQLite (``next_check_at``), not in the scheduler.

Jobs: poll tick (claim due feeds, poll them), deliver tick (send due outbox rows), watch
(reload when config or rule files change, ``reload.py``), housekeeping (retention,
``PRAGMA optimize``). Each job has ``max_instances=1``, ``coalesce=True`` and a misfire
grace of one tick, so a suspended laptop catches up with one run, not N. Every fetch
carries its own total deadline, so no job can hang and block its next runs.

Signals: SIGHUP reloads config and rules (fully validated first; on error the last good
set stays active, the error is logged with file:line and shown by ``status``).
SIGTERM/SIGINT stop claiming work, let in-flight deliveries finish within
``delivery.shutdown_grace`` and exit 0; a second signal exits at once. Whatever was not
sent stays in the outbox for the next start.

Database calls run on the database thread (``runtime.db``, see ``dbthread.py``), never on
the loop: a lock held by another process or a long retention pass delays only the work
that needs the database. Retention runs in short batches, one call each, so polls and
deliveries interleave with it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import __version__
from monitor.config import Config
from monitor.service import metrics
from monitor.service.dbthread import StoreThread
from monitor.service.reload import WATCH_EVERY, Reloader
from monitor.service.runtime import Loaded, Runtime
from monitor.service.workers import config_hashes, new_worker_id
from monitor.store import Store, more_to_prune

if TYPE_CHECKING:
    from monitor.service.web import StatusServer

log = logging.getLogger("newsmon.daemon")

HOUSEKEEPING_EVERY = 3600.0
DB_CLOSE_WAIT = 2.0  # seconds a stop waits for database work (a lock held elsewhere: exit)


class Daemon:
    def __init__(
        self, config_path: Path, loaded: Loaded, store: Store, http: tuple[str, int] | None = None
    ) -> None:
        self.config_path = config_path
        self.runtime = Runtime(loaded, store)
        self.stopping = asyncio.Event()
        self.signals = 0
        self.polls: set[asyncio.Task[object]] = set()
        self.sends: set[asyncio.Task[object]] = set()
        self.started_at = time.time()
        self.heartbeat = self.started_at
        self.http = http
        self.web: StatusServer | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.worker_id = new_worker_id()
        self.hashes = config_hashes(loaded.config)
        self.reloads = Reloader(config_path, self.runtime, self.stopping, self._reloaded)

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def db(self) -> StoreThread:
        return self.runtime.db

    def info(self) -> dict[str, Any]:
        """What the status page and /healthz show about the running process."""
        config = self.runtime.config
        return {
            "version": __version__,
            "worker": self.worker_id,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "heartbeat": self.heartbeat,
            "tick": config.poll.tick,
            "reload_error": self.reloads.error,
            "config": str(self.config_path),
            "feeds": [f.name for f in config.feeds if f.enabled],
            "rules": [r.id for r in self.runtime.loaded.rules.rules],
            "notifiers": list(config.notifiers),
        }

    def _tracked(
        self, bucket: set[asyncio.Task[object]], job: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self.stopping.is_set():
                return
            task: asyncio.Task[object] = asyncio.ensure_future(job())
            bucket.add(task)
            try:
                # Shielded: APScheduler cancels running jobs on shutdown, but a delivery
                # in flight must get its shutdown grace (see _drain).
                await asyncio.shield(task)
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("job failed; it runs again on its next tick")
            finally:
                bucket.discard(task)

        return run

    async def _poll(self) -> None:
        self.heartbeat = time.time()
        if self.store.shared:
            await self.db(self.store.worker_heartbeat, self.worker_id, self.heartbeat, *self.hashes)
        else:
            beat = json.dumps({"pid": os.getpid(), "heartbeat": self.heartbeat})
            await self.db(self.store.set_meta, "daemon", beat)
        # Stay inside one tick so the next one is never skipped as "still running".
        await self.runtime.pump(budget=0.8 * self.runtime.config.poll.tick)

    async def _housekeeping(self) -> None:
        """Retention in short batches (each one transaction, one database call), so the
        write lock is never held for long and other calls run between batches."""
        # On PostgreSQL every worker schedules this job; the advisory lock lets one run it
        # and the others skip this round (the next holder runs it an hour later).
        with self.store.exclusive("housekeeping") as mine:
            if not mine:
                log.debug("housekeeping: another worker is running it")
                return
            if self.store.shared:
                await self.db(self.store.forget_workers, time.time())
            retention = self.runtime.config.retention
            now = time.time()
            pruned: dict[str, int] = {}
            try:
                while not self.stopping.is_set():
                    got = await self.db(
                        self.store.prune_batch,
                        now - retention.items,
                        now - retention.alerts,
                        story_keys_before=now - self.runtime.config.stories.window,
                    )
                    for name, count in got.items():
                        pruned[name] = pruned.get(name, 0) + count
                    if not more_to_prune(got):
                        break
            except asyncio.CancelledError:
                # Stopping: every finished batch is committed; the rest waits for next time.
                log.info("housekeeping: stopped between batches; the rest is pruned later")
                return
            if any(pruned.values()):
                log.info(
                    "housekeeping: pruned %s", ", ".join(f"{n} {k}" for k, n in pruned.items())
                )
            if not self.stopping.is_set():
                await self.db(self.store.optimize)

    def _reloaded(self, old: Config, loaded: Loaded) -> None:
        """The daemon's part of a good reload: its worker hashes and the job intervals."""
        self.hashes = config_hashes(loaded.config)
        if self.scheduler is not None:
            for job_id, before, after in (
                ("poll", old.poll.tick, loaded.config.poll.tick),
                ("deliver", old.delivery.tick, loaded.config.delivery.tick),
            ):
                if before != after:
                    self.scheduler.reschedule_job(job_id, trigger="interval", seconds=after)

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            log.info("SIGHUP: reloading %s", self.config_path)
            self.reloads.spawn(self.reloads.reload())
            return
        self.signals += 1
        if self.signals > 1:
            log.warning("second stop signal: exiting now; unsent alerts stay in the outbox")
            os._exit(1)
        log.info(
            "%s: stopping (in-flight deliveries get up to %gs)",
            signal.Signals(signum).name,
            self.runtime.config.delivery.shutdown_grace,
        )
        self.stopping.set()

    def _schedule(self) -> AsyncIOScheduler:
        config = self.runtime.config
        scheduler = AsyncIOScheduler(timezone="UTC")
        now = datetime.fromtimestamp(time.time(), UTC)

        def add(
            job_id: str, job: Callable[[], Awaitable[None]], every: float, first: datetime
        ) -> None:
            # next_run_time is always given: None would add the job *paused*.
            scheduler.add_job(
                job,
                "interval",
                id=job_id,
                name=job_id,
                seconds=every,
                next_run_time=first,
                misfire_grace_time=max(1, int(every)),
                max_instances=1,
                coalesce=True,
            )

        add("poll", self._tracked(self.polls, self._poll), config.poll.tick, now)
        add("deliver", self._tracked(self.sends, self.runtime.deliver), config.delivery.tick, now)
        add("watch", self.reloads.watch, WATCH_EVERY, now + timedelta(seconds=WATCH_EVERY))
        add("housekeeping", self._housekeeping, HOUSEKEEPING_EVERY, now)
        return scheduler

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self._on_signal, signum)
        config = self.runtime.config
        await self.runtime.start()
        await self.db(self.store.set_meta, "reload_error", None)
        if self.store.shared:
            await self.db(
                self.store.register_worker, self.worker_id, host=socket.gethostname(),
                pid=os.getpid(), version=__version__, config_hash=self.hashes[0],
                rules_hash=self.hashes[1], now=time.time(),
            )  # fmt: skip
        if not await self.db(self.store.integrity_ok):
            log.error(
                "database %s fails PRAGMA quick_check: running on, but back it up and "
                "check it (sqlite3 %s 'PRAGMA integrity_check')",
                config.database,
                config.database,
            )
        metrics.watch_store(self._snapshot)
        if self.http is not None:
            # Imported only when asked for: the page code is not needed otherwise.
            from monitor.service.web import StatusServer  # noqa: PLC0415

            self.web = StatusServer(self.http[0], self.http[1], config.database, self.info)
            try:
                self.web.start()
            except OSError as exc:
                log.error("%s", exc)
                await self.runtime.aclose(DB_CLOSE_WAIT)
                return 1
            host = f"[{self.web.host}]" if ":" in self.web.host else self.web.host
            log.info("status page on http://%s:%d/", host, self.web.port)
        scheduler = self.scheduler = self._schedule()
        scheduler.start()
        await self.reloads.start_watcher()
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
        # _drain first, with no await before it: it snapshots the sends in flight.
        await self._drain(config.delivery.shutdown_grace)
        await self.reloads.stop()
        if self.web is not None:
            self.web.stop()
        if self.store.shared:
            self.db.submit(self.store.worker_stopped, self.worker_id, time.time())
        else:
            self.db.submit(self.store.set_meta, "daemon", None)
        await self.runtime.aclose(DB_CLOSE_WAIT)
        log.info("stopped")
        return 0

    async def _drain(self, grace: float) -> None:
        """Cancel polls at once (their leases expire); give sends ``grace`` seconds."""
        for task in list(self.polls):
            task.cancel()
        polls = self.runtime.cancel_polls()
        # A snapshot: the scheduler's shutdown cancels the job wrappers, which then drop
        # their (shielded, still running) tasks from the bucket.
        pending = set(self.sends)
        started = time.monotonic()
        while pending:
            # Sends on the wire get the whole grace; a deliver tick that only waits for
            # the database (a lock held elsewhere) gets DB_CLOSE_WAIT: cancelling it
            # loses nothing, its rows stay in the outbox.
            wait = grace if self.runtime.in_flight.sends else min(grace, DB_CLOSE_WAIT)
            left = started + wait - time.monotonic()
            if left <= 0:
                break
            _done, pending = await asyncio.wait(pending, timeout=min(left, 0.1))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)
        if self.polls or polls:
            await asyncio.wait([*self.polls, *polls], timeout=1)

    def _snapshot(self) -> dict[str, Any]:
        # Called from the scrape thread. PostgreSQL's store is a pool, safe from any
        # thread; SQLite's connection belongs to the loop: use a separate read-only one.
        if self.store.shared:
            data = self.store.health(time.time())
        else:
            store = Store(self.runtime.config.database, lock=False, readonly=True)
            try:
                data = store.health(time.time())
            finally:
                store.close()
        data["feeds"] = sum(1 for f in self.runtime.config.feeds if f.enabled)
        return data
