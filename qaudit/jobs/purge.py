"""The purge job (retention): the personal data of the cycles whose window ended before a
date, and of the workshops held before it, taken out of the record and off the disk,
keeping every figure.

The record is changed in place (``db.purge``): ids become keyed pseudonyms, names and
free text go, so every report of a purged cycle, the year report, ``status --year``, the
moderation agreement and the re-audit figures read exactly as before. The files go
after the record's transaction commits: a cycle's workbooks (register, forms,
self-reflections, Service Managers' workbooks, moderation workbooks), its outbox of
drafts, its feedback packs, its internal reports (and the internal year report of its
year), and a workshop's folder. Its published reports stay. A file that cannot be
removed then (open in Excel, say) is left for the next run of the same purge, which
removes it: purging again is otherwise a no-op that says so. The database file is then
rewritten without its free pages (VACUUM), so no purged name is left in its bytes.

Other commands ask here before working on a cycle: ``check_not_purged`` refuses anything
that needs the personal data of a purged cycle (``purge_of`` and ``refusal`` say so as a
finding), ``purged_cycle_of`` tells which purged cycle a form's reference belonged to,
``check_workshop_not_purged`` refuses grades for a purged workshop, and
``purged_history`` lets a draw keep the rule that a record audited before is not audited
again (the keyed pseudonyms of the purged records). A value a purge made a pseudonym is
never pseudonymised again (``privacy.is_pseudonym``): not by a later purge, nor by the
anonymised export.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from qaudit import layout
from qaudit.db import Cycle, Store
from qaudit.db.draws import describe_kind
from qaudit.db.purge import Purged, Purges, WorkshopHeld
from qaudit.errors import CycleError, QauditError
from qaudit.files import MARKER
from qaudit.privacy import is_pseudonym
from qaudit.values import cycle_key, person_key
from qaudit.workspace import Workspace

#: Every file name of a QA team's internal report holds this (``layout._stem``).
INTERNAL = "-internal"
_YEAR = re.compile(r"^(\d{4}-\d{2})(?!\d)")


@dataclass(frozen=True)
class Removal:
    """What a purge takes out for one cycle or workshop: rows of each kind, and files."""

    key: tuple[str, int]  # ("cycle", id) or ("workshop", id)
    name: str
    kind: str  # "regular cycle", "deep dive", "re-audit round", "workshop"
    when: str  # its window, or the day a workshop was held
    rows: dict[str, int]
    files: tuple[Path, ...]
    size: int  # bytes

    def logged(self) -> dict[str, Any]:
        """What its history entry keeps: counts only."""
        return {**{k: n for k, n in self.rows.items() if n}, "files": len(self.files),
                "bytes": self.size}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "when": self.when, "rows": self.rows,
                "files": len(self.files), "bytes": self.size}


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did, or (``dry_run``) would do."""

    before: date
    dry_run: bool
    removals: tuple[Removal, ...]
    #: purged before: their names, and the files of theirs left then, removed now
    already: tuple[str, ...] = ()
    leftovers: tuple[Path, ...] = ()
    leftover_size: int = 0  # bytes, before they went

    @property
    def nothing(self) -> bool:
        return not self.removals and not self.leftovers

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.isoformat(), "dry_run": self.dry_run,
                "purged": [r.to_json() for r in self.removals],
                "already_purged": list(self.already),
                "leftover_files": len(self.leftovers), "leftover_bytes": self.leftover_size}


#: A returned form's fields kept as they are: choices and dates, none about a person.
KEPT_FIELDS = frozenset({
    "grade", "share_good_practice", "esc_raised", "esc_to", "esc_date", "ri_due",
    "auditor_role", "auditor_date", "sr_grade", "sr_date",
})
#: Fields naming a person, kept as a name's pseudonym (of the same kind as the auditors the
#: Service Managers named, so an auditor's return and their choice still match).
PSEUDONYM_FIELDS = {"auditor_name": "AUD", "esc_name": "MGR", "ri_by": "MGR"}
#: The history's detail values kept as text: what was done, never what was written.
KEPT_DETAIL = frozenset({
    "kind", "step", "done_on", "held_on", "question_set", "role", "export_sha256",
    "was_cancelled", "message_id", "workshop", "participant", "missing", "filters",
})


@dataclass(frozen=True)
class Redactor:
    """What each purged value becomes (``db.purge.Redaction``). ``ids`` gives an id's keyed
    pseudonym (``privacy.pseudonymiser``: ``REF-3fdd09a1b2``); ``publish`` is the
    publication scrubber as it stood before the purge."""

    ids: Callable[[str, str], str]
    publish: Callable[[str], str]

    def pseudonym(self, kind: str, value: str) -> str:
        """An id's pseudonym; one already (an audit of a cycle purged before, in the record
        of a round purged now) stays as it is, so the link to it holds."""
        return value if is_pseudonym(value, kind) else self.ids(kind, value)

    def name(self, kind: str, name: str) -> str:
        """A person's name as a keyed pseudonym: '#' and ten digits, from the name however
        it was typed (``values.person_key``: one auditor typed two ways is still one, so
        the figures per auditor hold). No letters: the publication scrubber takes every
        name the record holds, and would take the letters of a pseudonym ("AUD-3fdd09...":
        "fdd") for a name to remove from whatever is published. One already stays."""
        if is_pseudonym(name, kind):
            return name
        key = person_key(name)
        digest = self.ids(kind, key).rsplit("-", 1)[-1]
        return f"#{int(digest, 16) % 10**10:010d}" if key else ""

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A returned form's fields once purged: every field still there (blank where it
        held something personal), so whatever reads a field finds one; a name the figures
        group by as its pseudonym. A strength the auditor marked shareable stays as the
        highlights publish it."""
        shared = fields.get("share_good_practice") == "Yes"
        kept: dict[str, Any] = {}
        for key, value in fields.items():
            if key in KEPT_FIELDS or not isinstance(value, str):
                kept[key] = value if key in KEPT_FIELDS or value is None else ""
            elif key in PSEUDONYM_FIELDS:
                kept[key] = self.name(PSEUDONYM_FIELDS[key], value)
            else:
                kept[key] = self.publish(value) if key == "strengths" and shared else ""
        return kept

    def detail(self, detail: Mapping[str, Any],
               references: Callable[[str], str]) -> dict[str, Any]:
        """A history entry's detail once purged: numbers, flags and what was done kept;
        every other text blanked; the references of its cases (``cases``) as
        ``references`` gives them."""
        kept: dict[str, Any] = {}
        for key, value in detail.items():
            if key == "cases" and isinstance(value, list):
                kept[key] = [references(str(v)) for v in value]
            elif value is None or isinstance(value, bool | int | float) or key in KEPT_DETAIL:
                kept[key] = value
            else:
                kept[key] = type(value)()
        return kept

    def audit(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """An audit as a re-audit round's draw recorded it (``AuditOnRecord.to_record``),
        its ids pseudonymised as its allocation's are, its day of completion its month."""
        done = str(record.get("completed_date", ""))
        return {**record,
                "reference": self.pseudonym("REF", str(record.get("reference", ""))),
                "worker_id": self.pseudonym("WKR", str(record.get("worker_id", ""))),
                "followed_up_by": self.pseudonym("REF", str(record.get("followed_up_by", ""))),
                "completed_date": f"{done[:8]}01" if len(done) == 10 else done}

    def selection(self, selection: Mapping[str, Any], own: bool,
                  cycles: frozenset[str]) -> dict[str, Any]:
        """What a draw's selection recorded (``Selection.recorded``), without the people
        of the purged ``cycles``: a re-audit round's audits of those cycles pseudonymised
        (with no reason, which names references); a purged (``own``) deep dive's workers
        who answered a question as pseudonyms."""
        def gone(audit: Mapping[str, Any]) -> bool:
            return own or audit.get("cycle") in cycles

        kept = dict(selection)
        if isinstance(selection.get("due"), list):
            kept["due"] = [self.audit(a) if gone(a) else a for a in selection["due"]]
        if isinstance(selection.get("not_due"), list):
            kept["not_due"] = [{"audit": self.audit(n["audit"]), "reason": ""}
                               if gone(n["audit"]) else n for n in selection["not_due"]]
        if own and isinstance(selection.get("answered"), dict):
            kept["answered"] = {value: sorted(self.pseudonym("WKR", str(w)) for w in workers)
                                for value, workers in selection["answered"].items()}
        return kept

    def published(self, text: str) -> str:
        return self.publish(text)


def purge(ws: Workspace, store: Store, before: date, today: date,
          dry_run: bool = False) -> PurgeReport:
    """Purge the cycles whose window ended before ``before`` (any kind, cancelled ones
    too) and the workshops held before it; refused, with nothing changed, while any of
    those cycles has something open (``Purges.check_can_purge``)."""
    if before >= today:
        raise QauditError(
            f"--before {before:%d/%m/%Y} is not before today ({today:%d/%m/%Y}): only cycles"
            " that ended before a day already past can be purged. Give an earlier date.")
    purges = Purges(store)
    done = purges.purged_cycles()
    cycles = [c for c in store.draws.cycles() if c.date_to < before and c.id not in done]
    cooldown = ws.settings.sampling.worker_cooldown_cycles
    purges.check_can_purge(cycles, today, cooldown)
    done_workshops = purges.purged_workshops()
    workshops = [w for w in purges.workshops_held_before(before) if w.id not in done_workshops]
    folders = frozenset(cycle_key(w.name) for w in store.workshops.summaries())
    files_of = partial(workshop_files, folders=folders)
    leftovers = tuple(sorted({*_leftovers(ws, done.values(), cycle_folder_files),
                              *_leftovers(ws, done_workshops.values(), files_of)}))
    report = PurgeReport(
        before, dry_run, (*(_cycle_removal(ws, purges, c) for c in cycles),
                          *(_workshop_removal(purges, w, files_of(ws, w.name))
                            for w in workshops)),
        already=tuple(p.name for p in (*done.values(), *done_workshops.values())),
        leftovers=leftovers, leftover_size=_size(leftovers))
    if dry_run:
        return report
    if report.removals:
        _purge_record(ws, store, purges, report, cycles, workshops, today)
    keep = {ws.cycle_dir(c.name) for c in store.draws.cycles()}
    failed = remove_files([*(p for r in report.removals for p in r.files),
                           *report.leftovers], ws, keep)
    purges.compact(always=bool(report.removals))
    if failed:
        raise QauditError(
            f"the record is purged, but {len(failed)} file(s) could not be removed (first:"
            f" {failed[0]}); close them wherever they are open and run the same purge again"
            " to remove them.")
    return report


def _purge_record(ws: Workspace, store: Store, purges: Purges, report: PurgeReport,
                  cycles: list[Cycle], workshops: list[WorkshopHeld], today: date) -> None:
    """The record's part, in one transaction. Published free text (a shareable strength,
    a deep dive's terms) is kept as published: scrubbed with everyone the record knows
    before the purge."""
    from qaudit.jobs.people import scrub_for_publication
    from qaudit.privacy import pseudonymiser

    purges.purge(
        cycles, workshops, before=report.before, today=today,
        cooldown=ws.settings.sampling.worker_cooldown_cycles,
        redaction=Redactor(pseudonymiser(ws.pseudonym_key()), scrub_for_publication(
            store, tuple(ws.settings.auditor_roles))),
        logged={r.key: r.logged() for r in report.removals})


def _cycle_removal(ws: Workspace, purges: Purges, cycle: Cycle) -> Removal:
    files = cycle_files(ws, cycle.name)
    return Removal(("cycle", cycle.id), cycle.name, describe_kind(cycle.kind),
                   f"{cycle.date_from:%d/%m/%Y} to {cycle.date_to:%d/%m/%Y}",
                   purges.counts(cycle.id), files, _size(files))


def _workshop_removal(purges: Purges, workshop: WorkshopHeld,
                      files: tuple[Path, ...]) -> Removal:
    return Removal(("workshop", workshop.id), workshop.name, "workshop",
                   f"held {workshop.held_on:%d/%m/%Y}", purges.workshop_counts(workshop),
                   files, _size(files))


# --- the files ------------------------------------------------------------------------------


def cycle_files(ws: Workspace, name: str) -> tuple[Path, ...]:
    """A cycle's files that hold personal data (``cycle_folder_files``), and the internal
    year report of its year."""
    year = _YEAR.match(name)
    internal = [p for p in layout.year_report_folder(ws.root).glob(
        f"{layout.year_stem(year[1], internal=True)}*") if p.is_file()] if year else []
    return tuple(sorted((*cycle_folder_files(ws, name), *internal)))


def cycle_folder_files(ws: Workspace, name: str) -> tuple[Path, ...]:
    """Everything in a cycle's folder but its published reports (and the folder's
    marker), and every earlier copy of the folder kept beside it (``.replaced-``,
    ``.cancelled-``). Once the cycle is purged, what is found here again is a leftover
    (an internal report made since, a file that was open): the next purge removes it."""
    folder = ws.cycle_dir(name)
    files = [p for p in _files_in(folder) if not _published(folder, p)]
    for copy in (*folder.parent.glob(f"{folder.name}.replaced-*"),
                 *folder.parent.glob(f"{folder.name}.cancelled-*")):
        files += _files_in(copy)
    return tuple(sorted(files))


def workshop_files(ws: Workspace, name: str,
                   folders: frozenset[str] = frozenset()) -> tuple[Path, ...]:
    """A workshop's folder (its case pack and grading workbooks), and earlier copies: under
    its name as ``layout`` makes it, and under the name qaudit gave it before
    (``_legacy_slug``), unless that is now another workshop's folder (``folders``: every
    workshop's, as ``values.cycle_key`` gives it)."""
    base = ws.root / layout.WORKSHOPS
    current = layout.workshop_folder(base, name)
    legacy = _legacy_slug(name)
    places = [current]
    if legacy and legacy.casefold() not in folders | {current.name.casefold()}:
        places.append(base / legacy)
    files: set[Path] = set()
    for folder in places:
        files.update(_files_in(folder))
        for copy in base.glob(f"{folder.name}.replaced-*"):  # a slug has no glob characters
            files.update(_files_in(copy))
    return tuple(sorted(files))


#: The names Windows reserves that the folder names of earlier versions avoided.
_LEGACY_RESERVED = re.compile(r"CON|PRN|AUX|NUL|(?:COM|LPT)[1-9]", re.IGNORECASE)


def _legacy_slug(name: str) -> str:
    """A workshop's folder name as qaudit made it before names were folded and cut to
    ``values.SLUG_MAX`` (a workshop's name may be 80 characters, and have accents: 'Été'
    made 't'): a workshop made then is still found, and purged, under that name."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    return f"cycle-{slug}" if _LEGACY_RESERVED.fullmatch(slug) else slug


def _published(folder: Path, path: Path) -> bool:
    """A published report (no person in it) stays, and so does the folder's marker."""
    return path == folder / MARKER or (
        path.parent == layout.report_folder(folder) and INTERNAL not in path.name)


def _files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def _size(files: Iterable[Path]) -> int:
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError:  # gone meanwhile: nothing to count
            continue
    return total


def _leftovers(ws: Workspace, purged: Iterable[Purged],
               files_of: Callable[[Workspace, str], tuple[Path, ...]]) -> list[Path]:
    return [p for done in purged for p in files_of(ws, done.name)]


def remove_files(files: Iterable[Path], ws: Workspace, keep: set[Path]) -> list[Path]:
    """Remove each file, then the folders it leaves empty inside the workspace (never the
    workspace's own folders nor those in ``keep``); returns the files that could not be
    removed."""
    keep = keep | {ws.root, *(ws.root / f for f in (layout.CYCLES, layout.REPORTS,
                                                   layout.WORKSHOPS))}
    failed: list[Path] = []
    for path in files:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            failed.append(path)
            continue
        folder = path.parent
        while (folder not in keep and ws.root in folder.parents and folder.is_dir()
               and not any(folder.iterdir())):
            folder.rmdir()
            folder = folder.parent
    return failed


# --- what other commands ask ---------------------------------------------------------------


def check_not_purged(store: Store, cycle: str, doing: str) -> None:
    """Refuse ``doing`` (e.g. "send its forms") for a purged cycle: its personal data is
    gone, so nothing that needs it can be done."""
    store.draws.require_cycle(cycle)
    purged = purge_of(store, cycle)
    if purged is not None:
        raise CycleError(refusal(purged, doing))


def purge_of(store: Store, cycle: str) -> Purged | None:
    """The purge of the cycle a name means (in any case); None if it was not purged, or
    there is no such cycle."""
    found = store.draws.cycle(cycle)
    return None if found is None else Purges(store).purged_cycles().get(found.id)


def refusal(purged: Purged, doing: str) -> str:
    """Why ``doing`` cannot be done for a purged cycle."""
    return (f"cannot {doing}: cycle {purged.name!r} was purged on {purged.purged_at[:10]}"
            f" (retention, `qaudit purge --before {date.fromisoformat(purged.before):%d/%m/%Y}`),"
            " so the record no longer holds who its cases were about. Its figures and"
            " published reports remain.")


def purged_cycle_names(store: Store) -> frozenset[str]:
    """The names of the purged cycles, as stored."""
    return frozenset(p.name for p in Purges(store).purged_cycles().values())


def purged_cycle_of(store: Store, reference: str) -> str | None:
    """The purged cycle a reference (as a form or register shows it: ``<cycle>-NNN``)
    belonged to, if any: a form of a purged cycle is explained, not called unknown."""
    typed = reference.strip().casefold()
    for purged in Purges(store).purged_cycles().values():
        if typed.startswith(cycle_key(purged.name) + "-"):
            return purged.name
    return None


def check_workshop_not_purged(store: Store, workshop_id: int, doing: str) -> None:
    """Refuse ``doing`` (e.g. "take in grades") for a purged workshop."""
    reason = workshop_refusal(store, workshop_id, doing)
    if reason is not None:
        raise QauditError(reason)


def workshop_refusal(store: Store, workshop_id: int, doing: str) -> str | None:
    """Why ``doing`` cannot be done for the workshop, if it was purged; else None."""
    purged = Purges(store).purged_workshops().get(workshop_id)
    if purged is None:
        return None
    return (f"cannot {doing}: the workshop {purged.name!r} was purged on"
            f" {purged.purged_at[:10]} (retention), so its participants are no longer"
            " on record.")


@dataclass(frozen=True)
class PurgedHistory:
    """The persons and records of the purged cycles, as their keyed pseudonyms: a draw
    asks whether a case was audited in a purged cycle without the record keeping who."""

    persons: frozenset[str]
    records: frozenset[str]
    pseudonym: Callable[[str, str], str]

    def audited(self, person_id: str = "", record_id: str = "") -> bool:
        """Whether the person, or the record, was drawn in a purged cycle."""
        return (self.pseudonym("PER", person_id) in self.persons
                or self.pseudonym("REC", record_id) in self.records)

    def among(self, persons: Iterable[str], records: Iterable[str]
              ) -> tuple[frozenset[str], frozenset[str]]:
        """Of these persons and records (a case export's), those drawn in a purged cycle:
        what a draw adds to ``Draws.drawn_elsewhere`` so that a record audited before is
        not audited again, across a purge."""
        if not self.persons and not self.records:
            return frozenset(), frozenset()
        return (frozenset(p for p in set(persons) if self.audited(person_id=p)),
                frozenset(r for r in set(records) if self.audited(record_id=r)))


def purged_history(ws: Workspace, store: Store) -> PurgedHistory:
    """What ``Draws.drawn_elsewhere`` no longer knows of the purged cycles' cases."""
    from qaudit.privacy import pseudonymiser

    persons, records = Purges(store).purged_people()
    key = ws.pseudonym_key() if persons or records else b"\0"
    return PurgedHistory(persons, records, pseudonymiser(key))
