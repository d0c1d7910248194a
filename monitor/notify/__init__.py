"""Notifiers: one file per kind, registered in the explicit ``KINDS`` table below.

A notifier sends one ``Delivery`` and either returns (delivered) or raises
``TransientDelivery`` (retry later, maybe after ``retry_after`` seconds) or
``PermanentDelivery`` (retrying the same request cannot help). A returned string is a
note kept with the sent row (for example, one of two email recipients refused). It never touches the
database; ``deliver.py`` decides what the outcome means for the outbox row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

from monitor.config import Config, NotifierConfig
from monitor.models import Delivery
from monitor.notify.console import ConsoleSender
from monitor.notify.email import EmailSender
from monitor.notify.slack import SlackSender
from monitor.notify.webhook import WebhookSender


class Notifier(Protocol):
    name: str
    max_batch: int  # most alerts one digest message may carry

    async def send(self, delivery: Delivery) -> str | None:
        """Deliver; return an optional note (e.g. recipients refused) or raise."""
        ...

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        """Deliver several alerts as one message (same outcome rules as ``send``)."""
        ...


Factory = Callable[[str, NotifierConfig, httpx.AsyncClient], Notifier]

KINDS: dict[str, Factory] = {
    "console": ConsoleSender.build,
    "webhook": WebhookSender.build,
    "slack": SlackSender.build,
    "email": EmailSender.build,
}


def build_notifiers(config: Config, client: httpx.AsyncClient) -> dict[str, Notifier]:
    return {name: KINDS[cfg.kind](name, cfg, client) for name, cfg in config.notifiers.items()}


def http_client(user_agent: str) -> httpx.AsyncClient:
    """The client notifiers share. Redirects are not followed: a 3xx from a webhook
    endpoint is a failure (Standard Webhooks), and following one could leak a payload."""
    return httpx.AsyncClient(
        follow_redirects=False,
        headers={"User-Agent": user_agent},
        limits=httpx.Limits(max_connections=10),
    )
