"""A scripted loopback SMTP server on aiosmtpd (docs/reliability.md).

Modes, combinable:

* ``fail_data=n``: answer ``451 4.3.0`` at DATA for the first ``n`` messages (after the
  body was read, so the attempt's content is recorded), then accept;
* ``refuse_connect=n``: answer ``421 4.3.2`` instead of the 220 banner for the first ``n``
  connections and close them;
* always: ``550 5.1.1`` at RCPT for any recipient starting with ``unknown@``.

``attempts`` holds every DATA (accepted or not), ``messages`` the accepted ones, each with
the envelope (sender, accepted recipients) and the raw content bytes. Binds ``127.0.0.1``
on port 0 unless a port is given (to start it late on a port the config already names).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["Received", "ScriptedSMTP"]

_HOST = "127.0.0.1"
_MAX_RECORDS = 10_000


@dataclass(frozen=True)
class Received:
    """One DATA transaction as the server saw it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    accepted: bool

    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message()["Message-ID"])


class _Handler:
    def __init__(self, owner: ScriptedSMTP) -> None:
        self.owner = owner

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower().startswith("unknown@"):
            return f"550 5.1.1 <{address}>: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.owner._data(envelope)


class _SMTP(SMTP):
    """aiosmtpd's server, able to refuse a connection with 421 instead of the banner."""

    def __init__(self, owner: ScriptedSMTP, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner

    async def _handle_client(self) -> None:
        if self.owner._connect():
            await super()._handle_client()
            return
        await self.push("421 4.3.2 service not available, closing transmission channel")
        if self.transport is not None:
            self.transport.close()


class _Controller(Controller):
    def __init__(self, owner: ScriptedSMTP, port: int) -> None:
        self.owner = owner
        super().__init__(_Handler(owner), hostname=_HOST, port=port, ready_timeout=5.0)

    def factory(self) -> SMTP:
        return _SMTP(self.owner, cast(_Handler, self.handler), **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Port 0: learn the port the OS chose before aiosmtpd connects to it.
        server = cast(asyncio.Server, self.server)
        self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


class ScriptedSMTP:
    def __init__(self, port: int = 0, *, fail_data: int = 0, refuse_connect: int = 0) -> None:
        self.fail_data = fail_data
        self.refuse_connect = refuse_connect
        self._port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._attempts: list[Received] = []
        self.connections = 0
        self._controller: _Controller | None = None
        self._triggered = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        if self._controller is not None:
            raise RuntimeError("already started")
        controller = _Controller(self, self._port)
        self._triggered = False
        controller.start()  # makes one connection of its own (not counted)
        self._port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self if self._controller is not None else self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    # -- records -------------------------------------------------------------------------

    @property
    def attempts(self) -> list[Received]:
        with self._lock:
            return list(self._attempts)

    @property
    def messages(self) -> list[Received]:
        return [a for a in self.attempts if a.accepted]

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until ``n`` messages were accepted."""
        with self._cond:
            return self._cond.wait_for(
                lambda: sum(1 for a in self._attempts if a.accepted) >= n, timeout
            )

    # -- called from the server thread ---------------------------------------------------

    def _connect(self) -> bool:
        """True: greet normally. The controller's own start-up probe is not counted."""
        with self._lock:
            if not self._triggered:
                self._triggered = True
                return True
            self.connections += 1
            if self.refuse_connect > 0:
                self.refuse_connect -= 1
                return False
            return True

    def _data(self, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self._cond:
            accept = self.fail_data <= 0
            if not accept:
                self.fail_data -= 1
            if len(self._attempts) < _MAX_RECORDS:
                self._attempts.append(
                    Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(raw), accept)
                )
            self._cond.notify_all()
        if accept:
            return "250 Message accepted for delivery"
        return "451 4.3.0 temporary failure, try again later"
