"""The deep-dive jobs: draw a themed audit, list and show deep dives, and render the
report for the Practice Governance Board.

A deep dive is a cycle of kind ``deep_dive``: its draw goes through ``jobs.allocate``
(``plan_allocation`` / ``commit_allocation``) with a ``DeepDiveSelection``, so the export
read, the window and history checks, the recorded seed, the why-not-drawn accounting, the
forms, the register and the one transaction are the regular cycle's. What differs is
pure and lives in ``qaudit.themes``: the terms of reference, the filters and the draw of
N cases in all. Its forms, ingest, moderation and sending are a cycle's, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qaudit.db import Cycle, Store
from qaudit.db.deepdives import DeepDiveRecord
from qaudit.db.draws import DEEP_DIVE, describe_kind
from qaudit.errors import CycleError, QauditError
from qaudit.jobs.allocate import AllocationPlan, AllocationRequest, plan_allocation
from qaudit.jobs.cycles import CycleState, cycle_state
from qaudit.questions import QuestionSet, load_question_set
from qaudit.sampling import Draw, DrawRules, History
from qaudit.themes import (
    MAX_TERMS_BYTES,
    QUESTION,
    DeepDiveRows,
    Filter,
    Terms,
    TermsError,
    ThemedRules,
    check_filters_match,
    deep_dive_report,
    describe_filters,
    draw_themed,
    filters_json,
    parse_filter,
    parse_terms,
    resolve_filters,
)
from qaudit.values import normalise_label
from qaudit.workbooks.case_export import Progress
from qaudit.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from qaudit.jobs.outputs import OnReport

#: The regular cycles a deep dive's questions are compared with: the latest this many
#: whose windows end by the deep dive's last day (the year's plan: one year of audits).
COMPARED_CYCLES = 8
MAX_SIZE = 500
#: The key under which a draw records its question filters' workers (settings_json).
ANSWERED = "answered"
COOL_DOWN_WAIVED = ("worker within the cool-down, which a deep dive does not apply"
                    " ([sampling] worker_cooldown_cycles is for regular cycles)")


class DeepDiveSelection:
    """A deep dive's draw (``jobs.allocate.Selection``): its own question set for every
    audit type, its terms on every form, N cases in all from the rows within its filters
    (``themes.draw_themed``), and its terms stored beside the draw."""

    kind = DEEP_DIVE

    def __init__(self, *, terms: Terms, terms_file: Path, questions: QuestionSet,
                 filters: tuple[Filter, ...], answered: Mapping[str, frozenset[str]],
                 size: int, block_later_draws: bool, export: Path) -> None:
        self.terms_ = terms
        self.terms_file = terms_file
        self.questions = questions
        self.filters = filters
        self.answered = answered
        self.size = size
        self.block_later_draws = block_later_draws
        self.export = export
        self.cooled: frozenset[str] = frozenset()

    def question_sets(self, regular: dict[str, QuestionSet]) -> dict[str, QuestionSet]:
        return {key: self.questions for key in regular}

    def history(self, history: History) -> History:
        # The cool-down spreads the regular cycles over the practitioners; a deep dive
        # looks where the Board directs it (a question filter picks the very workers the
        # latest cycle audited), so it does not apply. Persons and records drawn before
        # are still kept out. Each case it lets through says so (``annotate``).
        self.cooled = history.cooldown_workers
        return History(persons=history.persons, records=history.records)

    def draw(self, eligible: pd.DataFrame, excluded: dict[str, int], rules: DrawRules,
             rng: np.random.Generator) -> Draw:
        check_filters_match(eligible, self.filters, self.answered)
        return draw_themed(eligible, excluded, ThemedRules(
            size=self.size, max_per_worker=rules.max_per_worker, strata=list(rules.quotas),
            filters=self.filters, answered=self.answered), rng)

    def annotate(self, case: Mapping[Any, Any]) -> dict[str, str]:
        if str(case["worker_id"]) in self.cooled:
            return {"drawn_because": COOL_DOWN_WAIVED}
        return {}

    def terms(self) -> tuple[tuple[str, str], ...]:
        return self.terms_.labelled()

    def check_with(self, plan: AllocationPlan) -> str:
        filters = " ".join(f"--filter '{f.text}'" for f in self.filters)
        return (f"qaudit deep-dive new '{plan.request.cycle}' --terms {self.terms_file.name}"
                f" --question-set {self.questions.id} {filters + ' ' if filters else ''}"
                f"--n {self.size} --from {plan.date_from:%d/%m/%Y} --to"
                f" {plan.date_to:%d/%m/%Y} --seed {plan.seed} --dry-run {self.export.name}"
                " (the same export, terms and settings give the same cases, row for row)")

    def saved(self, store: Store, cycle: Cycle, plan: AllocationPlan) -> None:
        t = self.terms_
        store.deep_dives.save(
            cycle, title=t.title, purpose=t.purpose, understand=t.understand, method=t.method,
            directed_by=t.directed_by, terms_sha256=t.sha256, question_set=self.questions.id,
            filters=filters_json(self.filters), size=self.size,
            blocks_later_draws=self.block_later_draws)

    def recorded(self) -> dict[str, Any]:
        # The workers each question filter found in the audits returned so far: replaced
        # returns, later cycles and cancellations change the record, not this draw.
        return {ANSWERED: {value: sorted(workers)
                           for value, workers in sorted(self.answered.items())}}


def recorded_answers(recorded: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The workers a drawn deep dive's question filters found (``Draws.selection_of``):
    question filter value (``V4:No``) -> worker ids; empty for a draw recorded before
    qaudit kept them."""
    found = recorded.get(ANSWERED)
    if not isinstance(found, dict):
        return {}
    return {str(value): frozenset(str(w) for w in workers)
            for value, workers in found.items() if isinstance(workers, list)}


@dataclass(frozen=True)
class DeepDiveRequest:
    name: str
    terms_file: Path
    question_set: str
    filters: tuple[str, ...]
    size: int
    export: Path
    date_from: date
    date_to: date
    today: date
    due: date | None = None
    seed: int | None = None
    out: Path | None = None
    sheet: str | None = None
    dry_run: bool = False


@dataclass
class DeepDivePlan:
    """A deep dive's draw as planned: the allocation plan, and what makes it a deep dive."""

    allocation: AllocationPlan
    selection: DeepDiveSelection

    @property
    def drawn(self) -> int:
        return len(self.allocation.allocations)

    @property
    def within(self) -> int:
        """Eligible cases within the filters."""
        return sum(s.eligible for s in self.allocation.strata)

    def to_json(self) -> dict[str, Any]:
        s = self.selection
        return {**self.allocation.to_json(), "deep_dive": {
            "terms": s.terms_.to_json(), "question_set": {
                "id": s.questions.id, "version": s.questions.version,
                "title": s.questions.title},
            "filters": filters_json(s.filters), "size": s.size, "drawn": self.drawn,
            "within_filters": self.within, "blocks_later_draws": s.block_later_draws}}


def read_terms(path: Path) -> Terms:
    """The terms of reference file, checked (``themes.parse_terms``)."""
    if not path.is_file():
        raise QauditError(f"no terms of reference file {path}; write one (TOML: title,"
                          " purpose, understand, method, directed_by; see"
                          " docs/deep-dives.md) and give it with --terms.")
    size = path.stat().st_size
    if size > MAX_TERMS_BYTES:
        raise TermsError(f"the terms file {path.name} is {size:,} bytes; terms of reference"
                         f" fit in {MAX_TERMS_BYTES // 1024} KB. Keep each part to a few"
                         " paragraphs.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TermsError(f"the terms file {path} cannot be read ({exc.strerror}); check it"
                         " is closed in other programs and that you may read it.") from None
    return parse_terms(data, path.name)


def plan_deep_dive(ws: Workspace, store: Store, request: DeepDiveRequest,
                   progress: Progress | None = None) -> DeepDivePlan:
    """Check the request, read the terms, the question set and the export, and draw;
    nothing is written (``commit_allocation`` writes and stores it)."""
    settings = ws.settings
    name = request.name.strip()
    existing = store.draws.cycle(name)
    received_before: str | None = None
    recorded: dict[str, frozenset[str]] = {}
    if existing is not None:
        if existing.kind != DEEP_DIVE:
            raise CycleError(f"{existing.name!r} is a {describe_kind(existing.kind)}; give the"
                             " deep dive a name of its own, e.g. '2026-27 DD1 Safeguarding'.")
        drawn = store.draws.current_draw_id(existing.name) is not None
        if drawn and not request.dry_run:
            raise CycleError(f"deep dive {existing.name!r} is already drawn, and a draw is"
                             " final. `qaudit deep-dive show` shows it; to start again, cancel"
                             " it (`qaudit cycle cancel`) before any form comes back, or give"
                             " a new name.")
        record = store.deep_dives.get(existing.name)
        if drawn and record is not None:
            # Re-checking a recorded draw: a question filter uses the workers the draw
            # recorded (``DeepDiveSelection.recorded``), or for a draw recorded before
            # qaudit kept them, the audits on record as they stood when it was drawn.
            received_before = record.created_at
            recorded = recorded_answers(store.draws.selection_of(existing.name))
    if not 1 <= request.size <= MAX_SIZE:
        raise QauditError(f"--n {request.size}: give how many cases to draw in all, from 1 to"
                          f" {MAX_SIZE}.")
    terms = read_terms(request.terms_file)
    questions = load_question_set(request.question_set, ws.templates)
    parsed = [parse_filter(text) for text in request.filters]
    issued = store.deep_dives.issued_question_ids() if any(
        f.key == QUESTION for f in parsed) else frozenset()
    types = {normalise_label(short): key for key, short in settings.short_names().items()}
    filters = resolve_filters(parsed, {**types, **settings.audit_type_lookup()},
                              settings.quadrant_lookup(), issued)
    answered = {f.value: recorded[f.value] if f.value in recorded
                else store.deep_dives.workers_answered(*f.question, received_before)
                for f in filters if f.key == QUESTION}
    selection = DeepDiveSelection(
        terms=terms, terms_file=request.terms_file, questions=questions, filters=filters,
        answered=answered, size=request.size,
        block_later_draws=settings.deep_dives.block_later_draws, export=request.export)
    allocation = plan_allocation(ws, store, AllocationRequest(
        export=request.export, cycle=name, date_from=request.date_from,
        date_to=request.date_to, today=request.today, due=request.due, seed=request.seed,
        out=request.out, sheet=request.sheet, dry_run=request.dry_run, selection=selection,
    ), progress)
    plan = DeepDivePlan(allocation, selection)
    if 0 < plan.drawn < request.size:
        allocation.warnings.append(
            f"only {plan.drawn} of the {request.size} cases asked for could be drawn: the"
            f" filters leave {plan.within} eligible cases, and one case a person and"
            f" {settings.sampling.max_cases_per_worker} a practitioner"
            " ([sampling] max_cases_per_worker) still hold.")
    return plan


# --- list and show --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeepDiveSummary:
    """A deep dive with where it stands."""

    record: DeepDiveRecord
    state: CycleState

    def to_json(self) -> dict[str, Any]:
        r, c = self.record, self.record.cycle
        return {
            "name": r.name, "title": r.title, "purpose": r.purpose,
            "understand": r.understand, "method": r.method, "directed_by": r.directed_by,
            "terms_sha256": r.terms_sha256, "question_set": r.question_set,
            "filters": r.filters, "size": r.size,
            "blocks_later_draws": r.blocks_later_draws,
            "window": {"from": c.date_from.isoformat(), "to": c.date_to.isoformat()},
            "due": c.due_date.isoformat(), "state": self.state.state,
            "drawn": self.state.allocated, "returned": self.state.returned,
            "moderated": self.state.moderated, "created_at": r.created_at, "by": r.actor,
            "cancelled_at": c.cancelled_at,
        }

    @property
    def filters_text(self) -> str:
        return describe_filters([Filter(k, v) for k, vs in self.record.filters.items()
                                 for v in vs])


def list_deep_dives(store: Store, today: date, rate: float) -> list[DeepDiveSummary]:
    return [DeepDiveSummary(r, cycle_state(store, r.cycle, today, rate))
            for r in store.deep_dives.all()]


def show_deep_dive(store: Store, name: str, today: date, rate: float) -> DeepDiveSummary:
    record = store.deep_dives.require(name)
    return DeepDiveSummary(record, cycle_state(store, record.cycle, today, rate))


# --- the report -----------------------------------------------------------------------------


def deep_dive_rows(ws: Workspace, store: Store, name: str,
                   today: date | None = None) -> DeepDiveRows:
    """Everything the report draws on, read once."""
    record = store.deep_dives.require(name)
    cycle = record.cycle
    allocations = store.draws.allocations(cycle.name)
    questions: list[tuple[str, str, str]] = []
    title = record.question_set
    if allocations:
        qs = store.draws.issued_question_set(allocations[0].question_set_hash)
        title = f"{qs.title} ({qs.id} {qs.version})"
        questions = [(a.key, q.id, q.text) for a in qs.aspects for q in a.questions]
    ids = {q[1] for q in questions}
    # The same question of the same audit type: a question id means another question in
    # another type's set (V1 of a Care Act assessment is not V1 of a safeguarding enquiry).
    types = {a.audit_type for a in allocations}
    regular = store.draws.cycles_up_to(cycle.name, COMPARED_CYCLES)
    regular_answers = [a for c in regular for a in store.reporting.answer_counts(c)
                       if a.question_id in ids and a.audit_type in types]
    terms = Terms(record.title, record.purpose, record.understand, record.method,
                  record.directed_by, record.terms_sha256)
    return DeepDiveRows(
        name=cycle.name, terms=terms,
        filters=tuple(Filter(k, v) for k, vs in record.filters.items() for v in vs),
        size=record.size,
        window=f"{cycle.date_from:%d/%m/%Y} to {cycle.date_to:%d/%m/%Y}",
        question_set=title, allocated=len(allocations),
        audits=store.reporting.graded_audits(cycle.name),
        answers=store.reporting.answer_counts(cycle.name), questions=questions,
        regular_cycles=regular, regular_answers=regular_answers,
        **_published_regular(ws, store, regular, types, ids, today))


def _published_regular(ws: Workspace, store: Store, regular: Sequence[str],
                       types: set[str], ids: set[str], today: date | None) -> dict[str, Any]:
    """The regular figures the published report compares with: each question's answers
    and Yes % exactly as the latest regular cycle's published summary shows them (its own
    kept decision), for the deep dive's one audit type; nothing for the internal version
    (``today`` None), with no regular cycle, or for a deep dive spanning several types."""
    if today is None or not regular or len(types) != 1:
        return {}
    from qaudit.jobs.report import cycle_rows, decisions, threshold
    from qaudit.reports import ALL, cycle_disclosure, percent_text

    (audit_type,) = types
    latest = regular[-1]
    rows = cycle_rows(ws, store, latest)
    disclosure = cycle_disclosure(rows, threshold(ws, False), today, decisions(ws, store))
    yes: dict[tuple[str, str], int] = {}
    no: dict[tuple[str, str], int] = {}
    for a in rows.answers:
        if a.audit_type == audit_type and a.question_id in ids:
            counts = yes if a.answer == "Yes" else no if a.answer == "No" else None
            if counts is not None:
                key = (a.aspect, a.question_id)
                counts[key] = counts.get(key, 0) + a.count
    published: dict[str, tuple[str, str]] = {}
    for aspect, qid in sorted(set(yes) | set(no)):
        n = yes.get((aspect, qid), 0) + no.get((aspect, qid), 0)
        answers_key = ("answers", ALL, audit_type, aspect, qid)
        pct_key = ("yes_pct", ALL, audit_type, aspect, qid)
        published[qid] = (
            str(n) if disclosure.shows(answers_key) else "*",
            percent_text(yes.get((aspect, qid), 0), n)
            if n and disclosure.shows(pct_key) else ("*" if n else "–"))
    return {"published_regular": published, "published_cycle": latest}


def build_report(ws: Workspace, store: Store, name: str, *, internal: bool,
                 today: date) -> dict[str, Any]:
    """The report's data: published (suppressed, free text scrubbed) or internal."""
    from qaudit.jobs.people import scrub_for_publication
    from qaudit.jobs.report import _solver_quiet, threshold
    from qaudit.privacy import PLACEHOLDER

    rows = deep_dive_rows(ws, store, name, None if internal else today)
    scrub = (lambda t: t) if internal else scrub_for_publication(
        store, tuple(ws.settings.auditor_roles))
    with _solver_quiet():
        return deep_dive_report(rows, generated=today.strftime("%d/%m/%Y"),
                                threshold=threshold(ws, internal), internal=internal,
                                scrub=scrub, marking=ws.settings.marking,
                                removed=PLACEHOLDER)


def render_report(ws: Workspace, store: Store, name: str, out: Path | None,
                  formats: set[str], *, internal: bool, today: date,
                  browser: Path | None = None, on_report: OnReport | None = None
                  ) -> list[Path]:
    """The deep dive's report for the Practice Governance Board, in each of ``formats``
    (md, html, pdf, docx: ``jobs.outputs.write_reports``), written to ``out`` or the deep
    dive's ``reports`` folder."""
    from qaudit import layout
    from qaudit.db.files import REPORT
    from qaudit.jobs.outputs import Report, write_reports
    from qaudit.jobs.shared_files import record_placed

    stored = store.deep_dives.require(name).name
    data = build_report(ws, store, stored, internal=internal, today=today)
    folder = out or layout.report_folder(ws.cycle_dir(stored))
    # The published file is named as its heading is: the name as scrubbed.
    written = write_reports(ws, [Report("deep_dive", layout.deep_dive_stem(data["name"],
                                                                           internal),
                                        data, with_charts=False)],
                            folder, formats, today=today, browser=browser, on_report=on_report)
    record_placed(ws.root, store, written, REPORT,
                  cycle_id=store.draws.require_cycle(stored).id)
    return written
