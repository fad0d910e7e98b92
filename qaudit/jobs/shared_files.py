"""The files qaudit wrote into the shared workspace folder, recorded with their hashes
(``db.files``) and checked against what is on the share now.

Writers hand over what they wrote (``record_folder``, ``record_file``) inside the
transaction that stores the rows the files belong to (``record_placed``, ``record_kept``
where there is none: reports, kept decisions). ``qaudit status`` lists a cycle's files that
changed or went missing (``cycle_files``); ``qaudit send`` refuses to attach or draft beside
one (``SendFiles``) unless the change is accepted on purpose (``--accept-changed``), which
the history records with who accepted it; a report refuses a kept decision changed on the
share (``read_kept``). A workbook people fill in is read back without its hash checked
(its signed identity says what it is); one filled where qaudit wrote it is recorded as
taken back (``taken_back``). A file outside the workspace (``allocate --out`` elsewhere) is
not on the share qaudit looks after, and is not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from qaudit.db import Store
from qaudit.db.draws import DEEP_DIVE, REAUDIT, REGULAR, Cycle
from qaudit.db.files import (
    ACCEPTED,
    AUDIT_FORM,
    DRAFT,
    FEEDBACK_PACK,
    GONE,
    MANAGER_WORKBOOK,
    MODERATION_WORKBOOK,
    REFLECTION_FORM,
    REGISTER,
    REPORT,
    RETURNED,
    Checked,
    IssuedFile,
    State,
    Written,
    check,
    read_recorded,
    read_regular,
)
from qaudit.errors import QauditError

#: The command that draws each kind of cycle, and so writes its forms and workbooks.
DRAWS = {REGULAR: "qaudit allocate", DEEP_DIVE: "qaudit deep-dive new",
         REAUDIT: "qaudit reaudit select"}
_DRAWN = frozenset({AUDIT_FORM, REFLECTION_FORM, MANAGER_WORKBOOK, REGISTER})
#: Files listed one by one in a refusal; more are counted.
AT_MOST = 5


def place_in(root: Path, path: Path) -> str | None:
    """A path as the record keeps it: relative to the workspace folder, in posix form; None
    for a path outside it. Its folder is resolved, never the file itself: a link put where
    qaudit wrote a file is that file replaced."""
    try:
        return (path.absolute().parent.resolve() / path.name).relative_to(
            root.resolve()).as_posix()
    except ValueError:
        return None


def record_folder(root: Path, store: Store, scratch: Path, final: Path,
                  files: Iterable[tuple[Path, str]], *, cycle_id: int | None = None,
                  workshop_id: int | None = None) -> None:
    """Files written into a scratch folder that becomes ``final`` (each with its kind),
    recorded in the caller's transaction. Whatever ``final`` held is set aside whole
    (``files.staged_folder``), so its files' rows stop being current. Nothing for a folder
    outside the workspace."""
    base = place_in(root, final)
    if base is None:
        return
    store.files.moved_aside(base)
    store.files.record([Written.of(f"{base}/{path.relative_to(scratch).as_posix()}", kind,
                                   path.read_bytes()) for path, kind in files],
                       cycle_id=cycle_id, workshop_id=workshop_id)


def record_file(root: Path, store: Store, written: Path, final: Path, kind: str, *,
                cycle_id: int | None = None) -> None:
    """One file written under a temporary name that becomes ``final``, recorded in the
    caller's transaction; nothing for a file outside the workspace."""
    place = place_in(root, final)
    if place is not None:
        store.files.record([Written.of(place, kind, written.read_bytes())],
                           cycle_id=cycle_id)


def record_placed(root: Path, store: Store, paths: Iterable[Path], kind: str, *,
                  cycle_id: int) -> None:
    """Files already moved into place together (a cycle's reports: ``jobs.outputs``),
    read back and recorded; those outside the workspace are not."""
    placed = [(place, path) for path in paths if (place := place_in(root, path)) is not None]
    store.files.record([Written.of(place, kind, path.read_bytes()) for place, path in placed],
                       cycle_id=cycle_id)


def read_kept(root: Path, store: Store, path: Path, why: str) -> bytes:
    """A file qaudit wrote and reads back itself (a kept decision on what to hide): its
    bytes, or ``QauditError`` if it is not as qaudit wrote it (``why`` says what that would
    do, and what to do). Raises ``FileNotFoundError`` if nothing is there; a file it holds
    no record of (kept before files were recorded) is read as it is."""
    place = place_in(root, path)
    file = None if place is None else store.files.current(place)
    if file is None:
        return path.read_bytes()
    found, data = read_recorded(root, file, sized=True)
    if found.noticed and found.state is not State.MISSING:
        raise QauditError(f"{described(found)}. {why}")
    if data is None:
        raise FileNotFoundError(path)
    return data


def record_kept(root: Path, store: Store, path: Path, kind: str, data: bytes) -> None:
    """A file qaudit keeps for itself, just written whole: recorded in its own transaction
    (nothing else is stored with it)."""
    place = place_in(root, path)
    if place is not None:
        store.files.record([Written.of(place, kind, data)])


def taken_back(store: Store, path: Path, sha256: str) -> None:
    """A filled workbook taken back (moderation, grading), with the hash of the bytes
    read: if it is the very file qaudit wrote, filled on the share, its filled state
    becomes what qaudit holds for it, so ``qaudit status`` does not call it changed. (The
    workspace folder holds its database file.) A file swapped since it was read shows as
    changed, as it should."""
    place = place_in(store.path.parent, path)
    if place is not None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        store.files.taken_back(place, sha256, size)


# --- what status shows ----------------------------------------------------------------------


def noticed(checked: Checked) -> bool:
    """Whether a file's state is worth telling: a draft gone from the outbox is not (it was
    opened, sent from a mailbox, and tidied away); every other difference is."""
    return checked.noticed and not (checked.file.kind == DRAFT
                                    and checked.state is State.MISSING)


@dataclass(frozen=True)
class FilesOnShare:
    """The files of a cycle (or of the workshops) that qaudit wrote: how many were
    checked, and those not as qaudit wrote them."""

    checked: int
    noticed: tuple[Checked, ...]

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "noticed": [c.to_json() for c in self.noticed]}


def files_on_share(root: Path, files: Sequence[IssuedFile]) -> FilesOnShare:
    folders: dict[str, bool] = {}
    found = (check(root, f, folders) for f in files)
    return FilesOnShare(len(files), tuple(c for c in found if noticed(c)))


def cycle_files(root: Path, store: Store, cycle: str) -> FilesOnShare:
    """The cycle's files on the share against what qaudit wrote."""
    return files_on_share(root, store.files.of_cycle(store.draws.require_cycle(cycle).id))


def workshop_files(root: Path, store: Store) -> FilesOnShare:
    """Every workshop's files on the share against what qaudit wrote."""
    return files_on_share(root, store.files.of_workshops())


def written_when(file: IssuedFile) -> str:
    """When and by whom qaudit wrote (or someone accepted) a file, as a person reads it."""
    at = datetime.fromisoformat(file.written_at)
    verb = {ACCEPTED: "accepted", GONE: "accepted as removed",
            RETURNED: "taken back filled"}.get(file.how, "written")
    by = f" by {file.actor}" if file.actor else ""
    return f"{verb} {at:%d/%m/%Y %H:%M} UTC{by}"


def described(checked: Checked) -> str:
    """One file's line: where it is, what became of it, what it is and when it was
    written."""
    f = checked.file
    state = str(checked.state) + (f" ({checked.detail})" if checked.detail else "")
    return f"{f.path}: {state} ({f.what}, {written_when(f)})"


# --- what send reads ------------------------------------------------------------------------


def _remedy(file: IssuedFile, cycle: Cycle) -> str:
    """What to do about a file not as qaudit wrote it, by the command that made it."""
    back = ("put back the file qaudit wrote (from the share's earlier versions, or a"
            " copy)")
    if file.kind in _DRAWN:
        return (f"{back}, or write the cycle's workbooks again: the register's 'Check with'"
                f" command (`{DRAWS.get(cycle.kind, DRAWS[REGULAR])} ...`) with --redraw in"
                " place of --dry-run draws the same cases and writes them anew, while no"
                " return is in")
    if file.kind == MODERATION_WORKBOOK:
        return (f"{back}, or `qaudit moderate select --cycle '{cycle.name}' --redraw` (before"
                " any outcome is recorded); if it was filled in on the share, `qaudit"
                " moderate ingest` it")
    if file.kind == DRAFT:
        kind = file.path.rsplit("/", 2)[-2]
        return (f"delete it, so that nobody sends it, and `qaudit send {kind} --cycle"
                f" '{cycle.name}' --resend REFERENCE` drafts it again")
    if file.kind == REPORT:
        return f"`qaudit report` writes the cycle's reports again (`--cycle '{cycle.name}'`)"
    if file.kind == FEEDBACK_PACK:
        return (f"`qaudit send feedback --cycle '{cycle.name}' --resend REFERENCE` writes it"
                " again")
    return back


def refusal(problems: Sequence[Checked], cycle: Cycle) -> str:
    """The one message of a send refused for files not as qaudit wrote them: which, when
    they were written, and what to do."""
    shown = "; ".join(described(c) for c in problems[:AT_MOST])
    more = len(problems) - AT_MOST
    shown += f"; and {more} more (`qaudit status --cycle '{cycle.name}'` lists them)" if (
        more > 0) else ""
    remedies = list(dict.fromkeys(_remedy(c.file, cycle) for c in problems))
    todo = "; ".join(remedies)
    one = len(problems) == 1
    accept = (f"--accept-changed '{problems[0].file.path}'" if one
              else "--accept-changed FILE for each")
    return (f"{'a file' if one else f'{len(problems)} files'} qaudit wrote"
            f" {'is' if one else 'are'} not as it wrote {'it' if one else 'them'}, so nothing"
            f" was sent: {shown}. To fix {'it' if one else 'them'}: {todo}. If the change was"
            f" made on purpose, run the command again with {accept}: the history records who"
            " accepted it.")


def _accepted(root: Path, names: Sequence[str], files: dict[str, IssuedFile],
              cycle: Cycle) -> dict[str, IssuedFile]:
    """The recorded files ``--accept-changed`` names: a path as ``qaudit status`` gives it
    (relative to the workspace), or the file's own path. Refused if one names none of the
    cycle's files."""
    chosen: dict[str, IssuedFile] = {}
    for name in names:
        given = Path(name)
        place = (place_in(root, given) if given.is_absolute() or given.exists()
                 else name.replace("\\", "/").removeprefix("./"))
        if place is None or place not in files:
            raise QauditError(
                f"--accept-changed {name!r} names no file qaudit wrote for cycle"
                f" {cycle.name!r}; give the path `qaudit status --cycle '{cycle.name}'` names"
                " (relative to the workspace). Nothing was sent.")
        chosen[place] = files[place]
    return chosen


@dataclass
class SendFiles:
    """What one run of ``qaudit send`` reads of the files qaudit wrote: each attachment
    read once and checked against its record (the bytes checked are the bytes sent), the
    kind's earlier drafts in the outbox, and the changes accepted on the command line."""

    root: Path
    cycle: Cycle
    files: dict[str, IssuedFile]
    accepting: dict[str, IssuedFile]
    problems: list[Checked] = field(default_factory=list)
    accepted: dict[str, tuple[Checked, bytes | None]] = field(default_factory=dict)
    folders: dict[str, bool] = field(default_factory=dict)  # found not to be links

    @classmethod
    def of(cls, root: Path, store: Store, cycle: Cycle, accept: Sequence[str]) -> SendFiles:
        files = {f.path: f for f in store.files.of_cycle(cycle.id)}
        return cls(root, cycle, files, _accepted(root, accept, files, cycle))

    def read(self, path: Path) -> bytes | None:
        """An attachment's bytes; None if nothing is there (or qaudit accepted it gone).
        A recorded file not as qaudit wrote it is noted as a problem (None), unless its
        change is accepted. Raises ``NotRegular`` for what is not a file qaudit recorded."""
        file = self.files.get(self._place(path) or "")
        if file is None:
            try:
                return read_regular(path)
            except FileNotFoundError:
                return None
        return self._checked(file)

    def _place(self, path: Path) -> str | None:
        """Where a path of the workspace's own making is, as the record keeps it: taken
        as it is written (a link on its way is for ``read_recorded`` to find), else
        resolved."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return place_in(self.root, path)

    def _checked(self, file: IssuedFile) -> bytes | None:
        # Read whole only what may be attached or accepted: an attachment qaudit wrote is
        # of the size it wrote, and one of another size is refused unread.
        found, data = read_recorded(self.root, file, self.folders,
                                    sized=file.path not in self.accepting)
        return self._note(found, data) if found.noticed else data

    def _note(self, found: Checked, data: bytes | None) -> bytes | None:
        """A file not as qaudit wrote it: accepted, if the command line accepts its change
        (a folder, a link or an unreadable file cannot be), else a problem."""
        place = found.file.path
        if place in self.accepting and found.state in (State.CHANGED, State.MISSING):
            self.accepted[place] = (found, data)
            return data
        if found not in self.problems:
            self.problems.append(found)
        return None

    def check_drafts(self, outbox: Path) -> None:
        """The drafts already in the outbox a draft run writes into: a changed one is a
        problem (the officer is about to open that folder and send what is there); one gone
        is not (sent and tidied away)."""
        place = self._place(outbox)
        if place is None:
            return
        for file in self.files.values():
            if file.kind == DRAFT and file.path.startswith(place + "/"):
                found = check(self.root, file, self.folders)
                if noticed(found):  # read again: the bytes accepted are the bytes read
                    self._checked(file)

    def settle(self, store: Store, dry_run: bool) -> None:
        """Refuse the run if a file is not as qaudit wrote it; else record each change
        accepted (not on a dry run). A file named to accept that this run did not read is
        checked too, and one that has not changed is refused: nothing to accept."""
        for place, file in self.accepting.items():
            if place not in self.accepted:
                self._checked(file)
            if place not in self.accepted and not any(
                    c.file.path == place for c in self.problems):
                raise QauditError(
                    f"--accept-changed {place!r}: that file is as qaudit wrote it"
                    f" ({written_when(file)}), so there is no change to accept. Nothing was"
                    " sent.")
        if self.problems:
            raise QauditError(refusal(self.problems, self.cycle))
        if dry_run or not self.accepted:
            return
        with store.transaction():
            for found, data in self.accepted.values():
                store.files.accept(found, data)

