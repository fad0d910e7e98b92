"""The relay over TLS, against a real SMTP server on this machine with a real certificate
(a throwaway certificate authority made by ``trustme``): STARTTLS on the submission port,
TLS from the first byte, and a certificate this computer does not trust refused before
anything is sent."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller

from mail.smtp_server import HOST, Mailbox, free_port
from qaudit.config import MailSettings
from qaudit.mail.message import message_bytes
from qaudit.mail.smtp import Relay, RelayError

SENDER = "qa@example.org"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(authority: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This computer trusts the test authority, as a council laptop trusts its own."""
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST).configure_cert(context)
    return context


@contextmanager
def relay_server(context: ssl.SSLContext, implicit: bool) -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    options = ({"ssl_context": context} if implicit
               else {"tls_context": context, "require_starttls": True,
                     "authenticator": mailbox.authenticate, "auth_require_tls": True})
    controller = Controller(mailbox, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def message() -> bytes:
    mail = EmailMessage()
    mail["Subject"] = "[OFFICIAL-SENSITIVE] Case audit 2026-27 C3: test"
    mail["Message-ID"] = "<tls.qaudit@example.org>"
    mail.set_content("Hello over TLS")
    return message_bytes(mail)


def test_starttls_with_a_login_delivers_over_an_encrypted_connection(
    authority: trustme.CA, trusted: None
) -> None:
    with relay_server(server_context(authority), implicit=False) as (mailbox, port):
        mail = MailSettings(host=HOST, port=port, security="starttls", user="qa.team")
        with Relay(mail, "s3cret") as relay:
            relay.send(message(), SENDER, ["ann@example.org"])
    assert mailbox.logins == [("qa.team", "s3cret")]  # only offered once encrypted
    assert [r.rcpt_tos for r in mailbox.received] == [("ann@example.org",)]


def test_tls_from_the_first_byte_delivers(authority: trustme.CA, trusted: None) -> None:
    with relay_server(server_context(authority), implicit=True) as (mailbox, port):  # noqa: SIM117 - the port comes from the first
        with Relay(MailSettings(host=HOST, port=port, security="tls"), None) as relay:
            relay.send(message(), SENDER, ["sam@example.org"])
    assert [r.rcpt_tos for r in mailbox.received] == [("sam@example.org",)]


def test_a_certificate_this_computer_does_not_trust_is_refused_before_anything_goes(
    authority: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger))
    with relay_server(server_context(authority), implicit=False) as (mailbox, port):
        mail = MailSettings(host=HOST, port=port, security="starttls", user="qa.team")
        with pytest.raises(RelayError, match="certificate") as refused:
            Relay(mail, "s3cret").__enter__()
    assert "does not trust" in str(refused.value) and "Nothing was sent" in str(refused.value)
    assert mailbox.logins == [] and mailbox.received == []  # the password never left
