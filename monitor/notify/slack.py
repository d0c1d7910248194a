"""Slack incoming webhook: a Block Kit message with a plain ``text`` fallback.

Feed text is escaped for mrkdwn (``&``, ``<``, ``>`` only, as Slack documents), so a feed
cannot ping ``<!channel>`` or fake a link; links are built only from validated http(s)
URLs. Sections stay under Slack's 3000-character limit. Posts to one webhook URL are
spaced at least one second apart (Slack: "1 per second; short bursts allowed").
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from monitor.config import NotifierConfig, SlackNotifier
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.models import Delivery
from monitor.notify.http import classify, post
from monitor.text import clean, safe_url

SECTION_LIMIT = 3000
MIN_SPACING = 1.0
PERMANENT_ERRORS = frozenset(
    {
        "invalid_payload", "user_not_found", "action_prohibited", "channel_not_found",
        "channel_is_archived", "no_service", "invalid_token", "invalid_blocks", "no_text",
        "posting_to_general_channel_denied", "team_disabled",
    }
)  # fmt: skip


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    # Cutting a Python str never splits a UTF-8 sequence; leave room for the ellipsis.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str | None, label: str) -> str:
    safe = safe_url(url)
    if not safe:
        return label
    safe = safe.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe}|{label}>"


def message(delivery: Delivery) -> dict[str, Any]:
    alert = delivery.alert
    item = alert.item
    title = escape(_cut(clean(item.title) or "(no title)", 500))
    heading = f"*{_link(item.link, title)}*"
    context = " · ".join(
        part
        for part in (
            f"feed *{escape(alert.feed)}*",
            f"published {escape(item.published)}" if item.published else "",
            f"rule *{escape(clean(alert.rule_title))}*",
        )
        if part
    )
    matched = ", ".join(f"`{escape(clean(m))}`" for m in alert.matched)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(heading, SECTION_LIMIT)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, 2000)}]},
    ]
    if matched:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _cut("matched: " + matched, 2000)}],
            }
        )
    if item.summary:
        snippet = escape(_cut(clean(item.summary), 600))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": snippet}})
    fallback = f"[{alert.rule_id}] {clean(item.title)}"
    return {"text": escape(_cut(fallback, 3000)), "blocks": blocks, "unfurl_links": False}


@dataclass
class SlackSender:
    name: str
    config: SlackNotifier
    client: httpx.AsyncClient
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _last: float = 0.0

    @classmethod
    def build(cls, name: str, config: NotifierConfig, client: httpx.AsyncClient) -> SlackSender:
        assert isinstance(config, SlackNotifier)
        return cls(name, config, client)

    async def send(self, delivery: Delivery) -> str | None:
        body = json.dumps(message(delivery), ensure_ascii=False).encode("utf-8")
        what = f"slack {self.name}"
        async with self._lock:
            wait = self._last + MIN_SPACING - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                resp = await post(
                    self.client,
                    self.config.webhook_url,
                    body,
                    {"Content-Type": "application/json; charset=utf-8"},
                    self.config.timeout,
                    what,
                )
            finally:
                self._last = time.monotonic()
        error = resp.text.strip()[:100] if resp.status_code != 200 else ""
        if error in PERMANENT_ERRORS:
            raise PermanentDelivery(f"{what}: Slack answered {resp.status_code} {error}")
        if resp.status_code == 200 and resp.text.strip() not in ("ok", ""):
            raise TransientDelivery(f"{what}: unexpected answer {clean(resp.text, 100)!r}")
        classify(resp, what)
        return None
