"""Opening a store: a SQLite file (the embedded default) or a PostgreSQL database.

Both backends sit behind the same two members, so every query method is written once:
``conn`` (``execute``/``executemany`` in SQLite's spelling; ``postgres.py`` rewrites it)
and ``write()`` (one transaction). ``dialect`` holds the few differences that are not a
rewrite (claim row locks, day of a timestamp).

SQLite durability rules (docs/reliability.md): WAL with ``synchronous=FULL``; every write
in a short ``BEGIN IMMEDIATE`` transaction (a deferred transaction that upgrades to a
writer fails at once with "database is locked" instead of waiting); no network I/O inside
a transaction; one process per database, enforced by an ``flock`` on ``<db>.lock``.

sqlite-utils creates and migrates the schema; the hot paths (batched key look-ups, one
``executemany`` per poll) are plain SQL because sqlite-utils' ``insert_all`` commits every
100 rows (docs/performance.md: 20 k rows/s against 105-165 k in one transaction).

Every claim query (due feeds, due outbox rows) is a select-then-update of a lease column,
which maps one-to-one onto PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``.

On PostgreSQL there is no process lock: any number of workers share the database, and
row locks (claims), unique constraints (one alert per rule and story) and advisory locks
(housekeeping) keep them from doing the same work twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlite_utils

from monitor.errors import LockedError, StateError
from monitor.models import PostgresURL
from monitor.store.dialect import POSTGRES, SQLITE, Dialect
from monitor.store.schema import MIGRATIONS

if TYPE_CHECKING:
    from monitor.store.postgres import Pg

T = TypeVar("T")
CONFLICT_TRIES = 10
CACHE_KIB = 32 * 1024  # SQLite page cache of the writing connection (README "Memory")


def _lock_id(name: str) -> int:
    """A signed 64-bit advisory lock id for ``name`` (the same in every process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _is_conflict(exc: BaseException) -> bool:
    from monitor.store.postgres import is_conflict  # noqa: PLC0415

    return is_conflict(exc)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ..., /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What query methods use: ``sqlite3.Connection`` or ``postgres.PgConn``."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


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
    """One open database. SQLite: plus its process lock; use from one thread at a time
    (the daemon runs every call on its database thread, ``monitor/service/dbthread.py``,
    which holds ``in_use`` while a call runs). PostgreSQL: a connection pool, usable
    from any thread; ``lock`` does not apply."""

    conn: Conn
    dialect: Dialect = SQLITE

    def __init__(
        self, target: Path | PostgresURL, *, lock: bool = True, readonly: bool = False
    ) -> None:
        self.target = target
        self._lock_file: Any = None
        # Closing a connection while another thread runs a statement on it crashes the
        # interpreter (measured: a segfault), so close() never does that (see close()).
        self.in_use = threading.RLock()
        self._deferred: list[tuple[str, tuple[Any, ...]]] = []
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Pg | None = None
        if isinstance(target, PostgresURL):
            self._open_postgres(target, readonly)
            return
        self.path = target
        if lock:
            self._acquire_lock()
        try:
            self._sqlite = self._connect(readonly)
            self.conn = self._sqlite
            self.db = sqlite_utils.Database(self._sqlite)
            if readonly:
                self._check_version()
            else:
                self._migrate()
        except BaseException:
            self.close()
            raise

    def _open_postgres(self, url: PostgresURL, readonly: bool) -> None:
        # Imported here: a SQLite user never loads the PostgreSQL driver.
        from monitor.store import pgschema  # noqa: PLC0415
        from monitor.store.postgres import Pg  # noqa: PLC0415

        self.dialect = POSTGRES
        self._pg = Pg(url)
        self.conn = self._pg.conn
        try:
            if readonly:
                pgschema.check_version(self._pg)
            else:
                pgschema.migrate(self._pg)
        except BaseException:
            self.close()
            raise

    @property
    def shared(self) -> bool:
        """True when other processes may use this database at the same time."""
        return self.dialect.shared

    def schema_version(self) -> int:
        if self._pg is not None:
            from monitor.store import pgschema  # noqa: PLC0415

            return pgschema.version(self._pg)
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

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
                # 32 MiB of pages instead of SQLite's 2 MiB: the story look-up and the
                # commit of a busy window read and write pages all over its key index
                # (13-19 % per item at 10,000-100,000 items in the window, docs/stories.md).
                # Filled only as the database grows that large.
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"cannot open the database {self.path}: {exc} (the file was left untouched)"
            ) from None
        return conn

    def _check_version(self) -> int:
        version = self.schema_version()
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path} has schema version {version}, newer than this newsmon "
                f"understands ({len(MIGRATIONS)}); upgrade newsmon"
            )
        return version

    def _migrate(self) -> None:
        version = self._check_version()
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
        if self._sqlite is not None:
            with contextlib.suppress(sqlite3.Error):  # deferred state is safe to lose
                self.flush()
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            with contextlib.suppress(Exception):  # deferred state is safe to lose
                self.flush()
            self._pg.close()
            self._pg = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @contextlib.contextmanager
    def write(self) -> Iterator[Conn]:
        """One transaction. SQLite: ``BEGIN IMMEDIATE``, which waits for other writers up
        to busy_timeout. PostgreSQL: a transaction on one pooled connection. Deferred
        updates (``defer``) are written first, in the same transaction."""
        pending, self._deferred = self._deferred, []
        if self._pg is not None:
            try:
                with self._pg.transaction() as pg:
                    self._write_deferred(pg, pending)
                    yield pg
            except BaseException:
                self._deferred[:0] = pending  # not written: they wait for the next one
                raise
            return
        conn = self._sqlite
        assert conn is not None, "store is closed"
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._write_deferred(conn, pending)
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._deferred[:0] = pending  # not written: they wait for the next transaction
            raise
        conn.execute("COMMIT")

    @staticmethod
    def _write_deferred(conn: Conn, pending: list[tuple[str, tuple[Any, ...]]]) -> None:
        for sql, rows in itertools.groupby(pending, key=lambda entry: entry[0]):
            conn.executemany(sql, [params for _, params in rows])

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

    def retrying(self, work: Callable[[], T]) -> T:
        """Run a transaction again when PostgreSQL aborted it to break a deadlock between
        workers (two polls recording the same stories in another order): the server
        rolls one back, which frees the other; a short random pause staggers the retry."""
        for attempt in range(1, CONFLICT_TRIES + 1):
            try:
                return work()
            except Exception as exc:
                if self._pg is None or attempt == CONFLICT_TRIES or not _is_conflict(exc):
                    raise
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    def lock_names(self, names: Iterable[str]) -> None:
        """Inside a write transaction on PostgreSQL: take a transaction advisory lock per
        name, in one global order (of the lock ids), so transactions that need some of
        the same names wait for each other instead of deadlocking. No-op on SQLite."""
        if self._pg is None:
            return
        ids = sorted({_lock_id(n) for n in names})
        for lock_id in ids:
            self.conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_id,))

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Whether this process may run the job ``name`` now, held for the ``with`` body.
        SQLite has one process (the file lock), so always. PostgreSQL: a session advisory
        lock, tried without waiting, so exactly one worker runs the job at a time."""
        if self._pg is None:
            yield True
            return
        with self._pg.advisory(name) as got:
            yield got
