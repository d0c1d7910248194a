"""Reloading config and rules while the daemon runs: on SIGHUP, and when the config, a
feed file or a rule file changes (file notifications, with a rare timestamp check
behind them; timestamps every 2 s when notifications are unavailable).

A reload is fully validated first; on error the last good set stays active, the error
is logged with file:line and shown by ``status``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from monitor.config import Config
from monitor.errors import ConfigError
from monitor.matching.rules import rule_files
from monitor.service import metrics
from monitor.service.runtime import Loaded, Runtime, load_all
from monitor.service.watch import FileWatch, watched_dirs

# The daemon's logger: reloads were always logged under its name, and JSON log lines
# carry the name for filtering.
log = logging.getLogger("newsmon.daemon")

WATCH_EVERY = 2.0  # seconds between timestamp checks when notifications are unavailable
# With notifications on, the timestamps are still compared this rarely: a change that
# raises no notification (another host writing to a network file system) is seen too.
WATCH_SAFETY_EVERY = 60.0


def files_signature(loaded: Loaded) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of the config, its feed files and every rule file."""
    paths = [*loaded.config.files, *rule_files(loaded.config.rules_dir)]
    out = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(out))


class Reloader:
    """The file watch and the reloads of one daemon. ``error`` is the last reload's
    problems (None once one succeeds); ``reloaded(old config, new set)`` is the
    daemon's own part of a good reload (its scheduler stays in ``daemon.py``)."""

    def __init__(
        self,
        config_path: Path,
        runtime: Runtime,
        stopping: asyncio.Event,
        reloaded: Callable[[Config, Loaded], None],
    ) -> None:
        self.config_path = config_path
        self.runtime = runtime
        self.stopping = stopping
        self.reloaded = reloaded
        self.error: str | None = None
        self.signature = files_signature(runtime.loaded)
        self._tasks: set[asyncio.Task[None]] = set()
        self.watcher: FileWatch | None = None  # None: timestamps are checked every 2 s
        self._checked_at = time.monotonic()

    async def watch(self) -> None:
        """The APScheduler job: with notifications on, only a rare safety check."""
        if not self.runtime.config.watch:
            return
        if self.watcher is not None and time.monotonic() - self._checked_at < WATCH_SAFETY_EVERY:
            return
        await self._check_files("timestamp check")

    async def _check_files(self, seen_by: str) -> None:
        self._checked_at = time.monotonic()
        if not self.runtime.config.watch or self.stopping.is_set():
            return
        signature = files_signature(self.runtime.loaded)
        if signature != self.signature:
            self.signature = signature
            log.info("config or rule files changed (%s): reloading", seen_by)
            try:
                await self.reload()
            except Exception:
                log.exception("reload failed; the last good config stays active")

    async def start_watcher(self) -> None:
        """Watch the config, feed file and rule directories with notifications; on
        failure the watch job falls back to checking timestamps every 2 seconds."""
        config = self.runtime.config
        dirs = watched_dirs(config.files, config.rules_dir)
        if self.watcher is not None:
            if self.watcher.dirs == dirs and self.watcher.files == set(config.files):
                return
            await self.watcher.stop()
            self.watcher = None
        if not config.watch:
            return

        def failed(reason: str) -> None:
            log.warning(
                "file notifications unavailable (%s): checking config and rule file "
                "timestamps every %gs instead",
                reason,
                WATCH_EVERY,
            )
            self.watcher = None

        async def notified() -> None:
            await self._check_files("file notification")

        watcher = self.watcher = FileWatch(dirs, config.files, config.rules_dir, notified, failed)
        await watcher.start()
        if self.watcher is watcher:
            log.debug("watching %s for changes", ", ".join(map(str, dirs)))
            # A change between loading the files and the watches being set: seen here.
            await self._check_files("timestamp check")

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()

    async def reload(self) -> None:
        try:
            loaded = load_all(self.config_path, examples=False)
        except ConfigError as exc:
            await self._failed(exc.problems)
            return
        if loaded.config.database != self.runtime.config.database:
            await self._failed(["the database path cannot change while running; restart"])
            return
        old = self.runtime.config
        await self.runtime.replace(loaded)
        self.signature = files_signature(loaded)
        if self.watcher is not None or (loaded.config.watch and not old.watch):
            # New feed files or rules_dir: new directories. A task of its own: this reload
            # may run inside the watcher's callback, which a restart waits for.
            self.spawn(self.start_watcher())
        self.reloaded(old, loaded)
        self.error = None
        await self.runtime.db(self.runtime.store.set_meta, "reload_error", None)
        metrics.RELOADS.labels("ok").inc()
        metrics.RELOAD_FAILED.set(0)
        log.info("reloaded: %d feeds, %d rules", len(loaded.config.feeds), len(loaded.rules.rules))

    async def _failed(self, problems: list[Any]) -> None:
        self.error = "\n".join(str(p) for p in problems)
        await self.runtime.db(self.runtime.store.set_meta, "reload_error", self.error)
        metrics.RELOADS.labels("failed").inc()
        metrics.RELOAD_FAILED.set(1)
        for problem in problems:
            log.error("reload failed, keeping the last good config: %s", problem)

    def spawn(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
