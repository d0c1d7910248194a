"""The real ``newsmon run`` as a subprocess, watched from outside: its log, its peak RSS
(``VmHWM`` from ``/proc/<pid>/status``), signals; plus small read-only helpers on the state
database (``PRAGMA integrity_check``, feed rows, outbox rows).

Every wait is bounded; ``Daemon`` is a context manager that always ends its process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.conftest import Workspace

#: A text log line as ``monitor.service.log.TextFormatter`` writes it.
LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
#: The summary lines ``newsmon once`` prints at the end.
SUMMARY_LINE = re.compile(r"^newsmon: ")


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of a live process in KiB (None once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


class Daemon:
    """``newsmon run`` with stdout+stderr in ``<workspace>/<log_name>``."""

    def __init__(
        self,
        ws: Workspace,
        *,
        env: dict[str, str] | None = None,
        log_name: str = "daemon.log",
        args: tuple[str, ...] = (),
    ) -> None:
        self.log = ws.root / log_name
        self.peak_kib = 0
        self._log_handle = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(ws.config), *args],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=ws.root,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        return self.output().splitlines()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def sample_rss(self) -> int:
        """Remember the process's peak RSS so far (KiB); read it while the process lives."""
        if self.alive():
            peak = vm_hwm_kib(self.proc.pid)
            if peak is not None:
                self.peak_kib = max(self.peak_kib, peak)
        return self.peak_kib

    @property
    def peak_mb(self) -> float:
        return self.peak_kib / 1024

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sample_rss()
            if predicate():
                return True
            if not self.alive():
                return predicate()
            time.sleep(0.1)
        return False

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 20) -> bool:
        """Wait until ``pattern`` (a regex) matches at least ``count`` log lines."""
        regex = re.compile(pattern)
        return self.wait_for(
            lambda: sum(1 for line in self.lines() if regex.search(line)) >= count, timeout
        )

    def hup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait (bounded), return the exit code; SIGKILL if it does not stop."""
        self.sample_rss()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.alive():
                self.proc.kill()
                self.proc.wait(timeout=5)
            self._log_handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log_handle.close()


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the state database (``"ok"`` when healthy)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def feed_rows(ws: Workspace) -> dict[str, dict[str, Any]]:
    """``newsmon feeds --json`` by feed name."""
    result = ws.run("feeds", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def outbox_status(db: Path) -> list[tuple[str, str, int]]:
    """(notifier, status, attempts) of every alert delivery (operator notices excluded)."""
    return [
        (str(r[0]), str(r[1]), int(r[2]))
        for r in query(
            db,
            "SELECT o.notifier, o.status, o.attempts FROM outbox o JOIN alerts a"
            " ON a.id = o.alert_id WHERE a.kind = 'alert' ORDER BY o.created_at",
        )
    ]


def forged_lines(text: str) -> list[str]:
    """Lines of a text log that do not start with a timestamp and a level."""
    return [
        line
        for line in text.splitlines()
        if line and not LOG_LINE.match(line) and not SUMMARY_LINE.match(line)
    ]
