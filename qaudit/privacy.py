"""Keeping people out of what is shared: scrubbing known names and ids, keyed pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

KEY_FILE = "pseudonym.key"


def scrubber(identifiers: Iterable[str], placeholder: str = "(removed)") -> Callable[[str], str]:
    """A function that replaces every known id and name in free text, whole words only,
    ignoring case; longer identifiers first so a full name wins over a part of it."""
    known = sorted({i for i in identifiers if len(i) >= 3}, key=len, reverse=True)
    if not known:
        return lambda text: text
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(i)}(?!\w)" for i in known),
                         re.IGNORECASE)
    return lambda text: pattern.sub(placeholder, text)


def workspace_key(folder: Path) -> bytes:
    """The workspace's secret pseudonym key, made on first use and kept in the workspace
    (never in an output): the same id always gets the same pseudonym, and nobody without
    the key can reverse or recompute it."""
    path = folder / KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def pseudonymiser(key: bytes) -> Callable[[str, str], str]:
    """``(kind, value) -> 'KIND-xxxxxxxxxx'``: keyed (HMAC-SHA256), stable, blank stays blank."""

    def pseudonym(kind: str, value: str) -> str:
        if not value:
            return ""
        digest = hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}-{digest[:10]}"

    return pseudonym
