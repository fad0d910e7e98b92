"""Sending through the council's SMTP relay: one connection for a batch, a clear error per
refused recipient.

The password is never a setting: it comes from the environment variable named by
``[mail] password_env``, or from the OS keyring when the optional ``keyring`` package is
installed (service ``qaudit-smtp``, the ``[mail] user``). A login is refused over a
connection without TLS unless the relay is on this machine (a local bridge such as
DavMail). ``Relay.send`` tells three outcomes apart: accepted (perhaps with some
recipients refused), this message refused (the batch goes on), and the connection lost
(the batch stops; a rerun sends the rest).
"""

from __future__ import annotations

import importlib
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from qaudit.config import MailSettings
from qaudit.errors import QauditError
from qaudit.mail.addresses import one_line

KEYRING_SERVICE = "qaudit-smtp"
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class RelayError(QauditError):
    """The relay cannot be used (not set, unreachable, login or sender refused)."""


class MessageRefused(Exception):
    """The relay refused this message: every recipient, or its content. The batch goes on."""

    def __init__(self, reason: str, refused: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.refused = refused


class ConnectionLost(Exception):
    """The relay went away mid-batch: what it had not accepted is not sent."""


@dataclass(frozen=True)
class Accepted:
    """What the relay took: these recipients; the others refused, with its reply."""

    accepted: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return one_line(f"{code} {message}", 300)


def check_relay(mail: MailSettings, sender: str) -> None:
    """Refuse, before anything is sent, a relay that is not set up to be used."""
    if not mail.host:
        raise RelayError("[mail] host is not set in qaudit.toml, so there is no relay to send"
                         " through. Set host, port and security, or leave out --smtp to write"
                         " drafts to the outbox.")
    if not sender:
        raise RelayError("no sender address: set [mail] sender (or [organisation] mailbox) in"
                         " qaudit.toml to the QA team's address.")
    if mail.user and mail.security == "none" and mail.host.lower() not in LOOPBACK:
        raise RelayError(f"[mail] security = 'none' would send the password of {mail.user!r}"
                         f" to {mail.host} unencrypted; use 'starttls' or 'tls' (or a relay"
                         " that needs no login, with user blank).")


def relay_password(mail: MailSettings, environ: Mapping[str, str]) -> str | None:
    """The relay password: the environment variable, else the OS keyring; None without a
    user. Never from qaudit.toml."""
    if not mail.user:
        return None
    value = environ.get(mail.password_env, "")
    if value:
        return value
    stored = _keyring_password(mail.user)
    if stored:
        return stored
    raise RelayError(
        f"no password for the relay user {mail.user!r}: set the environment variable"
        f" {mail.password_env} for this session, or keep it in the OS keyring (pip install"
        f" keyring, then `keyring set {KEYRING_SERVICE} {mail.user}`). qaudit never reads it"
        " from qaudit.toml.")


def _keyring_password(user: str) -> str | None:
    try:
        keyring: Any = importlib.import_module("keyring")
    except ImportError:
        return None
    try:
        stored = keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # no keyring backend on this machine: as if nothing were stored
        return None
    return str(stored) if stored else None


class Relay:
    """One connection to the relay for a batch of messages."""

    def __init__(self, mail: MailSettings, password: str | None, timeout: float = 60.0) -> None:
        self.mail = mail
        self.password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Relay:
        mail = self.mail
        where = f"{mail.host}:{mail.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if mail.security == "tls":
                smtp = smtplib.SMTP_SSL(mail.host, mail.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(mail.host, mail.port, timeout=self.timeout)
            if mail.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if mail.user:
                smtp.login(mail.user, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            self._close(smtp)
            raise RelayError(f"the relay {where} refused the login of {mail.user!r}"
                             f" ({_reply(exc.smtp_code, exc.smtp_error)}); check [mail] user"
                             " and the password. Nothing was sent.") from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._close(smtp)
            raise RelayError(f"the relay {where} does not offer STARTTLS (or login); check"
                             " [mail] port and security with your IT team. Nothing was"
                             " sent.") from exc
        except ssl.SSLCertVerificationError as exc:
            self._close(smtp)
            raise RelayError(f"the mail relay {where} showed a certificate this computer does"
                             f" not trust ({one_line(exc.verify_message or str(exc), 120)}):"
                             " it may not be the council's relay. Check [mail] host with your"
                             " IT team (or install their certificate authority). Nothing was"
                             " sent, and the password was not offered.") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._close(smtp)
            reason = one_line(str(exc) or type(exc).__name__, 200)
            raise RelayError(f"cannot reach the mail relay {where} ({reason}). Check [mail]"
                             " host, port and security; nothing was sent.") from exc
        self._smtp = smtp
        return self

    def send(self, message: bytes, sender: str, recipients: Sequence[str]) -> Accepted:
        """Hand one message (``message.message_bytes``) to the relay for ``recipients``."""
        smtp = self._smtp
        if smtp is None:
            raise ConnectionLost("the connection is closed")
        try:
            refused = smtp.sendmail(sender, list(recipients), message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MessageRefused("the relay refused every recipient", tuple(
                (str(a), _reply(*r)) for a, r in exc.recipients.items())) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise RelayError(f"the relay refused the sender {sender}"
                             f" ({_reply(exc.smtp_code, exc.smtp_error)}); check [mail]"
                             " sender.") from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise ConnectionLost(one_line(str(exc) or "connection closed", 200)) from exc
        except smtplib.SMTPResponseException as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == 421:  # the service is closing the connection
                self._smtp = None
                raise ConnectionLost(reply) from exc
            raise MessageRefused(f"the relay refused the message ({reply})") from exc
        except OSError as exc:
            self._smtp = None
            raise ConnectionLost(one_line(str(exc) or type(exc).__name__, 200)) from exc
        taken = tuple(a for a in recipients if a not in refused)
        return Accepted(taken, tuple((a, _reply(*refused[a])) for a in recipients
                                     if a in refused))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    @staticmethod
    def _close(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            smtp.close()
