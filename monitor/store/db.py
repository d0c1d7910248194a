"""The only module that speaks SQL: schema, migrations, leases, items, alerts, outbox.

Durability rules (docs/reliability.md): WAL with ``synchronous=FULL``; every write in a short
``BEGIN IMMEDIATE`` transaction (a deferred transaction that upgrades to a writer fails at
once with "database is locked" instead of waiting); no network I/O inside a transaction;
one process per database, enforced by an ``flock`` on ``<db>.lock``.

sqlite-utils creates and migrates the schema; the hot paths (batched key look-ups, one
``executemany`` per poll) are plain SQL because sqlite-utils' ``insert_all`` commits every
100 rows (docs/performance.md: 20 k rows/s against 105-165 k in one transaction).

Every claim query (due feeds, due outbox rows) is a select-then-update of a lease column,
which maps one-to-one onto PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import LockedError, StateError
from monitor.store.schema import MIGRATIONS


def lock_holder(path: Path) -> int | None:
    """The pid of the newsmon process holding ``path``'s lock, or None if free."""
    lock_path = path.with_name(path.name + ".lock")
    if not lock_path.exists():
        return None
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


class Database:
    """One open database plus its process lock. Use from one thread at a time: the daemon
    runs every call on its database thread (``monitor/service/dbthread.py``), which holds
    ``in_use`` while a call runs."""

    def __init__(self, path: Path, *, lock: bool = True, readonly: bool = False) -> None:
        self.path = path
        self._lock_file: Any = None
        # Closing a connection while another thread runs a statement on it crashes the
        # interpreter (measured: a segfault), so close() never does that (see close()).
        self.in_use = threading.RLock()
        self._deferred: list[tuple[str, tuple[Any, ...]]] = []
        if lock:
            self._acquire_lock()
        try:
            self.conn = self._connect(readonly)
            self.db = sqlite_utils.Database(self.conn)
            if not readonly:
                self._migrate()
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise LockedError(
                f"another newsmon process (pid {holder}) is using {self.path}; "
                "stop it first, or point this one at another database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro",
                    uri=True,
                    timeout=30,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                # Opened here, used on the daemon's database thread: one thread at a time.
                conn = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
            conn.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"cannot open the database {self.path}: {exc} (the file was left untouched)"
            ) from None
        return conn

    def _migrate(self) -> None:
        (version,) = self.conn.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path} has schema version {version}, newer than this newsmon "
                f"understands ({len(MIGRATIONS)}); upgrade newsmon"
            )
        for step in range(version, len(MIGRATIONS)):
            with self.write():
                MIGRATIONS[step](self.db)
                self.conn.execute(f"PRAGMA user_version={step + 1}")

    def close(self) -> None:
        """Close the connection and release the process lock. If another thread is still
        running a statement (a write waiting out ``busy_timeout`` at shutdown), leave both
        to process exit: SQLite rolls back what was not committed, the OS drops the lock."""
        if not self.in_use.acquire(blocking=False):
            return
        try:
            self._close()
        finally:
            self.in_use.release()

    def _close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):  # deferred state is safe to lose
                self.flush()
            conn.close()
            self.conn = None  # type: ignore[assignment]
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: waits for other writers up to busy_timeout.
        Deferred updates (``defer``) are written first, in the same transaction."""
        self.conn.execute("BEGIN IMMEDIATE")
        pending, self._deferred = self._deferred, []
        try:
            for sql, rows in itertools.groupby(pending, key=lambda entry: entry[0]):
                self.conn.executemany(sql, [params for _, params in rows])
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._deferred[:0] = pending  # not written: they wait for the next transaction
            raise
        self.conn.execute("COMMIT")

    # At most this many deferred updates wait; then they are written at once.
    DEFER_LIMIT = 256

    def defer(self, sql: str, params: tuple[Any, ...]) -> None:
        """An update that may be lost in a crash without harm, written with the next
        write transaction (or ``flush``) instead of paying a ``synchronous=FULL`` commit
        of its own (4.8 ms each; a steady-state cycle is mostly 304s, one such update
        each). Only for state whose loss means an earlier poll, never a missed alert."""
        self._deferred.append((sql, params))
        if len(self._deferred) >= self.DEFER_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Write the deferred updates now (the end of a poll tick, close)."""
        if self._deferred:
            with self.write():
                pass
