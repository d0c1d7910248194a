"""A fresh PostgreSQL database per test, on the server named by NEWSMON_TEST_POSTGRES.

Without that variable the PostgreSQL tests skip and say why; with NEWSMON_REQUIRE_POSTGRES=1
(set by ``.ci/run``) a missing or unreachable server fails them instead, so CI cannot
pass by skipping. ``scripts/check`` sets the URL to the development server when it
answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

from monitor.models import PostgresURL

ENV = "NEWSMON_TEST_POSTGRES"
REQUIRE = "NEWSMON_REQUIRE_POSTGRES"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"PostgreSQL tests must run here ({REQUIRE}=1): {reason}")
    pytest.skip(reason)


def server_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        _unavailable(f"{ENV} is not set (a postgresql:// URL of a server to test against)")
        raise AssertionError("unreachable")
    return url


@contextmanager
def fresh_database() -> Iterator[PostgresURL]:
    """Create an empty database, yield its URL, drop it (and its connections) after."""
    import psycopg

    url = server_url()
    name = f"newsmon_test_{secrets.token_hex(5)}"
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _unavailable(f"cannot reach {ENV}: {exc}")
        raise AssertionError("unreachable") from None
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(url)
        yield PostgresURL(urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
