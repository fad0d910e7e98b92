"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, on a free port.

``Mailbox`` keeps every message it accepts, byte for byte, with the envelope. It can refuse
chosen recipients (550 at RCPT, as a relay does for an unknown mailbox), drop the
connection after accepting a number of messages (as a relay that restarts mid-batch), and
ask for a login. The tests point ``[mail]`` at it with ``security = "none"``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message the server accepted: who it was for, and its bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes = field(repr=False)

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(self.data))

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Mailbox:
    """The aiosmtpd handler: what it accepted, and how it should misbehave."""

    received: list[Received] = field(default_factory=list, repr=False)
    refuse: set[str] = field(default_factory=set)  # addresses refused at RCPT (550)
    drop_after: int | None = None  # close the connection once this many are held
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.refuse.clear()
            self.drop_after = None
            self.logins.clear()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.casefold() in {a.casefold() for a in self.refuse}:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.drop_after is not None and len(self.received) >= self.drop_after:
                server.transport.close()  # gone before the reply: nothing was accepted
                return "421 4.3.0 Closing"
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                          bytes(envelope.original_content)))
        return "250 2.0.0 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password == b"s3cret", handled=False)
        return AuthResult(success=False, handled=False)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received
                if address.casefold() in {a.casefold() for a in r.rcpt_tos}]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(with_login: bool = False) -> Iterator[tuple[Mailbox, int]]:
    """A running server and its port; stopped at the end of the block."""
    mailbox = Mailbox()
    port = free_port()
    options: dict[str, Any] = {}
    if with_login:
        options = {"authenticator": mailbox.authenticate, "auth_require_tls": False}
    controller = Controller(mailbox, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
