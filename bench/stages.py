"""Per-stage split of one all-new cycle, from cProfile.

cProfile sees one thread: the event loop and the store thread are profiled separately
and added up, and for this run feeds are parsed inline on the event loop (the timed
cycles parse in worker processes and threads). Shares are of the sum of both threads'
time, so they add up to more than the wall time of the cycle. Stage times are cumulative times of
the stage's entry function, minus the time spent in other stages nested inside it:

* fetch: ``Fetcher.fetch``; parse: ``parse_feed`` minus text extraction;
* normalize: ``html_to_text`` / ``clean`` called by the parser plus every ``normalize``;
* identity: ``keyed`` minus normalize (0: it runs in a worker thread, unprofiled);
  match: ``RuleSet.match`` minus normalize;
* record: ``record_poll`` minus the matching it calls (routing is done inside it);
* deliver: ``deliver_due`` plus its per-notifier lanes (tasks of their own).
"""

from __future__ import annotations

import asyncio
import cProfile
import inspect
import pstats
from collections.abc import Callable
from typing import Any

from monitor.feeds import parsepool
from monitor.feeds.fetch import Fetcher
from monitor.feeds.identity import keyed
from monitor.feeds.parse import parse_feed
from monitor.matching.normal import normalize
from monitor.matching.ruleset import RuleSet
from monitor.models import ParsedFeed
from monitor.service.deliver import _Run, deliver_due
from monitor.service.runtime import Runtime
from monitor.store import Store
from monitor.text import clean, html_to_text

Func = tuple[str, int, str]


def _find(stats: dict[Func, Any], func: Callable[..., Any], required: bool = True) -> list[Func]:
    """The profile entries of ``func``, found by its code object: a stage's function that
    moves to another module is still found (matching by file path once left the match
    stage reading 0 after a module split). A ``required`` stage must be in the profile."""
    code = inspect.unwrap(func).__code__
    found = [
        f
        for f in stats
        if (f[0], f[1], f[2]) == (code.co_filename, code.co_firstlineno, code.co_name)
    ]
    if not found and required:
        raise LookupError(f"{func.__qualname__} is not in the profile: did the stage run?")
    return found


def _cum(stats: dict[Func, Any], func: Callable[..., Any], required: bool = True) -> float:
    return float(sum(stats[f][3] for f in _find(stats, func, required)))


def _cum_from(stats: dict[Func, Any], func: Callable[..., Any], caller_part: str) -> float:
    """Cumulative time of ``func`` when called from a function in a file containing
    ``caller_part``."""
    total = 0.0
    for f in _find(stats, func, required=False):
        for caller, row in stats[f][4].items():
            if caller_part in caller[0]:
                total += row[3]
    return total


async def profile_stages(runtime: Runtime, store: Store | None) -> str:
    assert store is not None

    async def inline(self: Any, body: bytes, deadline: float, **options: Any) -> ParsedFeed:
        return parse_feed(body, **options)

    original = parsepool.ParsePool.parse
    parsepool.ParsePool.parse = inline  # type: ignore[method-assign]
    profiler = cProfile.Profile()
    in_db = cProfile.Profile()  # the store thread's own work (record, claims, marks)
    store.conn.execute("UPDATE feeds SET next_check_at = 0, hold_until = NULL")
    try:
        await runtime.db(in_db.enable)
        profiler.enable()
        await runtime.pump(3600)
        await asyncio.gather(*list(runtime._inflight.values()))
        while (await runtime.deliver()).sent:
            pass
        profiler.disable()
        await runtime.db(in_db.disable)
    finally:
        parsepool.ParsePool.parse = original  # type: ignore[method-assign]
    merged = pstats.Stats(profiler)
    merged.add(in_db)
    stats: dict[Func, Any] = merged.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values())
    text_in_parse = _cum_from(stats, html_to_text, "feeds/") + _cum_from(
        stats, clean, "feeds/parse"
    )
    norm_identity = _cum_from(stats, normalize, "identity.py")
    norm_match = _cum_from(stats, normalize, "matching/")
    match = _cum(stats, RuleSet.match)
    stages = {
        "fetch": _cum(stats, Fetcher.fetch),
        "parse": _cum(stats, parse_feed) - text_in_parse,
        "normalize": text_in_parse + norm_identity + norm_match,
        # keyed runs in a worker thread (asyncio.to_thread), which cProfile does not see:
        # 0 here, and its normalizing is missing from "normalize" too.
        "identity": _cum(stats, keyed, required=False) - norm_identity,
        "match": match - norm_match,
        "record": _cum(stats, Store.record_poll) - match,
        # The lanes run as their own tasks: not inside deliver_due's cumulative time.
        "deliver": _cum(stats, deliver_due) + _cum(stats, _Run.lane),
    }
    lines = [f"{'stage':<10} {'s':>7} {'share':>6}"]
    for name, seconds in stages.items():
        lines.append(f"{name:<10} {seconds:7.2f} {seconds / total:6.1%}")
    rest = total - sum(stages.values())
    lines.append(f"{'other':<10} {rest:7.2f} {rest / total:6.1%}  (event loop, logging, ...)")
    lines.append(f"{'total':<10} {total:7.2f}")
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:8]
    lines.append("top functions by own time:")
    for (path, line, name), row in rows:
        short = "/".join(path.split("/")[-2:])
        lines.append(f"  {row[2]:6.2f} s {row[2] / total:6.1%}  {short}:{line} {name}")
    return "\n".join(lines)
