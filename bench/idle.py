"""CPU of an idle daemon: ``newsmon run`` with N rule files and no feeds, measured from
/proc (user+system time of the daemon and its children) over a window after start-up.

    python bench/idle.py                      # 1,000 rule files, 30 s window
    python bench/idle.py --rules 1000 --seconds 30 --tree /tmp/main-copy

``--tree`` (repeatable) runs the daemon from other source trees too, one after the other
in the same run (e.g. a ``git archive`` of main), so the figures can be compared on a
noisy machine. Prints CPU-s per minute and the share of one core for each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """User+system seconds of ``root`` and its live descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])
        todo.extend(children.get(pid, []))
    return total / TICK


def workspace(root: Path, rules: int) -> Path:
    rules_dir = root / "rules"
    rules_dir.mkdir()
    for i in range(rules):
        (rules_dir / f"r{i:05d}.yaml").write_text(f'match: ["idle phrase {i}"]\n')
    config = root / "config.yaml"
    config.write_text(
        "database: state.db\n"
        "rules_dir: rules\n"
        "feeds: []\n"
        "notifiers:\n"
        "  hook: {kind: webhook, url: 'http://127.0.0.1:9/hook'}\n"
        "defaults: {notify: [hook]}\n"
    )
    return config


def measure(tree: Path, rules: int, seconds: float, settle: float) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="newsmon-idle-") as tmp:
        config = workspace(Path(tmp), rules)
        log = Path(tmp) / "daemon.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            try:
                deadline = time.monotonic() + 300
                while "running" not in log.read_text(errors="replace"):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"daemon did not start:\n{log.read_text()}")
                    time.sleep(0.2)
                time.sleep(settle)  # start-up work (first ticks, housekeeping) is not idle
                before = tree_cpu(proc.pid)
                time.sleep(seconds)
                used = tree_cpu(proc.pid) - before
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        polled = "checking config and rule file" in log.read_text(errors="replace")
        has_watch = (tree / "monitor" / "service" / "watch.py").exists()
        return used, "notifications" if has_watch and not polled else "timestamps"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--settle", type=float, default=5.0, help="seconds skipped after start")
    p.add_argument("--tree", type=Path, action="append", default=[], help="other source tree")
    args = p.parse_args()
    trees = [*args.tree, HERE]
    print(f"idle daemon, {args.rules} rule files, no feeds, {args.seconds:g} s window")
    results = []
    for tree in trees:
        used, mode = measure(tree, args.rules, args.seconds, args.settle)
        per_min = used * 60 / args.seconds
        results.append(per_min)
        print(
            f"{tree!s:40s} {per_min:6.3f} CPU-s/min  {100 * per_min / 60:5.2f} % of a core"
            f"  ({used:.2f} CPU-s in {args.seconds:g} s; {mode})"
        )
    if len(results) > 1 and results[-1] > 0:
        print(f"first/last: {results[0] / results[-1]:.1f}x")


if __name__ == "__main__":
    main()
