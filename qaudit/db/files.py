"""The files qaudit wrote into the shared workspace folder, with their hashes, so that a
file replaced or edited on the share is noticed before it is sent or relied on.

A row per file written: its path relative to the workspace (posix form, so one path is one
text on Windows and Linux alike), what kind of file it is, the cycle or workshop it belongs
to, its SHA-256 and size, when and by whom. One current row per path (``replaced_at IS
NULL``, a unique index holds it): a file written again (a redraw, a draft written over)
supersedes the row before it, which is kept as history, and so does a change someone
accepted on purpose (``how = 'accepted'``, or ``'gone'`` for a file accepted as removed)
and a filled file taken back from the place qaudit wrote it (``'returned'``). Files moved
aside with their folder (a redraw, a cancelled cycle) keep no current row. No path holds a
person's name (``layout`` names files by reference and number), and a purge deletes its
cycles' and workshops' rows, references and all.

What is on disk now is :func:`read_regular`'s: a file's bytes are read only if it is a
regular file, never a folder, a link or a pipe (which would hang the reader).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qaudit.db.schema import now

if TYPE_CHECKING:
    from qaudit.db.store import Store

AUDIT_FORM = "audit_form"
REFLECTION_FORM = "reflection_form"
MANAGER_WORKBOOK = "manager_workbook"
REGISTER = "register"
MODERATION_WORKBOOK = "moderation_workbook"
WORKSHOP_PACK = "workshop_pack"
GRADING_WORKBOOK = "grading_workbook"
DRAFT = "draft"
FEEDBACK_PACK = "feedback_pack"
REPORT = "report"
DECISION = "decision"

#: Every kind of file recorded, as a sentence names it.
KINDS: dict[str, str] = {
    AUDIT_FORM: "audit form",
    REFLECTION_FORM: "self-reflection form",
    MANAGER_WORKBOOK: "Service Manager's workbook",
    REGISTER: "allocation register",
    MODERATION_WORKBOOK: "moderation workbook",
    WORKSHOP_PACK: "workshop case pack",
    GRADING_WORKBOOK: "workshop grading workbook",
    DRAFT: "draft message",
    FEEDBACK_PACK: "feedback pack",
    REPORT: "report",
    DECISION: "kept decision on what to hide",
}

#: How a row came to be: qaudit wrote the file; someone accepted its change (or that it is
#: gone); a filled copy was taken back from where qaudit wrote it.
WRITTEN, ACCEPTED, GONE, RETURNED = "written", "accepted", "gone", "returned"


class State(StrEnum):
    """What is at a recorded path now, against what qaudit recorded there."""

    SAME = "unchanged"
    CHANGED = "changed"
    MISSING = "missing"
    FOLDER = "replaced by a folder"
    LINK = "replaced by a link"
    SPECIAL = "replaced by something that is not a file"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Written:
    """A file just written, to be recorded: where (relative to the workspace, posix), what
    kind, and its bytes' SHA-256 and size."""

    path: str
    kind: str
    sha256: str
    size: int

    @classmethod
    def of(cls, path: str, kind: str, data: bytes) -> Written:
        return cls(path, kind, hashlib.sha256(data).hexdigest(), len(data))


@dataclass(frozen=True)
class IssuedFile:
    """One recorded file (the current row of its path)."""

    id: int
    path: str
    kind: str
    cycle_id: int | None
    workshop_id: int | None
    sha256: str
    size: int
    how: str
    written_at: str
    actor: str

    @property
    def what(self) -> str:
        return KINDS.get(self.kind, self.kind.replace("_", " "))


@dataclass(frozen=True)
class Checked:
    """A recorded file against what is on disk now: its state, and what could not be read
    (the system's words) for an unreadable one."""

    file: IssuedFile
    state: State
    detail: str = ""

    @property
    def noticed(self) -> bool:
        return self.state is not State.SAME

    def to_json(self) -> dict[str, Any]:
        f = self.file
        return {"path": f.path, "kind": f.kind, "state": str(self.state),
                "written_at": f.written_at, "written_by": f.actor, "how": f.how,
                "detail": self.detail}


class NotRegular(Exception):
    """What stands at a path is not a regular file that can be read."""

    def __init__(self, state: State, detail: str = "") -> None:
        super().__init__(detail or str(state))
        self.state = state
        self.detail = detail


#: Opened without following a link and without waiting on a pipe (on Windows neither flag
#: exists, and neither is needed: a link and a pipe are refused by ``lstat`` first).
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_NONBLOCK", 0))


def _kind_of(mode: int) -> State | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return State.FOLDER
    if stat.S_ISLNK(mode):
        return State.LINK
    return State.SPECIAL


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file at ``path``. Raises ``FileNotFoundError`` if nothing
    is there, and ``NotRegular`` for a folder, a link, a pipe or a device, or a file that
    cannot be read (the system's reason in ``detail``)."""
    try:
        found = _kind_of(os.lstat(path).st_mode)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NotRegular(State.UNREADABLE, exc.strerror or str(exc)) from exc
    if found is not None:
        raise NotRegular(found)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NotRegular(State.UNREADABLE, exc.strerror or str(exc)) from exc
    try:
        swapped = _kind_of(os.fstat(fd).st_mode)  # changed between lstat and open
        if swapped is not None:
            raise NotRegular(swapped)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    except OSError as exc:
        raise NotRegular(State.UNREADABLE, exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)


def state_of(file: IssuedFile, data: bytes | None) -> State:
    """A recorded file against the bytes now at its path (None: nothing there)."""
    if file.how == GONE:  # accepted as removed: anything there now is not qaudit's
        return State.SAME if data is None else State.CHANGED
    if data is None:
        return State.MISSING
    same = len(data) == file.size and hashlib.sha256(data).hexdigest() == file.sha256
    return State.SAME if same else State.CHANGED


def read_recorded(root: Path, file: IssuedFile, folders: dict[str, bool] | None = None,
                  sized: bool = False) -> tuple[Checked, bytes | None]:
    """One recorded file against what is at its path in the workspace ``root`` now, and
    the bytes read there (None if none could be). A folder on its way that became a link
    (to a folder of other files) is the file replaced. ``folders`` keeps, for one run,
    which folders were found to be real, so each is looked at once. With ``sized``, a
    file of another size is changed without being read (a file replaced by a huge one is
    never read whole)."""
    parts = file.path.split("/")
    path = root.joinpath(*parts)
    if not _real_folders(root, parts[:-1], {} if folders is None else folders):
        return Checked(file, State.LINK, "a folder on its way is a link"), None
    if sized and file.how != GONE and _other_size(path, file.size):
        return Checked(file, State.CHANGED), None
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return Checked(file, state_of(file, None)), None
    except NotRegular as exc:
        return Checked(file, exc.state, exc.detail), None
    return Checked(file, state_of(file, data)), data


def _other_size(path: Path, size: int) -> bool:
    """Whether a regular file of another size than ``size`` is at ``path``."""
    try:
        found = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_size != size


def _real_folders(root: Path, parts: Sequence[str], seen: dict[str, bool]) -> bool:
    """Whether no folder from ``root`` down to ``parts`` is a link."""
    for n in range(1, len(parts) + 1):
        key = "/".join(parts[:n])
        if key not in seen:
            try:
                seen[key] = not stat.S_ISLNK(os.lstat(root.joinpath(*parts[:n])).st_mode)
            except OSError:  # not there: the file is missing, which reading it says
                seen[key] = True
        if not seen[key]:
            return False
    return True


def check(root: Path, file: IssuedFile, folders: dict[str, bool] | None = None) -> Checked:
    """One recorded file against what is at its path in the workspace ``root`` now (one of
    another size is not read)."""
    return read_recorded(root, file, folders, sized=True)[0]


_COLUMNS = ("id, path, kind, cycle_id, workshop_id, sha256, size, how, written_at, actor")


def _row(row: Sequence[Any]) -> IssuedFile:
    (id_, path, kind, cycle_id, workshop_id, sha256, size, how, written_at, actor) = row
    return IssuedFile(int(id_), str(path), str(kind),
                      None if cycle_id is None else int(cycle_id),
                      None if workshop_id is None else int(workshop_id),
                      str(sha256), int(size), str(how), str(written_at), str(actor))


class IssuedFiles:
    """``store.files``: what qaudit wrote, and whether it is still what it wrote."""

    def __init__(self, db: Store) -> None:
        self.db = db

    def record(self, files: Iterable[Written], *, cycle_id: int | None = None,
               workshop_id: int | None = None, how: str = WRITTEN) -> None:
        """Record each file, superseding the current row of its path (kept as history):
        inside the caller's transaction, with the rows the files belong to."""
        files = list(files)
        if not files:
            return
        at = now()
        with self.db.transaction() as conn:
            for f in files:
                conn.execute("UPDATE issued_files SET replaced_at = ?"
                             " WHERE path = ? AND replaced_at IS NULL", (at, f.path))
                conn.execute(
                    "INSERT INTO issued_files (path, kind, cycle_id, workshop_id, sha256,"
                    " size, how, written_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (f.path, f.kind, cycle_id, workshop_id, f.sha256, f.size, how, at,
                     self.db.actor))

    def current(self, path: str) -> IssuedFile | None:
        """The current row of a path, if qaudit recorded a file there."""
        row = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM issued_files WHERE path = ? AND replaced_at IS NULL",
            (path,)).fetchone()
        return None if row is None else _row(row)

    def of_cycle(self, cycle_id: int) -> list[IssuedFile]:
        """Every current file of a cycle, by path."""
        return [_row(r) for r in self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM issued_files WHERE cycle_id = ? AND replaced_at IS NULL"
            " ORDER BY path", (cycle_id,))]

    def of_workshops(self) -> list[IssuedFile]:
        """Every current file of a workshop, by path."""
        return [_row(r) for r in self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM issued_files WHERE workshop_id IS NOT NULL"
            " AND replaced_at IS NULL ORDER BY path")]

    def moved_aside(self, folder: str) -> None:
        """The files of a folder set aside whole (a redraw, a cancelled cycle) are no longer
        where they were written: their rows stop being current, inside the caller's
        transaction."""
        prefix = folder.rstrip("/") + "/"
        with self.db.transaction() as conn:
            conn.execute("UPDATE issued_files SET replaced_at = ? WHERE replaced_at IS NULL"
                         " AND substr(path, 1, ?) = ?", (now(), len(prefix), prefix))

    def accept(self, checked: Checked, data: bytes | None) -> None:
        """Someone accepted a change on purpose: what is there now becomes what qaudit
        holds for the path (``gone``: nothing is), and the history says who and when."""
        f = checked.file
        how = ACCEPTED if data is not None else GONE
        new = Written.of(f.path, f.kind, data) if data is not None else Written(
            f.path, f.kind, "", 0)
        with self.db.transaction():
            self.record([new], cycle_id=f.cycle_id, workshop_id=f.workshop_id, how=how)
            self.db.log(f.cycle_id, "file_change_accepted", {
                "file": f.path, "kind": f.kind, "state": str(checked.state),
                "written_at": f.written_at, "sha256_before": f.sha256,
                "sha256_now": new.sha256})

    def taken_back(self, path: str, sha256: str, size: int) -> None:
        """A filled file was taken back from the very place qaudit wrote it (a moderation
        or grading workbook filled on the share): its filled state is now what qaudit holds
        for the path. Nothing for a path qaudit holds no file at, or holds this one."""
        found = self.current(path)
        if found is None or found.sha256 == sha256:
            return
        self.record([Written(path, found.kind, sha256, size)], cycle_id=found.cycle_id,
                    workshop_id=found.workshop_id, how=RETURNED)

    def forget_purged(self) -> None:
        """The rows of purged cycles and workshops deleted, history and all: their files are
        gone, and a path holds a reference a purge replaces. Inside the purge's
        transaction."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM issued_files WHERE cycle_id IN (SELECT cycle_id FROM"
                " purged_cycles) OR workshop_id IN (SELECT workshop_id FROM purged_workshops)")
