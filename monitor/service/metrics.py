"""Prometheus metrics (prometheus-client: the text format and its escaping are its job).

Counters are incremented by the pipeline and the deliverer; gauges that describe the
database (outbox depth, delivery lag, failing feeds) are read fresh at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

POLLS = Counter("newsmon_polls", "Feed polls by outcome.", ["feed", "status"], registry=REGISTRY)
ITEMS = Counter("newsmon_items_new", "New items recorded.", ["feed"], registry=REGISTRY)
ALERTS = Counter("newsmon_alerts", "Alerts made, by rule.", ["rule"], registry=REGISTRY)
DELIVERIES = Counter(
    "newsmon_deliveries", "Delivery attempts by outcome.", ["notifier", "status"], registry=REGISTRY
)
RELOADS = Counter("newsmon_reloads", "Config reloads by outcome.", ["status"], registry=REGISTRY)
RELOAD_FAILED = Gauge(
    "newsmon_reload_failed", "1 while the last reload failed (the previous config is active).",
    registry=REGISTRY,
)  # fmt: skip


class _StoreCollector(Collector):
    """Gauges computed from the database at scrape time."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Any:
        data = self.snapshot()
        outbox = GaugeMetricFamily(
            "newsmon_outbox_rows", "Outbox rows by status.", labels=["status"]
        )
        for status, count in sorted(data.get("outbox", {}).items()):
            outbox.add_metric([status], count)
        yield outbox
        yield GaugeMetricFamily(
            "newsmon_delivery_lag_seconds",
            "Age of the oldest due, unsent delivery (0 when none).",
            value=data.get("lag", 0.0),
        )
        yield GaugeMetricFamily(
            "newsmon_feeds_failing", "Feeds whose last poll failed.", value=data.get("failing", 0)
        )
        yield GaugeMetricFamily(
            "newsmon_feeds", "Configured, enabled feeds.", value=data.get("feeds", 0)
        )


_collector: _StoreCollector | None = None


def watch_store(snapshot: Callable[[], dict[str, Any]]) -> None:
    """Register (once) the collector that reads database gauges via ``snapshot``."""
    global _collector
    if _collector is None:
        _collector = _StoreCollector(snapshot)
        REGISTRY.register(_collector)
    else:
        _collector.snapshot = snapshot


def render() -> bytes:
    return generate_latest(REGISTRY)
