"""The allocate job: export -> eligible cases -> draw -> database and workbooks.

``plan_allocation`` reads and draws and changes nothing (``--dry-run`` stops there);
``commit_allocation`` writes every workbook into a scratch folder, stores the draw in
one transaction, then moves the folder into place, so a failure leaves no half-written
allocation behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from qaudit import __version__, layout
from qaudit.config import OPTIONAL_FIELDS
from qaudit.db import AllocationRow, Cycle, DrawRecord, Store, backup
from qaudit.db.draws import REGULAR, describe_kind
from qaudit.db.files import AUDIT_FORM, MANAGER_WORKBOOK, REFLECTION_FORM, REGISTER
from qaudit.errors import CycleError, ExportError
from qaudit.files import made_by_qaudit, staged_folder
from qaudit.jobs.plan import Window, planned_window
from qaudit.jobs.purged import check_not_purged, check_recheck, purged_history
from qaudit.jobs.shared_files import DRAWS, record_folder
from qaudit.questions import QuestionSet, load_question_set
from qaudit.randomness import generator, seed_or_new
from qaudit.sampling import (
    Draw,
    DrawRules,
    History,
    StratumResult,
    draw_allocation,
    eligible_cases,
)
from qaudit.values import cycle_slug
from qaudit.workbooks.case_export import CaseExport, Progress, read_export
from qaudit.workbooks.export_values import BAD_QUADRANT, BAD_TYPE
from qaudit.workbooks.forms import FormCase, FormTemplate, audit_form, self_reflection_form
from qaudit.workbooks.manager import ManagerBook, ManagerWorkbooks
from qaudit.workbooks.registers import write_register
from qaudit.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_CYCLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/\-]{0,39}$")


class Selection(Protocol):
    """What kind of draw this is, and how its cases are chosen. A regular cycle's draw
    (``RegularSelection``) takes every quadrant x type quota; a deep dive
    (``jobs.deepdive``) and a round of re-audits (``jobs.reaudit``) choose otherwise, and
    share everything else: the export read, the window and history checks, the recorded
    seed, the why-not-drawn accounting, the forms, the register and the one transaction."""

    kind: str  # db.draws.REGULAR, DEEP_DIVE or REAUDIT

    def question_sets(self, regular: dict[str, QuestionSet]) -> dict[str, QuestionSet]:
        """Each audit type's question set for this draw (a deep dive has its own)."""
        ...

    def history(self, history: History) -> History:
        """What this draw must avoid of earlier draws (a re-audit waives the cool-down)."""
        ...

    def draw(self, eligible: pd.DataFrame, excluded: dict[str, int], rules: DrawRules,
             rng: np.random.Generator) -> Draw:
        """The cases drawn from the eligible ones; may add to ``excluded`` (why-not-drawn)."""
        ...

    def annotate(self, case: Mapping[Any, Any]) -> dict[str, str]:
        """Extra allocation fields for a drawn case (``follows_up``, ``drawn_because``)."""
        ...

    def terms(self) -> tuple[tuple[str, str], ...]:
        """Terms of reference printed on every audit form of the draw (label, text)."""
        ...

    def check_with(self, plan: AllocationPlan) -> str:
        """The command that re-checks the draw, as the register gives it."""
        ...

    def saved(self, store: Store, cycle: Cycle, plan: AllocationPlan) -> None:
        """Store what belongs beside the draw, inside the draw's transaction."""
        ...

    def recorded(self) -> dict[str, Any]:
        """What the selection decided from the record as it stood (who was due a re-audit,
        which workers answered a question No), stored with the draw (``Draws.selection_of``)
        so a ``--dry-run`` re-check later draws from the same, whatever changed since."""
        ...


class RegularSelection:
    """A regular cycle: every quadrant x audit type quota, drawn at random (``sampling``)."""

    kind = REGULAR

    def question_sets(self, regular: dict[str, QuestionSet]) -> dict[str, QuestionSet]:
        return regular

    def history(self, history: History) -> History:
        return history

    def draw(self, eligible: pd.DataFrame, excluded: dict[str, int], rules: DrawRules,
             rng: np.random.Generator) -> Draw:
        return draw_allocation(eligible, rules, rng)

    def annotate(self, case: Mapping[Any, Any]) -> dict[str, str]:
        return {}

    def terms(self) -> tuple[tuple[str, str], ...]:
        return ()

    def check_with(self, plan: AllocationPlan) -> str:
        return (f"qaudit allocate EXPORT --cycle '{plan.request.cycle}' --from"
                f" {plan.date_from:%d/%m/%Y} --to {plan.date_to:%d/%m/%Y} --seed {plan.seed}"
                " --dry-run (the same export and settings give the same cases, row for row)")

    def saved(self, store: Store, cycle: Cycle, plan: AllocationPlan) -> None:
        return None

    def recorded(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class AllocationRequest:
    export: Path
    cycle: str
    date_from: date | None  # None: the plan's (``qaudit plan``)
    date_to: date | None
    today: date
    due: date | None = None
    seed: int | None = None
    out: Path | None = None
    sheet: str | None = None
    redraw: bool = False
    dry_run: bool = False
    allow_overlap: bool = False
    selection: Selection = field(default_factory=RegularSelection)


@dataclass
class AllocationPlan:
    request: AllocationRequest
    seed: int
    date_from: date
    date_to: date
    due: date
    export: CaseExport
    excluded: dict[str, int]
    eligible: int
    draw: Draw
    allocations: list[AllocationRow]
    question_sets: dict[str, QuestionSet]
    out_dir: Path
    workspace_id: str
    signing_key: bytes
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The latest draw on record when the history was read: a draw stored since (another
    #: officer's, at the same time) may hold a person this one drew (``commit_allocation``).
    history_mark: int = 0

    @property
    def strata(self) -> list[StratumResult]:
        return self.draw.strata

    @property
    def shortfalls(self) -> list[StratumResult]:
        return [s for s in self.strata if s.short_or_topped_up]

    @property
    def managers(self) -> dict[str, str]:
        """Service Manager -> their workbook's file name."""
        return layout.manager_workbooks(a.service_manager for a in self.allocations)

    @property
    def unaudited_types(self) -> dict[str, int]:
        """Work types in the export that are not an audit type, with their row counts."""
        return self._labels(BAD_TYPE)

    @property
    def unknown_quadrants(self) -> dict[str, int]:
        """Quadrant labels in the export that name no quadrant, with their row counts."""
        return self._labels(BAD_QUADRANT)

    def _labels(self, reason: str) -> dict[str, int]:
        unusable = self.export.unusable
        labels = unusable.loc[unusable["reason"] == reason, "detail"]
        counts = labels.value_counts(sort=False)
        return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1],
                                                                                  str(kv[0])))}

    @property
    def missing_columns(self) -> dict[str, str]:
        """Optional fields the export has no column for -> the setting that names it."""
        return {f: f"columns.{f}" for f in sorted(OPTIONAL_FIELDS)
                if f not in self.export.columns}

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.request.cycle,
            "seed": self.seed,
            "window": {"from": self.date_from.isoformat(),
                       "to": self.date_to.isoformat()},
            "due": self.due.isoformat(),
            "export": {"file": self.export.path.name, "sha256": self.export.sha256,
                       "sheet": self.export.sheet, "header_row": self.export.header_row,
                       "rows_read": self.export.rows_read},
            "allocations": [
                {"reference": a.reference, "record_id": a.record_id, "person_id": a.person_id,
                 "audit_type": a.audit_type, "drawn_for": a.stratum_type,
                 "quadrant": a.quadrant, "worker_id": a.worker_id, "team": a.team,
                 "service_manager": a.service_manager, "completed_date": a.completed_date}
                for a in self.allocations
            ],
            "strata": [s.to_json() for s in self.strata],
            "shortfalls": [s.to_json() for s in self.shortfalls],
            "excluded": self.excluded,
            "unusable": self.export.unusable_counts,
            "unrecognised": {"work_types": self.unaudited_types,
                             "quadrants": self.unknown_quadrants},
            "missing_optional_columns": self.missing_columns,
        }


def check_kind(existing: Cycle, request: AllocationRequest) -> None:
    """A name keeps its kind, for a --dry-run too: a re-check of a deep dive as a regular
    cycle would quietly draw something it never was."""
    kind, asked = existing.kind, request.selection.kind
    if kind == asked:
        return
    raise CycleError(
        f"{existing.name!r} is a {describe_kind(kind)}, not a {describe_kind(asked)},"
        f" and a name keeps its kind, so `{DRAWS.get(asked, 'this draw')}` neither"
        f" draws nor re-checks it{' (with --dry-run too)' if request.dry_run else ''}."
        f" Re-check its draw with `{DRAWS.get(kind, 'its own command')} ..."
        " --dry-run` (its register's 'Check with'"
        f" line gives the whole command); give a new {describe_kind(asked)} a name of"
        " its own.")


def check_request(store: Store, request: AllocationRequest, window: Window,
                  due: date) -> AllocationRequest:
    """Refuse a request that cannot succeed before the export is read. Returns it with the
    cycle named as stored, where the name means an existing cycle ('2026-27 c3' is the
    cycle '2026-27 C3'), and the window it is drawn from (the plan's, or --from/--to)."""
    existing = store.draws.cycle(request.cycle)
    if existing is not None:
        request = replace(request, cycle=existing.name)
        check_kind(existing, request)
    if not _CYCLE_NAME.match(request.cycle):
        raise CycleError(
            f"cycle name {request.cycle!r} is not allowed: use up to 40 letters, digits,"
            " spaces, '.', '-', '_' or '/', e.g. '2026-27 C3'."
        )
    request = replace(request, date_from=window.date_from, date_to=window.date_to)
    first, last = window.date_from, window.date_to
    if first > last:
        raise CycleError(
            f"--from {first:%d/%m/%Y} is after --to {last:%d/%m/%Y};"
            " give the window's first day, then its last."
        )
    if last > request.today:
        raise CycleError(
            f"the window {first:%d/%m/%Y} to {last:%d/%m/%Y} ends after today"
            f" ({request.today:%d/%m/%Y}): work completed later is not in any export yet."
            " Draw once the window has ended, or give an earlier --to."
        )
    if due < request.today - timedelta(days=366):
        raise CycleError(f"returns due {due:%d/%m/%Y} is over a year ago, which cannot be"
                         " right for a new draw; give the date returns are due (--due).")
    if not request.dry_run:
        store.draws.check_can_draw(request.cycle, request.redraw)
        store.draws.check_window(request.cycle, first, last, due, request.allow_overlap,
                                 request.selection.kind)
    return request


def plan_allocation(
    ws: Workspace, store: Store, request: AllocationRequest, progress: Progress | None = None
) -> AllocationPlan:
    settings = ws.settings
    selection = request.selection
    existing = store.draws.cycle(request.cycle)
    if existing is not None:  # before the plan is asked for the window of a name
        check_kind(existing, request)
        check_not_purged(store, existing.name, "draw it again or re-check its draw")
        if request.dry_run:
            check_recheck(store, existing.name, settings.sampling.worker_cooldown_cycles)
    if selection.kind == REGULAR:
        window = planned_window(store, request.cycle, request.date_from, request.date_to,
                                request.due)
    else:  # a deep dive or re-audit round is not in the year's plan
        if request.date_from is None or request.date_to is None:
            raise CycleError("give the window the cases are drawn from: --from and --to"
                             " (dd/mm/yyyy).")
        window = Window(request.date_from, request.date_to, request.due, None, ())
    due = window.due or request.today + timedelta(days=settings.cycle.return_days)
    if window.planned is not None:
        request = replace(request, cycle=window.planned.name)
    request = check_request(store, request, window, due)
    date_from, date_to = window.date_from, window.date_to
    seed = seed_or_new(request.seed)
    question_sets = selection.question_sets({
        key: load_question_set(settings.question_set_id(key), ws.templates)
        for key in settings.audit_types
    })
    export = read_export(request.export, settings, request.sheet, progress)
    rules = DrawRules(
        quotas={(q, t): settings.quota(q, t) for q in settings.quadrants
                for t in settings.audit_types},
        max_per_worker=settings.sampling.max_cases_per_worker,
        top_up=settings.sampling.top_up_from_other_types,
    )
    # A dry run of a cycle already drawn re-checks that draw: only the draws stored before
    # it count, as they did when it was made.
    before = store.draws.current_draw_id(request.cycle) if request.dry_run else None
    mark = store.draws.latest_draw_id()
    persons, records = store.draws.drawn_elsewhere(request.cycle, before)
    # A purged cycle's cases are on record as pseudonyms only: found through them.
    purged_persons, purged_records = purged_history(ws, store).among(
        export.cases["person_id"].astype(str), export.cases["record_id"].astype(str))
    persons, records = persons | purged_persons, records | purged_records
    history = selection.history(History(
        persons=persons if settings.sampling.exclude_previously_audited_persons else frozenset(),
        records=records,
        cooldown_workers=store.draws.recent_workers(
            request.cycle, date_to, settings.sampling.worker_cooldown_cycles, before
        ),
    ))
    eligible, excluded = eligible_cases(
        export.cases, date_from, date_to, rules, history
    )
    if export.cases.empty:
        raise ExportError(
            f"{request.export} has no usable rows ({_counts(export.unusable_counts)}). Check"
            " it is the right export and that [audit_types] labels and quadrants match it."
        )
    draw = selection.draw(eligible, excluded, rules, generator(seed))
    slug = cycle_slug(request.cycle)
    allocations = []
    for n, r in enumerate(draw.allocations.to_dict("records"), start=1):
        questions = question_sets[r["audit_type"]]
        allocations.append(AllocationRow(
            reference=f"{slug}-{n:03d}",
            **{f: str(r[f]) for f in (
                "record_id", "person_id", "audit_type", "stratum_type", "quadrant",
                "worker_id", "worker_name", "team", "service_manager",
                "worker_email", "service_manager_email",
            )},
            completed_date=str(r["completed_date"])[:10],
            question_set=questions.id,
            question_set_version=questions.version,
            question_set_hash=questions.digest,
            work_type=str(r["work_type"]),
            **selection.annotate(r),
        ))
    plan = AllocationPlan(
        request=request, seed=seed, date_from=date_from, date_to=date_to, due=due,
        export=export, excluded=excluded,
        eligible=len(eligible), draw=draw, allocations=allocations,
        question_sets=question_sets, out_dir=request.out or ws.cycle_dir(request.cycle),
        workspace_id=store.workspace_id(), signing_key=store.signing_key(),
        history_mark=mark,
    )
    plan.warnings.extend(window.warnings)
    plan.warnings.extend(export.warnings)
    if due < request.today:
        plan.warnings.append(f"returns are due {due:%d/%m/%Y}, before today: every return"
                             " will be late. Check --due.")
    return plan


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.items()) or "no data rows"


def commit_allocation(
    ws: Workspace,
    store: Store,
    plan: AllocationPlan,
    on_file: Callable[[int, int], None] | None = None,
) -> Cycle:
    """Write every workbook, store the draw, and put the files in place, or do none of it."""
    request = plan.request
    if not plan.allocations:
        raise CycleError(
            f"nothing in the export is eligible for {request.cycle!r} (window"
            f" {plan.date_from:%d/%m/%Y} to {plan.date_to:%d/%m/%Y}); nothing was stored."
            " Check --from and --to, and the reasons listed above, with --dry-run."
        )
    out = plan.out_dir
    _check_out(ws, out)
    if request.redraw:
        backup.before(store.conn, store.path, "redraw")
    record = DrawRecord(
        seed=plan.seed, export_name=plan.export.path.name, export_sha256=plan.export.sha256,
        export_sheet=plan.export.sheet, rows_read=plan.export.rows_read,
        settings=_settings_used(ws, plan), excluded=plan.excluded,
        unusable=plan.export.unusable_counts, strata=[s.to_json() for s in plan.strata],
        question_sets=list(plan.question_sets.values()),
    )
    # Files and rows succeed or fail together: the workbooks are written into a scratch
    # folder inside the transaction and moved into place just before it commits. A crash
    # in between leaves a folder without a draw, which the next allocate moves aside; a
    # draw is never stored with its files still hidden.
    with store.transaction(), staged_folder(out) as scratch:
        store.draws.check_no_draw_since(plan.history_mark, request.cycle)
        written = _write_files(ws, plan, scratch, on_file)
        cycle = store.draws.save(
            request.cycle, plan.date_from, plan.date_to, plan.due, record,
            plan.allocations, redraw=request.redraw, allow_overlap=request.allow_overlap,
            kind=request.selection.kind,
        )
        request.selection.saved(store, cycle, plan)
        record_folder(ws.root, store, scratch, out, written, cycle_id=cycle.id)
    plan.files = sorted(p for p in out.rglob("*.xlsx"))
    return cycle


def _check_out(ws: Workspace, out: Path) -> None:
    """A cycle's folder may replace only a folder qaudit made, and never hold the
    workspace: ``--redraw --out WORKSPACE`` must not move the record away."""
    root, target = ws.root.resolve(), out.resolve()
    if root == target or root.is_relative_to(target):
        raise CycleError(f"--out {out} is the workspace or holds it; give a folder of its own"
                         " for the cycle's workbooks (default: <workspace>/cycles/<cycle>).")
    if target.exists() and not target.is_dir():
        raise CycleError(f"--out {out} is a file; give a folder for the cycle's workbooks.")
    ours = made_by_qaudit(target) or target.parent == root / layout.CYCLES
    if target.exists() and any(target.iterdir()) and not ours:
        raise CycleError(f"{out} already holds files qaudit did not make; choose another"
                         " --out, or move that folder away. qaudit replaces only its own"
                         " folders.")


def _settings_used(ws: Workspace, plan: AllocationPlan) -> dict[str, Any]:
    return {
        **ws.settings.model_dump(),
        "question_sets": {k: f"{q.id} {q.version}" for k, q in plan.question_sets.items()},
        "qaudit_version": __version__,
        "selection": plan.request.selection.recorded(),
    }


def _write_files(
    ws: Workspace, plan: AllocationPlan, folder: Path, on_file: Callable[[int, int], None] | None
) -> list[tuple[Path, str]]:
    """Every workbook of the draw written into ``folder``; returns each with its kind."""
    settings = ws.settings
    names = settings.type_names()
    files = plan.managers
    marking = settings.marking
    total = 2 * len(plan.allocations) + len(files) + 1
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_file is not None:
            on_file(done, total)

    selection = plan.request.selection
    follow_ups = any(a.follows_up for a in plan.allocations)
    written: list[tuple[Path, str]] = []
    audit_forms: dict[str, FormTemplate] = {}
    reflection_forms: dict[str, FormTemplate] = {}
    for a in plan.allocations:
        if a.audit_type not in audit_forms:
            audit_forms[a.audit_type] = audit_form(
                plan.question_sets[a.audit_type], names[a.audit_type], settings.grades,
                plan.workspace_id, plan.signing_key, tuple(settings.auditor_roles), marking,
                terms=selection.terms(), follow_up=follow_ups,
            )
            reflection_forms[a.audit_type] = self_reflection_form(
                names[a.audit_type], plan.workspace_id, plan.signing_key, marking
            )
        case = FormCase(
            cycle=plan.request.cycle, reference=a.reference,
            audit_type_name=names[a.audit_type], person_id=a.person_id,
            practitioner=a.practitioner, team=a.team, quadrant=a.quadrant,
            completed_date=date.fromisoformat(a.completed_date), due_date=plan.due,
            record_id=a.record_id, work_type=a.work_type,
            return_to=settings.organisation.return_to, follows_up=a.follows_up,
        )
        written.append((layout.audit_form(folder, a.reference), AUDIT_FORM))
        audit_forms[a.audit_type].write(written[-1][0], case)
        tick()
        written.append((layout.reflection_form(folder, a.reference), REFLECTION_FORM))
        reflection_forms[a.audit_type].write(written[-1][0], case)
        tick()
    manager_books = ManagerWorkbooks()
    for manager, filename in files.items():
        written.append((layout.manager_workbook(folder, filename), MANAGER_WORKBOOK))
        manager_books.write(written[-1][0], ManagerBook(
            workspace_id=plan.workspace_id, signing_key=plan.signing_key,
            cycle=plan.request.cycle, manager=manager, due=plan.due,
            allocations=[a for a in plan.allocations if a.service_manager == manager],
            type_names=names, return_to=settings.organisation.return_to,
            auditor_roles=tuple(settings.auditor_roles), marking=marking,
        ))
        tick()
    r = plan.request
    facts: list[tuple[str, Any]] = [
        ("Cycle", r.cycle),
        *([("Kind", describe_kind(selection.kind))] if selection.kind != REGULAR else []),
        ("Window", f"{plan.date_from:%d/%m/%Y} to {plan.date_to:%d/%m/%Y}"),
        ("Returns due", plan.due),
        ("Seed", str(plan.seed)),
        ("Export file", plan.export.path.name),
        ("Export SHA-256", plan.export.sha256),
        ("Export sheet", plan.export.sheet or "(csv)"),
        ("Header row", plan.export.header_row),
        ("Rows read", plan.export.rows_read),
        ("Usable rows", len(plan.export.cases)),
        ("Eligible cases", plan.eligible),
        ("Allocated", len(plan.allocations)),
        ("Drawn at (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
        ("qaudit version", __version__),
        ("Question sets", "; ".join(f"{q.id} {q.version}" for q in plan.question_sets.values())),
        ("Check with", selection.check_with(plan)),
    ]
    write_register(
        layout.register(folder), draw_facts=facts, allocations=plan.allocations,
        type_names=names, manager_files=files, strata=plan.strata, excluded=plan.excluded,
        unusable_counts=plan.export.unusable_counts, unusable=plan.export.unusable,
        marking=marking,
    )
    tick()
    return [*written, (layout.register(folder), REGISTER)]
