"""Drafts: one ``.eml`` file per message in the cycle's outbox, written whole or not at all.

A draft is written beside its name and renamed into place (``files.atomic_path``), so an
officer never opens half of one. Its name says what it is about (a reference, a numbered
Service Manager, a quadrant), never a person's name; a second draft of the same letter
(changed, or resent) gets ``-2``, ``-3``... A file of that name that the record does not
hold was left by a run that stopped before recording it, and is written over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qaudit import layout
from qaudit.files import write_bytes


def draft_path(folder: Path, stem: str, recorded: Callable[[Path], bool]) -> Path:
    """The first of ``stem.eml``, ``stem-2.eml``... that is free: absent, or present but
    recorded nowhere (a run stopped between writing and recording it)."""
    number = 1
    while True:
        path = layout.draft(folder, stem, number)
        if not path.exists() or not recorded(path):
            return path
        number += 1


def write_whole(path: Path, data: bytes) -> None:
    """A draft (``message.wire_message``), or a file a message attaches (the feedback
    pack), written whole."""
    write_bytes(path, data)
