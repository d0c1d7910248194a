"""CPU and memory of a process tree, read from /proc (Linux), and the bare-fetch ceiling.

``Tree`` covers this process and its descendants except the ones named in ``exclude``
(the feed server and the ceiling client are not newsmon). CPU is user+system time of the
live processes; peak RSS is the largest *sum* over the tree seen by a sampler thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from multiprocessing.connection import Connection

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Tree:
    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pids(self) -> list[int]:
        skip = {p for root in self.exclude for p in descendants(root)}
        return [p for p in descendants(os.getpid()) if p not in skip]

    def cpu(self) -> float:
        """User+system seconds of the tree's live processes (including reaped children)."""
        total = 0
        for pid in self.pids():
            fields = _stat(pid)
            if fields is not None:
                total += sum(int(f) for f in fields[11:15])
        return total / _TICK

    def rss(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/statm") as handle:
                    total += int(handle.read().split()[1]) * _PAGE
            except OSError:
                pass
        return total

    def __enter__(self) -> Tree:
        self.peak = self.rss()
        self._stop.clear()

        def sample() -> None:
            while not self._stop.wait(0.05):
                self.peak = max(self.peak, self.rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.rss())


def ceiling(
    conn: Connection,
    requests: list[tuple[str, str | None, str | None]],
    concurrency: int,
    connections: int,
) -> None:
    """Process entry point: a bare httpx client fetching ``requests`` (url, etag,
    last-modified) at ``concurrency``, bodies discarded. Sends (wall s, CPU s, statuses)."""
    import httpx  # imported here: only this process pays for it

    async def run() -> tuple[float, float, dict[int, int]]:
        gate = asyncio.Semaphore(concurrency)
        statuses: dict[int, int] = {}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def one(url: str, etag: str | None, modified: str | None) -> None:
                headers = {}
                if etag:
                    headers["If-None-Match"] = etag
                if modified:
                    headers["If-Modified-Since"] = modified
                async with gate:
                    response = await client.get(url, headers=headers)
                    await response.aread()
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(one(*r) for r in requests))
            return time.perf_counter() - wall, time.process_time() - cpu, statuses

    conn.send(asyncio.run(run()))
