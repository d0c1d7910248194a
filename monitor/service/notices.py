"""Every operator notice newsmon writes, in one place (pure: texts, no I/O).

A notice is queued in the outbox like an alert and goes to ``defaults.ops_notify``. Its
``key`` makes it once-only: the same key is never queued twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from monitor.text import redact_url


@dataclass(frozen=True)
class Notice:
    key: str
    subject: str
    body: str


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def feed_failing(
    feed: str, url: str, failures: int, since: float, error: str, delay: float
) -> Notice:
    return Notice(
        f"feed-failing:{feed}:{since:.0f}",
        f"newsmon: feed {feed} keeps failing",
        f"Feed {feed} ({redact_url(url)}) failed {failures} polls in a row since "
        f"{utc(since)}. Last error: {error}. newsmon keeps retrying (next in "
        f"{human(delay)}, backing off up to poll.max_interval) and says when it recovers.",
    )


def feed_recovered(feed: str, url: str, failures: int, since: float) -> Notice:
    return Notice(
        f"feed-recovered:{feed}:{since:.0f}",
        f"newsmon: feed {feed} works again",
        f"Feed {feed} ({redact_url(url)}) recovered after {failures} failed polls "
        f"(failing since {utc(since)}).",
    )


def delivery_dead(notifier: str, title: str, rule_id: str, error: str, now: float) -> Notice:
    """At most one per notifier and hour: the key carries the hour."""
    return Notice(
        f"dead:{notifier}:{int(now // 3600)}",
        f"newsmon: delivery to {notifier} failed for good",
        f"Alert {title!r} (rule {rule_id}) could not be "
        f"delivered to {notifier}: {error}. See `newsmon alerts`; "
        "`newsmon alerts --retry-dead` sends dead rows again.",
    )
