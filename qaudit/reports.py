"""Report builders: pure functions from the record to the words and rows people read.

The terminal's allocation summary and status tables, and the cycle reports for the
Board, the Senior Practitioners' Network and the quadrants, as data ready to render:
every published count already suppressed. Published figures pass through
``qaudit.disclosure``: a count from 1 to threshold-1 shows as ``*``, and so does a second
cell wherever one hidden cell could be worked out from a total. Percentages of hidden
counts are hidden too. Free text is scrubbed by the caller-supplied function.

Inputs are the database's rows, described here by what the builders read of them
(``Protocol``), so this module imports nothing above the framework's rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from qaudit.disclosure import suppress_counts, suppress_table, wilson_interval
from qaudit.grading import GOOD_OR_BETTER, GRADE_KEYS, GRADES, REQUIRES_IMPROVEMENT, RiStatus

if TYPE_CHECKING:
    from qaudit.sampling import StratumResult

HIDDEN = "*"


class ReportKind(StrEnum):
    SUMMARY = "summary"  # the Board
    HIGHLIGHTS = "highlights"  # the Senior Practitioners' Network
    QUADRANT = "quadrant"  # one per quadrant, beside the county
    ALL = "all"

    def kinds(self) -> set[ReportKind]:
        if self is ReportKind.ALL:
            return {ReportKind.SUMMARY, ReportKind.HIGHLIGHTS, ReportKind.QUADRANT}
        return {self}


class ReportFormat(StrEnum):
    MD = "md"
    HTML = "html"
    BOTH = "both"

    def formats(self) -> set[str]:
        return {"md", "html"} if self is ReportFormat.BOTH else {str(self)}


# --- what the builders read of the record ---------------------------------------------------


class Progress(Protocol):
    @property
    def quadrant(self) -> str: ...
    @property
    def service_manager(self) -> str: ...
    @property
    def due(self) -> str: ...
    @property
    def audit_back(self) -> bool: ...
    @property
    def reflection_back(self) -> bool: ...
    @property
    def moderated(self) -> bool: ...
    @property
    def ri_open(self) -> bool: ...


class Graded(Protocol):
    @property
    def reference(self) -> str: ...
    @property
    def quadrant(self) -> str: ...
    @property
    def audit_type(self) -> str: ...
    @property
    def grade(self) -> str: ...
    @property
    def fields(self) -> dict[str, str]: ...


class Answers(Protocol):
    @property
    def audit_type(self) -> str: ...
    @property
    def aspect(self) -> str: ...
    @property
    def question_id(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def count(self) -> int: ...


class Monitored(Protocol):
    @property
    def status(self) -> RiStatus: ...
    @property
    def reference(self) -> str: ...
    @property
    def quadrant(self) -> str: ...


class Moderated(Protocol):
    @property
    def auditor_grade(self) -> str: ...
    @property
    def moderated_grade(self) -> str: ...
    @property
    def theme(self) -> str: ...


# --- the terminal ---------------------------------------------------------------------------


def shortfall_sentence(
    s: StratumResult, names: dict[str, str], per_worker: int, top_up: bool
) -> str:
    """Say plainly why a stratum was short and what was done about it: how many were
    eligible, drawn and passed over (and why), topped up, still short."""
    eligible = f"only {s.eligible}" if s.eligible < s.quota else str(s.eligible)
    head = f"{s.quadrant} · {names[s.audit_type]}: quota {s.quota}, {eligible} eligible,"
    head += f" {s.drawn} drawn"
    passed = sum(s.passed_over.values())
    if passed:
        why = ", ".join(f"{reason} {n}" if len(s.passed_over) > 1 else reason
                        for reason, n in s.passed_over.items())
        head += (f", {passed} passed over: {why} (at most {per_worker} case(s) per worker,"
                 " one per person)")
    parts = [head]
    if s.topped_up:
        sources = ", ".join(f"{names[k]} ({v})" for k, v in s.topped_up_from.items())
        parts.append(f"{s.topped_up} topped up from the quadrant's {sources}")
    if s.shortfall:
        why = "" if top_up else " (top-up is off)"
        parts.append(f"{s.shortfall} short{why}")
    return "; ".join(parts) + "."


def _listed(labels: dict[str, int], most: int) -> str:
    top = sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{label!r} ({n:,})" for label, n in top[:most])
    return shown + (f" and {len(top) - most} more" if len(top) > most else "")


def unaudited_types_hint(labels: dict[str, int], most: int = 5) -> str:
    """Which export work types were not recognised, most frequent first."""
    return (f"Work types not audited: {_listed(labels, most)}. If one should be, add it to the"
            " labels of its type under [audit_types] in qaudit.toml.")


def unknown_quadrants_hint(labels: dict[str, int]) -> str:
    """Every quadrant label of the export that names no quadrant: its rows are not drawn."""
    return (f"Quadrants not recognised: {_listed(labels, len(labels))}. Their rows are not"
            " drawn from. Add each to [quadrant_labels] in qaudit.toml as"
            " \"label\" = \"quadrant\".")


def missing_columns_hint(missing: dict[str, str]) -> str:
    """Optional columns the export lacks, and what that costs."""
    what = {"worker_name": "the practitioner's name: forms show the worker id instead, and"
            " the warning that an auditor audited their own work cannot work"}
    return " ".join(
        f"No column found for {field} ({what.get(field, 'optional')}). If the export has it,"
        f" add its header to {key} in qaudit.toml." for field, key in missing.items())


@dataclass
class StatusRow:
    """Where one group (a quadrant, a Service Manager, or the total) of a cycle stands."""

    group: str
    allocated: int = 0
    self_reflections: int = 0
    audits: int = 0
    overdue: int = 0
    moderated: int = 0
    ri_open: int = 0

    def add(self, other: StatusRow) -> None:
        for name in STATUS_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


STATUS_COUNTS = ("allocated", "self_reflections", "audits", "overdue", "moderated", "ri_open")


def status_rows(progress: Sequence[Progress], by: str, today: date) -> list[StatusRow]:
    """Where a cycle stands, grouped by ``quadrant`` or ``service_manager``, with a total."""
    groups: dict[str, StatusRow] = {}
    for p in progress:
        name = getattr(p, by)
        g = groups.setdefault(name, StatusRow(name))
        g.allocated += 1
        g.self_reflections += p.reflection_back
        g.audits += p.audit_back
        g.overdue += (not p.audit_back) and today > date.fromisoformat(p.due)
        g.moderated += p.moderated
        g.ri_open += p.ri_open
    rows = [groups[k] for k in sorted(groups, key=str.casefold)]
    total = StatusRow("Total")
    for row in rows:
        total.add(row)
    return [*rows, total]


# --- the cycle reports ----------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _row(label: str, counts: Sequence[int], hidden: Sequence[bool]) -> dict[str, Any]:
    total = sum(counts)
    return {
        "label": label,
        "cells": [HIDDEN if h else str(c) for c, h in zip(counts, hidden, strict=True)],
        "percents": [HIDDEN if h else _pct(c, total) for c, h in zip(counts, hidden, strict=True)],
        "total": str(total),
    }


def grade_table(groups: Sequence[str], audits: Sequence[Graded], key: Callable[[Graded], str],
                threshold: int, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Grades (of record) by group, with row and column suppression."""
    table = [[sum(1 for a in audits if key(a) == g and a.grade == k) for k in GRADE_KEYS]
             for g in groups]
    hidden = suppress_table(table, threshold)
    rows = [_row((names or {}).get(g, g), counts, h)
            for g, counts, h in zip(groups, table, hidden, strict=True)]
    for row, counts in zip(rows, table, strict=True):
        if 0 < sum(counts) < threshold:
            row["total"] = HIDDEN
    return rows


def good_or_better(audits: Sequence[Graded], threshold: int) -> dict[str, str]:
    n = len(audits)
    good = sum(1 for a in audits if a.grade in GOOD_OR_BETTER)
    hidden = suppress_counts([good, n - good], threshold)
    interval = wilson_interval(good, n)
    if any(hidden) or interval is None:
        return {"count": HIDDEN, "percent": HIDDEN, "interval": HIDDEN, "n": str(n)}
    return {"count": str(good), "percent": _pct(good, n),
            "interval": f"{100 * interval[0]:.0f}%–{100 * interval[1]:.0f}%", "n": str(n)}


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts P2 before P10."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", text.casefold()))


def compliance(answers: Sequence[Answers],
               questions: dict[tuple[str, str], str], type_names: dict[str, str],
               threshold: int, aspect_order: Sequence[str] = ()
               ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Per question (of each audit type) and per aspect: Yes among Yes+No (N/A left out).
    Questions lowest first, then those whose base is smaller than the threshold (not shown)
    in audit type and question order; aspects in the framework's order."""
    yes: Counter[tuple[str, str, str]] = Counter()
    base: Counter[tuple[str, str, str]] = Counter()
    for a in answers:
        if a.answer in ("Yes", "No"):
            key = (a.audit_type, a.aspect, a.question_id)
            base[key] += a.count
            yes[key] += a.count if a.answer == "Yes" else 0
    per_question = []
    types = list(type_names)
    for key, n in base.items():
        audit_type, aspect, question = key
        rate = yes[key] / n
        order = (types.index(audit_type) if audit_type in types else len(types),
                 _natural(question))
        per_question.append(((n < threshold, rate if n >= threshold else 0.0, order), {
            "question": f"{type_names.get(audit_type, audit_type)} {question}",
            "aspect": aspect, "text": questions.get((audit_type, question), ""),
            "n": str(n) if n >= threshold else HIDDEN,
            "percent": _pct(yes[key], n) if n >= threshold else HIDDEN,
        }))
    per_question.sort(key=lambda x: x[0])
    aspects: Counter[str] = Counter()
    aspect_yes: Counter[str] = Counter()
    for key, n in base.items():
        aspects[key[1]] += n
        aspect_yes[key[1]] += yes[key]
    ordered = [a for a in aspect_order if a in aspects] + sorted(
        a for a in aspects if a not in aspect_order)
    per_aspect = [{"aspect": a, "n": str(aspects[a]) if aspects[a] >= threshold else HIDDEN,
                   "percent": _pct(aspect_yes[a], aspects[a]) if aspects[a] >= threshold
                   else HIDDEN}
                  for a in ordered]
    return [q for _, q in per_question], per_aspect


def hidden_across(groups: dict[str, tuple[int, int]], threshold: int) -> set[str]:
    """Groups whose (count, rest) must be hidden in their own report, so that the county
    figure minus the other groups' figures cannot reveal it (suppression across reports)."""
    names = list(groups)
    mask = suppress_table([list(groups[g]) for g in names], threshold)
    return {g for g, row in zip(names, mask, strict=True) if any(row)}


def shown_count(n: int, threshold: int) -> str:
    return HIDDEN if 0 < n < threshold else str(n)


def build_summary(
    *,
    cycle: str,
    generated: date,
    scope: str,
    quadrants: Sequence[str],
    type_names: dict[str, str],
    aspect_titles: dict[str, str],
    target: int,
    progress: Sequence[Progress],
    audits: Sequence[Graded],
    answers: Sequence[Answers],
    questions: dict[tuple[str, str], str],
    trend: Sequence[tuple[str, Sequence[Graded]]],
    ri_items: Sequence[Monitored],
    escalations: int,
    moderated: Sequence[Moderated],
    moderation_rate: float,
    moderation_target: int | None,
    message: str,
    message_scrubbed: bool,
    resources: Sequence[tuple[str, str]],
    threshold: int,
    scrub: Callable[[str], str],
    internal: bool,
    audience: str = "the Practice Governance Board",
    county: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Board summary (or, with ``audience`` and ``county``, a quadrant's outcomes).

    ``threshold`` is 1 for the QA team's internal version: nothing is hidden there.
    ``message`` is the practice message as it will be shown; ``message_scrubbed`` says
    names were taken out of it for publication, which the report then says."""
    allocated = len(progress)
    returned = sum(1 for p in progress if p.audit_back)
    overdue = sum(1 for p in progress
                  if not p.audit_back and generated > date.fromisoformat(p.due))
    per_question, per_aspect = compliance(answers, questions, type_names, threshold,
                                          list(aspect_titles))
    for a in per_aspect:
        a["title"] = aspect_titles.get(a["aspect"], a["aspect"])
    # Every RI figure counts grades of record: an item withdrawn by a regrade is not one.
    requires_improvement = {a.reference for a in audits if a.grade == REQUIRES_IMPROVEMENT}
    ri_status = Counter(i.status for i in ri_items if i.reference in requires_improvement)
    themes = Counter(p.theme for p in moderated if p.theme)
    agreed = sum(1 for p in moderated if p.auditor_grade == p.moderated_grade)
    exact = agreed / len(moderated) if moderated else 0.0
    return {
        "cycle": cycle,
        "scope": scope,
        "audience": audience,
        "generated": generated.strftime("%d/%m/%Y"),
        "internal": internal,
        "threshold": threshold,
        "headline": {
            "target": str(target), "allocated": str(allocated),
            "returned": shown_count(returned, threshold),
            "completion": _pct(returned, allocated) if returned >= threshold else HIDDEN,
            "overdue": shown_count(overdue, threshold),
        },
        "grades": [{"label": g.label} for g in GRADES],
        "overall": grade_table(["All"], audits, lambda a: "All", threshold),
        "by_quadrant": grade_table(quadrants, audits, lambda a: a.quadrant, threshold),
        "by_type": grade_table(list(type_names), audits, lambda a: a.audit_type, threshold,
                               type_names),
        "good_or_better": good_or_better(audits, threshold),
        "trend": [{"cycle": name, **good_or_better(items, threshold)} for name, items in trend],
        "compliance": per_question,
        "aspects": per_aspect,
        "ri": {"count": shown_count(len(requires_improvement), threshold),
               "open": shown_count(ri_status[RiStatus.OPEN], threshold),
               "closed": shown_count(ri_status[RiStatus.CLOSED], threshold)},
        "escalations": shown_count(escalations, threshold),
        "moderation": {
            "moderated": shown_count(len(moderated), threshold),
            "share": _pct(len(moderated), returned) if len(moderated) >= threshold
            or not moderated else HIDDEN,
            "rate": f"{moderation_rate:.0%}",
            # The share is of the cycle's audits as a whole: a quadrant report has no target.
            "target": None if moderation_target is None else str(moderation_target),
            # Whether the target is met would narrow a hidden count: hidden with it.
            "met": HIDDEN if 0 < len(moderated) < threshold else (
                "met" if returned > 0 and len(moderated) >= (moderation_target or 0)
                else "not met yet"),
            "exact": _pct(round(exact * 100), 100) if len(moderated) >= threshold else HIDDEN,
            "changed": shown_count(len(moderated) - agreed, threshold),
        },
        "themes": [{"theme": t, "count": shown_count(n, threshold)}
                   for t, n in themes.most_common()],
        "message": [" ".join(block.split()) for block in re.split(r"\n\s*\n", message)
                    if block.strip()],
        "message_scrubbed": message_scrubbed,
        "resources": [{"title": t, "url": u} for t, u in resources],
        "county": county,
        # Only the QA team's internal version lists cases by reference.
        "internal_ri": [{"reference": i.reference, "quadrant": i.quadrant,
                         "status": str(i.status)} for i in ri_items] if internal else [],
    }


def build_highlights(
    *, cycle: str, generated: date, audits: Sequence[Graded],
    themes: Sequence[str], resources: Sequence[tuple[str, str]], threshold: int,
    scrub: Callable[[str], str], internal: bool, type_names: dict[str, str],
) -> dict[str, Any]:
    """Themes, good practice excerpts (only from audits the auditor marked shareable, with
    every known name and id scrubbed), resources: for the Senior Practitioners' Network."""
    counts = Counter(t for t in themes if t)
    excerpts = [
        {"type": type_names.get(a.audit_type, a.audit_type),
         "text": scrub(a.fields.get("strengths", ""))}
        for a in audits
        if a.fields.get("share_good_practice") == "Yes" and a.fields.get("strengths")
    ]
    return {
        "cycle": cycle, "generated": generated.strftime("%d/%m/%Y"), "internal": internal,
        "threshold": threshold,
        "themes": [{"theme": t, "count": shown_count(n, threshold)}
                   for t, n in counts.most_common()],
        "excerpts": excerpts,
        "resources": [{"title": t, "url": u} for t, u in resources],
    }
