"""The relay (``qaudit.mail.smtp``) against a real SMTP server on this machine: the login,
the password's sources, and each way a relay says no."""

from __future__ import annotations

import sys
import types
from email.message import EmailMessage

import pytest

from mail.smtp_server import Mailbox, free_port
from qaudit.config import MailSettings
from qaudit.mail.message import message_bytes
from qaudit.mail.smtp import (
    ConnectionLost,
    MessageRefused,
    Relay,
    RelayError,
    check_relay,
    relay_password,
)

SENDER = "qa@example.org"


def settings(port: int, **changes: object) -> MailSettings:
    return MailSettings.model_validate({"host": "127.0.0.1", "port": port, "security": "none",
                                        **changes})


def message() -> bytes:
    mail = EmailMessage()
    mail["Subject"] = "[OFFICIAL-SENSITIVE] Case audit 2026-27 C3: test"
    mail["Message-ID"] = "<1.qaudit@example.org>"
    mail.set_content("Hello")
    return message_bytes(mail)


def test_the_password_comes_from_the_environment_and_the_login_is_used(
    mailbox: Mailbox, smtp_port: int
) -> None:
    mail = settings(smtp_port, user="qa.team")
    password = relay_password(mail, {"QAUDIT_SMTP_PASSWORD": "s3cret"})
    with Relay(mail, password) as relay:
        accepted = relay.send(message(), SENDER, ["ann@example.org", "sam@example.org"])
    assert accepted.accepted == ("ann@example.org", "sam@example.org")
    assert mailbox.logins == [("qa.team", "s3cret")]
    assert [r.rcpt_tos for r in mailbox.received] == [("ann@example.org", "sam@example.org")]


def test_a_wrong_password_is_refused_clearly(mailbox: Mailbox, smtp_port: int) -> None:
    with pytest.raises(RelayError, match=r"refused the login of 'qa\.team'.*Nothing was sent"):
        Relay(settings(smtp_port, user="qa.team"), "wrong").__enter__()


def test_no_password_anywhere_names_where_to_put_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # the optional package not installed
    with pytest.raises(RelayError, match="set the environment variable MY_RELAY_PASSWORD"):
        relay_password(settings(25, user="qa.team", password_env="MY_RELAY_PASSWORD"), {})
    assert relay_password(settings(25), {}) is None  # no user, no password needed


def test_the_password_comes_from_the_keyring_when_it_is_installed(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = {("qaudit-smtp", "qa.team"): "from-keyring"}
    fake = types.SimpleNamespace(get_password=lambda service, user: stored.get((service, user)))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    assert relay_password(settings(25, user="qa.team"), {}) == "from-keyring"
    assert relay_password(settings(25, user="qa.team"), {"QAUDIT_SMTP_PASSWORD": "env"}) == (
        "env")


def test_a_login_without_tls_is_refused_unless_the_relay_is_on_this_machine() -> None:
    with pytest.raises(RelayError, match="unencrypted"):
        check_relay(settings(25, host="smtp.example.org", user="qa.team"), SENDER)
    check_relay(settings(25, host="localhost", user="qa.team"), SENDER)
    check_relay(settings(25, host="smtp.example.org"), SENDER)
    with pytest.raises(RelayError, match=r"\[mail\] host is not set"):
        check_relay(settings(25, host=""), SENDER)
    with pytest.raises(RelayError, match=r"no sender address"):
        check_relay(settings(25), "")


def test_an_unreachable_relay_is_refused_before_anything_goes() -> None:
    with pytest.raises(RelayError, match=r"cannot reach the mail relay 127.0.0.1:\d+"):
        Relay(settings(free_port()), None).__enter__()


def test_one_refused_recipient_is_reported_and_the_others_accepted(
    mailbox: Mailbox, smtp_port: int
) -> None:
    mailbox.refuse.add("gone@example.org")
    with Relay(settings(smtp_port), None) as relay:
        accepted = relay.send(message(), SENDER, ["ann@example.org", "gone@example.org"])
        with pytest.raises(MessageRefused) as refused:
            relay.send(message(), SENDER, ["gone@example.org"])
        again = relay.send(message(), SENDER, ["sam@example.org"])  # the batch goes on
    assert accepted.accepted == ("ann@example.org",)
    assert accepted.refused == (("gone@example.org", "550 5.1.1 No such mailbox here"),)
    assert refused.value.refused == (("gone@example.org", "550 5.1.1 No such mailbox here"),)
    assert again.accepted == ("sam@example.org",)
    assert len(mailbox.received) == 2


def test_a_dropped_connection_stops_the_batch(mailbox: Mailbox, smtp_port: int) -> None:
    mailbox.drop_after = 1
    with Relay(settings(smtp_port), None) as relay:
        relay.send(message(), SENDER, ["ann@example.org"])
        with pytest.raises(ConnectionLost):
            relay.send(message(), SENDER, ["sam@example.org"])
        with pytest.raises(ConnectionLost):
            relay.send(message(), SENDER, ["sam@example.org"])
    assert len(mailbox.received) == 1
