"""The report builders: figures in the framework's order, honest sorting; and no figure
hidden in a cycle's published reports can be worked out from all of them together.

``pinned_in_published`` is the independent check used here and by the end-to-end tests in
``tests/commands/test_report.py``: it reads nothing of ``qaudit.disclosure`` but the
Wilson interval. It reads every report of one cycle as published (and, for the true
values only, as the internal version shows them), each as a Markdown viewer shows it
(``as_shown``, which its callers apply), writes every figure shown as a fact about whole,
non-negative counts (a percentage or interval as the range of numerators that print the
same, given its shown base), adds what any reader knows (no quadrant returned more than
it was allocated, ...), and asks ``scipy.optimize.milp`` for each hidden count whether a
table that fits every fact gives it another value.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from qaudit.disclosure import wilson_interval
from qaudit.grading import GRADE_KEYS, GRADES, REQUIRES_IMPROVEMENT, RiStatus
from qaudit.questions import ASPECTS
from qaudit.rendering import environment
from qaudit.report_markdown import Block, Run, blocks
from qaudit.reports import compliance

if TYPE_CHECKING:
    from qaudit.reports import CycleRows


@dataclass(frozen=True)
class Count:
    audit_type: str
    aspect: str
    question_id: str
    answer: str
    count: int
    quadrant: str = "Q"


def test_compliance_is_lowest_first_then_hidden_in_question_order() -> None:
    answers = [
        Count("t", "voice", "P10", "Yes", 2), Count("t", "voice", "P2", "No", 1),
        Count("t", "voice", "P1", "Yes", 1),
        Count("t", "practice", "Q1", "Yes", 3), Count("t", "practice", "Q1", "No", 3),
        Count("t", "recording", "R1", "Yes", 9), Count("t", "recording", "R1", "No", 1),
    ]
    per_question, per_aspect = compliance(answers, {}, {"t": "T"}, 5,
                                          ["voice", "practice", "impact", "recording"])
    assert [q["question"] for q in per_question] == ["T Q1", "T R1", "T P1", "T P2", "T P10"]
    assert [q["percent"] for q in per_question] == ["50%", "90%", "*", "*", "*"]
    assert [a["aspect"] for a in per_aspect] == ["voice", "practice", "recording"]


# --- the independent check: parse what is published, ask a solver -------------------------

GRADE_LABELS = [g.label for g in GRADES]
RI_LABEL = GRADE_LABELS[GRADE_KEYS.index(REQUIRES_IMPROVEMENT)]
GOOD = [g.label for g in GRADES if g.rank >= 3]
LETTER = {title: key[0].upper() for key, title in ASPECTS.items()}
HIDDEN = "*"
EVERY = "(every)"  # a quadrant, audit type or grade part standing for all of them
ELSEWHERE = "(elsewhere)"  # audits of a quadrant no report of its own shows


def percent(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "–"


def interval(k: int, n: int) -> str:
    bounds = wilson_interval(k, n)
    return "–" if bounds is None else f"{100 * bounds[0]:.0f}%–{100 * bounds[1]:.0f}%"


def as_shown(markdown: str) -> str:
    """A report's Markdown as a viewer shows it, for a test to read its figures: each block
    as CommonMark (with GFM tables) reads it (``qaudit.report_markdown``), escapes resolved,
    so a hidden figure is the ``*`` a reader sees. One line a block, blocks apart, each
    with its marker: ``## `` a heading, ``- `` a list item (two spaces a level deeper),
    ``> `` a quote; italic ``*words*``, bold ``**words**``; a table as ``| a | b |`` rows,
    its header's followed by ``|---|``, a ``|`` in a cell written ``\\|``."""
    lines: list[str] = []
    for block in blocks(markdown):
        if block.kind == "table":
            lines += [_shown_row(block.header), "|" + "---|" * len(block.header),
                      *map(_shown_row, block.rows)]
        elif block.kind == "image":
            lines.append(f"![{block.alt}]({block.target})")
        else:
            lines.append(_shown_marker(block) + _shown_runs(block.runs))
        lines.append("")
    return "\n".join(lines)


def _shown_marker(block: Block) -> str:
    if block.kind == "heading":
        return "#" * block.level + " "
    indent = "  " * (block.level - 1)
    return {"bullet": indent + "- ", "numbered": indent, "banner": "> "}.get(block.kind, "")


_EMPHASIS = {(False, False): "", (True, False): "**", (False, True): "*", (True, True): "***"}


def _shown_runs(runs: Sequence[Run]) -> str:
    return "".join(f"{mark}{r.text}{mark}" for r in runs
                   for mark in (_EMPHASIS[r.bold, r.italic],))


def _shown_row(cells: Sequence[Sequence[Run]]) -> str:
    return "| " + " | ".join(_shown_runs(c).replace("|", r"\|") for c in cells) + " |"


def split_row(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def tables(md: str) -> Iterator[tuple[list[str], list[list[str]]]]:
    lines = md.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and lines[i + 1].startswith("|---"):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(split_row(row))
            yield split_row(line), rows


def number(cell: str) -> str:
    """The count of a table cell such as '6 (75%)'."""
    return cell.split(" ")[0]


@dataclass
class Seen:
    """One figure a report shows: a count (``expr``), or a percentage or interval of a
    count (``expr``) over a base (the count ``base``, or a fixed ``whole``)."""

    where: str
    expr: dict[tuple[str, ...], int]
    text: str
    kind: str = "count"  # count | percent | interval | at_least
    base: str | None = None
    whole: int | None = None


@dataclass
class Cycle:
    """What a reader gathers from every report of one cycle."""

    quadrants: list[str]
    types: list[str]
    seen: list[Seen] = field(default_factory=list)
    bounds: list[tuple[dict[tuple[str, ...], int], float, float]] = field(default_factory=list)


def _x(cycle: Cycle, quadrant: str, audit_type: str, grades: Sequence[str]
       ) -> dict[tuple[str, ...], int]:
    qs = [*cycle.quadrants, ELSEWHERE] if quadrant == EVERY else [quadrant]
    ts = cycle.types if audit_type == EVERY else [audit_type]
    return {("x", q, t, g): 1 for q in qs for t in ts for g in grades}


def _sum(cycle: Cycle, name: str, quadrant: str, *rest: str) -> dict[tuple[str, ...], int]:
    qs = [*cycle.quadrants, ELSEWHERE] if quadrant == EVERY else [quadrant]
    return {(name, q, *rest): 1 for q in qs}


def read_cycle(reports: Mapping[str, str], all_due: bool = False) -> Cycle:
    """Every figure of the cycle's reports: ``reports`` maps 'summary', 'highlights' and
    each quadrant's name to its Markdown. With ``all_due``, the reader knows every return
    was due before the reports were made, so what is not back is overdue."""
    county = reports["summary"]
    grade_tables = [rows for header, rows in tables(county) if header[1:5] == GRADE_LABELS]
    quadrants = [r[0] for r in grade_tables[0] if r[0] != "All"]
    types = [r[0] for r in grade_tables[1]]
    cycle = Cycle(quadrants, types)
    title = re.search(r"^# Case audit summary: (.+)$", county, flags=re.M)
    assert title is not None
    this_cycle = title[1]
    questions = [row[0] for header, rows in tables(county) if header[0] == "Question"
                 for row in rows]
    themes = sorted({theme for md in reports.values() for theme in _themes(md)})
    earlier: list[str] = []
    allocated: dict[str, int] = {}
    for name, md in reports.items():
        if name == "highlights":
            _read_themes(cycle, md, EVERY, themes)
            _read_excerpts(cycle, md)
            continue
        scope = EVERY if name == "summary" else name
        allocated[scope] = _read_summary(cycle, md, scope, this_cycle, questions, themes,
                                         earlier)
    # What any reader knows besides.
    every_q = [*quadrants, ELSEWHERE]
    for q in every_q:
        returned = _x(cycle, q, EVERY, GRADE_LABELS)
        cap = allocated[q] if q in allocated else allocated[EVERY] - sum(
            allocated[p] for p in quadrants)
        cycle.bounds.append(({**returned, ("od", q): 1}, cap if all_due else 0, cap))
        # Every Requires improvement audit is monitored, open or closed: the two add up
        # to the Requires improvement count (the random cycles keep that, as qaudit does).
        cycle.bounds.append(({("open", q): 1, ("closed", q): 1,
                              **{k: -1 for k in _x(cycle, q, EVERY, [RI_LABEL])}}, 0, 0))
        cycle.bounds.append(({("m", q): 1, **{k: -1 for k in returned}}, -math.inf, 0))
        cycle.bounds.append(({("fb", q): 1, **{k: -1 for k in returned}}, -math.inf, 0))
        cycle.bounds.append(({("agreed", q): 1, ("m", q): -1}, -math.inf, 0))
        cycle.bounds.append(({**{("theme", q, t): 1 for t in themes}, ("m", q): -1},
                             -math.inf, 0))
        for t in types:
            cycle.bounds.append(({("share", q, t): 1,
                                  **{k: -1 for k in _x(cycle, q, t, GRADE_LABELS)}},
                                 -math.inf, 0))
        for question in questions:
            t = next(t for t in types if question.startswith(t + " "))
            cycle.bounds.append(({("yes", q, question): 1, ("no", q, question): 1,
                                  **{k: -1 for k in _x(cycle, q, t, GRADE_LABELS)}},
                                 -math.inf, 0))
    return cycle


def _themes(md: str) -> dict[str, str]:
    """The learning themes a report lists, with their counts."""
    title = "## Learning themes" if "## Learning themes" in md else "## Themes from moderation"
    section = md.split(title)[1].split("\n##")[0]
    return dict(re.findall(r"^- (.+): (\S+)$", section, flags=re.M))


def _read_excerpts(cycle: Cycle, md: str) -> None:
    """The good practice excerpts are listed by type: each type's number is published,
    unless the highlights say some are withheld (then a type with none listed could have
    any number)."""
    section = md.split("## Good practice")[1].split("\n##")[0]
    listed = re.findall(r"^- \*(.+?)\*: ", section, flags=re.M)
    withheld = "withheld" in section
    for t in cycle.types:
        n = listed.count(t)
        cycle.seen.append(Seen(f"excerpts {t}", _sum(cycle, "share", EVERY, t),
                               HIDDEN if withheld and not n else str(n)))


def _read_themes(cycle: Cycle, md: str, scope: str, themes: list[str]) -> None:
    listed = _themes(md)
    for theme in themes:
        cycle.seen.append(Seen(f"{scope} theme {theme}", _sum(cycle, "theme", scope, theme),
                               listed.get(theme, "0")))


def _read_summary(cycle: Cycle, md: str, scope: str, this_cycle: str, questions: list[str],
                  themes: list[str], earlier: list[str]) -> int:
    see = cycle.seen.append
    returned = f"{scope} returned"
    every = _x(cycle, scope, EVERY, GRADE_LABELS)
    good = _x(cycle, scope, EVERY, GOOD)
    head = next(rows[0] for header, rows in tables(md) if header[0] == "Target")
    allocated = int(head[1])
    see(Seen(returned, every, head[2]))
    see(Seen(f"{scope} completion", every, head[3], "percent", whole=allocated))
    if len(head) > 4:  # the internal version's Overdue (the published one has none)
        see(Seen(f"{scope} overdue", _sum(cycle, "od", scope), head[4]))
    found = re.search(r"^Good or better: (\S+) of (\S+) audits \(95% interval (\S+)\)\.",
                      md, flags=re.M)
    assert found is not None
    see(Seen(f"{scope} n", every, found[2]))
    see(Seen(f"{scope} good or better", good, found[1], "percent", base=f"{scope} n"))
    see(Seen(f"{scope} interval", good, found[3], "interval", base=f"{scope} n"))
    grade_tables = [rows for header, rows in tables(md) if header[1:5] == GRADE_LABELS]
    for row in grade_tables[0]:
        q = scope if row[0] == "All" else row[0]
        for g, cell in zip([*GRADE_LABELS, EVERY], row[1:], strict=True):
            see(Seen(f"{q} grade {g}", _x(cycle, q, EVERY, GRADE_LABELS if g == EVERY else [g]),
                     number(cell)))
    for row in grade_tables[1]:
        for g, cell in zip([*GRADE_LABELS, EVERY], row[1:], strict=True):
            see(Seen(f"{scope} {row[0]} grade {g}",
                     _x(cycle, scope, row[0], GRADE_LABELS if g == EVERY else [g]),
                     number(cell)))
    for row in next(rows for header, rows in tables(md) if header[0] == "Cycle"):
        name, n, pct, iv = row
        if name == this_cycle:
            see(Seen(f"{scope} trend n", every, n))
            see(Seen(f"{scope} trend good or better", good, pct, "percent", base=f"{scope} n"))
            see(Seen(f"{scope} trend interval", good, iv, "interval", base=f"{scope} n"))
            continue
        if name not in earlier:
            earlier.append(name)
        tg, tr = _sum(cycle, "tg", scope, name), _sum(cycle, "tr", scope, name)
        see(Seen(f"{scope} {name} n", {**tg, **tr}, n))
        see(Seen(f"{scope} {name} %", tg, pct, "percent", base=f"{scope} {name} n"))
        see(Seen(f"{scope} {name} interval", tg, iv, "interval", base=f"{scope} {name} n"))
    listed = {row[0]: (row[2], row[3]) for header, rows in tables(md)
              if header[0] == "Question" for row in rows}
    by_letter: dict[str, dict[tuple[str, ...], int]] = {}
    for question in questions:
        n, pct = listed.get(question, ("0", "–"))
        yes, no = _sum(cycle, "yes", scope, question), _sum(cycle, "no", scope, question)
        see(Seen(f"{scope} {question} n", {**yes, **no}, n))
        see(Seen(f"{scope} {question} %", yes, pct, "percent", base=f"{scope} {question} n"))
        letter = question.rsplit(" ", 1)[1][0]
        by_letter.setdefault(letter, {}).update({**yes, **no})
        by_letter.setdefault(letter + "yes", {}).update(yes)
    for row in next((rows for header, rows in tables(md) if header[0] == "Aspect"), []):
        letter = LETTER[row[0]]
        see(Seen(f"{scope} {row[0]} n", by_letter.get(letter, {}), row[1]))
        see(Seen(f"{scope} {row[0]} %", by_letter.get(letter + "yes", {}), row[2], "percent",
                 base=f"{scope} {row[0]} n"))
    ri = re.search(r"^- Requires improvement: (\S+) \((\S+) open, (\S+) closed\)", md, re.M)
    assert ri is not None
    see(Seen(f"{scope} RI", _x(cycle, scope, EVERY, [RI_LABEL]), ri[1]))
    see(Seen(f"{scope} RI open", _sum(cycle, "open", scope), ri[2]))
    see(Seen(f"{scope} RI closed", _sum(cycle, "closed", scope), ri[3]))
    esc = re.search(r"^- Concerns escalated to managers: (\S+)$", md, re.M)
    assert esc is not None
    see(Seen(f"{scope} escalations", _sum(cycle, "esc", scope), esc[1]))
    mod = re.search(r"^- Moderated: (\S+) of (\S+) returned audits \((\S+)\); (?:the \S+ target"
                    r" \((\S+)\) is (met|not met yet|\*); )?exact agreement (\S+);"
                    r" grades changed (\S+)$", md, re.M)
    assert mod is not None
    m, agreed = _sum(cycle, "m", scope), _sum(cycle, "agreed", scope)
    see(Seen(f"{scope} moderated", m, mod[1]))
    see(Seen(returned + " (moderation)", every, mod[2]))
    see(Seen(f"{scope} moderated share", m, mod[3], "percent", base=returned))
    if mod[4] is not None:
        assert mod[4] == HIDDEN or head[2] != HIDDEN, "a target shown beside a hidden base"
        if mod[5] != HIDDEN and mod[4] != HIDDEN:
            target = int(mod[4])
            see(Seen(f"{scope} target met", m, "met" if mod[5] == "met" else "not",
                     "at_least", whole=target))
    see(Seen(f"{scope} exact agreement", agreed, mod[6], "percent", base=f"{scope} moderated"))
    see(Seen(f"{scope} grades changed", {**m, **{k: -1 for k in agreed}}, mod[7]))
    fb = re.search(r"^- Feedback shared with practitioners: (\S+) of (\S+) returned audits"
                   r" \((\S+)\)$", md, re.M)
    assert fb is not None
    shared = _sum(cycle, "fb", scope)
    see(Seen(f"{scope} feedback", shared, fb[1]))
    see(Seen(returned + " (feedback)", every, fb[2]))
    see(Seen(f"{scope} feedback share", shared, fb[3], "percent", base=returned))
    _read_themes(cycle, md, scope, themes)
    beside = {row[0]: row[1:] for header, rows in tables(md)
              if header[0] == "Beside the county" for row in rows}
    if beside:  # the quadrant's own column repeats its figures; the county's, the summary's
        assert beside["Completion"][0] == head[3]
        assert beside["Good or better"][0] == found[1]
        assert beside["Requires improvement"][0] == ri[1]
        county = re.search(r"^The county as a whole: (\S+) of (\S+) \(95% interval (\S+)\)",
                           md, re.M)
        assert county is not None
        see(Seen(f"{scope}: county n", _x(cycle, EVERY, EVERY, GRADE_LABELS), county[2]))
        see(Seen(f"{scope}: county good or better", _x(cycle, EVERY, EVERY, GOOD), county[1],
                 "percent", base=f"{scope}: county n"))
        see(Seen(f"{scope}: county interval", _x(cycle, EVERY, EVERY, GOOD), county[3],
                 "interval", base=f"{scope}: county n"))
        see(Seen(f"{scope}: county RI", _x(cycle, EVERY, EVERY, [RI_LABEL]),
                 beside["Requires improvement"][1]))
    return allocated


def _values(seen: Sequence[Seen]) -> dict[str, str]:
    return {s.where: s.text for s in seen}


Expr = dict[tuple[str, ...], int]
Fact = tuple[Expr, float, float]


def _facts(cycle: Cycle, truth: Mapping[str, str] | None,
           counts: Callable[[str], bool] = lambda where: True,
           rename: Callable[[tuple[str, ...]], Expr] = lambda k: {k: 1},
           ) -> tuple[list[Fact], list[tuple[str, Expr, int]]]:
    """What a reader knows from ``cycle`` (its figures shown and what any reader knows, over
    the counts ``rename`` names), and its hidden counts (those ``counts`` picks) with their
    true values from ``truth`` (none without it)."""

    def named(expr: Expr) -> Expr:
        out: Expr = {}
        for k, c in expr.items():
            for var, d in rename(k).items():
                out[var] = out.get(var, 0) + c * d
        return out

    shown = _values(cycle.seen)
    rows: list[Fact] = [(named(e), lo, hi) for e, lo, hi in cycle.bounds]
    targets = []
    for s in cycle.seen:
        expr = named(s.expr)
        if s.text == HIDDEN:
            # An excerpt count is no secret of its own: hidden, it only frees others.
            if (truth is not None and s.kind == "count" and counts(s.where)
                    and not s.where.startswith("excerpts ")):
                targets.append((s.where, expr, int(truth[s.where])))
            continue
        if s.kind == "count":
            rows.append((expr, int(s.text), int(s.text)))
            continue
        if s.kind == "at_least":
            assert s.whole is not None
            rows.append((expr, s.whole, math.inf) if s.text == "met"
                        else (expr, -math.inf, s.whole - 1))
            continue
        whole = s.whole if s.whole is not None else shown[s.base or ""]
        assert whole != HIDDEN, f"{s.where} is shown, its base {s.base} is not"
        n = int(whole)
        text = percent if s.kind == "percent" else interval
        same = [k for k in range(n + 1) if text(k, n) == s.text]
        assert same, (s.where, s.text, n)
        rows.append((expr, min(same), max(same)))
    return rows, targets


def _solve_facts(rows: list[Fact], targets: list[tuple[str, Expr, int]]) -> list[str]:
    keys = sorted({k for e, _, _ in rows for k in e} | {k for _, e, _ in targets for k in e})
    index = {k: i for i, k in enumerate(keys)}
    return _pinned([({index[k]: c for k, c in e.items()}, lo, hi) for e, lo, hi in rows],
                   len(keys), [(w, {index[k]: c for k, c in e.items()}, v)
                               for w, e, v in targets])


def pinned_in_published(published: Mapping[str, str], internal: Mapping[str, str],
                        counts: Callable[[str], bool] = lambda where: True,
                        all_due: bool = False) -> list[str]:
    """Every hidden count of the published reports (those ``counts`` picks) that the
    figures shown pin to one value; an empty list when none is."""
    rows, targets = _facts(read_cycle(published, all_due), _values(read_cycle(internal).seen),
                           counts)
    return _solve_facts(rows, targets)


def pinned_with_a_later_trend(earlier: Mapping[str, str], earlier_internal: Mapping[str, str],
                              name: str, later: Mapping[str, str]) -> list[str]:
    """Every hidden count of an earlier cycle's published reports that they pin together
    with a later cycle's published reports, whose trend shows the earlier cycle ``name``:
    its point there (a number, a percentage, an interval) is read over the earlier cycle's
    own grade counts of the quadrant (or the county)."""
    first = read_cycle(earlier)

    def mine(k: tuple[str, ...]) -> Expr:
        return {("earlier", *k): 1}

    def theirs(k: tuple[str, ...]) -> Expr:
        if k[0] in ("tg", "tr") and k[2] == name:  # ("tg", quadrant, cycle)
            grades = GOOD if k[0] == "tg" else [g for g in GRADE_LABELS if g not in GOOD]
            return {("earlier", *x): 1 for x in _x(first, k[1], EVERY, grades)}
        return {("later", *k): 1}

    rows, targets = _facts(first, _values(read_cycle(earlier_internal).seen), rename=mine)
    more, _ = _facts(read_cycle(later), None, rename=theirs)
    return _solve_facts(rows + more, targets)


def _pinned(rows: list[tuple[dict[int, int], float, float]], size: int,
            targets: list[tuple[str, dict[int, int], int]]) -> list[str]:
    """For each target, look for a whole table meeting every row where it is one more or
    one less than its true value (the linear relaxation first, when its answer is whole);
    every table found also serves the targets after it."""
    data = [float(c) for e, _, _ in rows for c in e.values()]
    at_row = [r for r, (e, _, _) in enumerate(rows) for _ in e]
    at_col = [i for e, _, _ in rows for i in e]
    matrix = csr_array((data, (at_row, at_col)), shape=(len(rows), size))
    lo = np.array([r[1] for r in rows], dtype=float)
    hi = np.array([r[2] for r in rows], dtype=float)
    cap = 10 * (1 + max([abs(x) for x in lo[np.isfinite(lo)]] + [abs(x) for x in
                        hi[np.isfinite(hi)]] + [1]))
    tables_found: list[np.ndarray[Any, Any]] = []
    pinned = []
    for where, expr, value in targets:
        e = np.zeros(size)
        for i, c in expr.items():
            e[i] = c
        if any(round(float(e @ x)) != value for x in tables_found):
            continue
        for sign, extra in ((-1.0, (value + 1, math.inf)), (1.0, (-math.inf, value - 1))):
            constraints = [LinearConstraint(matrix, lo, hi),
                           LinearConstraint(e.reshape(1, -1), *extra)]
            found = None
            for integrality in (0, 1):
                result = milp(sign * e, constraints=constraints, bounds=Bounds(0, cap),
                              integrality=np.full(size, integrality))
                if result.status != 0:
                    break
                whole = np.rint(result.x)
                if (np.all(matrix @ whole >= lo - 1e-6) and np.all(matrix @ whole <= hi + 1e-6)
                        and extra[0] - 1e-6 <= e @ whole <= extra[1] + 1e-6):
                    found = whole
                    break
            if found is not None:
                tables_found.append(found)
                break
        else:
            pinned.append(f"{where} (= {value})")
    return pinned


# --- random cycles, reported as the report job reports them --------------------------------


@dataclass(frozen=True)
class Progress:
    reference: str
    quadrant: str
    due: str
    audit_back: bool
    service_manager: str = "SM"
    reflection_back: bool = False
    moderated: bool = False
    ri_open: bool = False


@dataclass(frozen=True)
class Audit:
    reference: str
    quadrant: str
    audit_type: str
    grade: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    reference: str
    quadrant: str
    status: RiStatus


@dataclass(frozen=True)
class Pair:
    quadrant: str
    auditor_grade: str
    moderated_grade: str
    theme: str


@dataclass(frozen=True)
class Escalation:
    quadrant: str


DAY = date(2026, 12, 20)
THRESHOLD = 5


def random_cycle(counts: dict[tuple[str, str, str], int], seed: int,
                 earlier: dict[tuple[str, str], int] | None = None,
                 answers: Sequence[Any] = (), feedback: float = 0.0,
                 all_due: bool = False) -> CycleRows:
    """A cycle with these grade counts per (quadrant, type, grade); the rest (overdue, RI
    follow-up, moderation, escalations) drawn from ``seed``, and feedback shared for about
    the share ``feedback`` of the returned audits (drawn apart, so the rest is the same
    whatever it is)."""
    from qaudit.reports import CycleRows

    rng = random.Random(seed)
    quadrants = sorted({q for q, _, _ in counts})
    types = sorted({t for _, t, _ in counts})
    audits = [Audit(f"A{q}{t}{g}{i}", q, t, g,
                    {"share_good_practice": "Yes", "strengths": "Clear recording."}
                    if rng.random() < 0.3 else {})
              for (q, t, g), n in sorted(counts.items()) for i in range(n)]
    progress = [Progress(a.reference, a.quadrant, "2026-12-11", True) for a in audits]
    progress += [Progress(f"N{q}{i}", q, "2026-12-11" if all_due else rng.choice(
        ["2026-12-11", "2027-01-11"]), False)
                 for q in quadrants for i in range(rng.randint(0, 3))]
    items = [Item(a.reference, a.quadrant, rng.choice([RiStatus.OPEN, RiStatus.CLOSED]))
             for a in audits if a.grade == REQUIRES_IMPROVEMENT]
    sample = [a for a in audits if rng.random() < 0.25]
    pairs = [Pair(a.quadrant, a.grade, a.grade if rng.random() < 0.8 else rng.choice(GRADE_KEYS),
                  rng.choice(["", "Voice", "Recording", "Impact"])) for a in sample]
    shared = random.Random(f"feedback:{seed}")
    trend: list[tuple[str, Sequence[Audit]]] = [("C3", audits)]
    if earlier is not None:
        before = [Audit(f"B{q}{g}{i}", q, types[0], g)
                  for (q, g), n in sorted(earlier.items()) for i in range(n)]
        trend.insert(0, ("C2", before))
    return CycleRows(
        cycle="C3", quadrants=quadrants, type_names={t: f"Type {t}" for t in types},
        targets={q: 10 for q in quadrants}, progress=progress, audits=audits,
        answers=list(answers), questions={}, trend=trend, ri_items=items,
        escalations=[Escalation(rng.choice(quadrants)) for _ in range(rng.randint(0, 6))],
        moderated=pairs, moderation_rate=0.2, moderation_target=math.ceil(0.2 * len(audits)),
        feedback=frozenset(a.reference for a in audits if shared.random() < feedback),
    )


def markdown(rows: CycleRows, internal: bool) -> dict[str, str]:
    """Every report of the cycle in Markdown, as the report job renders it (charts aside),
    as a viewer shows it (``as_shown``)."""
    from qaudit.reports import cycle_reports

    reports = cycle_reports(rows, generated=DAY, threshold=1 if internal else THRESHOLD,
                            internal=internal, message="", message_scrubbed=False,
                            resources=[], aspect_titles=ASPECTS, scrub=lambda t: t)
    env = environment(Path("/nonexistent"), html=False)
    charts = {"grades": "grades.svg", "trend": "trend.svg"}
    out = {"summary": env.get_template("summary.md.j2").render(**reports.summary,
                                                                charts=charts),
           "highlights": env.get_template("highlights.md.j2").render(**reports.highlights)}
    for q, data in reports.quadrants.items():
        out[q] = env.get_template("summary.md.j2").render(**data, charts=charts)
    return {name: as_shown(text) for name, text in out.items()}


def pinned_in(rows: CycleRows, all_due: bool = False) -> list[str]:
    return pinned_in_published(markdown(rows, internal=False), markdown(rows, internal=True),
                               all_due=all_due)


def leaking_cycle() -> CycleRows:
    """Issue 10: 'Good or better: 62% of 24' beside 'All | * | 7 | 12 | * | 24'. Twenty-four
    audits: Requires improvement 2, Adequate 7, Good 12, Outstanding 3, over two quadrants
    and two types; 62% of 24 can only be 15 good or better, so Outstanding is 15 - 12 = 3
    and Requires improvement 24 - 7 - 15 = 2."""
    ri, ad, good, out = "requires_improvement", "adequate", "good", "outstanding"
    return random_cycle({
        ("North", "a", ri): 1, ("North", "a", ad): 4, ("North", "a", good): 6,
        ("North", "a", out): 2, ("North", "b", ad): 0, ("North", "b", good): 0,
        ("South", "a", ad): 0, ("South", "b", ri): 1, ("South", "b", ad): 3,
        ("South", "b", good): 6, ("South", "b", out): 1,
    }, seed=3)


def test_good_or_better_cannot_undo_the_suppression_of_the_grade_table() -> None:
    rows = leaking_cycle()
    county = markdown(rows, internal=False)["summary"]
    assert "| All | * | 7 (29%) | 12 (50%) | * | 24 |" in county
    # 62% (and its interval) would pin both hidden counts: the share is hidden instead ...
    assert "Good or better: * of 24 audits (95% interval *)." in county
    assert pinned_in(rows) == []  # ... and nothing else published works them out


def test_the_checker_finds_the_leak_the_issue_reports() -> None:
    """The checker itself: with the county's 'Good or better' published as the old
    suppression did (62% of 24, 42%-79%), Outstanding and Requires improvement are pinned."""
    rows = leaking_cycle()
    published = markdown(rows, internal=False)
    county = published["summary"]
    assert "| All | * | 7 (29%) | 12 (50%) | * | 24 |" in county
    published["summary"] = re.sub(r"^Good or better: .*$",
                                  f"Good or better: 62% of 24 audits (95% interval"
                                  f" {interval(15, 24)}).", county, count=1, flags=re.M)
    pinned = pinned_in_published(published, markdown(rows, internal=True),
                                 lambda where: where.startswith(EVERY + " grade"))
    assert pinned == ["(every) grade Requires improvement (= 2)",
                      "(every) grade Outstanding (= 3)"]


grade_counts = st.integers(2, 5).flatmap(lambda nq: st.integers(2, 4).flatmap(
    lambda nt: st.dictionaries(
        st.tuples(st.sampled_from([f"Q{i}" for i in range(nq)]),
                  st.sampled_from([f"t{i}" for i in range(nt)]), st.sampled_from(GRADE_KEYS)),
        st.integers(0, 12), min_size=nq, max_size=nq * nt * 4)))
earlier_counts = st.none() | st.dictionaries(
    st.tuples(st.sampled_from(["Q0", "Q1", "Q2"]), st.sampled_from(GRADE_KEYS)),
    st.integers(0, 9), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grade_counts, st.integers(0, 1000), earlier_counts, st.sampled_from([0.0, 0.3, 0.8, 1.0]))
def test_no_hidden_count_of_a_random_cycle_can_be_worked_out(
    counts: dict[tuple[str, str, str], int], seed: int,
    earlier: dict[tuple[str, str], int] | None, feedback: float,
) -> None:
    """Random small cycles (2-5 quadrants, 2-4 audit types, 0-12 audits a cell, an earlier
    cycle for the trend, feedback shared for none, some, most or all of the audits), every
    report built and rendered as the job does: every count shown as '*' could still be at
    least two values."""
    if not any(counts.values()):
        counts[next(iter(counts))] = 1
    rows = random_cycle(counts, seed, earlier, feedback=feedback)
    published = markdown(rows, internal=False)
    shown = [cell for md in published.values() for header, table in tables(md)
             if header[0] != "Target" for row in table for cell in row]  # allocated: the draw
    assert not [cell for cell in shown if re.fullmatch(r"[1-4]( \(\d+%\))?", cell)]
    assert pinned_in(rows) == []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grade_counts, st.integers(0, 1000))
def test_once_every_return_is_due_what_is_not_back_is_overdue_and_still_nothing_is_pinned(
    counts: dict[tuple[str, str, str], int], seed: int,
) -> None:
    """After the due date a reader knows returned + overdue = allocated in each quadrant:
    so the published reports show no Overdue (it changes with the day, not the record),
    and nothing they show gives a hidden Returned (and through it a hidden grade) away."""
    if not any(counts.values()):
        counts[next(iter(counts))] = 1
    assert pinned_in(random_cycle(counts, seed, all_due=True), all_due=True) == []


def test_good_practice_excerpts_are_listed_by_type_and_text_not_by_quadrant() -> None:
    """Stored audits follow the quadrants; listed in that order, the excerpts would tell
    which quadrant wrote which."""
    shared = {"share_good_practice": "Yes"}
    rows = random_cycle({("North", "a", "good"): 6, ("South", "a", "good"): 6,
                         ("North", "b", "good"): 6}, seed=1)
    texts = {("North", "b"): {**shared, "strengths": "Zeal in advocacy."},
             ("North", "a"): {**shared, "strengths": "Warm, clear letters."},
             ("South", "a"): {**shared, "strengths": "Accurate chronology."}}
    audits = [dataclasses.replace(a, fields={"strengths": "Not shareable."})
              for a in rows.audits]
    for n, a in enumerate(audits):  # one shareable audit each, the first of its kind
        if (a.quadrant, a.audit_type) in texts:
            audits[n] = dataclasses.replace(a, fields=texts.pop((a.quadrant, a.audit_type)))
    rows = dataclasses.replace(rows, audits=audits, trend=[("C3", audits)])
    highlights = markdown(rows, internal=False)["highlights"]
    assert re.findall(r"^- \*(.+)\*: (.+)$", highlights, flags=re.M) == [
        ("Type a", "Accurate chronology."), ("Type a", "Warm, clear letters."),
        ("Type b", "Zeal in advocacy.")]
    assert "Not shareable" not in highlights
    assert "withheld" not in highlights


def test_excerpts_of_a_type_whose_number_is_hidden_are_withheld_and_the_report_says_so() -> None:
    from qaudit.reports import Disclosure, build_highlights

    rows = random_cycle({("North", "a", "good"): 1, ("North", "b", "good"): 1}, seed=1)
    rows = dataclasses.replace(rows, audits=[
        Audit("N1", "North", "a", "good", {"share_good_practice": "Yes", "strengths": "A."}),
        Audit("N2", "North", "b", "good", {"share_good_practice": "Yes", "strengths": "B."}),
    ])
    data = build_highlights(rows=rows, generated=DAY, resources=[], threshold=THRESHOLD,
                            scrub=lambda t: t, internal=False,
                            disclosure=Disclosure(shown=frozenset({("excerpts", "a")})))
    assert [e["text"] for e in data["excerpts"]] == ["A."]
    md = environment(Path("/nonexistent"), html=False).get_template(
        "highlights.md.j2").render(**data)
    assert "withheld this cycle" in md
    assert "No audit was marked shareable" not in md


def feedback_cycle() -> CycleRows:
    """Two quadrants of ten Good audits each: feedback shared for 2 in North (a small count)
    and 6 in South, so 8 in the county."""
    rows = random_cycle({("North", "a", "good"): 10, ("South", "a", "good"): 10}, seed=2)
    north = [a.reference for a in rows.audits if a.quadrant == "North"][:2]
    south = [a.reference for a in rows.audits if a.quadrant == "South"][:6]
    return dataclasses.replace(rows, feedback=frozenset(north + south))


def test_feedback_shared_is_suppressed_with_the_rest_of_the_cycle() -> None:
    """North's 2 is hidden; shown beside the county's 8, South's 6 would give it away (8 - 6),
    so the model hides South's too, and nothing published pins either."""
    rows = feedback_cycle()
    published = markdown(rows, internal=False)
    line = "- Feedback shared with practitioners: {} of 10 returned audits ({})"
    assert line.format("*", "*") in published["North"]
    assert line.format("*", "*") in published["South"]
    assert "- Feedback shared with practitioners: 8 of 20 returned audits (40%)" in \
        published["summary"]
    assert pinned_in(rows) == []


def test_without_the_model_the_feedback_counts_pin_a_hidden_one() -> None:
    """The checker reads the feedback figures: published as a count-by-count suppression
    would (South's 6 shown, as it is not small), North's hidden 2 is pinned."""
    rows = feedback_cycle()
    published = markdown(rows, internal=False)
    published["South"] = published["South"].replace(
        "- Feedback shared with practitioners: * of 10 returned audits (*)",
        "- Feedback shared with practitioners: 6 of 10 returned audits (60%)")
    pinned = pinned_in_published(published, markdown(rows, internal=True),
                                 lambda where: where.endswith(" feedback"))
    assert pinned == ["North feedback (= 2)"]


# --- the trend: an earlier cycle's point as its own reports show it -------------------------


def two_cycles(earlier: CycleRows, later: CycleRows) -> tuple[CycleRows, CycleRows]:
    """``earlier`` as cycle C2 and ``later`` as C3, C3's trend showing C2 as the report
    job does: with what C2's own reports show (its decision). Both report on the same
    quadrants (the workspace's)."""
    from qaudit.reports import cycle_disclosure

    quadrants = sorted({*earlier.quadrants, *later.quadrants})
    targets = {q: 10 for q in quadrants}
    first_audits = [dataclasses.replace(a, reference=f"E{a.reference}") for a in earlier.audits]
    first = dataclasses.replace(
        earlier, cycle="C2", audits=first_audits, trend=[("C2", first_audits)],
        progress=[dataclasses.replace(p, reference=f"E{p.reference}") for p in earlier.progress],
        feedback=frozenset(f"E{r}" for r in earlier.feedback), quadrants=quadrants,
        ri_items=[dataclasses.replace(i, reference=f"E{i.reference}")
                  for i in earlier.ri_items],
        targets=targets)
    second = dataclasses.replace(
        later, trend=[("C2", first_audits), ("C3", later.audits)], quadrants=quadrants,
        targets=targets, earlier={"C2": cycle_disclosure(first, THRESHOLD, DAY)})
    return first, second


def trend_row(md: str, cycle: str) -> list[str]:
    rows = next(rows for header, rows in tables(md) if header[0] == "Cycle")
    return next(row for row in rows if row[0] == cycle)


def test_an_earlier_cycles_trend_point_is_shown_as_its_own_reports_show_it() -> None:
    """Issue 12: C2's summary shows 'Good or better: * of 24' beside its shown Adequate 7 and
    Good 12 (62% would pin its hidden Requires improvement 2 and Outstanding 3). C3's trend
    must not show C2 at 62%: it shows C2's 24 and hides its share, as C2's own reports do,
    and nothing the two cycles publish together pins a count C2 hides."""
    first, second = two_cycles(leaking_cycle(), random_cycle(
        {("North", "a", "good"): 9, ("South", "b", "adequate"): 8,
         ("South", "a", "outstanding"): 6}, seed=5))
    earlier = markdown(first, internal=False)
    later = markdown(second, internal=False)
    assert "Good or better: * of 24 audits (95% interval *)." in earlier["summary"]
    assert trend_row(later["summary"], "C2") == ["C2", "24", "*", "*"]
    for quadrant in ("North", "South"):
        own = re.search(r"^Good or better: (\S+) of (\S+) audits", earlier[quadrant], re.M)
        assert own is not None
        assert trend_row(later[quadrant], "C2")[1:3] == [own[2], own[1]]
    assert trend_row(later["summary"], "C3")[1] == "23"
    assert pinned_with_a_later_trend(earlier, markdown(first, internal=True), "C2",
                                     later) == []


def test_the_checker_finds_the_leak_of_the_old_trend() -> None:
    """The checker itself: with C2 at 62% (its interval too) on C3's trend, as the trend
    decided without C2's own suppression showed it, C2's hidden counts are pinned."""
    first, second = two_cycles(leaking_cycle(), random_cycle(
        {("North", "a", "good"): 9, ("South", "b", "adequate"): 8,
         ("South", "a", "outstanding"): 6}, seed=5))
    later = markdown(second, internal=False)
    later["summary"] = later["summary"].replace(
        "| C2 | 24 | * | * |", f"| C2 | 24 | 62% | {interval(15, 24)} |")
    pinned = pinned_with_a_later_trend(markdown(first, internal=False),
                                       markdown(first, internal=True), "C2", later)
    assert "(every) grade Requires improvement (= 2)" in pinned
    assert "(every) grade Outstanding (= 3)" in pinned


def test_the_internal_trend_shows_every_earlier_point() -> None:
    _, second = two_cycles(leaking_cycle(), random_cycle(
        {("North", "a", "good"): 9}, seed=5))
    assert trend_row(markdown(second, internal=True)["summary"], "C2")[1:3] == ["24", "62%"]


def test_an_earlier_cycle_not_decided_shows_nothing_on_the_trend() -> None:
    _, second = two_cycles(leaking_cycle(), random_cycle({("North", "a", "good"): 9}, seed=5))
    second = dataclasses.replace(second, earlier={})
    assert trend_row(markdown(second, internal=False)["summary"], "C2") == ["C2", "*", "*", "*"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example({("Q0", "t0", "adequate"): 0, ("Q1", "t0", "requires_improvement"): 2,
          ("Q0", "t1", "requires_improvement"): 3},
         {("Q0", "t1", "requires_improvement"): 0, ("Q0", "t0", "adequate"): 0}, 0)
@given(grade_counts, grade_counts, st.integers(0, 1000))
def test_no_count_an_earlier_cycle_hides_can_be_worked_out_with_a_later_trend(
        first: dict[tuple[str, str, str], int], second: dict[tuple[str, str, str], int],
        seed: int) -> None:
    """Random pairs of small cycles: every count the earlier one's reports hide could still
    be two values with the later one's reports (and their trend) published beside them."""
    for counts in (first, second):
        if not any(counts.values()):
            counts[next(iter(counts))] = 1
    earlier, later = two_cycles(random_cycle(first, seed), random_cycle(second, seed + 1))
    assert pinned_with_a_later_trend(markdown(earlier, internal=False),
                                     markdown(earlier, internal=True), "C2",
                                     markdown(later, internal=False)) == []
