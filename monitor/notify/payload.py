"""The generic alert document (README, "Generic webhook request")."""

from __future__ import annotations

import json
from typing import Any

from monitor.models import Delivery, stable_id
from monitor.text import safe_url


def alert_document(delivery: Delivery) -> dict[str, Any]:
    alert = delivery.alert
    item = alert.item
    doc: dict[str, Any] = {
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
    if alert.story_id is not None:
        # Additive key: the story and the outlets known to carry it when the alert was made.
        doc["story"] = {
            "id": alert.story_id,
            "sources": [
                {"outlet": s.outlet, "feed": s.feed, "url": safe_url(s.url)} for s in alert.sources
            ],
        }
    return doc


def also_in(delivery: Delivery, limit: int = 3) -> str | None:
    """ "also in: outlet, outlet, +N": the other outlets carrying the alert's story, for
    the human-readable notifiers; None when the story is in one outlet only."""
    alert = delivery.alert
    if len(alert.sources) < 2:
        return None
    first = alert.sources[0].outlet
    own = next((s.outlet for s in alert.sources if s.feed == alert.feed), first)
    others = [s.outlet for s in alert.sources if s.outlet != own]
    text = ", ".join(others[:limit])
    if len(others) > limit:
        text += f", +{len(others) - limit}"
    return f"also in: {text}"


def by_story(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """Digest rows grouped so each story is listed once (several rules may have alerted
    on it), in first-seen order; alerts without a story stay on their own."""
    groups: dict[str, list[Delivery]] = {}
    for d in deliveries:
        groups.setdefault(d.alert.story_id or f"alert:{d.id}", []).append(d)
    return list(groups.values())


def other_rules(group: list[Delivery]) -> str | None:
    """ "also matched: Rule B, Rule C" for a story listed once in a digest."""
    first = group[0].alert.rule_title
    rest = list(dict.fromkeys(d.alert.rule_title for d in group[1:] if d.alert.rule_title != first))
    return f"also matched: {', '.join(rest)}" if rest else None


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
