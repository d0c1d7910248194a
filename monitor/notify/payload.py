"""The generic alert document (README, "Generic webhook request")."""

from __future__ import annotations

import json
from typing import Any

from monitor.models import Delivery, stable_id
from monitor.text import safe_url


def alert_document(delivery: Delivery) -> dict[str, Any]:
    alert = delivery.alert
    item = alert.item
    return {
        "type": alert.kind,
        "id": delivery.id,
        "rule": {"id": alert.rule_id, "title": alert.rule_title},
        "item": {
            "title": item.title,
            "url": safe_url(item.link),
            "summary": item.summary,
            "published": item.published,
            "feed": alert.feed,
        },
        "matched": list(alert.matched),
        "snippets": alert.snippets,
    }


def digest_id(deliveries: list[Delivery]) -> str:
    """Stable for the same set of rows, so a retried digest carries the same id."""
    return stable_id("digest", *sorted(d.id for d in deliveries))


def digest_document(deliveries: list[Delivery]) -> dict[str, Any]:
    return {
        "type": "digest",
        "id": digest_id(deliveries),
        "alerts": [alert_document(d) for d in deliveries],
    }


def encode(doc: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed are the bytes sent."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def alert_body(delivery: Delivery) -> bytes:
    return encode(alert_document(delivery))
