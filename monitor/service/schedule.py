"""When to poll a feed next, and how long to wait before retrying a delivery (pure)."""

from __future__ import annotations

import random


def next_poll_after_success(
    interval: float,
    *,
    min_interval: float,
    max_interval: float,
    ttl: float | None = None,
    max_age: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll: the interval, raised to the feed's own hints, clamped,
    plus up to 10 % jitter so that feeds configured alike do not all fire together."""
    delay = max(interval, ttl or 0.0, max_age or 0.0)
    delay = min(max(delay, min_interval), max_interval)
    jitter: float = (rng or random).uniform(0, 0.1 * delay)
    return min(delay + jitter, max_interval)


def next_poll_after_failure(
    interval: float,
    failures: int,
    *,
    min_interval: float,
    max_interval: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff from the interval (1x, 2x, 4x ...), never below a server's
    Retry-After, capped at ``max_interval``: a failing feed is polled less, never dropped."""
    exponent = min(max(failures - 1, 0), 20)
    delay = interval * (2.0**exponent)
    delay = max(delay, retry_after or 0.0, min_interval)
    delay = min(delay, max_interval)
    jitter: float = (rng or random).uniform(0, 0.1 * delay)
    return min(delay + jitter, max_interval)


def failing_long_enough(
    failures: int, since: float | None, now: float, *, after_failures: int, after: float
) -> bool:
    """Tell the operator about a feed only once it keeps failing: ``after_failures`` polls
    in a row, or failing for ``after`` seconds (one blip is not worth a message)."""
    return failures >= after_failures or (since is not None and now - since >= after)


REDIRECT_TIMES = 3  # a permanent redirect is learned after this many polls ...
REDIRECT_SPAN = 86400.0  # ... spread over at least this long


def delivery_backoff(
    attempts: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff for deliveries with "equal jitter" (a random point in the upper
    half of the step, so retries spread out but never come back at once), floored by the
    receiver's Retry-After."""
    ceiling = min(cap, base * (2 ** min(max(attempts - 1, 0), 30)))
    delay: float = (rng or random).uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        # A receiver's own Retry-After wins over our cap (up to a day): it knows best.
        delay = max(delay, min(retry_after, 86400.0))
    return delay
