"""The report job: gather a cycle's figures once, build each report, render it.

The Board summary, the Senior Practitioners' Network highlights and one outcome report
per quadrant beside the county. Building is pure (``qaudit.reports``); rendering is
``qaudit.rendering``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

from qaudit.db import (
    AllocationProgress,
    AnswerCount,
    EscalationItem,
    GradedAudit,
    ModeratedPair,
    RiItem,
    Store,
)
from qaudit.grading import GOOD_OR_BETTER
from qaudit.jobs.people import scrub_for_publication
from qaudit.moderation import sample_size
from qaudit.questions import ASPECTS
from qaudit.rendering import render
from qaudit.reports import (
    HIDDEN,
    ReportKind,
    build_highlights,
    build_summary,
    hidden_across,
)
from qaudit.values import cycle_slug
from qaudit.workspace import Workspace


class _InQuadrant(Protocol):
    @property
    def quadrant(self) -> str: ...


_Row = TypeVar("_Row", bound=_InQuadrant)


@dataclass
class CycleFigures:
    """Everything the reports of one cycle draw on, read from the database once."""

    cycle: str
    progress: list[AllocationProgress]
    audits: list[GradedAudit]
    answers: list[AnswerCount]
    questions: dict[tuple[str, str], str]
    trend: list[tuple[str, list[GradedAudit]]]
    ri_items: list[RiItem]
    escalations: list[EscalationItem]
    moderated: list[ModeratedPair]
    moderation_rate: float
    scrub: Callable[[str], str]


def cycle_figures(store: Store, cycle: str, internal: bool, rate: float,
                  roles: tuple[str, ...]) -> CycleFigures:
    cycle = store.draws.require_cycle(cycle).name
    questions: dict[tuple[str, str], str] = {}
    for allocation in store.draws.allocations(cycle):
        if all(k[0] != allocation.audit_type for k in questions):
            qs = store.draws.issued_question_set(allocation.question_set_hash)
            questions.update({(allocation.audit_type, q.id): q.text for q in qs.questions})
    reporting = store.reporting
    return CycleFigures(
        cycle=cycle, progress=reporting.allocation_progress(cycle),
        audits=reporting.graded_audits(cycle), answers=reporting.answer_counts(cycle),
        questions=questions,
        trend=[(name, reporting.graded_audits(name))
               for name in store.draws.cycles_up_to(cycle)],
        ri_items=store.returns.ri_items(cycle), escalations=store.returns.escalations(cycle),
        moderated=store.moderation.moderated_pairs(cycle),
        moderation_rate=sample.rate if (sample := store.moderation.current_sample(cycle))
        else rate,
        scrub=(lambda t: t) if internal else scrub_for_publication(store, roles),
    )


def threshold(ws: Workspace, internal: bool) -> int:
    """The smallest count published; the QA team's internal version shows every figure."""
    return 1 if internal else ws.settings.reporting.suppression_threshold


def summary_data(ws: Workspace, figures: CycleFigures, *, internal: bool, message: str,
                 today: date, quadrant: str | None = None) -> dict[str, Any]:
    """The Board summary, for the county or (with ``quadrant``) one quadrant beside it."""
    settings = ws.settings
    f = figures
    shown_message = f.scrub(message)

    def mine(rows: Sequence[_Row]) -> list[_Row]:
        return [r for r in rows if quadrant is None or r.quadrant == quadrant]

    county = None
    if quadrant is not None:
        whole = summary_data(ws, figures, internal=internal, message="", today=today)
        county = {"completion": whole["headline"]["completion"],
                  "returned": whole["headline"]["returned"],
                  "good_or_better": whole["good_or_better"]["percent"],
                  "interval": whole["good_or_better"]["interval"],
                  "n": whole["good_or_better"]["n"], "ri": whole["ri"]["count"],
                  "aspects": {a["aspect"]: a["percent"] for a in whole["aspects"]}}
    quotas = settings.quotas if quadrant is None else {quadrant: settings.quotas[quadrant]}
    data = build_summary(
        cycle=f.cycle, generated=today,
        scope=quadrant or "All quadrants and countywide services",
        quadrants=[] if quadrant else settings.quadrants,  # one quadrant: its own row is "All"
        type_names=settings.type_names(),
        aspect_titles=ASPECTS,
        target=sum(n for per in quotas.values() for n in per.values()),
        progress=mine(f.progress), audits=mine(f.audits), answers=mine(f.answers),
        questions=f.questions,
        trend=[(name, mine(items)) for name, items in f.trend],
        ri_items=mine(f.ri_items), escalations=len(mine(f.escalations)),
        moderated=mine(f.moderated), moderation_rate=f.moderation_rate,
        moderation_target=None if quadrant else sample_size(
            sum(p.audit_back for p in f.progress), f.moderation_rate),
        message=shown_message, message_scrubbed=shown_message != message,
        resources=[(r.title, r.url) for r in settings.reporting.resources],
        threshold=threshold(ws, internal), scrub=f.scrub, internal=internal,
        audience=("quadrant and Countywide Directors and Service Managers" if quadrant
                  else "the Practice Governance Board"),
        county=county,
    )
    if quadrant is not None and not internal:
        _hide_across_quadrants(data, f, quadrant, settings.quadrants,
                               settings.reporting.suppression_threshold)
    return data


def _hide_across_quadrants(data: dict[str, Any], f: CycleFigures, quadrant: str,
                           quadrants: list[str], threshold: int) -> None:
    """A quadrant's figure is hidden where, with the county's and the other quadrants'
    reports in hand, a small count could be worked out by subtraction."""
    good = {q: sum(1 for a in f.audits if a.quadrant == q and a.grade in GOOD_OR_BETTER)
            for q in quadrants}
    n = {q: sum(1 for a in f.audits if a.quadrant == q) for q in quadrants}
    if quadrant in hidden_across({q: (good[q], n[q] - good[q]) for q in quadrants}, threshold):
        data["good_or_better"].update(count=HIDDEN, percent=HIDDEN, interval=HIDDEN)
    ri = {q: sum(1 for i in f.ri_items if i.quadrant == q) for q in quadrants}
    if quadrant in hidden_across({q: (ri[q], n[q] - ri[q]) for q in quadrants}, threshold):
        data["ri"] = {"count": HIDDEN, "open": HIDDEN, "closed": HIDDEN}


def highlights_data(ws: Workspace, figures: CycleFigures, *, internal: bool,
                    today: date) -> dict[str, Any]:
    settings = ws.settings
    return build_highlights(
        cycle=figures.cycle, generated=today, audits=figures.audits,
        themes=[p.theme for p in figures.moderated],
        resources=[(r.title, r.url) for r in settings.reporting.resources],
        threshold=threshold(ws, internal), scrub=figures.scrub,
        internal=internal, type_names=settings.type_names(),
    )


def report_folder(ws: Workspace, cycle: str) -> Path:
    return ws.cycle_dir(cycle) / "reports"


def render_all(ws: Workspace, store: Store, cycle: str, kinds: set[ReportKind],
               out: Path | None, formats: set[str], *, internal: bool, message: str,
               today: date) -> list[Path]:
    """Every report asked for: the summary, the highlights, one outcome per quadrant;
    written to ``out``, or the cycle's ``reports`` folder."""
    figures = cycle_figures(store, cycle, internal, ws.settings.moderation.rate,
                            tuple(ws.settings.auditor_roles))
    cycle = figures.cycle
    out = out or report_folder(ws, cycle)
    slug = cycle_slug(cycle)
    templates = ws.templates
    written: list[Path] = []
    if ReportKind.SUMMARY in kinds:
        data = summary_data(ws, figures, internal=internal, message=message, today=today)
        written += render(templates, "summary", f"{slug}-summary", data, out, formats)
    if ReportKind.HIGHLIGHTS in kinds:
        data = highlights_data(ws, figures, internal=internal, today=today)
        written += render(templates, "highlights", f"{slug}-highlights", data, out, formats,
                          with_charts=False)
    if ReportKind.QUADRANT in kinds:
        for quadrant in ws.settings.quadrants:
            data = summary_data(ws, figures, internal=internal, message=message, today=today,
                                quadrant=quadrant)
            written += render(templates, "summary",
                              f"{slug}-quadrant-{cycle_slug(quadrant).lower()}",
                              data, out, formats)
    return written
