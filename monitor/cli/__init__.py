"""Command line: ``newsmon [--config PATH] COMMAND [--config PATH] ...``.

Exit codes: 0 success; 1 a feed or delivery failed (each reported), or no match for
``test-rule``; 2 invalid config or rules, or bad usage.

``group.py`` holds the group, the options every command accepts and ``main``; the
commands are in ``running.py`` (run, once), ``rules.py`` (check, test-rule, backtest),
``reading.py`` (alerts, stories, feeds, status) and ``tools.py`` (send-test,
import-opml, db copy). Commands import their heavy modules when they run (see
``group.py``).
"""

from __future__ import annotations

# Importing a command module is what adds its commands to the group.
from monitor.cli import reading, rules, running, tools  # noqa: F401
from monitor.cli.group import cli, main

__all__ = ["cli", "main"]
