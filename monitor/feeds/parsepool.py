"""Parse large feeds in worker processes: both cores, a memory ceiling, a hard deadline.

feedparser is pure Python (50-80 ms for a 50-item feed, docs/performance.md), so parsing
in threads uses one core however many feeds are due. Bodies of ``INLINE_BELOW`` bytes or
more go to a small pool of worker processes instead: they parse in parallel, each worker
runs under an address-space limit (defence in depth behind the entity guard and the entry
cap, docs/reliability.md), and a parse that overruns its deadline costs only its own feed:
pebble's pool kills the one worker running it and starts a fresh one, while the other
workers finish the feeds they are parsing (``multiprocessing.Pool`` can only terminate
the whole pool, which failed every feed in it).

Measured (bench/parse_crossover.py): handing a body to the pool costs the event-loop
process, the poll's bottleneck, a half to a sixth of the CPU of parsing it in a thread
at every size from one item (0.7 KB) to fifty (25 KB), so a lower threshold would let
both cores parse ordinary feeds. It stays at 64 KiB for now: with small bodies the pool
starts in almost every `newsmon once`, and stopping a pebble pool while one of its
workers is still starting makes that worker print a traceback (SemLock) on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import signal
from typing import Any

import pebble

from monitor.errors import FetchTimeout
from monitor.feeds.parse import parse_feed
from monitor.models import ParsedFeed

log = logging.getLogger("newsmon.parse")

INLINE_BELOW = 64 * 1024
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
        self._pool: pebble.ProcessPool | None = None

    def _ensure(self) -> pebble.ProcessPool:
        if self._pool is None or not self._pool.active:
            # spawn, not fork: the daemon has threads (asyncio, httpx, sqlite) by now.
            self._pool = pebble.ProcessPool(
                self.workers,
                initializer=_worker_init,
                initargs=(self.memory,),
                context=multiprocessing.get_context("spawn"),
            )
        return self._pool

    async def parse(self, body: bytes, deadline: float, **options: Any) -> ParsedFeed:
        if len(body) < INLINE_BELOW:
            return await asyncio.to_thread(parse_feed, body, **options)
        # pebble's timeout counts from the moment a worker starts the task; the outer
        # wait_for also bounds the time spent queued behind other feeds.
        future = self._ensure().schedule(parse_feed, (body,), options, timeout=deadline)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), deadline)
        except TimeoutError:
            # Cancelling a running pebble future kills its worker (and only that one).
            future.cancel()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            log.warning(
                "feed parser overran %gs; its worker process was replaced (other feeds go on)",
                deadline,
            )
            raise FetchTimeout(f"parsing took longer than {deadline:g}s") from None
        except MemoryError:
            raise FetchTimeout("parsing ran out of memory (worker limit)") from None
        except pebble.ProcessExpired as exc:
            # The worker died under this feed (killed, out of memory): a new one starts.
            raise FetchTimeout(f"the parser process died ({exc})") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            self._pool.join(timeout=5)
            self._pool = None
