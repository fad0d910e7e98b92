"""The report job: gather a cycle's figures once, build each report, render it.

The Board summary, the Senior Practitioners' Network highlights and one outcome report
per quadrant beside the county, built together (``qaudit.reports.cycle_reports``) so that
what is hidden is decided once for everything published for the cycle. Building is pure
(``qaudit.reports``); rendering is ``qaudit.rendering``.

Each report is written in the formats asked for by ``qaudit.jobs.outputs``: Markdown,
HTML, PDF and Word, all of a run's files or none of them.

Each decision on what to hide is kept in ``<workspace>/.cache/disclosure/`` under the hash
of its whole model (``DecisionFiles``): the same figures always get the same decision,
whichever release of qaudit made it (it may have been published), and a report whose
figures have not changed since is not worked out again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from qaudit import layout, reports
from qaudit.db import Store
from qaudit.db.files import DECISION, REPORT
from qaudit.disclosure import Key
from qaudit.errors import QauditError
from qaudit.files import write_text
from qaudit.jobs.outputs import OnReport, Report, write_reports
from qaudit.jobs.people import scrub_for_publication
from qaudit.jobs.shared_files import read_kept, record_kept, record_placed
from qaudit.moderation import sample_size
from qaudit.questions import ASPECTS
from qaudit.reports import (
    CycleReports,
    CycleRows,
    Disclosure,
    ReportKind,
    YearRows,
    build_year,
    cycle_reports,
    year_disclosure,
)
from qaudit.workspace import Workspace


class DecisionFiles:
    """Decisions on what to hide, one JSON file each under ``folder`` named by the hash of
    its model (``qaudit.disclosure.Decisions``). A file holds the keys of the figures
    hidden and nothing else (figure keys name quadrants, audit types, questions, themes,
    cycles and months: no person). Written whole; one that cannot be written stops the report
    (a decision not kept could be made otherwise next time); one that cannot be read is as
    none. With the ``store``, each is recorded with its hash as it is written, and one
    changed on the share since stops the report (``jobs.shared_files.read_kept``)."""

    def __init__(self, folder: Path, store: Store | None = None, root: Path | None = None
                 ) -> None:
        self.folder = folder
        self.store = store
        self.root = root

    def get(self, key: str) -> frozenset[Key] | None:
        path = layout.decision_file(self.folder, key)
        if path is None:
            return None
        try:
            data = json.loads(self._read(path).decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        hidden = data.get("hidden")
        if data.get("key") != key or not isinstance(hidden, list) or not all(
                isinstance(k, list) and all(isinstance(p, str) for p in k) for k in hidden):
            return None
        return frozenset(tuple(k) for k in hidden)

    def _read(self, path: Path) -> bytes:
        if self.store is None or self.root is None:
            return path.read_bytes()
        return read_kept(self.root, self.store, path, CHANGED_DECISION)

    def put(self, key: str, hidden: frozenset[Key]) -> None:
        path = layout.decision_file(self.folder, key)
        if path is None:
            return
        text = json.dumps({"key": key, "hidden": sorted(list(k) for k in hidden)}, indent=0)
        try:
            write_text(path, text + "\n")
        except OSError as exc:  # a decision not kept could be made otherwise next time
            raise QauditError(
                f"the decision on what to hide could not be kept in {self.folder}"
                f" ({exc.strerror or exc}); no report is written without it, since every later"
                " report must hide the same. Check that the workspace folder can be written"
                " to, then run the report again.") from exc
        if self.store is not None and self.root is not None:
            record_kept(self.root, self.store, path, DECISION, (text + "\n").encode("utf-8"))


#: Why a kept decision changed on the share stops a report, and what to do.
CHANGED_DECISION = (
    "A report made from a changed decision could show a figure that must stay hidden, so"
    " none is written. Put back the file qaudit wrote (the share's earlier versions, or a"
    " backup copy of the workspace folder); if that cannot be done, delete it, and qaudit"
    " decides again (the figures hidden may then differ from a report published before).")


def decisions(ws: Workspace, store: Store | None = None) -> DecisionFiles:
    """The workspace's kept decisions on what to hide; with the ``store``, each recorded
    and checked against its hash."""
    return DecisionFiles(ws.root.joinpath(*layout.DECISION_CACHE), store, ws.root)


def cycle_rows(ws: Workspace, store: Store, cycle: str) -> CycleRows:
    """Everything the reports of one cycle draw on, read from the database once. Only a
    regular cycle has these reports: a deep dive or a round of re-audits is refused."""
    from qaudit.db.draws import DEEP_DIVE, REAUDIT, describe_kind

    settings = ws.settings
    found = store.draws.require_cycle(cycle)
    if not found.regular:
        where = {DEEP_DIVE: f"its report is `qaudit report --deep-dive '{found.name}'`",
                 REAUDIT: "the re-audits' figures are `qaudit reaudit stats`"}.get(
                     found.kind, "only a regular cycle has a cycle's reports")
        raise QauditError(f"{found.name} is a {describe_kind(found.kind)}, not a regular"
                          f" cycle: {where}.")
    cycle = found.name
    questions: dict[tuple[str, str], str] = {}
    for allocation in store.draws.allocations(cycle):
        if all(k[0] != allocation.audit_type for k in questions):
            qs = store.draws.issued_question_set(allocation.question_set_hash)
            questions.update({(allocation.audit_type, q.id): q.text for q in qs.questions})
    reporting = store.reporting
    progress = reporting.allocation_progress(cycle)
    sample = store.moderation.current_sample(cycle)
    rate = sample.rate if sample else settings.moderation.rate
    audits = reporting.graded_audits(cycle)
    return CycleRows(
        cycle=cycle, quadrants=list(settings.quadrants), type_names=settings.type_names(),
        targets={q: sum(per.values()) for q, per in settings.quotas.items()},
        progress=progress, audits=audits,
        answers=reporting.answer_counts(cycle), questions=questions,
        trend=[(name, audits if name == cycle else reporting.graded_audits(name))
               for name in store.draws.cycles_up_to(cycle)],
        ri_items=store.returns.ri_items(cycle), escalations=store.returns.escalations(cycle),
        moderated=store.moderation.moderated_pairs(cycle), moderation_rate=rate,
        moderation_target=sample_size(sum(p.audit_back for p in progress), rate),
        feedback=store.people.fed_references(cycle),
    )


def threshold(ws: Workspace, internal: bool) -> int:
    """The smallest count published; the QA team's internal version shows every figure."""
    return 1 if internal else ws.settings.reporting.suppression_threshold


@contextmanager
def _solver_quiet() -> Iterator[None]:
    """Standard output closed to the integer solver while it works: the HiGHS in SciPy
    (1.12) may print a stray debugging line of its own (ERGO-Code/HiGHS#2783), which has
    no place in the terminal or in --json output. Best effort: where standard output is
    no real file (captured), nothing is done."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            try:
                yield
            finally:
                _flush_c_stdout()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _flush_c_stdout() -> None:
    """What the solver printed, out of the C library's buffer and into the null device."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to reach (Windows)
        pass


def with_earlier(ws: Workspace, store: Store, rows: CycleRows, limit: int, today: date,
                 cache: DecisionFiles | None = None) -> CycleRows:
    """``rows`` with what each earlier cycle of its trend shows in its own reports (its
    ``cycle_disclosure``, kept in the workspace's decisions): a later cycle's trend shows
    an earlier point only as that cycle's reports do."""
    cache = cache or decisions(ws, store)
    earlier = {name: reports.cycle_disclosure(cycle_rows(ws, store, name), limit, today, cache)
               for name, _ in rows.trend if name != rows.cycle}
    return dataclasses.replace(rows, earlier=earlier)


def build_reports(ws: Workspace, store: Store, cycle: str, *, internal: bool, message: str,
                  today: date) -> CycleReports:
    """Every report of the cycle as data: published (suppressed together) or internal."""
    rows = cycle_rows(ws, store, cycle)
    scrub = (lambda t: t) if internal else scrub_for_publication(
        store, tuple(ws.settings.auditor_roles))
    shown_message = scrub(message)
    limit = threshold(ws, internal)
    cache = decisions(ws, store)
    with _solver_quiet():
        if not internal:
            rows = with_earlier(ws, store, rows, limit, today, cache)
        return cycle_reports(
            rows, generated=today, threshold=limit, internal=internal,
            message=shown_message, message_scrubbed=shown_message != message,
            resources=[(r.title, r.url) for r in ws.settings.reporting.resources],
            aspect_titles=ASPECTS, scrub=scrub,
            marking=ws.settings.marking, cache=cache)


def render_all(ws: Workspace, store: Store, cycle: str, kinds: set[ReportKind],
               out: Path | None, formats: set[str], *, internal: bool, message: str,
               today: date, browser: Path | None = None, on_report: OnReport | None = None
               ) -> list[Path]:
    """Every report asked for: the summary, the highlights, one outcome per quadrant;
    written to ``out``, or the cycle's ``reports`` folder."""
    reports = build_reports(ws, store, cycle, internal=internal, message=message, today=today)
    cycle = reports.summary["cycle"]
    wanted: list[Report] = []
    if ReportKind.SUMMARY in kinds:
        wanted.append(Report("summary", layout.summary_stem(cycle, internal), reports.summary))
    if ReportKind.HIGHLIGHTS in kinds:
        wanted.append(Report("highlights", layout.highlights_stem(cycle, internal),
                             reports.highlights, with_charts=False))
    if ReportKind.QUADRANT in kinds:
        wanted += [Report("summary", layout.quadrant_stem(cycle, quadrant, internal), data)
                   for quadrant, data in reports.quadrants.items()]
    written = write_reports(ws, wanted, out or layout.report_folder(ws.cycle_dir(cycle)),
                            formats, today=today, browser=browser, on_report=on_report)
    record_placed(ws.root, store, written, REPORT, cycle_id=store.draws.require_cycle(cycle).id)
    return written


# --- the year -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeepDiveWindow:
    """A deep dive of the year as the year report lists it (``reports.DeepDiveHeld``):
    its window in dd/mm/yyyy like every other date of a report."""

    name: str
    title: str
    size: int
    window: str


def _uk_dates(text: str) -> str:
    """Every ISO date of ``text`` (``2026-08-10 to 2026-11-01``) as dd/mm/yyyy."""
    return re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", r"\3/\2/\1", text)


@dataclass(frozen=True)
class Held:
    """A workshop of the year as the year report lists it (``reports.WorkshopHeld``)."""

    name: str
    held_on: str
    cases: int
    participants: int
    agreement: str


def held(ws: Workspace, store: Store, name: str) -> Held:
    """A workshop and how far its participants agreed: Krippendorff's alpha (ordinal) with
    its 95% interval, as `qaudit workshop stats` gives it."""
    from qaudit.db.workshops import WorkshopError
    from qaudit.jobs.workshop import stats

    found = store.workshops.require(name)
    try:
        alpha = stats(ws, store, name).agreement.krippendorff_alpha
    except WorkshopError:  # no grades in yet
        return Held(found.name, f"{found.held_on:%d/%m/%Y}", len(found.cases),
                    len(found.participants), "no grades in yet")
    text = "–" if alpha.value is None else f"{alpha.value:.2f}"
    if alpha.interval is not None:
        text += f" (95% interval {alpha.interval.low:.2f} to {alpha.interval.high:.2f})"
    return Held(found.name, f"{found.held_on:%d/%m/%Y}", len(found.cases),
                len(found.participants), f"Krippendorff's alpha {text}")


def year_rows(ws: Workspace, store: Store, year: str) -> YearRows:
    """Everything the year report draws on: each of the year's regular cycles (the cycles
    ``jobs.plan.year_status`` counts) as its own reports read it, and the year's own."""
    from qaudit.grading import REQUIRES_IMPROVEMENT
    from qaudit.jobs.plan import year_status
    from qaudit.reaudits import outcomes

    settings = ws.settings
    status = year_status(settings, store, year)
    cycles = [cycle_rows(ws, store, name) for name in status.cycles]
    steps: dict[str, Collection[str]] = {}
    for name in status.cycles:
        for item in store.returns.ri_items(name):
            steps[item.reference] = tuple(item.steps)
    windows = [store.draws.require_cycle(name) for name in status.cycles]
    deep_dives = [DeepDiveWindow(d.name, d.title, d.size, _uk_dates(d.window))
                  for d in store.reporting.deep_dives_between(
                      min(c.date_from for c in windows).isoformat(),
                      max(c.date_to for c in windows).isoformat())] if windows else []
    # Re-audits of the year's Requires improvement audits (the year report counts them
    # against the year's RI grades).
    linked = [p for p in store.reaudits.pairs()
              if p.first_cycle in status.cycles and p.first_grade == REQUIRES_IMPROVEMENT]
    reaudits = outcomes(linked) if linked else None  # the report says "None recorded"
    planned = store.plan.year(status.year)
    span = ([(p.date_from, p.date_to) for p in planned]
            or [(c.date_from, c.date_to) for c in windows])
    workshops = ([held(ws, store, w.name) for w in store.workshops.summaries()
                  if min(a for a, _ in span) <= w.held_on <= max(b for _, b in span)]
                 if span else [])
    return YearRows(
        year=status.year, cycles=cycles, quadrants=list(settings.quadrants),
        type_names=settings.type_names(), target=status.target,
        completed=store.reporting.completed_months(status.cycles), steps=steps,
        step_names=dict(settings.ri.steps), reaudits=reaudits, deep_dives=deep_dives,
        workshops=workshops)


def build_year_report(ws: Workspace, store: Store, year: str, *, internal: bool,
                      today: date) -> dict[str, Any]:
    """The year report as data: published (decided with every cycle's reports) or
    internal."""
    from qaudit.grading import RANK
    from qaudit.moderation import agreement

    rows = year_rows(ws, store, year)
    if not internal:  # a deep dive's or workshop's name may name a team or a person
        scrub = scrub_for_publication(store, tuple(ws.settings.auditor_roles))
        rows = replace(rows, deep_dives=[
            DeepDiveWindow(scrub(d.name), scrub(d.title), d.size, d.window)
            for d in rows.deep_dives], workshops=[
            Held(scrub(w.name), w.held_on, w.cases, w.participants, w.agreement)
            for w in rows.workshops])
    limit = threshold(ws, internal)
    if internal:
        disclosure = Disclosure(everything=True)
    else:
        cache = decisions(ws, store)
        with _solver_quiet():
            decided = {c.cycle: reports.cycle_disclosure(c, limit, today, cache)
                       for c in rows.cycles}
            disclosure = year_disclosure(rows, limit, today, decided, cache)
    pairs = [(RANK[p.auditor_grade], RANK[p.moderated_grade])
             for c in rows.cycles for p in c.moderated]
    return build_year(rows, generated=today, threshold=limit, disclosure=disclosure,
                      internal=internal, agreement=agreement(pairs) if pairs else None,
                      marking=ws.settings.marking)


def render_year(ws: Workspace, store: Store, year: str, out: Path | None, formats: set[str],
                *, internal: bool, today: date, browser: Path | None = None,
                on_report: OnReport | None = None) -> list[Path]:
    """The year report for the Board, written to ``out`` or ``<workspace>/reports``."""
    data = build_year_report(ws, store, year, internal=internal, today=today)
    if not data["cycles"]:
        raise QauditError(f"{data['year']} has no drawn regular cycle to report on; draw one"
                          " with `qaudit allocate` first.")
    return write_reports(ws, [Report("year", layout.year_stem(data["year"], internal), data,
                                     with_charts=False)],
                         out or layout.year_report_folder(ws.root), formats, today=today,
                         browser=browser, on_report=on_report)
