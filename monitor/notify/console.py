"""Print alerts to the terminal (the default notifier of the bundled config)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor.config import Digest, NotifierSettings
from monitor.models import Delivery
from monitor.notify.payload import also_in, by_story, other_rules
from monitor.text import clean, safe_url

if TYPE_CHECKING:
    import httpx  # only annotations here: importing httpx costs ~0.25 s at start-up


class ConsoleNotifier(NotifierSettings):
    kind: Literal["console"]
    stream: Literal["stdout", "stderr"] = "stdout"
    digest: Digest = 0.0


def render(delivery: Delivery) -> str:
    alert = delivery.alert
    item = alert.item
    label = "NOTICE" if alert.kind == "notice" else "ALERT"
    lines = [
        f"=== {label} [{clean(alert.rule_id)}] {clean(alert.rule_title)}",
        f"    {clean(item.title) or '(no title)'}",
        f"    feed: {alert.feed}   published: {item.published or 'unknown'}",
    ]
    link = safe_url(item.link)
    if link:
        lines.append(f"    link: {link}")
    lines.append(f"    matched: {', '.join(clean(m) for m in alert.matched)}")
    for found in alert.evidence:  # why: the element that fired, and the text around it
        lines.append(f"    why: {clean(found.clause)} in {found.field}: {clean(found.snippet)}")
    also = also_in(delivery)
    if also:
        lines.append(f"    {clean(also)}")
    if item.summary:
        lines.append(f"    {clean(item.summary, 300)}")
    return "\n".join(lines) + "\n"


@dataclass
class ConsoleSender:
    name: str
    config: ConsoleNotifier

    @classmethod
    def build(cls, name: str, config: NotifierSettings, client: httpx.AsyncClient) -> ConsoleSender:
        assert isinstance(config, ConsoleNotifier)
        return cls(name, config)

    max_batch = 1000

    async def send(self, delivery: Delivery) -> str | None:
        return await self.send_digest([delivery])

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        stream = sys.stdout if self.config.stream == "stdout" else sys.stderr
        if len(deliveries) > 1:
            stream.write(f"=== DIGEST: {len(deliveries)} alerts\n")
        out = []
        for group in by_story(deliveries):
            out.append(render(group[0]))
            rules = other_rules(group)
            if rules:
                out.append(f"    {clean(rules)}\n")
        stream.write("".join(out))
        stream.flush()
        return None
