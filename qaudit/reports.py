"""Report builders: pure functions from the record to the words and rows people read.

The terminal's allocation summary and status tables, and the cycle reports for the
Board, the Senior Practitioners' Network and the quadrants, as data ready to render:
every published count already suppressed. Every figure published for a cycle (the Board
summary, each quadrant's report, the highlights) is described once, as a linear figure
over the cycle's counts (``cycle_disclosure``), and ``qaudit.disclosure`` decides in one
go which are hidden: a count from 1 to threshold-1 shows as ``*``, and so does whatever
else would let a hidden count be worked out from everything published together. The
builders show a figure only if its key is shown. Free text is scrubbed by the
caller-supplied function.

Inputs are the database's rows, described here by what the builders read of them
(``Protocol``), so this module imports nothing above the framework's rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from qaudit.disclosure import Key, Terms, wilson_interval
from qaudit.grading import GOOD_OR_BETTER, GRADE_KEYS, GRADES, REQUIRES_IMPROVEMENT, RiStatus

if TYPE_CHECKING:
    from qaudit.disclosure import Bound, Decisions, Figure
    from qaudit.sampling import StratumResult

HIDDEN = "*"


class ReportKind(StrEnum):
    SUMMARY = "summary"  # the Board
    HIGHLIGHTS = "highlights"  # the Senior Practitioners' Network
    QUADRANT = "quadrant"  # one per quadrant, beside the county
    ALL = "all"  # the three above: every report of one cycle
    YEAR = "year"  # the year's figures for the Board (--year), not part of "all"

    def kinds(self) -> set[ReportKind]:
        if self is ReportKind.ALL:
            return {ReportKind.SUMMARY, ReportKind.HIGHLIGHTS, ReportKind.QUADRANT}
        return {self}


class ReportFormat(StrEnum):
    """A format ``qaudit report`` writes: Markdown, self-contained HTML, both (the
    default), PDF (printed from the HTML) or Word (the Board's papers)."""

    MD = "md"
    HTML = "html"
    BOTH = "both"
    PDF = "pdf"
    DOCX = "docx"

    def formats(self) -> set[str]:
        return {"md", "html"} if self is ReportFormat.BOTH else {str(self)}


# --- what the builders read of the record ---------------------------------------------------


class Progress(Protocol):
    @property
    def reference(self) -> str: ...
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
    def quadrant(self) -> str: ...
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


class Located(Protocol):
    @property
    def quadrant(self) -> str: ...


class Moderated(Protocol):
    @property
    def quadrant(self) -> str: ...
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
    feedback: int = 0  # returned audits whose feedback conversation is recorded

    def add(self, other: StatusRow) -> None:
        for name in STATUS_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


STATUS_COUNTS = ("allocated", "self_reflections", "audits", "overdue", "moderated", "ri_open",
                 "feedback")


def status_rows(progress: Sequence[Progress], by: str, today: date,
                fed: Collection[str] = frozenset()) -> list[StatusRow]:
    """Where a cycle stands, grouped by ``quadrant`` or ``service_manager``, with a total;
    ``fed`` the references whose feedback conversation is recorded."""
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
        g.feedback += p.audit_back and p.reference in fed
    rows = [groups[k] for k in sorted(groups, key=str.casefold)]
    total = StatusRow("Total")
    for row in rows:
        total.add(row)
    return [*rows, total]


# --- the cycle reports ----------------------------------------------------------------------

#: The key part that stands for every quadrant (the county), every audit type or every
#: grade (a total).
ALL = "(all)"


def grade_key(quadrant: str, audit_type: str, grade: str) -> Key:
    """A grade count: of a quadrant (or ALL), an audit type (or ALL), a grade (or ALL)."""
    return ("grades", quadrant, audit_type, grade)


@dataclass(frozen=True)
class Disclosure:
    """Which figures of a cycle's reports are shown; the internal version shows every one.
    A key the model does not know is hidden: nothing is published unexamined."""

    shown: frozenset[Key] = frozenset()
    everything: bool = False

    def shows(self, key: Key) -> bool:
        return self.everything or key in self.shown


@dataclass(frozen=True)
class CycleRows:
    """Everything the reports of one cycle draw on."""

    cycle: str
    quadrants: Sequence[str]  # the quadrants reported on, in order
    type_names: dict[str, str]
    targets: dict[str, int]  # per quadrant: the sum of its quotas
    progress: Sequence[Progress]
    audits: Sequence[Graded]
    answers: Sequence[Answers]
    questions: dict[tuple[str, str], str]
    trend: Sequence[tuple[str, Sequence[Graded]]]  # earlier cycles and this one, in order
    ri_items: Sequence[Monitored]
    escalations: Sequence[Located]
    moderated: Sequence[Moderated]
    moderation_rate: float
    moderation_target: int
    # References of returned audits whose feedback conversation with the practitioner is
    # recorded (``qaudit feedback record``).
    feedback: frozenset[str] = frozenset()
    # Each earlier cycle of the trend: what its own reports show (its ``cycle_disclosure``).
    # Its point on this cycle's trend shows its number and its Good or better only where
    # they do; an earlier cycle not given here shows neither.
    earlier: Mapping[str, Disclosure] = field(default_factory=dict)


def percent_text(part: int, whole: int) -> str:
    """A share as reports print it: '59%'; a dash of nothing."""
    return f"{100 * part / whole:.0f}%" if whole else "–"


def interval_text(successes: int, n: int) -> str:
    interval = wilson_interval(successes, n)
    if interval is None:
        return "–"
    return f"{100 * interval[0]:.0f}%–{100 * interval[1]:.0f}%"


def percent_and_interval(successes: int, n: int) -> str:
    return f"{percent_text(successes, n)} {interval_text(successes, n)}"


def _ordered(first: Sequence[str], more: set[str]) -> list[str]:
    return [*first, *sorted(more - set(first))]


@dataclass(frozen=True)
class DisclosureModel:
    """Every figure of a set of reports over their underlying counts, what every reader
    knows besides, the counts themselves, and the derived figures withheld from the start:
    what ``qaudit.disclosure.protect`` decides on."""

    figures: tuple[Figure, ...]
    known: tuple[Bound, ...]
    truth: dict[Key, int]
    withheld: frozenset[Key]
    # Figures of the reports every reader can work out already from what is known (a sum
    # of figures other reports show): shown, and left out of the decision.
    given: frozenset[Key] = frozenset()

    def protect(self, threshold: int, cache: Decisions | None = None) -> Disclosure:
        """Which figures are shown: decided by ``qaudit.disclosure.protect`` (kept in and
        taken from ``cache`` where given)."""
        from qaudit.disclosure import protect

        hidden = protect(self.figures, self.known, self.truth, threshold,
                         withheld=self.withheld, cache=cache)
        return Disclosure(shown=frozenset(f.key for f in self.figures) - hidden | self.given)


def cycle_disclosure(rows: CycleRows, threshold: int, today: date,
                     cache: Decisions | None = None) -> Disclosure:
    """Every figure the cycle's published reports show (``cycle_model``), and which of
    them to hide (``qaudit.disclosure.protect``; the decision kept in ``cache``)."""
    return cycle_model(rows, threshold, today).protect(threshold, cache)


def cycle_model(rows: CycleRows, threshold: int, today: date) -> DisclosureModel:
    """Every figure the cycle's published reports show, as one set of tables over the
    cycle's counts.

    The counts (the variables): grades per quadrant x audit type x grade; overdue,
    escalations, feedback shared, moderated and agreed, each theme, RI open and closed per
    quadrant; Yes and No per quadrant x question. The trend's earlier cycles are not
    here: each earlier point shows only what that cycle's own reports show
    (``CycleRows.earlier``), so it tells a reader nothing they do not know already, and
    nothing of this cycle's counts. What every reader knows besides: no quadrant
    returned more than it was allocated (nor has more overdue than not returned), moderated
    audits and their themes are among the returned, and so is every audit whose feedback
    was shared, RI items are among the RI audits, and a question is answered at most once
    per audit of its type.
    """
    from qaudit.disclosure import Bound, Figure, Kind, is_small, revealed, total

    quadrants = list(rows.quadrants)
    types = list(rows.type_names)
    every_q = _ordered(quadrants, {r.quadrant for group in (
        rows.progress, rows.audits, rows.answers, rows.ri_items, rows.escalations,
        rows.moderated) for r in group})
    every_t = _ordered(types, {a.audit_type for a in rows.audits}
                       | {a.audit_type for a in rows.answers})
    truth: dict[Key, int] = {}
    figures: list[Figure] = []
    known: list[Bound] = []
    withheld: set[Key] = set()

    def add(var: Key, n: int = 1) -> None:
        truth[var] = truth.get(var, 0) + n

    def within(q: str) -> list[str]:
        return every_q if q == ALL else [q]

    def value(variables: Sequence[Key]) -> int:
        return sum(truth[v] for v in variables)

    def count(key: Key, variables: Sequence[Key], cell: bool) -> None:
        figures.append(Figure(key, total(*variables), value(variables), cell=cell))

    def share(key: Key, variables: Sequence[Key], base: Key, n: int, priority: int,
              text: Callable[[int, int], str] = percent_text) -> int:
        """A percentage (or, with ``text``, more) of ``n``, shown only with its base."""
        part = value(variables)
        figures.append(Figure(key, total(*variables), part, Kind.DERIVED,
                              reveals=revealed(part, n, text), requires=(base,),
                              priority=priority))
        return part

    scopes = [ALL, *quadrants]
    rank = {q: (0 if q == ALL else 10) for q in scopes}

    # Grades of record, at every level published, with their totals.
    for q in every_q:
        for t in every_t:
            for g in GRADE_KEYS:
                add(("x", q, t, g), 0)
    for a in rows.audits:
        add(("x", a.quadrant, a.audit_type, a.grade))

    def xs(q: str, t: str, grades: Sequence[str]) -> list[Key]:
        return [("x", a, b, g) for a in within(q) for b in (every_t if t == ALL else [t])
                for g in grades]

    for q in scopes:
        for t in [ALL, *types]:
            for g in [*GRADE_KEYS, ALL]:
                count(grade_key(q, t, g), xs(q, t, GRADE_KEYS if g == ALL else [g]),
                      cell=g != ALL)
        n = value(xs(q, ALL, GRADE_KEYS))
        if n:
            good = share(("gob", q), xs(q, ALL, sorted(GOOD_OR_BETTER)),
                         grade_key(q, ALL, ALL), n, rank[q], percent_and_interval)
            if is_small(good, threshold) or is_small(n - good, threshold):
                withheld.add(("gob", q))

    # Allocated (shown) and returned. Overdue is not published: it changes with the day a
    # report is made, not with the record, so two reports of the same record made either
    # side of a due date would be two releases whose stars could undo each other. The QA
    # team's internal version shows it; `qaudit status` is where it is chased.
    for q in scopes:
        allocated = sum(1 for p in rows.progress if q in (ALL, p.quadrant))
        known.append(Bound(total(*xs(q, ALL, GRADE_KEYS)), hi=allocated))

    # Requires improvement: the count is the grade cell; open and closed among them.
    ri = {a.reference for a in rows.audits if a.grade == REQUIRES_IMPROVEMENT}
    for q in every_q:
        add(("open", q), 0)
        add(("closed", q), 0)
    for i in rows.ri_items:
        if i.reference in ri and i.status in (RiStatus.OPEN, RiStatus.CLOSED):
            add((str(i.status), i.quadrant))
    for q in every_q:
        # Every audit graded Requires improvement is monitored, its item open or closed
        # (``grading.ri_status_after``), and a reader who knows the framework knows it: the
        # open and closed items of a quadrant add up to its Requires improvement count.
        # (Only an item lost from the record would make them fewer: then just "at most".)
        tie = ((("open", q), 1), (("closed", q), 1),
               *((x, -1) for x in xs(q, ALL, [REQUIRES_IMPROVEMENT])))
        whole = truth[("open", q)] + truth[("closed", q)] == value(
            xs(q, ALL, [REQUIRES_IMPROVEMENT]))
        known.append(Bound(tie, lo=0 if whole else None, hi=0))
    for q in scopes:
        count(("ri_open", q), [("open", a) for a in within(q)], cell=q != ALL)
        count(("ri_closed", q), [("closed", a) for a in within(q)], cell=q != ALL)

    # Escalations.
    for q in every_q:
        add(("esc", q), 0)
    for e in rows.escalations:
        add(("esc", e.quadrant))
    for q in scopes:
        count(("escalations", q), [("esc", a) for a in within(q)], cell=q != ALL)

    # Feedback shared with the practitioner: only ever of a returned audit.
    for q in every_q:
        add(("fb", q), 0)
    for a in rows.audits:
        if a.reference in rows.feedback:
            add(("fb", a.quadrant))
    for q in every_q:
        known.append(Bound(((("fb", q), 1), *((x, -1) for x in xs(q, ALL, GRADE_KEYS))), hi=0))
    for q in scopes:
        count(("feedback", q), [("fb", a) for a in within(q)], cell=q != ALL)

    # Moderation: moderated, agreed (as exact agreement), grades changed, themes.
    for q in every_q:
        add(("m", q), 0)
        add(("agreed", q), 0)
    for pair in rows.moderated:
        add(("m", pair.quadrant))
        add(("agreed", pair.quadrant), int(pair.auditor_grade == pair.moderated_grade))
        if pair.theme:
            add(("theme", pair.quadrant, pair.theme))
    themes = sorted({pair.theme for pair in rows.moderated if pair.theme})
    for q in every_q:
        m = ("m", q)
        known.append(Bound(((m, 1), *((x, -1) for x in xs(q, ALL, GRADE_KEYS))), hi=0))
        known.append(Bound(((("agreed", q), 1), (m, -1)), hi=0))
        mine = [("theme", q, t) for t in themes if ("theme", q, t) in truth]
        known.append(Bound(((m, -1), *((v, 1) for v in mine)), hi=0))
    for q in scopes:
        ms, agreed = [("m", a) for a in within(q)], [("agreed", a) for a in within(q)]
        count(("moderated", q), ms, cell=q != ALL)
        figures.append(Figure(("changed", q), (*((v, 1) for v in ms), *((v, -1) for v in agreed)),
                              value(ms) - value(agreed), cell=q != ALL))
        if value(ms):
            share(("mod_exact", q), agreed, ("moderated", q), value(ms), rank[q] + 3)
        for theme in themes:
            found = [("theme", a, theme) for a in within(q) if ("theme", a, theme) in truth]
            if found:
                count(("theme", q, theme), found, cell=q != ALL)

    # Compliance: Yes and No per question, and per aspect; answered at most once an audit.
    questions: set[tuple[str, str, str, str]] = set()
    for answer in rows.answers:
        if answer.answer in ("Yes", "No"):
            qk = (answer.quadrant, answer.audit_type, answer.aspect, answer.question_id)
            questions.add(qk)
            add((answer.answer.lower(), *qk), answer.count)
    for qk in sorted(questions):
        add(("yes", *qk), 0)
        add(("no", *qk), 0)
        known.append(Bound(((("yes", *qk), 1), (("no", *qk), 1),
                            *((x, -1) for x in xs(qk[0], qk[1], GRADE_KEYS))), hi=0))
    for q in scopes:
        by_question: dict[tuple[str, ...], list[Key]] = {}
        by_aspect: dict[str, list[Key]] = {}
        for k in sorted(k for k in questions if q in (ALL, k[0])):
            by_question.setdefault(k[1:], []).append(("yes", *k))
            by_aspect.setdefault(k[2], []).append(("yes", *k))
        for (t, aspect, question), yes in sorted(by_question.items()):
            both = yes + [("no", *k[1:]) for k in yes]
            count(("answers", q, t, aspect, question), both, cell=q != ALL)
            share(("yes_pct", q, t, aspect, question), yes, ("answers", q, t, aspect, question),
                  value(both), rank[q] + 2)
        for aspect, yes in sorted(by_aspect.items()):
            both = yes + [("no", *k[1:]) for k in yes]
            count(("aspect_n", q, aspect), both, cell=False)
            share(("aspect_pct", q, aspect), yes, ("aspect_n", q, aspect), value(both),
                  rank[q] + 1)

    # Good practice excerpts: the highlights list them by audit type, so each type's number
    # of excerpts is published; an excerpt comes from a returned audit of its type.
    for q in every_q:
        for t in every_t:
            add(("share", q, t), 0)
    for a in rows.audits:
        if shares_good_practice(a):
            add(("share", a.quadrant, a.audit_type))
    for q in every_q:
        for t in every_t:
            known.append(Bound(((("share", q, t), 1), *((x, -1) for x in xs(q, t, GRADE_KEYS))),
                               hi=0))
    for t in every_t:
        # Not a count to hide when small (a few excerpts name nobody): published like a
        # percentage, only while it pins no hidden count.
        shared = [("share", q, t) for q in every_q]
        figures.append(Figure(("excerpts", t), total(*shared), value(shared), Kind.DERIVED,
                              reveals=(value(shared), value(shared)), priority=5))

    return DisclosureModel(tuple(figures), tuple(known), truth, frozenset(withheld))


def _row(label: str, audits: Sequence[Graded], quadrant: str, audit_type: str,
         disclosure: Disclosure) -> dict[str, Any]:
    counts = [sum(1 for a in audits if quadrant in (ALL, a.quadrant)
                  and audit_type in (ALL, a.audit_type) and a.grade == g) for g in GRADE_KEYS]
    whole = sum(counts)
    total_shown = disclosure.shows(grade_key(quadrant, audit_type, ALL))
    shown = [disclosure.shows(grade_key(quadrant, audit_type, g)) for g in GRADE_KEYS]
    return {
        "label": label,
        "cells": [str(c) if s else HIDDEN for c, s in zip(counts, shown, strict=True)],
        # A percentage is shown beside a shown count of a shown total: it tells nothing more.
        "percents": [percent_text(c, whole) if s and total_shown else HIDDEN
                     for c, s in zip(counts, shown, strict=True)],
        "total": str(whole) if total_shown else HIDDEN,
    }


def good_or_better(audits: Sequence[Graded], n_key: Key, key: Key,
                   disclosure: Disclosure) -> dict[str, str]:
    """Good or better among ``audits`` with its interval; ``n_key`` the key of their number."""
    n = len(audits)
    good = sum(1 for a in audits if a.grade in GOOD_OR_BETTER)
    shown_n = str(n) if disclosure.shows(n_key) else HIDDEN
    if n == 0 or not disclosure.shows(key):
        return {"count": HIDDEN, "percent": HIDDEN, "interval": HIDDEN, "n": shown_n}
    return {"count": str(good), "percent": percent_text(good, n),
            "interval": interval_text(good, n), "n": shown_n}


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts P2 before P10."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", text.casefold()))


def compliance(answers: Sequence[Answers],
               questions: dict[tuple[str, str], str], type_names: dict[str, str],
               threshold: int, aspect_order: Sequence[str] = (), *,
               disclosure: Disclosure | None = None, quadrant: str = ALL,
               ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Per question (of each audit type) and per aspect: Yes among Yes+No (N/A left out).
    Questions lowest first (by the percentage shown), then those not shown in audit type
    and question order; aspects in the framework's order. Without ``disclosure``, a figure
    is shown where its base reaches the threshold."""
    yes: Counter[tuple[str, str, str]] = Counter()
    base: Counter[tuple[str, str, str]] = Counter()
    for a in answers:
        if a.answer in ("Yes", "No"):
            key = (a.audit_type, a.aspect, a.question_id)
            base[key] += a.count
            yes[key] += a.count if a.answer == "Yes" else 0

    def shows(key: Key, n: int) -> bool:
        return n >= threshold if disclosure is None else disclosure.shows(key)

    per_question = []
    types = list(type_names)
    for key, n in base.items():
        audit_type, aspect, question = key
        order = (types.index(audit_type) if audit_type in types else len(types),
                 _natural(question))
        shown_n = shows(("answers", quadrant, *key), n)
        percent = (percent_text(yes[key], n) if shown_n and shows(("yes_pct", quadrant, *key), n)
                   else HIDDEN)
        # Only what is shown orders the list: a hidden rate must not show by its place.
        rank = (1, 0) if percent == HIDDEN else (0, int(percent.rstrip("%")))
        per_question.append(((*rank, order), {
            "question": f"{type_names.get(audit_type, audit_type)} {question}",
            "aspect": aspect, "text": questions.get((audit_type, question), ""),
            "n": str(n) if shown_n else HIDDEN, "percent": percent,
        }))
    per_question.sort(key=lambda x: x[0])
    aspects: Counter[str] = Counter()
    aspect_yes: Counter[str] = Counter()
    for key, n in base.items():
        aspects[key[1]] += n
        aspect_yes[key[1]] += yes[key]
    ordered = [a for a in aspect_order if a in aspects] + sorted(
        a for a in aspects if a not in aspect_order)
    per_aspect: list[dict[str, str]] = []
    for name in ordered:
        shown_n = shows(("aspect_n", quadrant, name), aspects[name])
        per_aspect.append({
            "aspect": name, "n": str(aspects[name]) if shown_n else HIDDEN,
            "percent": percent_text(aspect_yes[name], aspects[name])
            if shown_n and shows(("aspect_pct", quadrant, name), aspects[name]) else HIDDEN})
    return [q for _, q in per_question], per_aspect


def _themes(moderated: Sequence[Moderated], quadrant: str,
            disclosure: Disclosure) -> list[dict[str, str]]:
    """Themes with their counts: shown ones most frequent first, hidden ones after them
    in name order (so their place tells nothing)."""
    counts = Counter(p.theme for p in moderated if p.theme)
    listed = sorted(((0, -n, t) if disclosure.shows(("theme", quadrant, t)) else (1, 0, t))
                    for t, n in counts.items())
    return [{"theme": t, "count": HIDDEN if hidden else str(counts[t])}
            for hidden, _, t in listed]


def build_summary(
    *,
    rows: CycleRows,
    quadrant: str | None,
    generated: date,
    aspect_titles: dict[str, str],
    message: str,
    message_scrubbed: bool,
    resources: Sequence[tuple[str, str]],
    threshold: int,
    disclosure: Disclosure,
    internal: bool,
    county: dict[str, Any] | None = None,
    marking: str = "",
) -> dict[str, Any]:
    """The Board summary (``quadrant`` None) or one quadrant's outcomes beside the
    ``county``: every figure shown only where ``disclosure`` shows its key.

    ``threshold`` is 1 for the QA team's internal version: nothing is hidden there.
    ``message`` is the practice message as it will be shown; ``message_scrubbed`` says
    names were taken out of it for publication, which the report then says. ``marking``
    is the protective marking shown at the top and bottom (none if blank)."""
    q = quadrant or ALL

    def mine(items: Sequence[Any]) -> list[Any]:
        return [i for i in items if quadrant is None or i.quadrant == quadrant]

    def shown(key: Key, text: object) -> str:
        return str(text) if disclosure.shows(key) else HIDDEN

    progress, audits, moderated = mine(rows.progress), mine(rows.audits), mine(rows.moderated)
    allocated = len(progress)
    returned = sum(1 for p in progress if p.audit_back)
    overdue = sum(1 for p in progress
                  if not p.audit_back and generated > date.fromisoformat(p.due))
    returned_key = grade_key(q, ALL, ALL)
    per_question, per_aspect = compliance(mine(rows.answers), rows.questions, rows.type_names,
                                          threshold, list(aspect_titles),
                                          disclosure=disclosure, quadrant=q)
    for a in per_aspect:
        a["title"] = aspect_titles.get(a["aspect"], a["aspect"])
    # Every RI figure counts grades of record: an item withdrawn by a regrade is not one.
    requires_improvement = {a.reference for a in audits if a.grade == REQUIRES_IMPROVEMENT}
    ri_items = mine(rows.ri_items)
    ri_status = Counter(i.status for i in ri_items if i.reference in requires_improvement)
    agreed = sum(1 for p in moderated if p.auditor_grade == p.moderated_grade)
    fed = sum(1 for a in audits if a.reference in rows.feedback)
    target = rows.moderation_target if quadrant is None else None
    trend = []
    for name, items in rows.trend:
        # An earlier cycle's point exactly as that cycle's own reports show it.
        theirs = disclosure if name == rows.cycle or disclosure.everything else (
            rows.earlier.get(name, Disclosure()))
        trend.append({"cycle": name, **good_or_better(mine(items), returned_key, ("gob", q),
                                                      theirs)})
    types = list(rows.type_names)
    return {
        "cycle": rows.cycle,
        "scope": quadrant or "All quadrants and countywide services",
        "audience": ("quadrant and Countywide Directors and Service Managers" if quadrant
                     else "the Practice Governance Board"),
        "generated": generated.strftime("%d/%m/%Y"),
        "internal": internal,
        "marking": marking,
        "threshold": threshold,
        "headline": {
            "target": str(rows.targets.get(quadrant, 0) if quadrant
                          else sum(rows.targets.values())),
            "allocated": str(allocated),
            "returned": shown(returned_key, returned),
            "completion": shown(returned_key, percent_text(returned, allocated)),
            "overdue": str(overdue) if internal else None,
        },
        "grades": [{"label": g.label} for g in GRADES],
        "overall": [_row("All", audits, q, ALL, disclosure)],
        "by_quadrant": [] if quadrant else [_row(name, audits, name, ALL, disclosure)
                                            for name in rows.quadrants],
        "by_type": [_row(rows.type_names[t], audits, q, t, disclosure) for t in types],
        "good_or_better": good_or_better(audits, returned_key, ("gob", q), disclosure),
        "trend": trend,
        "compliance": per_question,
        "aspects": per_aspect,
        "ri": {"count": shown(grade_key(q, ALL, REQUIRES_IMPROVEMENT),
                              len(requires_improvement)),
               "open": shown(("ri_open", q), ri_status[RiStatus.OPEN]),
               "closed": shown(("ri_closed", q), ri_status[RiStatus.CLOSED])},
        "escalations": shown(("escalations", q), len(mine(rows.escalations))),
        "moderation": {
            "moderated": shown(("moderated", q), len(moderated)),
            # A share of shown counts tells nothing more than they do.
            "share": percent_text(len(moderated), returned) if disclosure.shows(("moderated", q))
            and disclosure.shows(returned_key) else HIDDEN,
            "rate": f"{rows.moderation_rate:.0%}",
            # The share is of the cycle's audits as a whole: a quadrant report has no target.
            "target": None if target is None else shown(returned_key, target),
            # Whether the target is met would narrow a hidden count: hidden with it.
            "met": shown(("moderated", q), "met" if returned > 0 and target is not None
                         and len(moderated) >= target else "not met yet"),
            "exact": shown(("mod_exact", q), percent_text(agreed, len(moderated))),
            "changed": shown(("changed", q), len(moderated) - agreed),
        },
        "feedback": {
            "given": shown(("feedback", q), fed),
            # A share of shown counts tells nothing more than they do.
            "share": percent_text(fed, returned) if disclosure.shows(("feedback", q))
            and disclosure.shows(returned_key) else HIDDEN,
        },
        "themes": _themes(moderated, q, disclosure),
        "message": [" ".join(block.split()) for block in re.split(r"\n\s*\n", message)
                    if block.strip()],
        "message_scrubbed": message_scrubbed,
        "resources": [{"title": t, "url": u} for t, u in resources],
        "county": county,
        # Only the QA team's internal version lists cases by reference.
        "internal_ri": [{"reference": i.reference, "quadrant": i.quadrant,
                         "status": str(i.status)} for i in ri_items] if internal else [],
    }


def shares_good_practice(audit: Graded) -> bool:
    """The auditor marked the audit's strengths as shareable, and wrote some."""
    return (audit.fields.get("share_good_practice") == "Yes"
            and bool(audit.fields.get("strengths")))


def build_highlights(
    *, rows: CycleRows, generated: date, resources: Sequence[tuple[str, str]],
    threshold: int, scrub: Callable[[str], str], internal: bool, disclosure: Disclosure,
    marking: str = "",
) -> dict[str, Any]:
    """Themes, good practice excerpts (only from audits the auditor marked shareable, with
    every known name and id scrubbed), resources: for the Senior Practitioners' Network.

    The excerpts are listed by audit type and then by text, never in the order the audits
    were stored (which follows the quadrants); a type whose number of excerpts the
    disclosure model hides has none listed."""
    shared = [a for a in rows.audits if shares_good_practice(a)]
    shown = [a for a in shared if disclosure.shows(("excerpts", a.audit_type))]
    excerpts = sorted(
        ({"type": rows.type_names.get(a.audit_type, a.audit_type),
          "text": scrub(a.fields.get("strengths", ""))} for a in shown),
        key=lambda e: (_natural(e["type"]), e["text"]))
    return {
        "cycle": rows.cycle, "generated": generated.strftime("%d/%m/%Y"), "internal": internal,
        "marking": marking, "threshold": threshold,
        "themes": _themes(rows.moderated, ALL, disclosure),
        "excerpts": excerpts,
        # Said whenever a type's number is hidden, whether or not it has any excerpts: the
        # sentence then tells nothing of the hidden number.
        "excerpts_withheld": any(not disclosure.shows(("excerpts", t)) for t in
                                 {*rows.type_names, *(a.audit_type for a in rows.audits)}),
        "resources": [{"title": t, "url": u} for t, u in resources],
    }


@dataclass(frozen=True)
class CycleReports:
    """The data of every report of one cycle, suppressed together."""

    summary: dict[str, Any]
    highlights: dict[str, Any]
    quadrants: dict[str, dict[str, Any]]


def cycle_reports(rows: CycleRows, *, generated: date, threshold: int, internal: bool,
                  message: str, message_scrubbed: bool, resources: Sequence[tuple[str, str]],
                  aspect_titles: dict[str, str], scrub: Callable[[str], str],
                  marking: str = "", cache: Decisions | None = None) -> CycleReports:
    """The Board summary, the highlights and every quadrant's report of one cycle, with one
    decision on what is hidden for all of them (``cycle_disclosure``): they go out
    together, so no figure of one may undo the suppression of another. Each carries the
    protective ``marking`` (``[organisation] protective_marking``; none if blank)."""
    disclosure = (Disclosure(everything=True) if internal
                  else cycle_disclosure(rows, threshold, generated, cache))
    common: dict[str, Any] = {
        "rows": rows, "generated": generated, "aspect_titles": aspect_titles,
        "message": message, "message_scrubbed": message_scrubbed, "resources": resources,
        "threshold": threshold, "disclosure": disclosure, "internal": internal,
        "marking": marking}
    summary = build_summary(quadrant=None, **common)
    county = {"completion": summary["headline"]["completion"],
              "returned": summary["headline"]["returned"],
              "good_or_better": summary["good_or_better"]["percent"],
              "interval": summary["good_or_better"]["interval"],
              "n": summary["good_or_better"]["n"], "ri": summary["ri"]["count"],
              "aspects": {a["aspect"]: a["percent"] for a in summary["aspects"]}}
    quadrants = {q: build_summary(quadrant=q, county=county, **common)
                 for q in rows.quadrants}
    highlights = build_highlights(rows=rows, generated=generated, resources=resources,
                                  threshold=threshold, scrub=scrub, internal=internal,
                                  disclosure=disclosure, marking=marking)
    return CycleReports(summary, highlights, quadrants)


# --- the year -------------------------------------------------------------------------------


class ReauditFigures(Protocol):
    """What the year report reads of the re-audit outcomes (``qaudit.reaudits.outcomes``)."""

    @property
    def returned(self) -> int: ...
    @property
    def improved(self) -> int: ...
    @property
    def same(self) -> int: ...
    @property
    def worse(self) -> int: ...


class DeepDiveHeld(Protocol):
    """A deep dive of the year: its name, title and the number of audits drawn."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def window(self) -> str: ...


class WorkshopHeld(Protocol):
    """An audit-the-auditor workshop of the year and how far its participants agreed."""

    @property
    def name(self) -> str: ...
    @property
    def held_on(self) -> str: ...
    @property
    def cases(self) -> int: ...
    @property
    def participants(self) -> int: ...
    @property
    def agreement(self) -> str: ...  # e.g. "Krippendorff's alpha 0.62 (95% interval ...)"


@dataclass(frozen=True)
class YearRows:
    """Everything the year report draws on: each of the year's regular cycles as its own
    reports read it (so what they publish is known), and the year's own figures."""

    year: str
    cycles: Sequence[CycleRows]  # the year's regular cycles, oldest first
    quadrants: Sequence[str]
    type_names: dict[str, str]
    target: int  # the year's target: cycles in the plan x the sum of the quotas
    completed: dict[str, str]  # reference -> the month the audited work was completed
    steps: dict[str, Collection[str]]  # RI reference -> follow-up steps recorded
    step_names: dict[str, str]  # step -> what it is, in the framework's order
    reaudits: ReauditFigures | None = None
    deep_dives: Sequence[DeepDiveHeld] = ()
    workshops: Sequence[WorkshopHeld] = ()


#: The counts of a cycle's model the year's figures are tied to: grades, Requires
#: improvement open and closed, moderated and agreed, and what is bounded by them alone
#: (overdue, feedback shared, themes, excerpts). The answers to each question enter the
#: year's model only as the bound their shown numbers put on the grade counts.
TIED = frozenset({"x", "open", "closed", "m", "agreed", "fb", "theme", "share"})
#: The outcomes of a re-audit, as the year report counts them.
REAUDIT_OUTCOMES = ("improved", "same", "worse")
UNKNOWN_MONTH = "(not known)"


def _month_label(month: str) -> str:
    try:
        return date.fromisoformat(month + "-01").strftime("%b %Y")
    except ValueError:
        return month


def year_model(rows: YearRows, threshold: int, today: date,
               disclosures: Mapping[str, Disclosure] | None = None,
               cache: Decisions | None = None) -> DisclosureModel:
    """Every figure the year report shows, over the counts of each of the year's cycles,
    with what every cycle's own published reports show as known facts and what they hide
    as counts that stay hidden.

    The counts are the cycles' (each cycle's ``cycle_model``, its counts named for the
    cycle; a later cycle's trend shows an earlier one's point only as the earlier one's
    reports do, so it adds nothing), and the year's own: Good or better and the rest per cycle x
    month the work was completed (summing to the cycle's), RI items closed with each
    follow-up step (at most the closed ones), re-audits improved, the same or worse (at
    most the RI audits). Each figure a cycle's reports show (``cycle_disclosure``, or
    ``disclosures`` where already decided) is a fact every reader of the year report
    knows; each count they hide is a figure of the year model that stays hidden, so
    ``protect`` hides whatever of the year would let one be worked out, or a small count
    of the year's own."""
    from qaudit.disclosure import Bound, Figure, Kind, is_small, revealed, total

    figures: list[Figure] = []
    known: list[Bound] = []
    truth: dict[Key, int] = {}
    withheld: set[Key] = set()
    hidden_counts: list[Figure] = []
    names = [c.cycle for c in rows.cycles]
    models = {c.cycle: cycle_model(c, threshold, today) for c in rows.cycles}
    grade_vars = {c: [v for v in m.truth if v[0] == "x"] for c, m in models.items()}

    def x_vars(cycle: str, quadrant: str = ALL, audit_type: str = ALL,
               grades: Collection[str] = GRADE_KEYS) -> list[Key]:
        return [("c", cycle, *v) for v in grade_vars[cycle] if quadrant in (ALL, v[1])
                and audit_type in (ALL, v[2]) and v[3] in grades]

    rest = [g for g in GRADE_KEYS if g not in GOOD_OR_BETTER]

    def rename(cycle: str, terms: Terms) -> Terms:
        return tuple((("c", cycle, *var), c) for var, c in terms)

    def tied(terms: Terms) -> bool:
        return all(var[0] in TIED for var, _ in terms)

    for cycle in names:
        model = models[cycle]
        for var, n in model.truth.items():
            if var[0] in TIED:
                truth[("c", cycle, *var)] = n
        shown = (disclosures or {}).get(cycle) or model.protect(threshold, cache)
        for b in model.known:
            if tied(b.terms):
                known.append(Bound(rename(cycle, b.terms), b.lo, b.hi))
        for f in model.figures:
            if not tied(f.terms):
                # The answers to a question: what a shown number tells of the grade
                # counts is that at least that many audits of the type were returned.
                if f.key[0] == "answers" and f.kind is Kind.COUNT and shown.shows(f.key):
                    _, q, t = f.key[:3]
                    known.append(Bound(total(*x_vars(cycle, q, t)), lo=f.value))
                continue
            terms = rename(cycle, f.terms)
            if shown.shows(f.key):
                lo, hi = f.known_range()
                known.append(Bound(terms, lo, hi))
            elif f.kind is Kind.COUNT:
                key = ("c", cycle, *f.key)
                hidden_counts.append(Figure(key, terms, f.value, cell=f.cell))
                withheld.add(key)

    def add(var: Key, n: int = 1) -> None:
        truth[var] = truth.get(var, 0) + n

    def value(variables: Sequence[Key]) -> int:
        return sum(truth[v] for v in variables)

    def count(key: Key, variables: Sequence[Key], cell: bool = True) -> None:
        figures.append(Figure(key, total(*variables), value(variables), cell=cell))

    def share(key: Key, part_vars: Sequence[Key], base: Key, n: int, priority: int,
              small_too: bool = True) -> None:
        part = value(part_vars)
        figures.append(Figure(key, total(*part_vars), part, Kind.DERIVED,
                              reveals=revealed(part, n, percent_and_interval),
                              requires=(base,), priority=priority))
        if small_too and (is_small(part, threshold) or is_small(n - part, threshold)):
            withheld.add(key)

    def every(quadrant: str = ALL, audit_type: str = ALL,
              grades: Collection[str] = GRADE_KEYS) -> list[Key]:
        return [v for c in names for v in x_vars(c, quadrant, audit_type, grades)]

    quadrants, types = list(rows.quadrants), list(rows.type_names)
    # Grades of record: by quadrant (every type) and by audit type (the county).
    for q, t in [(ALL, ALL), *((q, ALL) for q in quadrants), *((ALL, t) for t in types)]:
        for g in [*GRADE_KEYS, ALL]:
            count(("year", *grade_key(q, t, g)), every(q, t, GRADE_KEYS if g == ALL else [g]),
                  cell=g != ALL)
        n = value(every(q, t))
        if n:
            share(("year", "gob", q, t), every(q, t, GOOD_OR_BETTER),
                  ("year", *grade_key(q, t, ALL)), n, 0 if q == t == ALL else 10)
    returned_key = ("year", *grade_key(ALL, ALL, ALL))
    n_year = value(every())
    ri_key = ("year", *grade_key(ALL, ALL, REQUIRES_IMPROVEMENT))
    if n_year:  # the RI rate: the RI count over the returned, shown only with both
        part = value(every(grades=[REQUIRES_IMPROVEMENT]))
        figures.append(Figure(("year", "ri_rate"), total(*every(grades=[REQUIRES_IMPROVEMENT])),
                              part, Kind.DERIVED,
                              reveals=revealed(part, n_year, percent_and_interval),
                              requires=(returned_key, ri_key), priority=5))

    # By cycle: returned and Good or better (each also in the cycle's own reports).
    for c in names:
        count(("year", "cycle_n", c), x_vars(c), cell=False)
        if value(x_vars(c)):
            share(("year", "cycle_gob", c), x_vars(c, grades=GOOD_OR_BETTER),
                  ("year", "cycle_n", c), value(x_vars(c)), 20)

    # By month the audited work was completed: Good or better and the rest per cycle x
    # month, summing to the cycle's.
    months: set[str] = set()
    for each in rows.cycles:
        for a in each.audits:
            month = rows.completed.get(a.reference, UNKNOWN_MONTH)
            months.add(month)
            add(("ym", each.cycle, month, "good" if a.grade in GOOD_OR_BETTER else "rest"))
    for c in names:
        for month in sorted(months):
            add(("ym", c, month, "good"), 0)
            add(("ym", c, month, "rest"), 0)
        for side, grades in (("good", GOOD_OR_BETTER), ("rest", rest)):
            split: list[tuple[Key, int]] = [(("ym", c, m, side), 1) for m in sorted(months)]
            split += [(v, -1) for v in x_vars(c, grades=grades)]
            known.append(Bound(tuple(split), 0, 0))
    for month in sorted(months):
        both = [("ym", c, month, p) for c in names for p in ("good", "rest")]
        count(("year", "month_n", month), both)
        if value(both):
            share(("year", "month_gob", month), [("ym", c, month, "good") for c in names],
                  ("year", "month_n", month), value(both), 30)

    # Requires improvement: open and closed over the year, and the steps of the closed.
    opened = [v for v in truth if v[0] == "c" and v[2] == "open"]
    closed = [v for v in truth if v[0] == "c" and v[2] == "closed"]
    count(("year", "ri_open"), opened)
    count(("year", "ri_closed"), closed)
    ri_refs = {a.reference for c in rows.cycles for a in c.audits
               if a.grade == REQUIRES_IMPROVEMENT}
    closed_refs = {i.reference for c in rows.cycles for i in c.ri_items
                   if i.status is RiStatus.CLOSED and i.reference in ri_refs}
    for step in rows.step_names:
        var = ("ystep", step)
        add(var, sum(1 for r in closed_refs if step in rows.steps.get(r, ())))
        known.append(Bound(((var, 1), *((v, -1) for v in closed)), hi=0))
        count(("year", "step", step), [var])

    # Moderation over the year: moderated, grades changed, exact agreement.
    ms = [v for v in truth if v[0] == "c" and v[2] == "m"]
    agreed = [v for v in truth if v[0] == "c" and v[2] == "agreed"]
    count(("year", "moderated"), ms)
    figures.append(Figure(("year", "changed"), (*((v, 1) for v in ms),
                                                *((v, -1) for v in agreed)),
                          value(ms) - value(agreed)))
    if value(ms):
        share(("year", "exact"), agreed, ("year", "moderated"), value(ms), 8, small_too=False)

    # Re-audits: of the year's RI audits, improved, the same or worse.
    if rows.reaudits is not None:
        outcome = {o: int(getattr(rows.reaudits, o)) for o in REAUDIT_OUTCOMES}
        ra = [("ra", o) for o in REAUDIT_OUTCOMES]
        for o in REAUDIT_OUTCOMES:
            add(("ra", o), outcome[o])
            count(("year", "reaudit", o), [("ra", o)])
        count(("year", "reaudit_n"), ra, cell=False)
        known.append(Bound((*((v, 1) for v in ra),
                            *((v, -1) for v in every(grades=[REQUIRES_IMPROVEMENT]))), hi=0))
        if value(ra):
            share(("year", "reaudit_improved"), [("ra", "improved")], ("year", "reaudit_n"),
                  value(ra), 12)

    # A year figure that is a sum of counts the cycles' reports show is no news to anyone:
    # shown as it is, and left out of the decision (with a share of two such figures).
    given = _given(figures, known, withheld)
    return DisclosureModel((*(f for f in figures if f.key not in given), *hidden_counts),
                           tuple(known), truth, frozenset(withheld), given)


def _given(figures: Sequence[Figure], known: Sequence[Bound],
           withheld: Collection[Key]) -> frozenset[Key]:
    """The figures whose value every reader knows from ``known`` already: each cycle's part
    of its terms (``("c", cycle, ...)``, every coefficient 1) a union of counts known
    exactly; and the shares of such a count over such a count."""
    from qaudit.disclosure import Kind

    exact: dict[str, list[frozenset[Key]]] = {}
    for b in known:
        if b.lo is not None and b.lo == b.hi and b.terms and all(
                var[0] == "c" and c == 1 for var, c in b.terms):
            cycles = {var[1] for var, _ in b.terms}
            if len(cycles) == 1:
                exact.setdefault(cycles.pop(), []).append(frozenset(v for v, _ in b.terms))
    for sets in exact.values():
        sets.sort(key=lambda vs: (-len(vs), sorted(vs)))

    def covered(cycle: str, part: set[Key]) -> bool:
        left = set(part)
        for vs in exact.get(cycle, []):
            if vs <= left:
                left -= vs
                if not left:
                    return True
        return not left

    def sum_of_known(f: Figure) -> bool:
        if not f.terms or any(var[0] != "c" or c != 1 for var, c in f.terms):
            return False
        parts: dict[str, set[Key]] = {}
        for var, _ in f.terms:
            parts.setdefault(var[1], set()).add(var)
        return all(covered(cycle, part) for cycle, part in parts.items())

    given = {f.key for f in figures if f.kind is Kind.COUNT and sum_of_known(f)}
    given |= {f.key for f in figures if f.kind is Kind.DERIVED and f.key not in withheld
              and all(r in given for r in f.requires) and sum_of_known(f)}
    return frozenset(given)


def year_disclosure(rows: YearRows, threshold: int, today: date,
                    disclosures: Mapping[str, Disclosure] | None = None,
                    cache: Decisions | None = None) -> Disclosure:
    """Which of the year report's figures are shown: decided with everything each cycle's
    published reports show and hide (``year_model``; each decision kept in ``cache``)."""
    return year_model(rows, threshold, today, disclosures, cache).protect(threshold, cache)


def build_year(rows: YearRows, *, generated: date, threshold: int, disclosure: Disclosure,
               internal: bool, agreement: Any = None, marking: str = "") -> dict[str, Any]:
    """The year report for the Board: every figure shown only where ``disclosure`` (the
    year's, decided with everything each cycle's reports publish) shows its key.
    ``agreement`` is ``qaudit.moderation.agreement`` over the year's moderated audits."""
    audits = [a for c in rows.cycles for a in c.audits]
    progress = [p for c in rows.cycles for p in c.progress]
    moderated = [p for c in rows.cycles for p in c.moderated]

    def shown(key: Key, text: object) -> str:
        return str(text) if disclosure.shows(("year", *key)) else HIDDEN

    def graded(q: str, t: str) -> list[Graded]:
        return [a for a in audits if q in (ALL, a.quadrant) and t in (ALL, a.audit_type)]

    def row(label: str, q: str, t: str) -> dict[str, Any]:
        mine = graded(q, t)
        counts = [sum(1 for a in mine if a.grade == g) for g in GRADE_KEYS]
        n = len(mine)
        total_shown = disclosure.shows(("year", *grade_key(q, t, ALL)))
        cells = [disclosure.shows(("year", *grade_key(q, t, g))) for g in GRADE_KEYS]
        good = sum(1 for a in mine if a.grade in GOOD_OR_BETTER)
        gob = n > 0 and total_shown and disclosure.shows(("year", "gob", q, t))
        return {"label": label,
                "cells": [str(c) if s else HIDDEN for c, s in zip(counts, cells, strict=True)],
                "percents": [percent_text(c, n) if s and total_shown else HIDDEN
                             for c, s in zip(counts, cells, strict=True)],
                "total": str(n) if total_shown else HIDDEN,
                "gob": percent_text(good, n) if gob else HIDDEN,
                "interval": interval_text(good, n) if gob else HIDDEN}

    def point(label: str, items: Sequence[Graded], n_key: Key, gob_key: Key,
              extra: dict[str, str]) -> dict[str, str]:
        n = len(items)
        good = sum(1 for a in items if a.grade in GOOD_OR_BETTER)
        ok = n > 0 and disclosure.shows(("year", *n_key)) and disclosure.shows(
            ("year", *gob_key))
        return {"label": label, **extra, "n": shown(n_key, n),
                "gob": percent_text(good, n) if ok else HIDDEN,
                "interval": interval_text(good, n) if ok else HIDDEN}

    months = sorted({rows.completed.get(a.reference, UNKNOWN_MONTH) for a in audits})
    by_month = [point(_month_label(m), [a for a in audits
                                        if rows.completed.get(a.reference, UNKNOWN_MONTH) == m],
                      ("month_n", m), ("month_gob", m), {}) for m in months]
    by_cycle = [point(c.cycle, c.audits, ("cycle_n", c.cycle), ("cycle_gob", c.cycle),
                      {"allocated": str(len(c.progress))}) for c in rows.cycles]
    returned = len(audits)
    returned_shown = disclosure.shows(("year", *grade_key(ALL, ALL, ALL)))
    ri_refs = {a.reference for a in audits if a.grade == REQUIRES_IMPROVEMENT}
    items = [i for c in rows.cycles for i in c.ri_items if i.reference in ri_refs]
    status = Counter(i.status for i in items)
    closed = {i.reference for i in items if i.status is RiStatus.CLOSED}
    ri_n = len(ri_refs)
    rate_shown = returned > 0 and disclosure.shows(("year", "ri_rate"))
    agreed = sum(1 for p in moderated if p.auditor_grade == p.moderated_grade)
    mod_n = len(moderated)
    kappa = ""
    if (agreement is not None and getattr(agreement, "kappa", None) is not None
            and disclosure.shows(("year", "moderated")) and disclosure.shows(
                ("year", "changed")) and mod_n >= threshold):
        ci = agreement.kappa_ci
        kappa = f"{agreement.kappa:.2f}" + (
            f" (95% interval {ci.low:.2f} to {ci.high:.2f})" if ci is not None else "")
    reaudit = None
    if rows.reaudits is not None:
        r = rows.reaudits
        # Over the pairs compared (both grades of record known), as the model counts them.
        n = r.improved + r.same + r.worse
        share_ok = n > 0 and disclosure.shows(("year", "reaudit_n")) and disclosure.shows(
            ("year", "reaudit_improved"))
        reaudit = {"n": shown(("reaudit_n",), n),
                   **{o: shown(("reaudit", o), getattr(r, o)) for o in REAUDIT_OUTCOMES},
                   "share": percent_text(r.improved, n) if share_ok else HIDDEN,
                   "interval": interval_text(r.improved, n) if share_ok else HIDDEN}
    allocated = len(progress)
    return {
        "year": rows.year, "generated": generated.strftime("%d/%m/%Y"),
        "internal": internal, "marking": marking, "threshold": threshold,
        "cycles": [c.cycle for c in rows.cycles],
        "headline": {
            "target": str(rows.target), "allocated": str(allocated),
            "returned": str(returned) if returned_shown else HIDDEN,
            # A share of a shown count and a known target tells nothing more.
            "completion": percent_text(returned, rows.target) if returned_shown else HIDDEN,
        },
        "grades": [{"label": g.label} for g in GRADES],
        "by_quadrant": [row("All", ALL, ALL)] + [row(q, q, ALL) for q in rows.quadrants],
        "by_type": [row(rows.type_names[t], ALL, t) for t in rows.type_names],
        "by_month": by_month, "by_cycle": by_cycle,
        "ri": {"count": shown(grade_key(ALL, ALL, REQUIRES_IMPROVEMENT), ri_n),
               "rate": percent_text(ri_n, returned) if rate_shown else HIDDEN,
               "interval": interval_text(ri_n, returned) if rate_shown else HIDDEN,
               "open": shown(("ri_open",), status[RiStatus.OPEN]),
               "closed": shown(("ri_closed",), status[RiStatus.CLOSED]),
               "steps": [{"title": title, "count": shown(("step", step), sum(
                   1 for ref in closed if step in rows.steps.get(ref, ())))}
                   for step, title in rows.step_names.items()]},
        "moderation": {
            "moderated": shown(("moderated",), mod_n),
            "changed": shown(("changed",), mod_n - agreed),
            "exact": percent_text(agreed, mod_n) if mod_n and disclosure.shows(("year", "exact"))
            and disclosure.shows(("year", "moderated")) else HIDDEN,
            "kappa": kappa or HIDDEN if mod_n else "–",
        },
        "reaudits": reaudit,
        "deep_dives": [{"name": d.name, "title": d.title, "size": str(d.size),
                        "window": d.window} for d in rows.deep_dives],
        "workshops": [{"name": w.name, "held_on": w.held_on, "cases": str(w.cases),
                       "participants": str(w.participants), "agreement": w.agreement}
                      for w in rows.workshops],
    }
