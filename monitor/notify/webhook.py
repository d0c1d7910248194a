"""Generic webhook: the README's JSON body, signed the Standard Webhooks and GitHub ways.

``webhook-id`` is the delivery id, the same on every retry, so receivers can drop
duplicates; ``webhook-timestamp`` is fresh on each attempt (receivers reject stale ones).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from monitor.config import Digest, Duration, NotifierSettings
from monitor.models import Delivery
from monitor.notify.http import classify, post
from monitor.notify.payload import alert_body, digest_document, digest_id, encode

if TYPE_CHECKING:
    import httpx  # only annotations here: importing httpx costs ~0.25 s at start-up


class WebhookNotifier(NotifierSettings):
    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: str | None = None

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: str | None) -> str | None:
        if secret is not None and secret.startswith("whsec_"):
            try:
                body = secret.removeprefix("whsec_")
                base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(
                    "a whsec_ secret must be base64 after the prefix (Standard Webhooks)"
                ) from None
        return secret

    timeout: Duration = 15.0
    digest: Digest = 0.0


def secret_key(secret: str) -> bytes:
    """``whsec_<base64>`` is decoded as the Standard Webhooks spec says; else UTF-8 bytes."""
    if secret.startswith("whsec_"):
        body = secret.removeprefix("whsec_")
        try:
            # Padding is optional in practice; the reference library adds it too.
            return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode("utf-8")


def signature_headers(secret: str, msg_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    key = secret_key(secret)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
    github = hmac.new(key, body, hashlib.sha256).hexdigest()
    return {
        "webhook-signature": f"v1,{standard}",
        "X-Newsmon-Signature-256": f"sha256={github}",
    }


@dataclass
class WebhookSender:
    name: str
    config: WebhookNotifier
    client: httpx.AsyncClient

    @classmethod
    def build(cls, name: str, config: NotifierSettings, client: httpx.AsyncClient) -> WebhookSender:
        assert isinstance(config, WebhookNotifier)
        return cls(name, config, client)

    max_batch = 100

    async def send(self, delivery: Delivery) -> str | None:
        return await self._post(delivery.id, alert_body(delivery))

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        return await self._post(digest_id(deliveries), encode(digest_document(deliveries)))

    async def _post(self, msg_id: str, body: bytes) -> str | None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "Idempotency-Key": msg_id,
        }
        if self.config.secret:
            headers.update(signature_headers(self.config.secret, msg_id, body, timestamp))
        what = f"webhook {self.name}"
        resp = await post(self.client, self.config.url, body, headers, self.config.timeout, what)
        if self.config.secret and resp.status_code in (401, 403, 500):
            # Receivers that check HMACs often answer a bad signature with one of these
            # (Debian's webhook: 500). Say so, or the operator hunts elsewhere.
            what += " (if it verifies signatures, check that its secret matches webhook.secret)"
        classify(resp, what)
        return None
