"""How the suite runs in parallel (pytest-xdist, ``--dist loadgroup``) — hooks for conftest.

``scripts/check`` runs the tests in several worker processes. Tests are independent by
default (each has its own ``tmp_path``, loopback servers on ephemeral ports, and
``free_port()`` reservations), so xdist hands them out one by one. Three rules keep the
rest sane, without any list of files:

* A test that uses a module- or class-scoped fixture defined in this package goes to the
  xdist group of that fixture, so every test sharing it runs in one worker and the fixture
  (often a whole daemon run) is set up once, as in a serial run.
* ``@pytest.mark.serial`` tests all go to one group: one worker runs them one after another
  (for a test that must not share a resource with another such test).
* Session-scoped fixtures run once per worker: they must name shared things (databases,
  files outside ``tmp_path``) with :func:`worker_id`.

``@pytest.mark.slow`` marks the long end-to-end tests that ``scripts/check --fast`` leaves
out; the plain ``scripts/check`` (and CI) runs everything.
"""

from __future__ import annotations

import os

import pytest

_SHARED_SCOPES = frozenset({"module", "class", "package"})


def worker_id() -> str:
    """``gw0``, ``gw1``, … in an xdist worker; ``main`` in a serial run."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """The group of the first module/class-scoped fixture of ours that ``item`` uses."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in sorted(info.names_closure):
        for fixturedef in info.name2fixturedefs.get(name, ()):
            module = getattr(fixturedef.func, "__module__", "") or ""
            if fixturedef.scope in _SHARED_SCOPES and module.startswith("tests."):
                return f"{module}.{name}"
    return None


# tryfirst: xdist's own hook (in each worker) turns xdist_group marks into node ids.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        if item.get_closest_marker("serial") is not None:
            item.add_marker(pytest.mark.xdist_group("serial"))
            continue
        group = _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: NEWSMON_TEST_WORKERS, else 2 workers per core.

    Most of the suite's wall time is spent waiting (daemon subprocesses, delivery ticks,
    loopback servers), not computing, so more workers than cores pays off; see the README's
    Development section for the figures.
    """
    wanted = os.environ.get("NEWSMON_TEST_WORKERS", "")
    if wanted.isdigit():
        return int(wanted)
    return 2 * (os.cpu_count() or 1)
