"""PostgreSQL connections for the store: a pool, and a connection-like object over it.

The store's query code is written against a small ``execute``/``executemany`` interface
that ``sqlite3.Connection`` already has. :class:`PgConn` gives PostgreSQL the same one:
each query is rewritten by the dialect (``?`` -> ``%s``, ``INSERT OR IGNORE`` -> ``ON
CONFLICT DO NOTHING``) and runs either inside the calling thread's open transaction
(``Pg.transaction``) or, outside one, on a pooled autocommit connection whose rows are
read before the connection goes back to the pool. So a query method runs unchanged on
both backends, from any thread (the event loop, the scrape thread, worker threads).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from monitor.errors import StateError
from monitor.models import PostgresURL
from monitor.store.dialect import POSTGRES

CONNECT_TIMEOUT = 10  # seconds: an unreachable server is reported, not waited on forever
POOL_SIZE = 8  # event loop + scrape thread + worker threads; each holds one briefly


class Rows:
    """A finished query's rows: what a cursor offers, without holding a connection."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if not self._rows:
            return None
        first, self._rows = self._rows[0], self._rows[1:]
        return first

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchmany(self, size: int = 1) -> list[Any]:
        out, self._rows = self._rows[:size], self._rows[size:]
        return out

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def _run(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> Rows:
    cur = conn.execute(POSTGRES.sql(sql), tuple(params))
    rows = cur.fetchall() if cur.description is not None else []
    return Rows(rows, cur.rowcount)


class PgConn:
    """``execute``/``executemany`` with SQLite spelling, run on PostgreSQL."""

    def __init__(self, pg: Pg) -> None:
        self._pg = pg

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        tx = self._pg.current()
        if tx is not None:
            return _run(tx, sql, params)
        with self._pg.pool.connection() as conn:
            return _run(conn, sql, params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Rows:
        rows = [tuple(p) for p in seq]
        if not rows:
            return Rows([], 0)
        tx = self._pg.current()
        with contextlib.ExitStack() as stack:
            conn = tx if tx is not None else stack.enter_context(self._pg.pool.connection())
            with conn.cursor() as cur:
                cur.executemany(POSTGRES.sql(sql), rows)
                return Rows([], cur.rowcount)


def _reason(exc: BaseException, url: PostgresURL) -> str:
    """The driver's message with the password taken out, in case it ever echoes it."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = urlsplit(url.url).password
    return text.replace(password, "***") if password else text


class Pg:
    """A connection pool on one PostgreSQL database."""

    def __init__(self, url: PostgresURL, *, max_size: int = POOL_SIZE) -> None:
        self.url = url
        self._local = threading.local()
        # One direct connection first: it fails with the server's own reason (refused,
        # auth failed, no such database), which the pool would turn into a bare timeout.
        try:
            psycopg.connect(url.url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.Error as exc:
            raise StateError(f"cannot reach the database {url}: {_reason(exc, url)}") from None
        self.pool = ConnectionPool(
            url.url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            open=False,
            name="newsmon",
        )
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout:
            self.pool.close()
            raise StateError(f"cannot reach the database {url}: pool timeout") from None
        self.conn = PgConn(self)

    def current(self) -> psycopg.Connection[Any] | None:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "tx", None)
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConn]:
        """One transaction on one pooled connection, seen by this thread's queries."""
        if self.current() is not None:
            raise RuntimeError("nested store transaction")
        with self.pool.connection() as conn, conn.transaction():
            self._local.tx = conn
            try:
                yield self.conn
            finally:
                self._local.tx = None

    @contextlib.contextmanager
    def advisory(self, name: str) -> Iterator[bool]:
        """Try a session advisory lock named ``name`` without waiting; held (on its own
        pooled connection) for the ``with`` body. A worker killed with -9 loses it when
        the server notices the connection is gone."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (f"newsmon:{name}",)
            ).fetchone()
            got = bool(row and row[0])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"newsmon:{name}",))

    def close(self) -> None:
        self.pool.close()


def is_operational(exc: BaseException) -> bool:
    """The server went away or refused the query (not a bug in the query)."""
    return isinstance(exc, psycopg.OperationalError | PoolTimeout)


def is_conflict(exc: BaseException) -> bool:
    """Aborted to break a deadlock or a serialization conflict: safe to run again."""
    return isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure)
