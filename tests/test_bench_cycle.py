"""The whole-cycle benchmark runs in its smallest form, so that it cannot rot unnoticed.

Not timed: speed is read from the benchmark's printed figures, never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(300)  # the run itself is bounded at 240 s below; ~110 s on 2 cores
def test_cycle_benchmark_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cycle.py"), "--smoke"],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for label in (
        "baseline (first sight)",
        "steady 1 ",
        "all new ",
        "poll/ceiling",
        "once / (ceiling + check)",
        "stored/fresh (poll time): steady",
        "fetch ",
        "record ",
        "deliver ",
    ):
        assert label in out, f"{label!r} missing from:\n{out}"
    # The first-sight cycle recorded every served item (12 feeds x 4 items), and the
    # all-new cycle found every item new again.
    lines = out.splitlines()
    assert "new     48 =" in next(x for x in lines if x.startswith("baseline"))
    assert "new     48 =" in next(x for x in lines if x.startswith("all new "))
