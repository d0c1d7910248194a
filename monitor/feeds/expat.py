"""The expat version guard, apart from parse.py so that checking it does not import
feedparser (``newsmon check`` runs it and never parses a feed)."""

from __future__ import annotations

import pyexpat

from monitor.errors import StateError


def check_expat() -> None:
    """expat >= 2.4 stops billion-laughs amplification; older builds would let feedparser's
    strict parse blow up (docs/reliability.md). Refuse to run on one."""
    if pyexpat.version_info < (2, 4, 0):
        raise StateError(
            f"this Python links {pyexpat.EXPAT_VERSION}; newsmon needs expat >= 2.4.0 "
            "(its entity-amplification guard). Use a newer Python build."
        )
