"""Parse large feeds in worker processes: both cores, a memory ceiling, a hard deadline.

feedparser is pure Python (50-80 ms for a 50-item feed, PERFORMANCE.md), so parsing in
threads uses one core however many feeds are due. Bodies of ``INLINE_BELOW`` bytes or
more go to a small ``multiprocessing`` pool instead: they parse in parallel, each worker
runs under an address-space limit (defence in depth behind the entity guard and the
entry cap, as RELIABILITY.md §3.2 recommends), and a parse that overruns its deadline
costs the pool, which is terminated and rebuilt, not the daemon.

The threshold is measured (bench/parse_crossover.py): the event-loop process, which
also fetches, matches and records, is the poll's bottleneck, and handing a body to the
pool costs it a half to a sixth of the CPU of parsing it in a thread at every size from
one item (0.7 KB) to fifty (25 KB). Only bodies under 2 KiB (one or two items, well
under a millisecond to parse) stay in a thread, so that a cycle of tiny feeds does not
start worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.pool
import os
import resource
import signal
from typing import Any

from monitor.errors import FetchTimeout
from monitor.feeds.parse import parse_feed
from monitor.models import ParsedFeed

log = logging.getLogger("newsmon.parse")

INLINE_BELOW = 2 * 1024
WORKER_MEMORY = 1024 * 1024 * 1024  # address space per worker; a 10 MB feed needs ~100 MB


def _worker_init(memory: int) -> None:
    # The daemon handles Ctrl-C and SIGTERM; workers just end with the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(ValueError, OSError):  # a lower hard limit already applies
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


class ParsePool:
    def __init__(self, workers: int | None = None, memory: int = WORKER_MEMORY) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.memory = memory
        self._pool: multiprocessing.pool.Pool | None = None

    def _ensure(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            # spawn, not fork: the daemon has threads (asyncio, httpx, sqlite) by now.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(self.workers, _worker_init, (self.memory,))
        return self._pool

    def _reset(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    async def parse(self, body: bytes, deadline: float, **options: Any) -> ParsedFeed:
        if len(body) < INLINE_BELOW:
            return await asyncio.to_thread(parse_feed, body, **options)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ParsedFeed] = loop.create_future()

        def settle(result: Any = None, error: BaseException | None = None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

        self._ensure().apply_async(
            parse_feed,
            (body,),
            options,
            callback=lambda r: loop.call_soon_threadsafe(settle, r),
            error_callback=lambda e: loop.call_soon_threadsafe(settle, None, e),
        )
        try:
            return await asyncio.wait_for(done, deadline)
        except TimeoutError:
            # A worker that died (out of memory) or hangs never answers: start afresh.
            log.warning("feed parser overran %gs; restarting the parser processes", deadline)
            self._reset()
            raise FetchTimeout(f"parsing took longer than {deadline:g}s") from None
        except MemoryError:
            raise FetchTimeout("parsing ran out of memory (worker limit)") from None

    def close(self) -> None:
        self._reset()
