"""Who has the workspace database open: one small file per running command, beside it.

SQLite can say that the database is busy, never who is using it. Each command that opens
the record leaves a note (who, on which computer, since when, its process id) in
``.qaudit-in-use/`` next to the database and removes it when it closes; a command that
finds the database busy reads the notes of the others, so an officer is told "in use by
alice on QA-LAPTOP-7 since 10:42" rather than only "busy". A note left by a command that
was killed is dropped when its process is known to be gone (same computer); a note from
another computer is trusted for a day at most.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from qaudit.files import process_alive

FOLDER = ".qaudit-in-use"
#: A note from another computer older than this is taken to be left over from a crash.
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Holder:
    who: str
    host: str
    pid: int
    since: datetime

    def describe(self, today: datetime) -> str:
        when = (self.since.strftime("%H:%M") if self.since.date() == today.date()
                else self.since.strftime("%d/%m/%Y %H:%M"))
        return f"{self.who or 'someone'} on {self.host} since {when}"


def _folder(db_path: Path) -> Path:
    return db_path.parent / FOLDER


def enter(db_path: Path, who: str) -> Path | None:
    """Leave this command's note; its path (to ``leave``), or None where the folder cannot
    be written (the note is a courtesy: a read-only share still works). Notes left by
    commands that are gone are cleared on the way."""
    others(db_path)
    me = Holder(who, socket.gethostname(), os.getpid(), datetime.now())
    note = _folder(db_path) / f"{me.host}-{me.pid}.json"
    try:
        note.parent.mkdir(mode=0o700, exist_ok=True)
        note.write_text(json.dumps({"who": me.who, "host": me.host, "pid": me.pid,
                                    "since": me.since.isoformat(timespec="seconds")}),
                        encoding="utf-8")
    except OSError:
        return None
    return note


def leave(note: Path | None) -> None:
    if note is not None:
        with suppress(OSError):
            note.unlink()


def _notes(db_path: Path) -> Iterator[tuple[Path, Holder]]:
    folder = _folder(db_path)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            yield path, Holder(str(data["who"]), str(data["host"]), int(data["pid"]),
                               datetime.fromisoformat(str(data["since"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a note half-written or damaged: it names nobody


def others(db_path: Path) -> list[Holder]:
    """The other commands with the database open, oldest first; notes left by commands
    that are gone are removed on the way."""
    here, me, now = socket.gethostname(), os.getpid(), datetime.now()
    found = []
    for path, holder in _notes(db_path):
        if holder.host == here and holder.pid == me:
            continue
        gone = (not process_alive(holder.pid) if holder.host == here
                else now - holder.since > STALE_AFTER)
        if gone:
            with suppress(OSError):
                path.unlink()
            continue
        found.append(holder)
    return sorted(found, key=lambda h: h.since)


def in_use_by(db_path: Path) -> str:
    """'in use by alice on QA-7 since 10:42 (and 1 more)', or '' when nobody is known."""
    holders = others(db_path)
    if not holders:
        return ""
    text = "in use by " + holders[0].describe(datetime.now())
    if len(holders) > 1:
        text += f" (and {len(holders) - 1} more)"
    return text
