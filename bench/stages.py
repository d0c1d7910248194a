"""Per-stage split of one all-new cycle, from cProfile.

cProfile sees one thread: the event loop and the store thread are profiled separately
and added up, and for this run feeds are parsed inline on the event loop (the timed
cycles parse in worker processes and threads). Shares are of the sum of both threads'
time, so they add up to more than the wall time of the cycle. Stage times are cumulative times of
the stage's entry function, minus the time spent in other stages nested inside it:

* fetch: ``Fetcher.fetch``; parse: ``parse_feed`` minus text extraction;
* normalize: ``html_to_text`` / ``clean`` called by the parser plus every ``normalize``;
* identity: ``keyed`` minus normalize; match: ``RuleSet.match`` minus normalize;
* record: ``record_poll`` minus the matching it calls (routing is done inside it);
* deliver: ``deliver_due`` plus its per-notifier lanes (tasks of their own).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from typing import Any

from monitor.feeds import parsepool
from monitor.feeds.parse import parse_feed
from monitor.models import ParsedFeed
from monitor.service.runtime import Runtime
from monitor.store import Store

Func = tuple[str, int, str]


def _find(stats: dict[Func, Any], path: str, name: str) -> list[Func]:
    return [f for f in stats if f[0].endswith(path) and f[2] == name]


def _cum(stats: dict[Func, Any], path: str, name: str) -> float:
    return float(sum(stats[f][3] for f in _find(stats, path, name)))


def _cum_from(stats: dict[Func, Any], path: str, name: str, caller_part: str) -> float:
    """Cumulative time of ``name`` when called from a function in a file containing
    ``caller_part``."""
    total = 0.0
    for f in _find(stats, path, name):
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
    text_in_parse = _cum_from(stats, "monitor/text.py", "html_to_text", "feeds/") + _cum_from(
        stats, "monitor/text.py", "clean", "feeds/parse"
    )
    norm_identity = _cum_from(stats, "automaton.py", "normalize", "identity.py")
    norm_match = _cum_from(stats, "automaton.py", "normalize", "matching/")
    match = _cum(stats, "matching/rules.py", "match")
    stages = {
        "fetch": _cum(stats, "feeds/fetch.py", "fetch"),
        "parse": _cum(stats, "feeds/parse.py", "parse_feed") - text_in_parse,
        "normalize": text_in_parse + norm_identity + norm_match,
        "identity": _cum(stats, "feeds/identity.py", "keyed") - norm_identity,
        "match": match - norm_match,
        "record": _cum(stats, "store/feeds.py", "record_poll") - match,
        # The lanes run as their own tasks: not inside deliver_due's cumulative time.
        "deliver": _cum(stats, "service/deliver.py", "deliver_due")
        + _cum(stats, "service/deliver.py", "lane"),
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
