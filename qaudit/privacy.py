"""Keeping people out of what is shared (scrubbing known names and ids, keyed pseudonyms),
and keyed signatures, so what a form says about itself cannot be edited undetected.

Pure: the key and the identifiers come from the caller (the workspace keeps the key; the
database knows the identifiers).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable

#: Words in people's names fields that are not names ("Team manager", "Dr", "Jr").
_NOT_NAMES = frozenset({"team", "manager", "service", "senior", "practitioner", "the", "and"})
_NAME_PART = re.compile(r"[^\W\d_][\w'’-]*")
MIN_LENGTH = 3


def identifiers_to_scrub(
    identifiers: Iterable[str], names: Iterable[str], roles: Iterable[str]
) -> list[str]:
    """Every id, every name and every part of a name, longest first, without roles.

    "Ms Adeyemi" or "Niamh" alone must go too, so every part of a person's name counts;
    a role typed where a name was expected ("Team manager") is not a person, and
    scrubbing it would only blur the text.
    """
    not_people = {r.casefold() for r in roles}
    people = {n for n in names if n and n.casefold() not in not_people}
    parts = {p for n in people for p in _NAME_PART.findall(n)
             if len(p) >= MIN_LENGTH and p.casefold() not in _NOT_NAMES}
    values = {v for v in identifiers if v} | people | parts
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)


def scrubber(identifiers: Iterable[str], placeholder: str = "(removed)") -> Callable[[str], str]:
    """A function that replaces every known id and name in free text, whole words only,
    ignoring case; longer identifiers first so a full name wins over a part of it."""
    known = sorted({i for i in identifiers if len(i) >= MIN_LENGTH}, key=len, reverse=True)
    if not known:
        return lambda text: text
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(i)}(?!\w)" for i in known),
                         re.IGNORECASE)
    return lambda text: pattern.sub(placeholder, text)


def sign(values: Iterable[str], key: bytes) -> str:
    """A keyed signature (HMAC-SHA256) of some values: whoever lacks the workspace's key
    cannot make one, so values changed after signing are detected."""
    return hmac.new(key, "\x1f".join(values).encode(), hashlib.sha256).hexdigest()


def signature_matches(values: Iterable[str], key: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(values, key), signature)


def pseudonymiser(key: bytes) -> Callable[[str, str], str]:
    """``(kind, value) -> 'KIND-xxxxxxxxxx'``: keyed (HMAC-SHA256), stable, blank stays blank."""

    def pseudonym(kind: str, value: str) -> str:
        if not value:
            return ""
        digest = hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}-{digest[:10]}"

    return pseudonym
