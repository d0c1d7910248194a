"""Test-only crash points: ``NEWSMON_CRASH_AT=after_commit`` SIGKILLs the process there.

Used by the crash/restart tests to prove that nothing is lost and nothing is sent twice
(apart from the documented window between a receiver's acceptance and the "sent" mark).
Unset in production, where ``crash_point`` is a dictionary look-up and a return.
"""

from __future__ import annotations

import os
import signal

POINTS = frozenset({"before_commit", "after_commit", "after_send"})


def crash_point(name: str) -> None:
    if os.environ.get("NEWSMON_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
