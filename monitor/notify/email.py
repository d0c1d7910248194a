"""Email over SMTP: text + HTML built from escaped plain text, STARTTLS or implicit TLS.

aiosmtplib speaks SMTP on the event loop with a timeout on connect and on every command
(without one, a server that never sends its banner blocks forever: docs/reliability.md),
and, unlike smtplib in a thread, it stops when the delivery deadline or a shutdown cancels
it. The
``Message-ID`` is derived from the delivery id, the same on every retry.

A feed title is never trusted in a header: ``=?`` is defused so the email package cannot
decode an RFC 2047 encoded word into CR/LF (on Python 3.11.7 that wrote extra headers such
as Bcc into the sent message), and the serialized header block is checked to hold only the
headers newsmon set before anything is sent.
"""

from __future__ import annotations

import asyncio
import html
import re
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from monitor.config import Count, Digest, Duration, NotifierSettings
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.models import Alert, Delivery
from monitor.notify.payload import also_in, by_story, digest_id, other_rules
from monitor.text import clean, safe_url

if TYPE_CHECKING:
    import aiosmtplib
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
QUIT_WAIT = 5.0  # seconds for the QUIT after a delivered message
# Exactly the headers build_message writes; anything else in the output is an injection.
HEADERS = frozenset(
    {"subject", "from", "to", "date", "message-id", "mime-version", "content-type",
     "content-transfer-encoding"}
)  # fmt: skip


def header_text(text: str, limit: int) -> str:
    """Feed text made safe for a header: one line, and no ``=?`` an RFC 2047 decoder
    could take for an encoded word (which may decode to CR/LF)."""
    return clean(clean(text).replace("=?", "= ?"), limit)


def forged_headers(msg: EmailMessage) -> list[str]:
    """Header names in the serialized message that build_message did not write."""
    head = msg.as_bytes().split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    names = {
        line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        for line in head.split(b"\n")
        if line and line[:1] not in (b" ", b"\t")
    }
    return sorted(names - HEADERS)


def _bold(escaped: str, terms: tuple[str, ...]) -> str:
    """<b> around each matched term in already-escaped text (across punctuation)."""
    for term in terms:
        words = [re.escape(html.escape(w)) for w in re.findall(r"\w+", term)]
        if words:
            pattern = re.compile(r"(?<!\w)(" + r"[\W_]+".join(words) + r")(?!\w)", re.IGNORECASE)
            escaped = pattern.sub(lambda m: f"<b>{m.group(1)}</b>", escaped)
    return escaped


def _section(
    alert: Alert, rules: str | None = None, also_text: str | None = None
) -> tuple[str, str]:
    """One alert as plain text and as HTML built only from escaped text; ``rules`` and
    ``also_text`` are the story lines ("also matched: ...", "also in: ...")."""
    item = alert.item
    also = clean(also_text or "")
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
    why = [(f"{clean(e.clause)} in {e.field}", clean(e.snippet)) for e in alert.evidence]
    lines += [f"Why: {label}: {snippet}" for label, snippet in why]
    if item.summary:
        lines += ["", clean(item.summary, 4000)]
    esc = html.escape
    heading = f'<a href="{esc(link)}">{esc(title)}</a>' if link else esc(title)
    markup = (
        f"<h3>{heading}</h3>"
        f"<p>Rule: <b>{esc(clean(alert.rule_title))}</b> · Feed: {esc(alert.feed)}"
        f" · Published: {esc(item.published or 'unknown')}</p>"
        + (f"<p>Matched: {esc(matched)}</p>" if matched else "")
        + "".join(
            f"<p>Why ({esc(label)}): {_bold(esc(snippet), alert.matched)}</p>"
            for label, snippet in why
        )
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
    # clean() removes CR, LF and other controls, header_text() encoded words: a feed
    # title cannot add a header, and the email package does not refuse it on every retry.
    msg["Subject"] = header_text(subject, SUBJECT_LIMIT)
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{message_id}@newsmon>"
    parts = [
        _section(group[0].alert, other_rules(group), also_in(group[0]))
        for group in by_story(deliveries)
    ]
    msg.set_content("\n\n----\n\n".join(text for text, _ in parts) + "\n")
    body = "<hr>".join(markup for _, markup in parts)
    msg.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    return msg


async def _send_smtp(
    config: EmailNotifier, msg: EmailMessage
) -> dict[str, aiosmtplib.SMTPResponse]:
    import aiosmtplib  # noqa: PLC0415 - only when sending (keeps `check` start-up light)

    port = config.port or {"tls": 465, "starttls": 587, "none": 25}[config.security]
    client = aiosmtplib.SMTP(
        hostname=config.host,
        port=port,
        timeout=config.timeout,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=ssl.create_default_context(),
        username=config.username,
        password=(config.password or "") if config.username else None,
    )
    # Not ``async with client``: on an error or a cancellation its exit sends QUIT and
    # waits for the answer, so a stalled server would hold a cancelled send (shutdown)
    # for another ``timeout``. Close the connection at once instead.
    try:
        await client.connect()
        refused, _reply = await client.send_message(msg)
    except BaseException:
        client.close()
        raise
    try:
        # Delivered: a polite QUIT, briefly; its failure changes nothing.
        await asyncio.wait_for(client.quit(), QUIT_WAIT)
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()
    return refused


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
        import aiosmtplib  # noqa: PLC0415 - only when sending (keeps `check` start-up light)

        what = f"email {self.name} via {self.config.host}"
        forged = forged_headers(msg)
        if forged:
            # Belt and braces for a Python whose email package still lets text through.
            raise PermanentDelivery(f"{what}: refused to send, feed text forged {forged}")
        try:
            refused = await _send_smtp(self.config, msg)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = {r.code for r in exc.recipients}
            if all(400 <= c < 500 for c in codes):
                raise TransientDelivery(f"{what}: recipients deferred {sorted(codes)}") from None
            raise PermanentDelivery(f"{what}: every recipient refused {sorted(codes)}") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise PermanentDelivery(f"{what}: login failed ({exc.code})") from None
        except aiosmtplib.SMTPResponseException as exc:
            reply = clean(str(exc.message), 200)
            if 400 <= exc.code < 500 or exc.code < 200:
                raise TransientDelivery(f"{what}: {exc.code} {reply}") from None
            raise PermanentDelivery(f"{what}: {exc.code} {reply}") from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # aiosmtplib wraps the socket error (e.g. ConnectionRefusedError): name that.
            cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
            reason = f"{type(cause).__name__}: {clean(str(exc), 200)}"
            raise TransientDelivery(f"{what}: {reason}") from None
        if refused:
            # Some recipients took it, some refused: do not resend to the ones that have it.
            detail = ", ".join(f"{addr} ({r.code})" for addr, r in refused.items())
            return f"delivered, but refused for {detail}"
        return None
