"""One message built, its content hash, and what of a letter is still to go: pure."""

from __future__ import annotations

from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import cast

import pytest

from qaudit.config import MailSettings, OrganisationSettings
from qaudit.db.mail import SentMessage
from qaudit.mail.addresses import Addressee, checked_address, clean_text, one_line
from qaudit.mail.kinds import MessageKind
from qaudit.mail.letters import Letter
from qaudit.mail.message import (
    Attachment,
    build_message,
    content_hash,
    marked_body,
    message_bytes,
    sender_from,
    still_to_send,
    subject_line,
)
from qaudit.values import NotAnEmail, checked_email

AUDITOR = Addressee("Ann Auditor", "ann@example.org", "auditor")
MANAGER = Addressee("Sam Manager", "sam@example.org", "service manager")
LETTER = Letter(kind=MessageKind.REMINDERS, about="2026-27-C3-001 audit form reminder",
                reference="2026-27-C3-001", handles=("2026-27-C3-001",),
                subject="Case audit 2026-27 C3: reminder", to=(AUDITOR,), cc=(MANAGER,),
                facts={"reference": "2026-27-C3-001", "due": "11/12/2026"},
                files=(Path("2026-27-C3-001-audit.xlsx"),), draft_name="x")
FORM = Attachment("2026-27-C3-001-audit.xlsx", b"PK\x03\x04 the workbook")
SENDER = sender_from(MailSettings(), OrganisationSettings(team="Practice Quality Team",
                                                          mailbox="qa@example.org"))


def record(digest: str, to: tuple[str, ...], cc: tuple[str, ...] = ()) -> SentMessage:
    return SentMessage("reminders", LETTER.about, to, cc, "s", digest, "<id@x>", "smtp", None,
                       "2026-12-12T09:00:00+00:00")


def parse(message: EmailMessage) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(
        message_bytes(message)))


# --- what is still to go -------------------------------------------------------------------


def test_a_letter_never_sent_goes_to_everyone() -> None:
    pending = still_to_send(LETTER, "h1", [])
    assert pending is not None and (pending.to, pending.cc, pending.reason) == (
        (AUDITOR,), (MANAGER,), "new")


def test_a_letter_sent_unchanged_to_everyone_does_not_go_again() -> None:
    assert still_to_send(LETTER, "h1", [record("h1", ("ANN@example.org",),
                                               ("sam@example.org",))]) is None


def test_a_changed_letter_goes_again_to_everyone() -> None:
    pending = still_to_send(LETTER, "h2", [record("h1", ("ann@example.org",),
                                                  ("sam@example.org",))])
    assert pending is not None and pending.reason == "changed" and pending.cc == (MANAGER,)


def test_a_copy_the_relay_refused_goes_alone_next_time() -> None:
    pending = still_to_send(LETTER, "h1", [record("h1", ("ann@example.org",))])
    assert pending is not None
    assert (pending.to, pending.cc, pending.reason) == ((MANAGER,), (), "new recipient")


def test_resend_names_a_reference_or_one_address_and_nothing_else() -> None:
    sent = [record("h1", ("ann@example.org",), ("sam@example.org",))]
    by_reference = still_to_send(LETTER, "h1", sent, resend="2026-27-c3-001")
    assert by_reference is not None and by_reference.to == (AUDITOR,)
    assert by_reference.cc == (MANAGER,) and by_reference.reason == "resend"
    by_address = still_to_send(LETTER, "h1", sent, resend=" SAM@example.org ")
    assert by_address is not None and (by_address.to, by_address.cc) == ((MANAGER,), ())
    assert still_to_send(LETTER, "h1", [], resend="2026-27-C3-002") is None


def test_resend_sends_nothing_that_never_went() -> None:
    assert still_to_send(LETTER, "h1", [], resend="2026-27-C3-001") is None
    assert still_to_send(LETTER, "h1", [], resend="ann@example.org") is None


def test_resend_goes_again_only_to_those_it_reached() -> None:
    """The relay refused the copy to the Service Manager: a resend is not its first send."""
    sent = [record("h1", ("ann@example.org",))]
    by_reference = still_to_send(LETTER, "h1", sent, resend="2026-27-C3-001")
    assert by_reference is not None
    assert (by_reference.to, by_reference.cc, by_reference.reason) == ((AUDITOR,), (),
                                                                       "resend")
    assert still_to_send(LETTER, "h1", sent, resend="sam@example.org") is None


def test_the_content_hash_covers_the_facts_and_the_files_not_the_wording() -> None:
    digest = content_hash(LETTER, [FORM])
    assert content_hash(replace(LETTER, subject="reworded", to=(MANAGER,)), [FORM]) == digest
    assert content_hash(LETTER, [replace(FORM, data=b"PK other bytes")]) != digest
    assert content_hash(replace(LETTER, facts={**LETTER.facts, "due": "12/12/2026"}),
                        [FORM]) != digest
    pack = Attachment("x-feedback.html", b"<html>any wording</html>", rendered=True)
    assert content_hash(LETTER, [FORM, pack]) == digest


# --- building ------------------------------------------------------------------------------


def test_a_draft_carries_x_unsent_the_marking_and_the_files_byte_for_byte() -> None:
    message = parse(build_message(
        sender=SENDER, to=[AUDITOR], cc=[MANAGER],
        subject=subject_line("OFFICIAL-SENSITIVE", LETTER.subject),
        body=marked_body("OFFICIAL-SENSITIVE", "Dear Ann,\n\nPlease.\n"), attachments=[FORM],
        message_id="<1.qaudit@example.org>", draft=True))
    assert message["X-Unsent"] == "1" and message["Date"] is None
    assert message["From"].addresses[0].display_name == "Practice Quality Team"
    assert message["Reply-To"] == "qa@example.org"
    assert message["Subject"] == "[OFFICIAL-SENSITIVE] Case audit 2026-27 C3: reminder"
    text = cast(EmailMessage, message.get_body(("plain",))).get_content().replace("\r\n", "\n")
    assert text == "OFFICIAL-SENSITIVE\n\nDear Ann,\n\nPlease.\n\nOFFICIAL-SENSITIVE\n"
    (part,) = message.iter_attachments()
    assert part.get_filename() == FORM.filename
    assert part.get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert part.get_payload(decode=True) == FORM.data


def test_a_subject_that_just_fits_a_line_reads_back_without_a_leading_space() -> None:
    subject = "[OFFICIAL-SENSITIVE] Case audit 2026-27 C3: feedback on audit 2026-27-C3-001"
    message = parse(build_message(sender=SENDER, to=[AUDITOR], cc=[], subject=subject,
                                  body="x", attachments=[], message_id="<2@x>", draft=False))
    assert message["Subject"] == subject and message["Date"]


@pytest.mark.parametrize("name", [
    "Smith, Jo", '"Quoted" <evil@example.org>', "=HYPERLINK(\"http://x\",\"y\")",
    "Zoë Brontë\u202e", "Line\r\nBcc: everyone@example.org", "x" * 5000,
])
def test_a_hostile_display_name_stays_a_name(name: str) -> None:
    person = Addressee(one_line(name), "jo@example.org", "practitioner")
    message = parse(build_message(sender=SENDER, to=[person], cc=[], subject="s", body="b",
                                  attachments=[], message_id="<3@x>", draft=True))
    (address,) = message["To"].addresses
    assert address.addr_spec == "jo@example.org"
    assert address.display_name == one_line(name, 120)
    assert message["Bcc"] is None and "\n" not in address.display_name
    assert sorted(message.keys()) == sorted(["From", "To", "Reply-To", "Subject", "Message-ID",
                                             "X-Unsent", "Content-Type",
                                             "Content-Transfer-Encoding", "MIME-Version"])


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("jo.smith@example.org", "jo.smith@example.org"),
    ("  Jo.Smith@EXAMPLE.ORG ", "Jo.Smith@example.org"),
    ("jo@exämple.org", "jo@xn--exmple-cua.org"),
    ("", None), ("jo", None), ("jo@localhost", None), ("jo@example.test", None),
    ("a@b@example.org", None), ("jo@example.org, al@example.org", None),
    ("jo@example.org\r\nBcc: all@example.org", None), ("=HYPERLINK(\"x\")@example.org", None),
    ("jö@example.org", None), ("\x1b[31mjo@example.org", None), ("j" * 400 + "@example.org", None),
    ("=?utf-8?q?boss?=@example.org", None), ("a=?x?=b@example.org", None),
    ("=?x?=.=?y?=@example.org", None),
])
def test_only_a_single_well_formed_address_is_used(text: str, expected: str | None) -> None:
    assert checked_address(text) == expected


def test_an_encoded_word_before_the_at_is_refused_saying_why() -> None:
    """The email package rewrites ``=?utf-8?q?boss?=@example.org`` to boss@example.org in
    one header and refuses it in another: it is no address qaudit takes in."""
    with pytest.raises(NotAnEmail, match='the part before the @ holds "=\\?"'):
        checked_email("=?utf-8?q?boss?=@example.org")


def test_text_made_one_line_holds_no_encoded_word() -> None:
    assert one_line("=?utf-8?q?Ann=0D=0ABcc:_x@evil.example?=") == (
        "= ?utf-8?q?Ann=0D=0ABcc:_x@evil.example?=")
    assert one_line("==??=\u200b?") == "== ??= ?"


def test_text_from_a_form_keeps_its_lines_and_loses_control_characters() -> None:
    assert clean_text("one\r\ntwo\x1b[2J\u202ethree\x00") == "one\ntwo[2Jthree"
    assert one_line("a\r\nb\tc\x85d  e") == "a b c d e"
