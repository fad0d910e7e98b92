"""A message written directly (``wire_message``) is the email package's message, byte for
byte: the same headers, encodings and line ends as ``message_bytes(build_message(...))``,
but for the random MIME boundary (and the Date of a message sent, which is the time)."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaudit.mail import message as module
from qaudit.mail.addresses import Addressee, one_line
from qaudit.mail.message import Attachment, Sender, build_message, message_bytes, wire_message

BOUNDARY = re.compile(rb"={15}\d{19}==")
DATE = re.compile(rb"\r\nDate: [^\r]*")
SENDER = Sender("qa.team@example.org", "Practice Quality Team", "qa.team@example.org",
                "OFFICIAL-SENSITIVE")
FORM = Attachment("2026-27-C3-004-audit.xlsx", b"PK\x03\x04" + bytes(range(256)) * 40)
BODY = ("OFFICIAL-SENSITIVE\n\nDear Ann Auditor,\n\n" + "Your Service Manager has named you"
        " as the auditor of case 2026-27-C3-004 in the case audit cycle 2026-27 C3. " * 3
        + "\n\nThank you,\nPractice Quality Team\n\nOFFICIAL-SENSITIVE\n")

ASCII = st.characters(min_codepoint=32, max_codepoint=126)
NAMES = st.one_of(st.text("abcXYZ '-.,()@<>:;[]\"\\!#=?", max_size=30), st.text(ASCII, max_size=30),
                  st.text(max_size=20),
                  st.sampled_from(["Smith, Jo", "Jo A. Smith", "O'Brien", "", "Zoë Brontë",
                                   "=?utf-8?q?Eve?=", '"Quoted" <evil@example.org>']))
ADDRESSES = st.sampled_from(["jo@example.org", "a.b+c@x-y.example.org", "o'b@example.org",
                             "x{y}@example.org"])
PEOPLE = st.builds(Addressee, NAMES, ADDRESSES, st.just("auditor"))
SUBJECTS = st.one_of(st.text("ab CD[]:-,./0123=?", max_size=1100), st.text(ASCII, max_size=300),
                     st.text(max_size=60),
                     st.integers(975, 995).map(lambda n: "[OFFICIAL] Case audit " + "x" * n))
BODIES = st.one_of(
    st.text(max_size=3000), st.text(ASCII, max_size=3000),
    st.lists(st.text("ab =.\t-Zé\r", max_size=120), max_size=30).map("\n".join),
    st.lists(st.text("ab =.-", max_size=90), max_size=30).map("\n".join),
    st.lists(st.tuples(st.integers(74, 82), st.sampled_from("xé =")).map(lambda t: t[1] * t[0]),
             max_size=14).map("\n".join))
FILE_NAMES = st.one_of(
    st.sampled_from(["a.xlsx", "x y.html", "r.md", "c.svg", "d.csv", "noext", "a ", ".x",
                     "é.xlsx", "a.b.c.XLSX", "_x-1.html", "q\"uote.md"]),
    st.text("ab._- ", max_size=300), st.text(max_size=12).map(lambda t: one_line(t, 40)))
ATTACHMENTS = st.lists(st.builds(Attachment, FILE_NAMES, st.binary(max_size=400),
                                 st.booleans()), max_size=3)


def both(**fields: Any) -> tuple[bytes, bytes]:
    """The message written directly and by the email package, boundary and Date aside."""
    def normal(data: bytes) -> bytes:
        return DATE.sub(b"", BOUNDARY.sub(b"BOUNDARY", data))

    return normal(wire_message(**fields)), normal(message_bytes(build_message(**fields)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender_name=NAMES, sender_address=st.one_of(st.just(""), ADDRESSES),
       reply_to=st.one_of(st.just(""), ADDRESSES), to=st.lists(PEOPLE, min_size=1, max_size=3),
       cc=st.lists(PEOPLE, max_size=2), subject=SUBJECTS, body=BODIES,
       attachments=ATTACHMENTS, draft=st.booleans())
def test_a_message_written_directly_is_the_email_packages_byte_for_byte(
    sender_name: str, sender_address: str, reply_to: str, to: list[Addressee],
    cc: list[Addressee], subject: str, body: str, attachments: list[Attachment], draft: bool
) -> None:
    sender = Sender(sender_address, one_line(sender_name, 80), reply_to, "OFFICIAL")
    direct, package = both(sender=sender, to=to, cc=cc, subject=one_line(subject, 1100),
                           body=body, attachments=attachments, message_id="<1.2.qaudit@x.org>",
                           draft=draft)
    assert direct == package


@settings(max_examples=300, deadline=None)
@given(body=BODIES, attachments=ATTACHMENTS)
def test_every_body_and_attachment_is_encoded_as_the_email_package_encodes_it(
    body: str, attachments: list[Attachment]
) -> None:
    direct, package = both(sender=SENDER, to=[Addressee("Jo", "jo@example.org", "auditor")],
                           cc=[], subject="s", body=body, attachments=attachments,
                           message_id="<1@x.org>", draft=True)
    assert direct == package


def test_a_cycles_message_is_written_without_the_email_package(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain case, every form of a cycle, never falls back to the slow path."""
    fields: dict[str, Any] = dict(
        sender=SENDER, to=[Addressee("Ann O'Auditor", "ann@example.org", "auditor")],
        cc=[Addressee("Smith, Sam", "sam@example.org", "service manager")],
        subject="[OFFICIAL-SENSITIVE] Case audit 2026-27 C3: audit form 2026-27-C3-004,"
        " due 11/12/2026", body=BODY, attachments=[FORM], message_id="<9.qaudit@example.org>",
        draft=True)
    direct, package = both(**fields)
    assert direct == package

    def refuse(**_: Any) -> EmailMessage:
        raise AssertionError("built by the email package")

    monkeypatch.setattr(module, "build_message", refuse)
    message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(
        wire_message(**fields)))
    (part,) = message.iter_attachments()
    assert part.get_payload(decode=True) == FORM.data
    assert message["To"].addresses[0].display_name == "Ann O'Auditor"


def test_a_body_holding_a_boundary_line_does_not_end_its_part(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text typed on a form may hold what looks like a boundary: another is drawn."""
    tokens = iter([7, 7, 8])
    monkeypatch.setattr(module.random, "randrange", lambda _: next(tokens))
    hostile = "Dear Jo,\n--===============0000000000000000007==\nTo: everyone\n"
    message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(wire_message(
        sender=SENDER, to=[Addressee("Jo", "jo@example.org", "practitioner")], cc=[],
        subject="s", body=hostile, attachments=[FORM], message_id="<1@x.org>", draft=True)))
    assert message.get_boundary() == "===============0000000000000000008=="
    text = cast(EmailMessage, message.get_body(("plain",))).get_content()
    assert text.replace("\r\n", "\n") == hostile
    assert [p.get_filename() for p in message.iter_attachments()] == [FORM.filename]
