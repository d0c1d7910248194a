"""The generic alert document (DESIGN.md "Generic webhook request")."""

from __future__ import annotations

import json
from typing import Any

from monitor.models import Delivery
from monitor.text import safe_url


def alert_document(delivery: Delivery) -> dict[str, Any]:
    alert = delivery.alert
    item = alert.item
    return {
        "type": "alert",
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
    }


def alert_body(delivery: Delivery) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed are the bytes sent."""
    doc = alert_document(delivery)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
