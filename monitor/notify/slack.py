"""Slack incoming webhook: a Block Kit message with a plain ``text`` fallback.

Feed text is escaped for mrkdwn (``&``, ``<``, ``>`` only, as Slack documents), so a feed
cannot ping ``<!channel>`` or fake a link; links are built only from validated http(s)
URLs. Sections stay under Slack's 3000-character limit. Posts to one webhook URL are
spaced at least one second apart (Slack: "1 per second; short bursts allowed").
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from monitor.config import Digest, Duration, NotifierSettings
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.models import Delivery
from monitor.notify.http import classify, post
from monitor.notify.payload import also_in, by_story, other_rules
from monitor.text import clean, safe_url

if TYPE_CHECKING:
    import httpx  # only annotations here: importing httpx costs ~0.25 s at start-up


class SlackNotifier(NotifierSettings):
    kind: Literal["slack"]
    webhook_url: str = Field(pattern=r"^https?://")
    timeout: Duration = 15.0
    digest: Digest = 0.0


SECTION_LIMIT = 3000
MIN_SPACING = 1.0
GONE_ERRORS = frozenset({"channel_is_archived", "no_service", "invalid_token"})
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


def cut_mrkdwn(text: str, limit: int) -> str:
    """Cut escaped mrkdwn to ``limit`` chars, never inside an escape (``&amp;``) or a
    link/mention (``<…>``): escaping first and cutting after keeps every length true."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opened = cut.rfind("<")
    if opened >= 0 and ">" not in cut[opened:]:
        cut = cut[:opened]
    return cut + "…"


LINK_LIMIT = 1000  # longer links are dropped: a cut link is worse than none
TITLE_LIMIT = 500  # escaped characters of a heading's text


def _link(url: str | None, label: str) -> str:
    safe = safe_url(url)
    if not safe or len(safe) > LINK_LIMIT:
        return label
    safe = safe.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe}|{label}>"


def _spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of each matched term in plain text (terms matched
    across punctuation), earliest first."""
    found: list[tuple[int, int]] = []
    for term in terms:
        words = [re.escape(w) for w in re.findall(r"\w+", term)]
        if not words:
            continue
        pattern = re.compile(r"(?<!\w)(" + r"[\W_]+".join(words) + r")(?!\w)", re.IGNORECASE)
        found += [m.span() for m in pattern.finditer(text)]
    spans: list[tuple[int, int]] = []
    for start, end in sorted(found, key=lambda s: (s[0], -s[1])):
        if not spans or start >= spans[-1][1]:
            spans.append((start, end))
    return spans


def highlight(text: str, terms: tuple[str, ...], limit: int) -> str:
    """Plain text as mrkdwn with matched terms in bold: terms are found in the plain text,
    then each piece is escaped (so ``amp`` never matches inside ``&amp;``), and the result
    is cut to ``limit`` between pieces or inside plain text, never inside an escape."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in _spans(text, terms):
        pieces += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    pieces.append((text[pos:], False))
    out: list[str] = []
    used = 0
    for plain, bold in pieces:
        if not plain:
            continue
        piece = f"*{escape(plain)}*" if bold else escape(plain)
        if used + len(piece) > limit - 1:
            if not bold:
                out.append(cut_mrkdwn(piece, limit - used))
            else:
                out.append("…")
            return "".join(out)
        out.append(piece)
        used += len(piece)
    return "".join(out)


def alert_blocks(
    delivery: Delivery, snippet_limit: int = 600, context_limit: int = 2000
) -> list[dict[str, Any]]:
    alert = delivery.alert
    item = alert.item
    title = cut_mrkdwn(escape(clean(item.title) or "(no title)"), TITLE_LIMIT)
    # At most 500 + 1000 + 5 chars: within a section's 3000 with nothing left to cut.
    heading = f"*{_link(item.link, title)}*"
    context = " · ".join(
        part
        for part in (
            f"feed *{escape(alert.feed)}*",
            f"published {escape(item.published)}" if item.published else "",
            f"rule *{escape(clean(alert.rule_title))}*",
            ("matched " + ", ".join(f"`{escape(clean(m))}`" for m in alert.matched))
            if alert.matched
            else "",
            escape(clean(also_in(delivery) or "")),
        )
        if part
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": heading}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": cut_mrkdwn(context, context_limit)}],
        },
    ]
    if item.summary and snippet_limit:
        plain = _cut(clean(item.summary), snippet_limit)
        text = highlight(plain, alert.matched, SECTION_LIMIT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    # Evidence: the text around each hit, the hit in bold (at most 3, to stay short).
    for found in alert.evidence[:3] if snippet_limit else ():
        label = f"_{escape(clean(found.clause))} in {escape(found.field)}_: "
        why = highlight(clean(found.snippet), alert.matched, context_limit - len(label))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": label + why}]})
    return blocks


def message(delivery: Delivery) -> dict[str, Any]:
    alert = delivery.alert
    fallback = f"[{alert.rule_id}] {clean(alert.item.title)}"
    return {
        "text": cut_mrkdwn(escape(fallback), 3000),
        "blocks": alert_blocks(delivery),
        "unfurl_links": False,
    }


def digest_message(deliveries: list[Delivery]) -> dict[str, Any]:
    rules = sorted({clean(d.alert.rule_title) for d in deliveries})
    names = cut_mrkdwn(escape(", ".join(rules)), SECTION_LIMIT - 100)
    head = f"*newsmon digest*: {len(deliveries)} alerts ({names})"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    for group in by_story(deliveries):
        blocks.append({"type": "divider"})
        # Short context per alert keeps a full digest well under Slack's 40,000 chars:
        # 15 x (500 escaped title + 1000 link + 300 context) < 30,000. Each story once.
        blocks.extend(alert_blocks(group[0], snippet_limit=0, context_limit=300))
        also = other_rules(group)
        if also:
            text = cut_mrkdwn(escape(clean(also)), 300)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    fallback = f"newsmon digest: {len(deliveries)} alerts"
    return {"text": fallback, "blocks": blocks, "unfurl_links": False}


# Spacing is per webhook URL, shared by every notifier that posts to it.
_PACE: dict[str, tuple[asyncio.Lock, list[float]]] = {}


@dataclass
class SlackSender:
    name: str
    config: SlackNotifier
    client: httpx.AsyncClient
    # Slack allows 50 blocks per message: a header plus 3 blocks per alert.
    max_batch = 15

    @classmethod
    def build(cls, name: str, config: NotifierSettings, client: httpx.AsyncClient) -> SlackSender:
        assert isinstance(config, SlackNotifier)
        return cls(name, config, client)

    async def send(self, delivery: Delivery) -> str | None:
        return await self._post(message(delivery))

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        return await self._post(digest_message(deliveries))

    async def _post(self, doc: dict[str, Any]) -> str | None:
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        what = f"slack {self.name}"
        lock, last = _PACE.setdefault(self.config.webhook_url, (asyncio.Lock(), [0.0]))
        async with lock:
            wait = last[0] + MIN_SPACING - time.monotonic()
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
                last[0] = time.monotonic()
        error = resp.text.strip()[:100] if resp.status_code != 200 else ""
        if error in PERMANENT_ERRORS or resp.status_code == 410:
            gone = resp.status_code == 410 or error in GONE_ERRORS
            raise PermanentDelivery(
                f"{what}: Slack answered {resp.status_code} {error}".rstrip(), disable=gone
            )
        if resp.status_code == 200 and resp.text.strip() not in ("ok", ""):
            raise TransientDelivery(f"{what}: unexpected answer {clean(resp.text, 100)!r}")
        classify(resp, what)
        return None
