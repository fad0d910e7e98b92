"""The last check on every message qaudit makes: its header blocks are exactly the fields
qaudit writes, each once and in order, and none holds a bare CR or LF once unfolded.

Whoever wrote the bytes (``message.wire_message`` directly, or the email package), a name,
subject or file name that broke out of its header would add a header of its own: a Bcc to
an outside address, in a message of personal data. A failing message is refused with what
to correct. Pure (no files, no network).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import zip_longest
from typing import TYPE_CHECKING

from qaudit.errors import QauditError
from qaudit.mail.addresses import Addressee

if TYPE_CHECKING:
    from qaudit.mail.message import Attachment, Sender

#: The fields of a message's text part, and of each file it attaches, in the order written.
_TEXT_PART = ("Content-Type", "Content-Transfer-Encoding")
_FILE_PART = (*_TEXT_PART, "Content-Disposition", "MIME-Version")
_VALUE = rb":[^\r\n]*(?:\r\n[ \t][^\r\n]*)*"  # folded lines and all, no bare CR or LF
_FIELD = re.compile(rb"(?:\A|\r\n)([!-9;-~]+)" + _VALUE)
_MIXED = re.compile(rb'(?m)^Content-Type: multipart/mixed; boundary="([!#-~]+)"\r?$')


@dataclass(frozen=True)
class HeaderSource:
    """What a message's headers are made from: the sender, the people it goes to, the
    subject, the files, and whether it is a draft."""

    sender: Sender
    to: tuple[Addressee, ...]
    cc: tuple[Addressee, ...]
    subject: str
    attachments: tuple[Attachment, ...]
    draft: bool

    def top(self) -> tuple[str, ...]:
        """The fields qaudit writes at the top of the message, in the order it writes them."""
        return (*(("From",) if self.sender.address else ()), "To",
                *(("Cc",) if self.cc else ()), *(("Reply-To",) if self.sender.reply_to else ()),
                "Subject", "Message-ID", "X-Unsent" if self.draft else "Date",
                *(("MIME-Version", "Content-Type") if self.attachments
                  else (*_TEXT_PART, "MIME-Version")))

    def refusal(self, field: str, part: int) -> str:
        """Why the message is refused, and what to correct: the value ``field`` of header
        block ``part`` is made from (0 the message's own, 1 its text, then each file's),
        shown as Python writes it (a control character escaped, never sent to the terminal)."""
        if part >= 2:
            what = f"the file name {self.attachments[part - 2].filename[:120]!r}"
        elif field in ("To", "Cc"):
            people = self.to if field == "To" else self.cc
            what = ("the name of " + " or ".join(f"{p.name[:80]!r} ({p.address})"
                                                 for p in people)
                    + " in the staff list, or in the Service Manager's workbook that gave it")
        elif field == "Subject":
            what = (f"the subject {self.subject[:120]!r} (the cycle's name, or"
                    " [organisation] protective_marking in qaudit.toml)")
        elif field == "From":
            what = (f"the sender's name {self.sender.name[:80]!r} ([mail] sender_name"
                    " or [organisation] team in qaudit.toml)")
        else:
            what = "the names, subject and file names it is made from"
        return (f"the message to {self._people()} was not made: its {field or 'header'} would"
                " break into a header qaudit does not write (a hidden Bcc, say). Correct"
                f" {what}, then run the command again; nothing of this message was written or"
                " sent.")

    def unencodable(self) -> str:
        """Why a message the email package could not write is refused (an encoded word,
        ``=?UTF-8?B?...?=``, whose decoded bytes are not text, say)."""
        return (f"the message to {self._people()} was not made: a name, the subject or a file"
                " name holds something the email package cannot write as a header (an encoded"
                " word such as '=?UTF-8?B?...?=', say). Correct the names, subject and file"
                " names it is made from, then run the command again; nothing of this message"
                " was written or sent.")

    def _people(self) -> str:
        return ", ".join(p.address for p in (*self.to, *self.cc))


def checked_headers(data: bytes, source: HeaderSource) -> None:
    """Refuse (``QauditError``) a message whose header blocks are not exactly the ones
    qaudit writes: each field once, in its order, and none holding a bare CR or LF once
    unfolded. Whoever made the bytes, a name, subject or file name that broke out of its
    header (as the email package let an encoded word do, CVE-2024-6923) would add a header
    of its own: a Bcc to an outside address, in a message of personal data."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise QauditError(source.refusal("", 0))
    head = data[:end]
    blocks = [head, *(_part_heads(data, head, end) if source.attachments else ())]
    expected = [source.top(), *((_TEXT_PART,) if source.attachments else ()),
                *(_FILE_PART for _ in source.attachments)]
    if len(blocks) != len(expected):
        raise QauditError(source.refusal("", 0))
    for part, (block, names) in enumerate(zip(blocks, expected, strict=True)):
        broken = None if _block_of(names).fullmatch(block) else _broken_field(block, names)
        if broken is not None:
            raise QauditError(source.refusal(broken, part))


@cache
def _block_of(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """A header block of exactly these fields, in order: one match a block (a message has
    a few), where ``_broken_field`` goes field by field to say which one broke."""
    return re.compile(b"\r\n".join(re.escape(name.encode("ascii")) + _VALUE for name in names))


def _part_heads(data: bytes, head: bytes, start: int) -> list[bytes]:
    """The header block of each part of a multipart message whose own headers end at
    ``start``: found, not copied out, since the parts are most of the message (none if it
    names no boundary, and the message is then refused for having too few)."""
    mixed = _MIXED.search(head)
    if mixed is None:
        return []
    delimiter = b"\r\n--" + mixed[1] + b"\r\n"  # the closing one ends "--", not CR LF
    heads: list[bytes] = []
    at = data.find(delimiter, start)
    while at >= 0:
        begin = at + len(delimiter)
        end = data.find(b"\r\n\r\n", begin)
        if end < 0:
            break
        heads.append(data[begin:end])
        at = data.find(delimiter, end)
    return heads


def _broken_field(block: bytes, expected: Sequence[str]) -> str | None:
    """The field of a header block that a value broke out of ('' if none came before it),
    or None if the block is exactly the ``expected`` fields in order. A field is
    ``Name: value`` and the lines that fold it (each starting with a space or a tab), with
    no bare CR or LF: whatever else follows it in the block broke out of it."""
    names: list[str] = []
    at = 0
    for field in _FIELD.finditer(block):
        if field.start() != at:
            break
        names.append(field[1].decode("ascii"))
        at = field.end()
    if at != len(block):
        return names[-1] if names else ""
    if names == list(expected):
        return None
    extra = next(i for i, (name, wanted) in enumerate(zip_longest(names, expected))
                 if name != wanted)
    return names[extra - 1] if extra else ""
