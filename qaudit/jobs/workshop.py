"""Audit-the-auditor workshops: make one (its cases drawn, its pack and grading workbooks
written), take the participants' grades back, measure their agreement, list them.

The framework: *audit the auditor: audit workshops to embed the methodology ... at least
quarterly*. Several auditors grade the same anonymised audited work on their own; how far
they agree with each other, and with the grade of record, shows whether the grading
criteria are applied alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from qaudit import layout
from qaudit.agreement import (
    RESAMPLES,
    AgainstRecord,
    Coefficient,
    ManyRaters,
    against_record,
    case_label,
    disagreement,
    many_raters,
    spread_pick,
)
from qaudit.db import Store
from qaudit.db.files import GRADING_WORKBOOK, WORKSHOP_PACK
from qaudit.db.workshops import (
    Participant,
    Workshop,
    WorkshopCandidate,
    WorkshopError,
    WorkshopSummary,
)
from qaudit.errors import Finding, FormFileError, QauditError, Status
from qaudit.files import staged_folder
from qaudit.grading import GRADE_COUNT, GRADE_LABELS, LABEL, RANK
from qaudit.jobs.ingest import find_forms
from qaudit.jobs.people import scrub_for_publication
from qaudit.jobs.purged import check_not_purged, purged_cycle_names, workshop_refusal
from qaudit.jobs.shared_files import record_folder, taken_back
from qaudit.randomness import generator, seed_or_new
from qaudit.validation import WorkshopReturn, check_workshop
from qaudit.values import HIDDEN_IN_LINE, HIDDEN_IN_TEXT, cycle_slug
from qaudit.workbooks.reader import read_form
from qaudit.workbooks.workshop import (
    GRADING_SHEET,
    GradingSheet,
    PackAnswer,
    PackCase,
    WorkshopPack,
    write_grading_workbook,
    write_pack,
)
from qaudit.workspace import Workspace

_T = TypeVar("_T")

MAX_CASES = 40
MAX_PARTICIPANTS = 60
NAME_MAX = 80
#: How far back a workshop's --held date may be: a year (see ``check_held_on``).
HELD_WITHIN_DAYS = 366


@dataclass(frozen=True)
class MakeRequest:
    name: str
    cases: int
    participants: int | tuple[str, ...]  # how many, or their names
    held_on: date
    today: date
    from_cycle: str | None = None
    seed: int | None = None
    out: Path | None = None  # the workshop's folder goes inside it


@dataclass(frozen=True)
class MadeWorkshop:
    name: str
    held_on: date
    seed: int
    from_cycle: str | None
    candidates: int
    cases: list[tuple[str, str, str]]  # label, audit type name, reference (internal)
    participants: list[str]  # labels
    folder: Path
    pack: Path
    grading: list[Path]
    types_covered: int
    types_available: int
    grades_covered: int
    grades_available: int

    def to_json(self) -> dict[str, Any]:
        return {
            "workshop": self.name, "held_on": self.held_on.isoformat(), "seed": self.seed,
            "from_cycle": self.from_cycle, "candidates": self.candidates,
            "cases": [{"label": label, "audit_type": kind, "reference": ref}
                      for label, kind, ref in self.cases],
            "participants": self.participants, "folder": str(self.folder),
            "pack": str(self.pack), "grading_workbooks": [str(p) for p in self.grading],
            "types_covered": self.types_covered, "types_available": self.types_available,
            "grades_covered": self.grades_covered, "grades_available": self.grades_available,
        }


def workshop_name(text: str) -> str:
    """A workshop's name as typed: one line of plain text, not too long."""
    name = " ".join(text.split())
    if not name or HIDDEN_IN_LINE.search(text.strip()) or len(name) > NAME_MAX \
            or name[:1] in "=+-@" or not cycle_slug(name):
        raise WorkshopError(
            f"the workshop name {text[:40]!r} cannot be used: give one line of plain text of"
            f" at most {NAME_MAX} characters with letters or digits, not starting with = + - or"
            " @, e.g. 'Q2 2026-27'.")
    return name


def participants_of(given: int | tuple[str, ...]) -> list[Participant]:
    if isinstance(given, int):
        count = given
        names: tuple[str, ...] = ("",) * count
    else:
        names = tuple(" ".join(n.split()) for n in given)
        count = len(names)
        bad = [n for n in names if not n or HIDDEN_IN_LINE.search(n) or n[:1] in "=+-@"
               or len(n) > 120]
        if bad:
            raise WorkshopError(
                f"--participants holds {bad[0][:40]!r}, which is not a name; give a number"
                " (e.g. 8) or names separated by commas, each one line of plain text.")
        folded = [n.casefold() for n in names]
        twice = sorted({n for n in names if folded.count(n.casefold()) > 1})
        if twice:
            raise WorkshopError(f"--participants names {twice[0]!r} twice; give each"
                                " participant once.")
    if not 2 <= count <= MAX_PARTICIPANTS:
        raise WorkshopError(
            f"--participants gives {count}; a workshop measures agreement among 2 to"
            f" {MAX_PARTICIPANTS} participants. Give a number, or names separated by commas.")
    return [Participant(n, f"Participant {n}", name) for n, name in enumerate(names, start=1)]


def check_held_on(held_on: date, today: date) -> None:
    """The day a workshop was held decides the quarter it counts for (``plan show``), so
    it must be a day that has come (a workshop made ahead of the day is made on the day,
    or with --held once held), and not more than a year back: a year's workshops are
    reported to the Board with the year, and a date that far back is a mistyped year."""
    if held_on > today:
        raise WorkshopError(
            f"--held {held_on:%d/%m/%Y} is in the future; a workshop counts for the quarter it"
            " was held in, so give the day it was held (today or earlier), or make it on the"
            " day.")
    if held_on < today - timedelta(days=HELD_WITHIN_DAYS):
        raise WorkshopError(
            f"--held {held_on:%d/%m/%Y} is more than a year ago; check the year (a workshop"
            " is recorded when it is held, and a past year's workshops were reported with"
            " that year).")


def make(ws: Workspace, store: Store, request: MakeRequest,
         on_file: Callable[[int, int], None] | None = None) -> MadeWorkshop:
    """Pick the cases, store the workshop, and write its pack and grading workbooks: rows
    and files together or neither. ``on_file(done, total)`` after each workbook written."""
    name = workshop_name(request.name)
    if not 2 <= request.cases <= MAX_CASES:
        raise WorkshopError(f"--cases {request.cases}: a workshop takes 2 to {MAX_CASES} cases"
                            " (agreement needs at least two).")
    participants = participants_of(request.participants)
    check_held_on(request.held_on, request.today)
    store.workshops.check_can_make(name)
    from_cycle = (None if request.from_cycle is None
                  else store.draws.require_cycle(request.from_cycle).name)
    if from_cycle is not None:
        check_not_purged(store, from_cycle, "make a workshop of its audits")
    purged = purged_cycle_names(store)  # their evidence is blanked: nothing to grade
    candidates = [c for c in store.workshops.candidates(from_cycle) if c.cycle not in purged]
    where = f"cycle {from_cycle!r}" if from_cycle else "the record"
    if len(candidates) < request.cases:
        raise WorkshopError(
            f"{where} holds {len(candidates)} returned audit(s), fewer than the {request.cases}"
            f" cases asked for; ask for --cases {len(candidates)} or fewer"
            + (", or leave out --from-cycle to draw from every cycle." if from_cycle else
               ", or ingest more returned audits first.") if candidates else
            f"{where} holds no returned audit yet; ingest returned audit forms first"
            " (`qaudit ingest FOLDER`).")
    seed = seed_or_new(request.seed)
    picked = [candidates[i] for i in spread_pick(
        [(c.audit_type, c.grade_of_record) for c in candidates], request.cases,
        generator(seed))]
    _check_held_after_cases(store, request.held_on, picked)
    labelled = [(case_label(n), c) for n, c in enumerate(picked, start=1)]
    type_names = ws.settings.type_names()
    scrub = scrub_for_publication(store, tuple(ws.settings.auditor_roles))
    pack = WorkshopPack(name, request.held_on, tuple(
        _pack_case(store, label, c, type_names, scrub) for label, c in labelled),
        ws.settings.marking)
    folder = layout.workshop_folder(request.out or ws.root / layout.WORKSHOPS, name)
    # Files and rows succeed or fail together, in allocate's order: the workbooks are
    # written into a scratch folder inside the transaction and moved into place before it
    # commits, so a failed move stores nothing; a crash between the move and the commit
    # leaves a folder without a workshop, which making it again moves aside.
    with store.transaction(), staged_folder(folder) as scratch:
        workshop_id = store.workshops.save(name, request.held_on, from_cycle, seed,
                                           participants, labelled)
        write_pack(layout.workshop_pack(scratch, name), pack)
        if on_file is not None:
            on_file(1, 1 + len(participants))
        grading = []
        written = [(layout.workshop_pack(scratch, name), WORKSHOP_PACK)]
        for p in participants:
            path = layout.grading_workbook(scratch, name, p.position)
            written.append((path, GRADING_WORKBOOK))
            write_grading_workbook(path, GradingSheet(
                workspace_id=store.workspace_id(), workshop=name, workshop_id=workshop_id,
                held_on=request.held_on, participant=p.label, participant_name=p.name,
                cases=tuple((label, type_names.get(c.audit_type, c.audit_type))
                            for label, c in labelled),
                signing_key=store.signing_key(),
                marking=ws.settings.marking))
            grading.append(folder / path.name)
            if on_file is not None:
                on_file(1 + len(grading), 1 + len(participants))
        record_folder(ws.root, store, scratch, folder, written, workshop_id=workshop_id)
    return MadeWorkshop(
        name=name, held_on=request.held_on, seed=seed, from_cycle=from_cycle,
        candidates=len(candidates),
        cases=[(label, type_names.get(c.audit_type, c.audit_type), c.reference)
               for label, c in labelled],
        participants=[p.label for p in participants], folder=folder,
        pack=layout.workshop_pack(folder, name), grading=grading,
        types_covered=len({c.audit_type for c in picked}),
        types_available=len({c.audit_type for c in candidates}),
        grades_covered=len({c.grade_of_record for c in picked}),
        grades_available=len({c.grade_of_record for c in candidates}),
    )


def _check_held_after_cases(store: Store, held_on: date,
                            picked: list[WorkshopCandidate]) -> None:
    """A workshop grades audited work: it cannot have been held before the earliest of its
    cases' cycles began."""
    cycles = [store.draws.require_cycle(name) for name in sorted({c.cycle for c in picked})]
    earliest = min(cycles, key=lambda c: (c.date_from, c.name))
    if held_on < earliest.date_from:
        raise WorkshopError(
            f"--held {held_on:%d/%m/%Y} is before the cycle {earliest.name!r} began"
            f" ({earliest.date_from:%d/%m/%Y}), the earliest its cases come from; a workshop"
            " grades audits already returned, so give the day it was held.")


def _pack_case(store: Store, label: str, case: WorkshopCandidate, type_names: dict[str, str],
               scrub: Callable[[str], str]) -> PackCase:
    """One case as participants see it: the audited work's evidence, scrubbed of every id
    and name the record knows (and name- or id-shaped text it does not), without its grade
    or the rationale that argues for it."""
    questions: dict[str, str] = {}
    issued = store.draws.issued(case.reference)
    if issued is not None:
        question_set = store.draws.issued_question_set(issued.row.question_set_hash)
        questions = {q.id: q.text for q in question_set.questions}

    def clean(text: str) -> str:
        # hidden characters out first, so a zero-width space inside a name does not hide
        # it from the scrub (the pack's writer drops them again, whatever it is given)
        return scrub(HIDDEN_IN_TEXT.sub("", text))

    answers = tuple(PackAnswer(qid, questions.get(qid, ""), answer, clean(comment))
                    for qid, answer, comment in store.moderation.answers_of(case.return_id))
    return PackCase(label, type_names.get(case.audit_type, case.audit_type), answers,
                    clean(case.fields.get("strengths", "")),
                    clean(case.fields.get("learning", "")))


# --- ingest -------------------------------------------------------------------------------


@dataclass
class WorkshopFile:
    """What became of one returned grading workbook."""

    path: Path
    status: Status
    workshop: str = ""
    participant: str = ""
    graded: int = 0
    ungraded: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "status": str(self.status), "workshop": self.workshop,
                "participant": self.participant, "graded": self.graded,
                "ungraded": self.ungraded, "findings": [asdict(f) for f in self.findings],
                "warnings": self.warnings}


@dataclass(frozen=True)
class _Checked:
    """A grading workbook that passed every check, not stored yet."""

    path: Path
    sha256: str
    workshop: Workshop
    grades: WorkshopReturn

    @property
    def key(self) -> tuple[int, str]:
        return (self.workshop.id, self.grades.participant)


def ingest(store: Store, paths: list[Path], *, today: date, workshop: str | None = None,
           replace: bool = False, restore: bool = False) -> list[WorkshopFile]:
    """Take grading workbooks back, each whole or not at all, as returned forms are: the
    same grades again are "unchanged"; other grades from a participant already in are
    refused unless ``replace`` (the earlier ones kept as history); an older copy, since
    replaced, is skipped ("superseded"), or with ``restore`` brought back; two workbooks
    with different grades from one participant in one run are both refused."""
    if workshop is not None:
        workshop = store.workshops.require(workshop).name
    files = find_forms(paths)
    if not files:
        raise QauditError("no grading workbook found in " + ", ".join(map(str, paths))
                          + "; give the filled workbooks (.xlsx) or the folder holding them.")
    checked: list[WorkshopFile | _Checked] = [
        _guarded(path, partial(_check_one, store, path, today, workshop)) for path in files]
    clashing = _clashes([c for c in checked if isinstance(c, _Checked)])
    results = []
    for item in checked:
        if isinstance(item, WorkshopFile):
            results.append(item)
        elif item.path in clashing:
            results.append(clashing[item.path])
        else:
            results.append(_guarded(item.path, partial(
                _store_one, store, item, replace or restore, restore)))
    return results


def _guarded(path: Path, step: Callable[[], _T]) -> _T | WorkshopFile:
    try:
        return step()
    except QauditError:
        raise
    except Exception:  # a workbook no check foresaw: one clean refusal
        return WorkshopFile(path, Status.REFUSED, findings=[Finding(
            "unreadable", path.name, "", "",
            "this file could not be read as a grading workbook: it is damaged, or was not"
            " made from a workbook `qaudit workshop make` wrote")])


def _check_one(store: Store, path: Path, today: date,
               expected: str | None) -> WorkshopFile | _Checked:
    if not path.is_file():
        return WorkshopFile(path, Status.REFUSED, findings=[Finding(
            "no-such-file", path.name, "", "", f"{path} does not exist; give the filled"
            " grading workbook (.xlsx)")])
    try:
        raw = read_form(path)
    except FormFileError as exc:
        return WorkshopFile(path, Status.REFUSED,
                            findings=[Finding(exc.code, path.name, "", "", str(exc))])
    named = raw.meta.get("workshop", "")
    found = store.workshops.find(named) if named else None
    purged = None if found is None else workshop_refusal(store, found.id, "take in its grades")
    if purged is not None:
        return WorkshopFile(path, Status.REFUSED, named, raw.meta.get("participant", ""),
                            findings=[Finding("purged-workshop", path.name, "",
                                              "(whole workbook)", purged)])
    parsed, findings = check_workshop(raw, store.workspace_id(), store.signing_key(), found,
                                      expected, today)
    if parsed is None or found is None:
        return WorkshopFile(path, Status.REFUSED, named, raw.meta.get("participant", ""),
                            findings=findings)
    return _Checked(path, raw.sha256, found, parsed)


def _clashes(checked: list[_Checked]) -> dict[Path, WorkshopFile]:
    """Workbooks of one participant with different grades in one run: which is meant
    cannot be told, so each is refused, naming the others (the same grades twice are one
    return, and the second copy is "unchanged")."""
    by_participant: dict[tuple[int, str], list[_Checked]] = {}
    for c in checked:
        by_participant.setdefault(c.key, []).append(c)
    refused = {}
    for group in by_participant.values():
        if len({c.grades.content_hash for c in group}) < 2:
            continue
        for c in group:
            others = ", ".join(o.path.name for o in group if o is not c)
            refused[c.path] = WorkshopFile(
                c.path, Status.REFUSED, c.workshop.name, c.grades.participant,
                findings=[Finding(
                    "two-workbooks", c.path.name, "", "(whole workbook)",
                    f"{c.grades.participant} of the workshop {c.workshop.name!r} has other"
                    f" grades in {others} in this same run, and which is meant cannot be"
                    " told; ingest only the one that is right", others)])
    return refused


def _differences(c: _Checked, current: dict[int, tuple[str, str]]) -> list[Finding]:
    """One finding per case whose grade or note differs from the participant's grades on
    record (position -> (grade key, note))."""
    advice = ("to replace their grades (the earlier ones are kept as history) use"
              " --replace")
    who = f"{c.grades.participant} of the workshop {c.workshop.name!r}"
    found = []
    for case in c.workshop.cases:
        was = current.get(case.position)
        now_ = c.grades.grades.get(case.position)
        if was == now_:
            continue
        stored = "not graded" if was is None else LABEL.get(was[0], was[0])
        given = "" if now_ is None else LABEL.get(now_[0], now_[0])
        what = ("a different note" if was is not None and now_ is not None
                and was[0] == now_[0] else "a different grade")
        found.append(Finding(
            "different-grades", c.path.name, GRADING_SHEET, case.label,
            f"{who} already returned grades; this workbook gives {case.label} {what}"
            f" (stored: {stored}); {advice}", given))
    return found or [Finding("different-grades", c.path.name, "", "(whole workbook)",
                             f"{who} already returned other grades; {advice}")]


def _store_one(store: Store, c: _Checked, replace: bool, restore: bool) -> WorkshopFile:
    """Store one checked workbook, deciding against the record inside the transaction."""
    parsed, found = c.grades, c.workshop
    result = WorkshopFile(c.path, Status.ACCEPTED, found.name, parsed.participant,
                          len(parsed.grades), parsed.ungraded)
    positions = {k.id: k.position for k in found.cases}
    with store.transaction():
        current = store.workshops.content_of(found.id, parsed.participant)
        if current == parsed.content_hash:
            taken_back(store, c.path, c.sha256)
            result.status = Status.UNCHANGED
            return result
        # A correction is never undone by an older copy still lying in the folder.
        replaced_on = store.workshops.superseded(found.id, parsed.participant,
                                                 parsed.content_hash)
        if replaced_on is not None and not restore:
            if replace:
                result.status = Status.REFUSED
                result.findings = [Finding(
                    "superseded-copy", c.path.name, "", "(whole workbook)",
                    f"this is an older copy of {parsed.participant}'s grades, replaced on"
                    f" {replaced_on[:10]}; to bring it back as their grades add --restore")]
                return result
            result.status = Status.SUPERSEDED
            result.warnings = [f"superseded (an older copy of {parsed.participant}'s grades,"
                               f" replaced on {replaced_on[:10]}); skipped"]
            return result
        if current is not None and not replace:
            result.status = Status.REFUSED
            result.findings = _differences(c, {
                positions[g.case_id]: (g.grade, g.note)
                for g in store.workshops.grades(found.id)
                if g.participant == parsed.participant})
            return result
        by_position = {k.position: k.id for k in found.cases}
        store.workshops.replace_grades(
            found.id, parsed.participant,
            [(by_position[n], grade, note) for n, (grade, note) in sorted(parsed.grades.items())],
            c.path.name, c.sha256, parsed.content_hash)
        taken_back(store, c.path, c.sha256)
    if current is not None:
        result.status = Status.REPLACED
    return result


# --- stats --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantAgreement:
    label: str
    name: str  # shown with --internal only
    against: AgainstRecord


@dataclass(frozen=True)
class CaseSpread:
    label: str
    audit_type: str
    reference: str  # shown with --internal only
    grade_of_record: str
    counts: tuple[int, ...]  # participants' grades, Requires improvement .. Outstanding
    disagreement: float | None  # mean grades apart over pairs of participants


@dataclass(frozen=True)
class WorkshopStats:
    workshop: str
    held_on: date
    seed: int
    resamples: int
    participants: int
    returned: int
    agreement: ManyRaters
    by_participant: list[ParticipantAgreement]
    cases: list[CaseSpread]  # most disagreement first

    def to_json(self, internal: bool = False) -> dict[str, Any]:
        def coefficient(c: Coefficient) -> dict[str, Any]:
            return {"value": c.value,
                    "ci95": None if c.interval is None else [c.interval.low, c.interval.high]}

        a = self.agreement
        return {
            "workshop": self.workshop, "held_on": self.held_on.isoformat(),
            "cases": a.cases, "participants": self.participants, "returned": self.returned,
            "grades": a.grades,
            "interval": {"method": "percentile bootstrap over cases",
                         "resamples": self.resamples, "seed": self.seed},
            "fleiss_kappa": coefficient(a.fleiss_kappa),
            "gwet_ac2_ordinal": coefficient(a.gwet_ac2),
            "krippendorff_alpha_ordinal": coefficient(a.krippendorff_alpha),
            "participants_against_grade_of_record": [
                {"participant": p.label, **({"name": p.name} if internal else {}),
                 **asdict(p.against)} for p in self.by_participant],
            "cases_by_disagreement": [
                {"case": c.label, "audit_type": c.audit_type,
                 **({"reference": c.reference} if internal else {}),
                 "grade_of_record": LABEL.get(c.grade_of_record, c.grade_of_record),
                 "grades": dict(zip(GRADE_LABELS, c.counts, strict=True)),
                 "disagreement": c.disagreement} for c in self.cases],
        }


def stats(ws: Workspace, store: Store, name: str,
          resamples: int = RESAMPLES) -> WorkshopStats:
    found: Workshop = store.workshops.require(name)
    grades = store.workshops.grades(found.id)
    order = {p.label: p.position for p in found.participants}
    returned = sorted({g.participant for g in grades}, key=lambda label: order.get(label, 0))
    if not returned:
        raise WorkshopError(
            f"no grades of the workshop {found.name!r} are in yet; ingest the participants'"
            " grading workbooks with `qaudit workshop ingest FOLDER`.")
    given = {(g.participant, g.case_id): RANK[g.grade] - 1 for g in grades}
    table = [[given.get((p, c.id)) for p in returned] for c in found.cases]
    result = many_raters(table, GRADE_COUNT, found.seed, resamples)
    record = {c.id: RANK[c.grade_of_record] - 1 for c in found.cases}
    by_participant = [
        ParticipantAgreement(
            p, (found.participant(p) or Participant(0, p)).name,
            against_record([(given[(p, c.id)], record[c.id]) for c in found.cases
                            if (p, c.id) in given]))
        for p in returned]
    type_names = ws.settings.type_names()
    spreads = []
    for case, row in zip(found.cases, table, strict=True):
        counts = [0] * GRADE_COUNT
        for v in row:
            if v is not None:
                counts[v] += 1
        spreads.append(CaseSpread(case.label, type_names.get(case.audit_type, case.audit_type),
                                  case.reference, case.grade_of_record, tuple(counts),
                                  disagreement(row)))
    spreads.sort(key=lambda s: (-(s.disagreement or 0), s.label))
    return WorkshopStats(found.name, found.held_on, found.seed, resamples,
                         len(found.participants), len(returned), result, by_participant,
                         spreads)


def summaries(store: Store) -> list[WorkshopSummary]:
    """Every workshop, earliest held first."""
    return store.workshops.summaries()
