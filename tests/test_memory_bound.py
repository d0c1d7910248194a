"""A poll's peak memory has a documented bound that holds with ``poll.concurrency`` feeds
of ``poll.max_body`` bytes each in flight: the RSS of a real ``newsmon once`` (its own
process plus its parser worker processes), sampled while it polls many large feeds from
a loopback server, stays under the formula the README states."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, Workspace, rss
from tests.servers import FeedServer

MIB = 1024 * 1024
# The README's words, checked below so that the test and the documentation stay one.
README_BOUND = "100 MiB + 3 × concurrency × max_body + workers × (50 MiB + 12 × max_body)"


def documented_bound(concurrency: int, max_body: int) -> int:
    workers = max(1, min(4, os.cpu_count() or 1))  # monitor/feeds/parsepool.py
    return 100 * MIB + 3 * concurrency * max_body + workers * (50 * MIB + 12 * max_body)


def big_feed(n: int, size: int) -> bytes:
    """A valid RSS document just under ``size`` bytes: items with long descriptions."""
    items: list[str] = []
    total = 0
    while True:
        item = (
            f"<item><title>Story {n}-{len(items)}</title>"
            f"<link>https://www.example-news.test/{n}/{len(items)}</link>"
            f"<guid>g{n}-{len(items)}</guid><description>{'word ' * 2000}</description></item>"
        )
        if total + len(item) + 400 > size:
            break
        items.append(item)
        total += len(item)
    body = rss(items)
    assert size * 0.9 < len(body) <= size
    return body


def peak_rss(cmd: list[str], cwd: Path) -> tuple[int, subprocess.CompletedProcess[str]]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak = 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            total = watched.memory_info().rss + sum(
                child.memory_info().rss for child in watched.children(recursive=True)
            )
        except psutil.Error:  # a worker ended between the listing and the reading
            continue
        peak = max(peak, total)
        time.sleep(0.01)
    out, err = proc.communicate(timeout=30)
    return peak, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_readme_states_the_bound() -> None:
    assert README_BOUND in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_peak_memory_of_a_poll_stays_under_the_documented_bound(workspace: Workspace) -> None:
    concurrency, max_body, feeds = 8, 4 * MIB, 16
    with FeedServer() as server:
        for n in range(feeds):
            server.put(f"/f{n}.xml", big_feed(n, max_body))
        workspace.write_config(
            {
                "feeds": [{"name": f"f{n}", "url": server.url(f"/f{n}.xml")} for n in range(feeds)],
                "notifiers": {"screen": {"kind": "console"}},
                "defaults": {"notify": ["screen"]},
                "poll": {
                    "concurrency": concurrency,
                    "per_host": concurrency,
                    "max_body": max_body,
                    "max_entries": 5000,
                },
            }
        )
        cmd = [sys.executable, "-m", "monitor", "--config", str(workspace.config), "once"]
        peak, result = peak_rss(cmd, workspace.root)
    assert result.returncode == 0, result.stderr
    assert f"{feeds} feeds polled (0 failed)" in result.stderr, result.stderr
    bound = documented_bound(concurrency, max_body)
    print(f"peak RSS {peak / MIB:.0f} MiB, documented bound {bound / MIB:.0f} MiB")
    assert peak > 60 * MIB  # the sampling saw the poll, not just an interpreter starting
    assert peak < bound
