"""Who is running: a worker's identity and the hashes that tell whether workers agree.

Every ``newsmon run`` records a row (see ``store/workers.py``) with a heartbeat, its
version and two hashes: of its config files and of its rule files, each file taken by
its path relative to the config's (or rules') folder, so identical copies on two hosts
hash the same. ``newsmon status`` compares them with its own config's hashes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from monitor.config import Config
from monitor.matching.rules import rule_files

STALE_GRACE = 30.0  # seconds on top of 3 poll ticks, as /healthz counts


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _hash(files: Iterable[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        try:
            name = str(path.relative_to(base))
        except ValueError:
            name = str(path)
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def config_hashes(config: Config) -> tuple[str, str]:
    """(config hash, rules hash) of the files as they are on disk now."""
    return (
        _hash(config.files, config.path.parent),
        _hash(rule_files(config.rules_dir), config.rules_dir),
    )


def worker_problems(
    workers: list[dict[str, Any]], config: Config, now: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each running worker with ``stale``/``differs`` marks, and the problems to report:
    a heartbeat older than 3 poll ticks + 30 s, or config/rules other than this config's."""
    config_hash, rules_hash = config_hashes(config)
    limit = 3 * config.poll.tick + STALE_GRACE
    rows, problems = [], []
    for w in workers:
        if w["stopped_at"] is not None:
            continue
        age = now - float(w["heartbeat"])
        differs = [
            what
            for what, mine, theirs in (
                ("config", config_hash, w["config_hash"]),
                ("rules", rules_hash, w["rules_hash"]),
            )
            if mine != theirs
        ]
        row = {**w, "heartbeat_age": round(age, 1), "stale": age > limit, "differs": differs}
        rows.append(row)
        if row["stale"]:
            problems.append(f"worker {w['id']}: no heartbeat for {age:.0f}s (stopped or stuck?)")
        if differs:
            problems.append(
                f"worker {w['id']}: its {' and '.join(differs)} differ from {config.path}"
            )
    return rows, problems
