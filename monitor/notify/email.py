"""Email over SMTP: text + HTML built from escaped plain text, STARTTLS or implicit TLS.

smtplib runs in a worker thread with a timeout on connect and on every command (without
one, a server that never sends its banner blocks forever: docs/reliability.md). The
``Message-ID`` is derived from the delivery id, the same on every retry.
"""

from __future__ import annotations

import asyncio
import html
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from monitor.config import Count, Digest, Duration, NotifierSettings
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.models import Delivery
from monitor.notify.payload import also_in, by_story, digest_id, other_rules
from monitor.text import clean, safe_url

if TYPE_CHECKING:
    import httpx  # only annotations here: importing httpx costs ~0.25 s at start-up


class EmailNotifier(NotifierSettings):
    kind: Literal["email"]
    host: str = Field(min_length=1)
    port: Count | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[str] = Field(min_length=1)
    timeout: Duration = 30.0
    digest: Digest = 0.0

    @field_validator("to")
    @classmethod
    def _to(cls, to: list[str]) -> list[str]:
        for addr in to:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", addr):
                raise ValueError(f"{addr!r} is not an email address")
        return to


SUBJECT_LIMIT = 200


def _section(delivery: Delivery, rules: str | None = None) -> tuple[str, str]:
    """One alert as plain text and as HTML built only from escaped text."""
    alert = delivery.alert
    item = alert.item
    also = clean(also_in(delivery) or "")
    title = clean(item.title) or "(no title)"
    link = safe_url(item.link)
    matched = ", ".join(clean(m) for m in alert.matched)
    lines = [
        title,
        f"Rule: {clean(alert.rule_title)} ({alert.rule_id})",
        f"Feed: {alert.feed}",
        f"Published: {item.published or 'unknown'}",
    ]
    if matched:
        lines.append(f"Matched: {matched}")
    extra = [clean(x) for x in (also, rules) if x]
    lines += [x[0].upper() + x[1:] for x in extra]
    if link:
        lines.append(f"Link: {link}")
    if item.summary:
        lines += ["", clean(item.summary, 4000)]
    esc = html.escape
    heading = f'<a href="{esc(link)}">{esc(title)}</a>' if link else esc(title)
    markup = (
        f"<h3>{heading}</h3>"
        f"<p>Rule: <b>{esc(clean(alert.rule_title))}</b> · Feed: {esc(alert.feed)}"
        f" · Published: {esc(item.published or 'unknown')}</p>"
        + (f"<p>Matched: {esc(matched)}</p>" if matched else "")
        + "".join(f"<p>{esc(x[0].upper() + x[1:])}</p>" for x in extra)
        + f"<p>{esc(clean(item.summary, 4000))}</p>"
    )
    return "\n".join(lines), markup


def build_message(
    config: EmailNotifier, deliveries: list[Delivery], message_id: str
) -> EmailMessage:
    alerts = [d.alert for d in deliveries]
    if len(alerts) == 1:
        first = alerts[0]
        subject = f"[newsmon] {first.rule_title}: {clean(first.item.title) or '(no title)'}"
    else:
        rules = ", ".join(sorted({clean(a.rule_title) for a in alerts}))
        subject = f"[newsmon] digest: {len(alerts)} alerts ({rules})"
    msg = EmailMessage()
    # clean() removes CR, LF and other controls: a feed title cannot add a header, and
    # the message is not refused by the email package on every retry.
    msg["Subject"] = clean(subject, SUBJECT_LIMIT)
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{message_id}@newsmon>"
    parts = [_section(group[0], other_rules(group)) for group in by_story(deliveries)]
    msg.set_content("\n\n----\n\n".join(text for text, _ in parts) + "\n")
    body = "<hr>".join(markup for _, markup in parts)
    msg.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    return msg


def _send_sync(config: EmailNotifier, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
    context = ssl.create_default_context()
    port = config.port or {"tls": 465, "starttls": 587, "none": 25}[config.security]
    client: smtplib.SMTP
    if config.security == "tls":
        client = smtplib.SMTP_SSL(config.host, port, timeout=config.timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, port, timeout=config.timeout)
    with client:
        if config.security == "starttls":
            client.starttls(context=context)
        if config.username:
            client.login(config.username, config.password or "")
        return client.send_message(msg)


@dataclass
class EmailSender:
    name: str
    config: EmailNotifier

    @classmethod
    def build(cls, name: str, config: NotifierSettings, client: httpx.AsyncClient) -> EmailSender:
        assert isinstance(config, EmailNotifier)
        return cls(name, config)

    max_batch = 100

    async def send(self, delivery: Delivery) -> str | None:
        return await self._send(build_message(self.config, [delivery], delivery.id))

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        return await self._send(build_message(self.config, deliveries, digest_id(deliveries)))

    async def _send(self, msg: EmailMessage) -> str | None:
        what = f"email {self.name} via {self.config.host}"
        try:
            refused = await asyncio.to_thread(_send_sync, self.config, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(400 <= c < 500 for c in codes):
                raise TransientDelivery(f"{what}: recipients deferred {sorted(codes)}") from None
            raise PermanentDelivery(f"{what}: every recipient refused {sorted(codes)}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDelivery(f"{what}: login failed ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            reply = clean(text, 200)
            if 400 <= exc.smtp_code < 500:
                raise TransientDelivery(f"{what}: {exc.smtp_code} {reply}") from None
            raise PermanentDelivery(f"{what}: {exc.smtp_code} {reply}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            reason = f"{type(exc).__name__}: {clean(str(exc), 200)}"
            raise TransientDelivery(f"{what}: {reason}") from None
        if refused:
            # Some recipients took it, some refused: do not resend to the ones that have it.
            detail = ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items())
            return f"delivered, but refused for {detail}"
        return None
