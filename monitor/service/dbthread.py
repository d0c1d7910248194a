"""Every database call of the service layer runs here, on ONE thread that owns the
connection, never on the event loop.

SQLite calls block: a write waits up to ``busy_timeout`` (30 s) for a lock another process
holds, a retention batch or ``PRAGMA optimize`` takes a while at 1M rows, a slow disk
stalls a commit. On the event loop any of these froze everything else: fetches in flight,
deliveries, SIGTERM (measured: 58 s to exit under a held lock). Here they stall only the
database thread; the loop keeps fetching, sending and handling signals, and work that
needs the database waits its turn in a queue.

One thread, not a pool: SQLite allows one writer, a ``sqlite3.Connection`` must not be
used by two threads at once, and a FIFO queue keeps the calls in the order the loop made
them. The Store keeps its synchronous API (``newsmon once``, the admin commands and other
backends use it as is); only the service layer wraps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from monitor.store import Store

log = logging.getLogger("newsmon.db")

P = ParamSpec("P")
T = TypeVar("T")

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop | None, "asyncio.Future[Any] | None"]


def _logged(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("database call %s failed", getattr(fn, "__name__", fn))


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller gave up (shutdown); the call itself has run
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class StoreThread:
    """``await db(db.store.method, *args)`` runs ``method`` on the database thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # A daemon thread: a call stuck behind another process's lock must not keep the
        # process alive after shutdown (SQLite rolls back what was not committed).
        self._thread = threading.Thread(target=self._serve, name="newsmon-db", daemon=True)
        self._thread.start()

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if not self._thread.is_alive():
            raise RuntimeError("the database thread has stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((functools.partial(fn, *args, **kwargs), loop, future))
        return await future

    def submit(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue a call nobody waits for (a cancelled task's last word); errors are
        logged. It runs in order with the other calls, before the thread stops."""
        self._jobs.put((functools.partial(_logged, fn, *args, **kwargs), None, None))

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            call, loop, future = job
            if loop is None or future is None:
                with self.store.in_use:
                    call()
                continue
            result: Any = None
            error: BaseException | None = None
            with self.store.in_use:
                try:
                    result = call()
                except BaseException as exc:  # handed to the awaiting task, not lost
                    error = exc
            # A closed loop (RuntimeError) means nobody waits for this result any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)

    async def close(self, timeout: float) -> bool:
        """Run what is queued, then stop the thread; wait at most ``timeout`` seconds.
        False when a call is still stuck (a lock held by another process): the thread is
        then left to process exit, and ``Store.close()`` leaves the connection alone."""
        try:
            await asyncio.wait_for(self(lambda: None), timeout)
        except TimeoutError:
            log.warning(
                "the database is still busy after %gs (locked by another process?); "
                "exiting without waiting: an unfinished write is rolled back",
                timeout,
            )
            self._jobs.put(None)
            return False
        except RuntimeError:
            return True  # already stopped
        self._jobs.put(None)
        self._thread.join(timeout)
        return True
