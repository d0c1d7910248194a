"""Notifiers: one file per kind, registered in the explicit ``KINDS`` table below.

Each kind's file owns its settings model (a ``NotifierSettings`` subclass) and its sender;
``KINDS`` is the one list of kinds, and ``MODELS`` (derived from it) is what the config
loader validates notifier settings with.

A notifier sends one ``Delivery`` and either returns (delivered) or raises
``TransientDelivery`` (retry later, maybe after ``retry_after`` seconds) or
``PermanentDelivery`` (retrying the same request cannot help). A returned string is a
note kept with the sent row (for example, one of two email recipients refused). It never touches the
database; ``deliver.py`` decides what the outcome means for the outbox row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from monitor import config as _config
from monitor.config import Config, NotifierSettings
from monitor.models import Delivery
from monitor.notify.apprise import AppriseNotifier, AppriseSender
from monitor.notify.console import ConsoleNotifier, ConsoleSender
from monitor.notify.email import EmailNotifier, EmailSender
from monitor.notify.slack import SlackNotifier, SlackSender
from monitor.notify.webhook import WebhookNotifier, WebhookSender

if TYPE_CHECKING:
    import httpx  # only annotations here: importing httpx costs ~0.25 s at start-up


class Notifier(Protocol):
    name: str
    max_batch: int  # most alerts one digest message may carry

    async def send(self, delivery: Delivery) -> str | None:
        """Deliver; return an optional note (e.g. recipients refused) or raise."""
        ...

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        """Deliver several alerts as one message (same outcome rules as ``send``)."""
        ...


Factory = Callable[[str, NotifierSettings, "httpx.AsyncClient"], Notifier]


@dataclass(frozen=True)
class Kind:
    settings: type[NotifierSettings]
    build: Factory


KINDS: dict[str, Kind] = {
    "console": Kind(ConsoleNotifier, ConsoleSender.build),
    "webhook": Kind(WebhookNotifier, WebhookSender.build),
    "slack": Kind(SlackNotifier, SlackSender.build),
    "email": Kind(EmailNotifier, EmailSender.build),
    "apprise": Kind(AppriseNotifier, AppriseSender.build),
}
MODELS: dict[str, type[NotifierSettings]] = {name: k.settings for name, k in KINDS.items()}
NotifierConfig = ConsoleNotifier | WebhookNotifier | SlackNotifier | EmailNotifier | AppriseNotifier


def load_config(path: Path) -> Config:
    """``config.load_config`` with every notifier kind known: what the commands use."""
    return _config.load_config(path, MODELS)


def build_notifiers(config: Config, client: httpx.AsyncClient) -> dict[str, Notifier]:
    out: dict[str, Notifier] = {}
    for name, spec in config.notifiers.items():
        cfg = spec
        if "timeout" in type(spec).model_fields and getattr(spec, "timeout", 0) is None:
            # A kind's own timeouts left unset follow the attempt's total deadline.
            cfg = spec.model_copy(update={"timeout": config.delivery.timeout})
        out[name] = KINDS[cfg.kind].build(name, cfg, client)
    return out


def http_client(user_agent: str) -> httpx.AsyncClient:
    """The client notifiers share. Redirects are not followed: a 3xx from a webhook
    endpoint is a failure (Standard Webhooks), and following one could leak a payload."""
    import httpx  # noqa: PLC0415 - here, not at the top: see TYPE_CHECKING above

    return httpx.AsyncClient(
        follow_redirects=False,
        headers={"User-Agent": user_agent},
        limits=httpx.Limits(max_connections=10),
    )
