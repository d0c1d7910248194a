"""File-system notifications for the daemon's reload watch (watchfiles: inotify on Linux).

The daemon used to stat the config, every feed file and every rule file every 2 seconds;
with 1,000 rule files that cost ~0.8 CPU-s a minute while idle. Here the directories that
hold those files are watched (not recursively: the rules directory is read flat), and a
batch of events that touches a relevant name calls ``on_change``. The daemon then
compares the same (path, mtime, size) signature as before, so an event that changed
nothing (an editor's swap file, a touch without a change) reloads nothing.

When notifications cannot be set up (no inotify, the per-user watch limit reached, a
directory that is gone), ``FileWatch`` reports it through ``on_failure`` and the daemon
falls back to checking the timestamps every 2 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

DEBOUNCE_MS = 500  # an editor's write + rename, or a `cp -r` of many rules: one reload
STOP_WAIT = 2.0  # seconds a stop waits for the watcher thread (it checks every 50 ms)
RULE_SUFFIXES = (".yaml", ".yml")


def watched_dirs(files: Iterable[Path], rules_dir: Path) -> tuple[Path, ...]:
    """The directories to watch: those of the config and feed files, and the rules dir."""
    dirs = {p.parent.resolve() for p in files}
    dirs.add(rules_dir.resolve())
    return tuple(sorted(d for d in dirs if d.is_dir()))


class FileWatch:
    """One watchfiles loop over ``dirs``; ``on_change`` runs after each relevant batch."""

    def __init__(
        self,
        dirs: tuple[Path, ...],
        files: Iterable[Path],
        rules_dir: Path,
        on_change: Callable[[], Awaitable[None]],
        on_failure: Callable[[str], None],
    ) -> None:
        self.dirs = dirs
        self.files = set(files)
        self._files = {str(p.resolve()) for p in self.files}
        self._rules_dir = str(rules_dir.resolve())
        self._on_change = on_change
        self._on_failure = on_failure
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def relevant(self, path: str) -> bool:
        if path in self._files:
            return True
        p = Path(path)
        return (
            str(p.parent) == self._rules_dir
            and p.suffix in RULE_SUFFIXES
            and not p.name.startswith(".")
        )

    async def start(self) -> None:
        """Start watching; returns once the watches are in place (or setting them up
        failed, which ``on_failure`` has then been told)."""
        self._task = asyncio.ensure_future(self._run())
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait([self._task, ready], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()

    async def _run(self) -> None:
        # watchfiles' own switch to polling: we honour it with our timestamp check (its
        # poller would read every directory several times a second).
        if os.environ.get("WATCHFILES_FORCE_POLLING"):
            self._on_failure("WATCHFILES_FORCE_POLLING is set")
            return
        # Imported here: only the daemon needs it (`check`, `once` stay light).
        from watchfiles import awatch  # noqa: PLC0415

        changes = awatch(
            *self.dirs,
            watch_filter=lambda _change, path: self.relevant(path),
            debounce=DEBOUNCE_MS,
            stop_event=self._stop,
            recursive=False,
            force_polling=False,
        )
        try:
            # awatch sets its watches synchronously in its first step, before it waits
            # for events in a thread: once that step is under way, nothing is missed.
            first = asyncio.ensure_future(anext(changes))
            await asyncio.sleep(0)
            if not first.done():
                self._ready.set()
            batch = await first
            while True:
                self._ready.set()
                if batch:
                    await self._on_change()
                batch = await anext(changes)
        except StopAsyncIteration:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure to watch means: fall back to polling
            self._on_failure(f"{type(exc).__name__}: {exc}")
        finally:
            # Still running in a cancelled step: it ends with that step.
            with contextlib.suppress(RuntimeError):
                await changes.aclose()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            _done, pending = await asyncio.wait([self._task], timeout=STOP_WAIT)
            for task in pending:
                task.cancel()
