"""No name, subject or file name adds a header to a message.

An encoded-word lookalike (``=?utf-8?q?Ann=0D=0ABcc:_x@evil.example?=``, say an auditor's
name read back from a Service Manager's workbook) is text and is never decoded: the email
package of Python 3.11.7 decodes it and writes its CR LF as they are (CVE-2024-6923), and
the draft gains a Bcc. And every message's headers are checked last, whichever way it was
written (directly, or by the email package), so a hole found later is refused, not sent.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaudit.errors import QauditError
from qaudit.mail import addresses
from qaudit.mail import message as module
from qaudit.mail.addresses import Addressee, no_encoded_words, one_line
from qaudit.mail.headers import HeaderSource, checked_headers
from qaudit.mail.message import (
    Attachment,
    Sender,
    build_message,
    message_bytes,
    subject_line,
    wire_message,
)

EVIL = "=?utf-8?q?Ann=0D=0ABcc:_outside@evil.example?="
PIECES = ["=?", "?=", "utf-8?q?", "UTF-8?B?", "?b?", "=0D=0A", "=0A", "DQo=", "_", "Bcc:",
          " Bcc: outside@evil.example", "\r", "\n", "\r\n", "\t", "\u2028", "Zoë", "é", "Ann",
          " ", '"', "<", ">", ",", "@", ":", ";", "\\", "(", ")", "x"]
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
#: File names are qaudit's own (a reference, a report's name): one line, never blank.
FILE_NAMES = st.tuples(
    st.just("x"), st.lists(st.sampled_from([p for p in PIECES if not p.isspace()]),
                           max_size=14).map("".join),
    st.sampled_from([".xlsx", ".html", ".md", ""])).map("".join)
TEXT_PART = ["Content-Type", "Content-Transfer-Encoding"]
FILE_PART = [*TEXT_PART, "Content-Disposition", "MIME-Version"]
BOUNDARY = re.compile(rb"={15}\d{19}==")


def own_headers(draft: bool, files: int) -> list[str]:
    """The headers qaudit writes (every one of them, here) and no others, in order."""
    return ["From", "To", "Cc", "Reply-To", "Subject", "Message-ID",
            "X-Unsent" if draft else "Date",
            *(["MIME-Version", "Content-Type"] if files else [*TEXT_PART, "MIME-Version"])]


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))


def fields(sender_name: str, to: list[str], cc: list[str], subject: str,
           file_names: list[str], draft: bool) -> dict[str, Any]:
    """A message's fields as ``qaudit send`` makes them: names and subject one line each."""
    return dict(
        sender=Sender("qa@example.org", one_line(sender_name, 80), "qa@example.org",
                      "OFFICIAL"),
        to=[Addressee(one_line(n), f"to{i}@example.org", "auditor") for i, n in enumerate(to)],
        cc=[Addressee(one_line(n), f"cc{i}@example.org", "manager") for i, n in enumerate(cc)],
        subject=subject_line("OFFICIAL", subject), body="Dear Ann,\n",
        attachments=[Attachment(n, b"PK") for n in file_names],
        message_id="<1.qaudit@example.org>", draft=draft)


def assert_only_own_headers(data: bytes, made: dict[str, Any]) -> None:
    """The message, read as a mail program reads it, has qaudit's headers and no others, and
    goes to the people it was made for, under their names."""
    message = parse(data)
    files = len(made["attachments"])
    assert list(message.keys()) == own_headers(made["draft"], files)
    if files:
        assert [list(p.keys()) for p in message.iter_parts()] == [
            TEXT_PART, *[FILE_PART] * files]
    for header in ("To", "Cc"):
        people = made[header.casefold()]
        assert [(a.display_name, a.addr_spec) for a in message[header].addresses] == [
            (p.name, p.address) for p in people]
    assert message["Subject"] == made["subject"]
    assert [p.get_filename() for p in message.iter_attachments()] == [
        no_encoded_words(a.filename) for a in made["attachments"]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender_name=HOSTILE, to=st.lists(HOSTILE, min_size=1, max_size=2),
       cc=st.lists(HOSTILE, min_size=1, max_size=2), subject=HOSTILE,
       file_names=st.lists(FILE_NAMES, max_size=2), draft=st.booleans())
def test_no_name_subject_or_file_name_adds_a_header_to_a_draft_or_what_the_relay_gets(
    sender_name: str, to: list[str], cc: list[str], subject: str, file_names: list[str],
    draft: bool
) -> None:
    """Both ways out (the draft, ``X-Unsent``; the relay's bytes, dated), both writers (the
    direct one, and the email package's, which the direct one falls back to)."""
    made = fields(sender_name, to, cc, subject, file_names, draft)
    assert_only_own_headers(wire_message(**made), made)
    assert_only_own_headers(message_bytes(build_message(**made)), made)


def test_an_encoded_word_lookalike_stays_text_in_every_header() -> None:
    made = fields(EVIL, [EVIL], [f"Sam {EVIL}"], f"audit form for {EVIL}",
                  [f"{EVIL}.xlsx"], draft=True)
    data = wire_message(**made)
    assert_only_own_headers(data, made)
    assert parse(data)["To"].addresses[0].display_name == EVIL.replace("=?", "= ?")
    assert b"\r\nBcc:" not in data.partition(b"\r\n\r\n")[0]


@pytest.fixture
def unneutralised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The neutralising of encoded words undone: what the last check alone must stop."""
    monkeypatch.setattr(addresses, "no_encoded_words", lambda text: text)
    monkeypatch.setattr(module, "no_encoded_words", lambda text: text)


@pytest.mark.usefixtures("unneutralised")
@pytest.mark.parametrize("draft", [True, False], ids=["draft", "smtp"])
@pytest.mark.parametrize(("where", "named"), [
    ("to", f"the name of {EVIL!r} (to0@example.org) or 'Jo' (to1@example.org)"),
    ("cc", f"the name of {EVIL!r} (cc0@example.org)"),
    ("subject", f"the subject '[OFFICIAL] audit form for {EVIL}'"),
    ("sender", f"the sender's name {EVIL!r}"),
    ("file", f"the file name '{EVIL}.xlsx'"),
])
def test_a_value_that_breaks_out_of_its_header_is_refused_naming_what_to_correct(
    draft: bool, where: str, named: str
) -> None:
    made = fields(EVIL if where == "sender" else "QA", [EVIL if where == "to" else "Ann", "Jo"],
                  [EVIL if where == "cc" else "Sam"],
                  f"audit form for {EVIL}" if where == "subject" else "audit form",
                  [f"{EVIL}.xlsx" if where == "file" else "form.xlsx"], draft)
    with pytest.raises(QauditError) as refused:
        wire_message(**made)
    assert named in str(refused.value)
    assert "nothing of this message was written or sent" in str(refused.value)


@pytest.mark.usefixtures("unneutralised")
@settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=HOSTILE, subject=HOSTILE, file_name=FILE_NAMES, draft=st.booleans())
def test_without_the_neutralising_a_message_is_refused_or_has_only_its_own_headers(
    name: str, subject: str, file_name: str, draft: bool
) -> None:
    made = fields(name, [name], [name], subject, [file_name], draft)
    try:
        data = wire_message(**made)
    except QauditError:
        return
    message = parse(data)
    assert list(message.keys()) == own_headers(draft, 1)
    assert [list(p.keys()) for p in message.iter_parts()] == [TEXT_PART, FILE_PART]


@pytest.mark.usefixtures("unneutralised")
@pytest.mark.parametrize("draft", [True, False], ids=["draft", "smtp"])
def test_a_name_the_email_package_cannot_write_is_refused_not_a_crash(draft: bool) -> None:
    # Found by the property above in CI: an encoded word whose bytes are not UTF-8 made the
    # email package raise UnicodeEncodeError while writing the header.
    name = "=?UTF-8?B?=0D=0A?=Bcc:"
    with pytest.raises(QauditError) as refused:
        wire_message(**fields(name, [name], [name], "audit form", ["x.xlsx"], draft))
    assert "cannot write as a header" in str(refused.value)
    assert "nothing of this message was written or sent" in str(refused.value)


# --- the last check, on bytes however they were made -----------------------------------------

PLAIN = fields("QA", ["Ann"], ["Sam"], "audit form", ["form.xlsx"], draft=True)
SOURCE = HeaderSource(PLAIN["sender"], tuple(PLAIN["to"]), tuple(PLAIN["cc"]),
                      PLAIN["subject"], tuple(PLAIN["attachments"]), True)


@pytest.mark.parametrize(("before", "after", "field"), [
    (b"\r\nSubject: [OFFICIAL] audit form\r\n",
     b"\r\nSubject: [OFFICIAL] audit form\r\nBcc: outside@evil.example\r\n", "Subject"),
    (b"\r\nTo: Ann <to0@example.org>\r\n", b"\r\nTo: Ann\nBcc: x@evil.example <to0@example.org>"
     b"\r\n", "To"),
    (b"\r\nTo: Ann <to0@example.org>\r\n", b"\r\nTo: Ann\r <to0@example.org>\r\n", "To"),
    (b"\r\nCc: Sam <cc0@example.org>\r\n", b"\r\nCc: Sam <cc0@example.org>\r\nnot a field\r\n",
     "Cc"),
    (b"\r\nX-Unsent: 1\r\n", b"\r\nX-Unsent: 1\r\nTo: all@evil.example\r\n", "X-Unsent"),
    (b'filename="form.xlsx"\r\n', b'filename="form.xlsx"\r\nBcc: x@evil.example\r\n',
     "Content-Disposition"),
    (b"From: QA <qa@example.org>\r\n", b"", ""),
], ids=["extra-header", "bare-lf", "bare-cr", "not-a-field", "second-to", "in-a-part",
        "one-missing"])
def test_a_header_block_that_is_not_qaudits_own_is_refused(
    before: bytes, after: bytes, field: str
) -> None:
    data = wire_message(**PLAIN)
    checked_headers(data, SOURCE)
    assert before in data
    with pytest.raises(QauditError, match=f"its {field or 'header'} would break"):
        checked_headers(data.replace(before, after, 1), SOURCE)


def test_a_folded_header_is_one_field() -> None:
    data = wire_message(**PLAIN).replace(b"audit form\r\n", b"audit\r\n form\r\n", 1)
    checked_headers(data, SOURCE)


def test_a_message_missing_a_part_is_refused() -> None:
    data = wire_message(**PLAIN)
    boundary = cast(re.Match[bytes], BOUNDARY.search(data))[0]
    text_part_ends = data.index(b"\r\n--" + boundary, data.index(b"Dear Ann"))
    cut = data[:data.index(b"--" + boundary)] + data[text_part_ends + 2:]
    with pytest.raises(QauditError, match="would break"):
        checked_headers(cut, SOURCE)


# --- a long file name ------------------------------------------------------------------------


@pytest.mark.parametrize("length", [900, 954, 955, 961, 1005, 3000])
def test_a_long_file_name_is_folded_as_the_email_package_folds_it(length: int) -> None:
    """Past 954 characters the Content-Disposition line would pass 998: the email package
    folds it (RFC 2231), and the direct writer leaves it to the package."""
    made = {**PLAIN, "attachments": [Attachment("a" * (length - 5) + ".xlsx", b"PK")]}
    direct = BOUNDARY.sub(b"B", wire_message(**made))
    assert direct == BOUNDARY.sub(b"B", message_bytes(build_message(**made)))
    assert max(map(len, direct.split(b"\r\n"))) <= 998
    (part,) = parse(direct).iter_attachments()
    assert part.get_filename() == made["attachments"][0].filename
