"""One message built: headers, the marked body, the attachments; its content hash; and
what of a letter is still to go, against the record.

Pure (no files, no network). A letter's content hash covers what it says that matters
(``Letter.essentials``: the reference, the due date, a pack's grade and texts...) and the
bytes of every file attached; never the template's wording, the settings' names, or
people's names as the staff list spells them: editing a template or correcting a name does
not make every message new again. What went out is decided per recipient: a letter whose
content is unchanged goes only to the addresses it has not yet reached, so a relay that
refused one recipient, or a draft run stopped part-way, is finished by a rerun without
sending anything twice. A resend sends again only what went, to whom it went.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy, quoprimime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from qaudit.config import MailSettings, OrganisationSettings
from qaudit.db.mail import SentMessage
from qaudit.errors import QauditError
from qaudit.mail.addresses import Addressee, checked_address, no_encoded_words, one_line
from qaudit.mail.headers import HeaderSource, checked_headers
from qaudit.mail.letters import Letter

#: Content types by file extension: the same on every machine (``mimetypes`` reads the
#: system's own table, which may not know .xlsx).
_TYPES: dict[str, tuple[str, str]] = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".html": ("text", "html"),
    ".md": ("text", "markdown"),
    ".svg": ("image", "svg+xml"),
    ".csv": ("text", "csv"),
}


@dataclass(frozen=True)
class Sender:
    """Who messages come from, and the protective marking they carry."""

    address: str  # blank: drafts go out from whoever opens them
    name: str
    reply_to: str
    marking: str

    @property
    def domain(self) -> str:
        """For Message-IDs: the sender's domain (never a DNS look-up of this machine)."""
        return self.address.rpartition("@")[2] or "qaudit.invalid"


def sender_from(mail: MailSettings, organisation: OrganisationSettings) -> Sender:
    """The sender, reply-to and name: [mail], else the [organisation] team and mailbox."""
    return Sender(
        address=checked_address(mail.sender or organisation.mailbox) or "",
        name=one_line(mail.sender_name or organisation.team, 80),
        reply_to=checked_address(mail.reply_to or organisation.mailbox) or "",
        marking=one_line(organisation.protective_marking, 60),
    )


def subject_line(marking: str, subject: str) -> str:
    """The subject with the protective marking before it."""
    subject = one_line(subject, 250)
    return f"[{marking}] {subject}" if marking else subject


def marked_body(marking: str, text: str) -> str:
    """The body with the protective marking above and below, whatever the template said."""
    text = text.strip("\n")
    if not marking:
        return text + "\n"
    return f"{marking}\n\n{text}\n\n{marking}\n"


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    rendered: bool = False  # made from the letter's facts (the feedback pack), not a file

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def content_hash(letter: Letter, attachments: Sequence[Attachment]) -> str:
    """What the letter says that matters and the bytes of every file attached, as one
    hash. The feedback pack is left out: it is rendered from the same facts (and its
    wording is the template's)."""
    payload = {
        "kind": str(letter.kind), "about": letter.about, "facts": letter.essentials,
        "files": sorted((a.filename, a.sha256) for a in attachments if not a.rendered),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_message_id(sender: Sender) -> str:
    return make_msgid(idstring="qaudit", domain=sender.domain)


def _address(person: Addressee) -> Address:
    return Address(display_name=one_line(person.name, 120), addr_spec=person.address)


def build_message(*, sender: Sender, to: Sequence[Addressee], cc: Sequence[Addressee],
                  subject: str, body: str, attachments: Sequence[Attachment],
                  message_id: str, draft: bool) -> EmailMessage:
    """The message as it goes out. A draft carries ``X-Unsent: 1`` (Outlook and Thunderbird
    open it ready to send from the officer's own mailbox) and no date (set when sent)."""
    message = EmailMessage()
    if sender.address:
        message["From"] = Address(display_name=sender.name, addr_spec=sender.address)
    message["To"] = [_address(p) for p in to]
    if cc:
        message["Cc"] = [_address(p) for p in cc]
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if draft:
        message["X-Unsent"] = "1"
    else:
        message["Date"] = formatdate(localtime=True)
    message.set_content(body)
    for attachment in attachments:
        suffix = "." + attachment.filename.rpartition(".")[2].lower()
        maintype, subtype = _TYPES.get(suffix, ("application", "octet-stream"))
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                               filename=no_encoded_words(attachment.filename))
    return message


_LINE_LIMIT = 998  # the longest header line SMTP allows, CR LF aside

#: How a message is written out, as a draft or on the wire: CR LF line ends, and headers
#: folded only past 998 characters (folding a subject that just fits on its own line puts
#: it on a continuation line, which some readers, Python's own among them, show with a
#: leading space).
WIRE = policy.SMTP.clone(max_line_length=_LINE_LIMIT)


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it is written to a draft or given to the relay: headers encoded,
    text as it is when its lines are short (else quoted-printable), attachments base64."""
    return message.as_bytes(policy=WIRE)


# --- the same bytes, written directly --------------------------------------------------------

#: What the email package writes as it is given: a header of printable ASCII whose line
#: fits, a name of words (quoted if it holds a special), a plain address, a plain file name.
#: An encoded word's opening (``=?``) is left to the package, which would decode it.
_PRINTABLE = re.compile(r"[ -~]*")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_WORDS = re.compile(r"[!#-\[\]-~]+(?: [!#-\[\]-~]+)*")  # printable, no quote or backslash
_ATOMS = re.compile(rf"{_ATEXT}+(?: {_ATEXT}+)*")
_SPECIAL = frozenset('()<>@,:;."[]')
_ADDRESS = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_FILENAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._ -]*")
#: The longest file name whose Content-Disposition line fits (a longer one is folded).
_LONGEST_FILENAME = _LINE_LIMIT - len('Content-Disposition: attachment; filename=""')
_TEXT_WIDTH = 78  # the email package's line length for bodies (policy.default)
_BASE64_LINE = re.compile(rb".{1,76}")
_BOUNDARY = "=" * 15 + "{:019d}=="


def wire_message(*, sender: Sender, to: Sequence[Addressee], cc: Sequence[Addressee],
                 subject: str, body: str, attachments: Sequence[Attachment],
                 message_id: str, draft: bool) -> bytes:
    """``message_bytes(build_message(...))``, byte for byte but for the random boundary,
    written directly: the email package parses and refolds every header it is given, a few
    milliseconds a message, most of the time a cycle's messages took to make. A message with
    anything the package would encode, quote or fold (a name with an accent, a subject too
    long for its line, an unusual or long file name) is made by the package itself.
    Whichever made it, its headers are checked last (``checked_headers``)."""
    source = HeaderSource(sender, tuple(to), tuple(cc), subject, tuple(attachments), draft)
    try:
        data = _written(sender, to, cc, subject, body, attachments, message_id, draft)
    except (UnicodeError, MessageError) as error:
        raise QauditError(source.unencodable()) from error
    checked_headers(data, source)
    return data


def _written(sender: Sender, to: Sequence[Addressee], cc: Sequence[Addressee],
             subject: str, body: str, attachments: Sequence[Attachment],
             message_id: str, draft: bool) -> bytes:
    """The message's bytes, written directly where every header is plain."""
    headers = _plain_headers(sender, to, cc, subject, message_id, draft)
    if headers is None or not all(_FILENAME.fullmatch(a.filename)
                                  and len(a.filename) <= _LONGEST_FILENAME
                                  for a in attachments):
        return message_bytes(build_message(
            sender=sender, to=to, cc=cc, subject=subject, body=body,
            attachments=attachments, message_id=message_id, draft=draft))
    encoding, text = _text_body(body)
    part = (b'Content-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: " + encoding + b"\r\n")
    if not attachments:
        return headers + part + b"MIME-Version: 1.0\r\n\r\n" + text
    parts = [part + b"\r\n" + text, *map(_attachment_part, attachments)]
    boundary = _boundary(text)
    return b"".join((
        headers, b"MIME-Version: 1.0\r\n",
        b'Content-Type: multipart/mixed; boundary="', boundary, b'"\r\n\r\n--', boundary,
        b"\r\n", (b"\r\n--" + boundary + b"\r\n").join(parts), b"\r\n--", boundary,
        b"--\r\n"))


def _plain_headers(sender: Sender, to: Sequence[Addressee], cc: Sequence[Addressee],
                   subject: str, message_id: str, draft: bool) -> bytes | None:
    """The message's own headers as ``build_message`` sets them; None if one is not plain."""
    fields: list[tuple[str, str | None]] = []
    if sender.address:
        fields.append(("From", _mailbox(sender.name, sender.address)))
    fields.append(("To", _mailboxes(to)))
    if cc:
        fields.append(("Cc", _mailboxes(cc)))
    if sender.reply_to:
        fields.append(("Reply-To", _mailbox("", sender.reply_to)))
    fields += [("Subject", None if "=?" in subject else subject), ("Message-ID", message_id),
               ("X-Unsent", "1") if draft else ("Date", formatdate(localtime=True))]
    lines = [f"{name}: {value}\r\n" for name, value in fields
             if value and value == value.strip() and "  " not in value]
    if len(lines) < len(fields) or any(len(line) > _LINE_LIMIT + 2
                                       or not _PRINTABLE.fullmatch(line, 0, len(line) - 2)
                                       for line in lines):
        return None
    return "".join(lines).encode("ascii")


def _mailboxes(people: Sequence[Addressee]) -> str | None:
    boxes = [_mailbox(one_line(p.name, 120), p.address) for p in people]
    return None if not boxes or None in boxes else ", ".join(filter(None, boxes))


def _mailbox(name: str, address: str) -> str | None:
    """``str(Address(name, address))`` for a plain name and address, else None."""
    if not _ADDRESS.fullmatch(address) or (name and "=?" in name):
        return None
    if not name:
        return address
    if _ATOMS.fullmatch(name):
        return f"{name} <{address}>"
    if _WORDS.fullmatch(name) and not _SPECIAL.isdisjoint(name):
        return f'"{name}" <{address}>'
    return None


def _text_body(body: str) -> tuple[bytes, bytes]:
    """The body's transfer encoding and lines (CR LF), chosen as the email package chooses
    them for a message built with ``policy.default``: as it is if its lines are short, else
    quoted-printable or base64, whichever the first ten lines make shorter."""
    lines = body.encode("utf-8").splitlines()
    whole = b"\n".join(lines) + b"\n"
    if max(map(len, lines), default=0) <= _TEXT_WIDTH:
        return (b"7bit" if whole.isascii() else b"8bit"), whole.replace(b"\n", b"\r\n")
    head = b"\n".join(lines[:10]) + b"\n"
    sniff = quoprimime.body_encode(head.decode("latin-1"), _TEXT_WIDTH)
    if len(sniff) > len(binascii.b2a_base64(head)):
        return b"base64", _base64(whole)
    text = sniff if len(lines) <= 10 else quoprimime.body_encode(whole.decode("latin-1"),
                                                                 _TEXT_WIDTH)
    return b"quoted-printable", text.encode("ascii").replace(b"\n", b"\r\n")


def _attachment_part(attachment: Attachment) -> bytes:
    suffix = "." + attachment.filename.rpartition(".")[2].lower()
    maintype, subtype = _TYPES.get(suffix, ("application", "octet-stream"))
    return (f"Content-Type: {maintype}/{subtype}\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n'
            "MIME-Version: 1.0\r\n\r\n").encode("ascii") + _base64(attachment.data)


def _base64(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, each ended by CR LF, as the email package writes
    it (57 bytes a line)."""
    return b"\r\n".join(_BASE64_LINE.findall(binascii.b2a_base64(data, newline=False))) + (
        b"\r\n" if data else b"")


def _boundary(text: bytes) -> bytes:
    """A random boundary as the email package makes one, not found in the text (the only
    part that is not base64 or quoted-printable, which cannot hold one)."""
    while True:
        boundary = _BOUNDARY.format(random.randrange(sys.maxsize)).encode("ascii")
        if b"--" + boundary not in text:
            return boundary


# --- what is still to go -------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A letter to send now, to these recipients, and why."""

    letter: Letter
    content_hash: str
    to: tuple[Addressee, ...]
    cc: tuple[Addressee, ...]
    reason: str  # new | changed | new recipient | resend


def names_letter(letter: Letter, token: str) -> bool:
    """Whether ``--resend TOKEN`` names this letter: its reference (or Service Manager, or
    quadrant), what it is about, or an address it goes to; case aside."""
    token = token.strip().casefold()
    return (token in {h.casefold() for h in letter.handles}
            or token == letter.about.casefold()
            or token in {a.address.casefold() for a in letter.addressees})


def still_to_send(letter: Letter, digest: str, sent: Sequence[SentMessage],
                  resend: str | None = None) -> Pending | None:
    """What of ``letter`` goes now, given what the record says went (``sent``: the rows of
    the same cycle, kind and about). With ``resend``, only a letter it names goes, and only
    again: to each of its recipients it reached before, or to the one address it names if
    it reached that address before. A letter that never went is not resent (None)."""
    reached = frozenset[str]().union(*(s.addresses for s in sent))
    if resend is not None:
        if not names_letter(letter, resend):
            return None
        token = resend.strip().casefold()
        named = tuple(a for a in letter.addressees if a.address.casefold() == token)
        if named:
            again = tuple(a for a in named if a.address.casefold() in reached)
            return Pending(letter, digest, again, (), "resend") if again else None
        return _to_those(letter, digest, reached, "resend", keep=True)
    if not sent:
        return Pending(letter, digest, letter.to, letter.cc, "new")
    same = [s for s in sent if s.content_hash == digest]
    if not same:
        return Pending(letter, digest, letter.to, letter.cc, "changed")
    return _to_those(letter, digest, frozenset[str]().union(*(s.addresses for s in same)),
                     "new recipient", keep=False)


def _to_those(letter: Letter, digest: str, reached: frozenset[str], reason: str, *,
              keep: bool) -> Pending | None:
    """The letter to those of its recipients ``reached`` holds (``keep``) or does not."""
    to = tuple(a for a in letter.to if (a.address.casefold() in reached) is keep)
    cc = tuple(a for a in letter.cc if (a.address.casefold() in reached) is keep)
    if not to and not cc:
        return None
    if not to:
        to, cc = cc, ()
    return Pending(letter, digest, to, cc, reason)
