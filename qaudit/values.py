"""What people and case systems put in cells, read one way everywhere.

Pure, and light: no numpy or pandas here (numpy's number types register with the
``numbers`` ABCs, so they are recognised without importing numpy). Dates are read day
first, as people in the UK write them; ids get one spelling however they were stored;
labels and names are folded for comparison.
"""

from __future__ import annotations

import hashlib
import numbers
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

_EXCEL_EPOCH = date(1899, 12, 30)
_UK_DATE = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_NAMED_MONTH_FORMATS = ("%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%d %b %y")
_INT_FLOAT_TEXT = re.compile(r"^([+-]?\d+)\.0*$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_YES = {"yes", "y", "true", "✓", "✔"}
_NO = {"no", "n", "false"}
_NA = {"na", "notapplicable", "nonapplicable"}


def parse_date(value: Any) -> date | None:
    """A date from whatever a cell holds. Text is read day-first (UK), always."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        number = float(value)
        if number != number:  # NaN
            return None
        if 19000101 <= number <= 21001231 and number.is_integer():
            return _ymd(int(number) // 10000, int(number) // 100 % 100, int(number) % 100)
        if 1 <= number < 2958466:  # an Excel serial date
            return _EXCEL_EPOCH + timedelta(days=int(number))
        return None
    text = str(value).strip()
    if not text:
        return None
    if m := _UK_DATE.match(text):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
        return _ymd(year + 2000 if len(m[3]) == 2 else year, month, day)
    if m := _ISO_DATE.match(text):
        return _ymd(int(m[1]), int(m[2]), int(m[3]))
    if text.isdigit() and len(text) == 5:
        return parse_date(int(text))
    for fmt in _NAMED_MONTH_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _ymd(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def normalise_id(value: Any) -> str:
    """One spelling per id: 123456, 123456.0, '123456.0' and ' 123456' are all '123456'.

    Names, teams and managers go through the same folding: numbers as ids, runs of
    whitespace folded, ends trimmed.
    """
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if number != number:
            return ""
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = " ".join(str(value).split())
    if m := _INT_FLOAT_TEXT.match(text):
        return m[1]
    return text


def normalise_label(text: object) -> str:
    """Fold a header or label for comparison: case, spaces, underscores, punctuation ignored."""
    return _NON_ALNUM.sub("", str(text).casefold())


def person_key(name: str) -> str:
    """One key per person however their name was typed: case and spacing ignored."""
    return " ".join(name.casefold().split())


def fold(text: str) -> str:
    """Letters only (and tick marks), lower case: how a typed choice is compared."""
    return re.sub(r"[^a-z✓✔]", "", text.lower())


def normalise_answer(value: Any) -> str | None:
    """Yes, No or N/A from what a person typed; None if it is none of them."""
    if not isinstance(value, str):
        return None
    key = fold(value)
    if key in _YES:
        return "Yes"
    if key in _NO:
        return "No"
    if key in _NA:
        return "N/A"
    return None


def fold_line_endings(text: str) -> str:
    """CR LF and a lone CR become LF: the same text, however a program saved it."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def uk_date(iso: str | None) -> str:
    """An ISO date as people here write it; blank stays blank."""
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


#: Names Windows will not give a file or folder, whatever the extension or case (``nul.txt``
#: is ``NUL``): the devices, with COM0/LPT0 and the superscript digits Windows 11 lists.
WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{d}{n}" for d in ("COM", "LPT") for n in (*"0123456789", "\u00b9", "\u00b2", "\u00b3")}
)
#: The longest slug: with the longest of qaudit's own words around it, every path qaudit
#: writes stays inside Windows' 260 characters (and every workbook inside Excel's 218) from
#: a workspace folder of up to 60 characters (``docs/terminal.md``). Cycle names are no
#: longer (40 at most), so a cycle's folder is its whole name.
SLUG_MAX = 40
_SLUG_HASH = 8


def cycle_slug(name: str) -> str:
    """A file-name-safe form of a name (a cycle's, a quadrant's, a workshop's): '2026-27 C3'
    -> '2026-27-C3'. The one rule for a file or folder name made from text.

    Accents folded ('Île' -> 'Ile'), then ASCII letters and digits only, runs of anything
    else one '-', none at either end (so no trailing dot or space, and no character
    Windows refuses); never a name Windows reserves ('CON' -> 'cycle-CON'); at most
    ``SLUG_MAX`` characters, a longer one cut and ended with a hash of the whole, so two
    long names that differ only at the end still get two names. Empty when the text has
    no letter or digit: callers refuse such a name."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", folded).strip("-")
    if len(slug) > SLUG_MAX:
        digest = hashlib.sha256(slug.casefold().encode("ascii")).hexdigest()[:_SLUG_HASH]
        slug = f"{slug[:SLUG_MAX - _SLUG_HASH - 1].rstrip('-')}-{digest}"
    return f"cycle-{slug}" if slug.upper() in WINDOWS_RESERVED else slug


def cycle_key(name: str) -> str:
    """What makes two cycle names the same cycle: their folder name, ignoring case (on a
    Windows share '2026-27 C4' and '2026-27 c4' would be one folder)."""
    return cycle_slug(name).casefold()


#: Characters that hide, reorder or fake text, or drive a terminal: C0 and C1 controls
#: (tab and line feed aside); and Unicode's default-ignorable characters, which show nothing
#: wherever they stand: the soft hyphen, zero-width characters and joiners (the combining
#: grapheme joiner too), every bidirectional mark, control and isolate (the Arabic letter
#: mark too), the Hangul fillers, the Mongolian vowel separator, the invisible operators,
#: the byte order mark, shorthand and musical formatting controls, and tag characters
#: (invisible "ASCII"); with the interlinear annotation marks, which hide the text between
#: them. Not the variation selectors: they choose how the character before them looks (an
#: emoji in colour), and hide or reorder nothing.
_INVISIBLE = ("\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\xad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5"
              "\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\u3164\\ufeff\\uffa0"
              "\\ufff0-\\ufffb\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a"
              "\\U000e0000-\\U000e00ff\\U000e01f0-\\U000e0fff")
#: One of them in text that may run over lines (a note, a rationale).
HIDDEN_IN_TEXT = re.compile(f"[{_INVISIBLE}]")
#: One of them, or any line break, in a one-line value (a name, an address, a team).
HIDDEN_IN_LINE = re.compile(f"[\\t\\n\\r\\u2028\\u2029\\x85{_INVISIBLE}]")


class NotAnEmail(ValueError):
    """Text that is not an email address qaudit can send to; the message says why."""


def checked_email(text: str) -> str:
    """An email address in its one stored spelling, or ``NotAnEmail``.

    The one rule for every address qaudit takes in (staff list, case export, Service
    Manager workbooks) and sends to: well formed (email-validator, form only, nothing looked
    up), on one line, and ASCII before the @ (a relay without SMTPUTF8 cannot carry
    anything else), with no ``=?`` before the @ (mail programs read it as the start of an
    encoded word, and the email package rewrites or refuses such an address); an
    international domain is kept in its ASCII form (xn--)."""
    from email_validator import EmailNotValidError, validate_email

    value = text.strip()
    if HIDDEN_IN_LINE.search(value):
        raise NotAnEmail("it holds a line break or a hidden control character")
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise NotAnEmail(str(exc).rstrip(".")) from exc
    if "=?" in checked.local_part:
        raise NotAnEmail('the part before the @ holds "=?", which mail programs read as an'
                         " encoded word, not as an address")
    return str(checked.ascii_email or checked.normalized)


def same_email(a: str, b: str) -> bool:
    """Two addresses of one mailbox: compared ignoring case (as every mail system does)."""
    return bool(a) and a.casefold() == b.casefold()


def in_domains(address: str, domains: Sequence[str]) -> bool:
    """The address is at one of ``domains`` or a subdomain of one (``mail.nhs.net`` is at
    ``nhs.net``); any address is, when no domain is listed."""
    if not domains:
        return True
    domain = address.rpartition("@")[2].casefold()
    return any(domain == d or domain.endswith("." + d) for d in domains)
