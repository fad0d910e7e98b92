"""Time the disclosure decisions of the year report on a synthetic full year.

Usage::

    python benchmarks/bench_year_report.py [--cycles 8] [--seed 1] [--profile 15]
        [--no-cache | --cache DIR]

Builds ``--cycles`` regular cycles of 120 audits each (five quadrants x four audit types x
six, as the default quotas draw), every figure the cycle reports and the year report
publish: grades of record, the answers to every question of the four question sets, RI
items open and closed with their follow-up steps, escalations, feedback shared,
moderation with themes, good practice excerpts, the month each audited piece of work was
completed, re-audit outcomes. No workbook and no database: the ``CycleRows`` and
``YearRows`` are made directly, and timed are exactly what ``qaudit report --kind year``
decides:

1. *cycles, cold*: every cycle's own ``cycle_disclosure`` with an empty decision cache;
2. *year, cold*: ``year_disclosure`` with those decisions, the cache still cold for it;
3. *warm*: both again with the decisions cached (a second run with nothing changed);
4. *one late return*: the last cycle's grade of one audit changed, everything else as it
   was (that cycle and the year are decided again; the other cycles come from the cache).

The decision cache is the one the report job uses (``qaudit.jobs.report.DecisionFiles``)
in a temporary folder. It is a benchmark, not a timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import math
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from qaudit.config import Settings
from qaudit.grading import GRADE_KEYS, REQUIRES_IMPROVEMENT, RiStatus
from qaudit.questions import load_question_set
from qaudit.reports import CycleRows, Disclosure, YearRows, cycle_disclosure, year_disclosure

T = TypeVar("T")
TODAY = date(2027, 4, 20)
THRESHOLD = 5


@dataclass(frozen=True)
class Progress:
    reference: str
    quadrant: str
    due: str
    audit_back: bool
    service_manager: str = "SM"
    reflection_back: bool = True
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
class Answer:
    quadrant: str
    audit_type: str
    aspect: str
    question_id: str
    answer: str
    count: int


@dataclass(frozen=True)
class Item:
    reference: str
    quadrant: str
    status: RiStatus


@dataclass(frozen=True)
class Located:
    quadrant: str


@dataclass(frozen=True)
class Pair:
    quadrant: str
    auditor_grade: str
    moderated_grade: str
    theme: str


@dataclass(frozen=True)
class Outcomes:
    returned: int
    improved: int
    same: int
    worse: int


def synthetic_year(cycles: int, seed: int) -> YearRows:
    """``cycles`` cycles of the default quotas (120 audits), about 95% returned."""
    settings = Settings()
    rng = random.Random(seed)
    types = settings.type_names()
    sets = {t: load_question_set(t) for t in types}
    questions = {(t, q.id): q.text for t, s in sets.items() for q in s.questions}
    weights = {"requires_improvement": 0.1, "adequate": 0.3, "good": 0.45, "outstanding": 0.15}
    names = [f"2026-27 C{n + 1}" for n in range(cycles)]
    rows: list[CycleRows] = []
    completed: dict[str, str] = {}
    steps: dict[str, tuple[str, ...]] = {}
    for number, name in enumerate(names):
        audits: list[Audit] = []
        progress: list[Progress] = []
        for quadrant, quotas in settings.quotas.items():
            for audit_type, quota in quotas.items():
                for i in range(quota):
                    ref = f"C{number + 1}-{quadrant[:2]}-{audit_type[:4]}-{i}"
                    back = rng.random() < 0.95
                    progress.append(Progress(ref, quadrant, "2027-03-01", back))
                    month = f"2026-{9 + (number * 6 // cycles + rng.randint(0, 1)) % 4:02d}"
                    completed[ref] = month
                    if back:
                        grade = rng.choices(list(weights), list(weights.values()))[0]
                        share = rng.random() < 0.3
                        audits.append(Audit(ref, quadrant, audit_type, grade, {
                            "share_good_practice": "Yes" if share else "No",
                            "strengths": "Clear recording." if share else ""}))
        counts: dict[tuple[str, str, str, str, str], int] = {}
        for a in audits:
            for aspect in sets[a.audit_type].aspects:
                for q in aspect.questions:
                    said = rng.choices(["Yes", "No", "N/A"], [0.75, 0.2, 0.05])[0]
                    key = (a.quadrant, a.audit_type, aspect.key, q.id, said)
                    counts[key] = counts.get(key, 0) + 1
        answers = [Answer(*k, n) for k, n in sorted(counts.items())]
        items = [Item(a.reference, a.quadrant, rng.choice([RiStatus.OPEN, RiStatus.CLOSED]))
                 for a in audits if a.grade == REQUIRES_IMPROVEMENT]
        for item in items:
            if item.status is RiStatus.CLOSED:
                steps[item.reference] = tuple(s for s in settings.ri.steps
                                              if rng.random() < 0.7)
        sample = [a for a in audits if rng.random() < 0.1]
        pairs = [Pair(a.quadrant, a.grade,
                      a.grade if rng.random() < 0.8 else rng.choice(GRADE_KEYS),
                      rng.choice(["", "Voice", "Recording", "Impact"])) for a in sample]
        rows.append(CycleRows(
            cycle=name, quadrants=list(settings.quadrants), type_names=types,
            targets={q: sum(per.values()) for q, per in settings.quotas.items()},
            progress=progress, audits=audits, answers=answers, questions=questions,
            trend=[(name, audits)], ri_items=items,
            escalations=[Located(rng.choice(settings.quadrants)) for _ in range(rng.randint(2, 8))],
            moderated=pairs, moderation_rate=0.1,
            moderation_target=math.ceil(0.1 * len(audits)),
            feedback=frozenset(a.reference for a in audits if rng.random() < 0.6)))
    # The trend: each cycle shows the year's cycles up to itself.
    rows = [dataclasses.replace(c, trend=[(e.cycle, e.audits) for e in rows[:n + 1]])
            for n, c in enumerate(rows)]
    ri = sum(a.grade == REQUIRES_IMPROVEMENT for c in rows for a in c.audits)
    improved = ri // 3
    return YearRows(
        year="2026-27", cycles=rows, quadrants=list(settings.quadrants), type_names=types,
        target=8 * 120, completed=completed, steps=steps, step_names=dict(settings.ri.steps),
        reaudits=Outcomes(ri // 2, improved, ri // 2 - improved - 1, 1))


def timed(label: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    print(f"{label:<34} {time.perf_counter() - start:8.2f} s", flush=True)
    return result


def decide(rows: YearRows, cache: Any) -> tuple[dict[str, Disclosure], Disclosure]:
    with_cache: dict[str, Any] = {} if cache is None else {"cache": cache}
    decided = {c.cycle: cycle_disclosure(c, THRESHOLD, TODAY, **with_cache)
               for c in rows.cycles}
    return decided, year_disclosure(rows, THRESHOLD, TODAY, decided, **with_cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of the cold run")
    parser.add_argument("--no-cache", action="store_true",
                        help="decide without the decision cache (as before it existed)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="keep the decisions in DIR (kept between runs: a second run"
                        " then times the year with every cycle's decision kept)")
    args = parser.parse_args(argv)
    rows = synthetic_year(args.cycles, args.seed)
    print(f"{args.cycles} cycles, {sum(len(c.audits) for c in rows.cycles)} audits returned,"
          f" threshold {THRESHOLD}")
    with tempfile.TemporaryDirectory() as folder:
        cache = None
        if not args.no_cache:
            from qaudit.jobs.report import DecisionFiles

            cache = DecisionFiles(args.cache or Path(folder))
        profiler = cProfile.Profile() if args.profile else None
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        decided = {c.cycle: timed(f"cycle {c.cycle}, cold",
                                  lambda c=c: cycle_disclosure(  # type: ignore[misc]
                                      c, THRESHOLD, TODAY,
                                      **({} if cache is None else {"cache": cache})))
                   for c in rows.cycles}
        timed("year, cold", lambda: year_disclosure(
            rows, THRESHOLD, TODAY, decided, **({} if cache is None else {"cache": cache})))
        if profiler is not None:
            profiler.disable()
        print(f"{'first run in all':<34} {time.perf_counter() - start:8.2f} s")
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                args.profile)
            print(out.getvalue())
        if cache is None:
            return 0
        timed("warm (nothing changed)", lambda: decide(rows, cache))
        last = rows.cycles[-1]
        audits = list(last.audits)
        first = audits[0]
        audits[0] = dataclasses.replace(first, grade="good" if first.grade != "good"
                                        else "adequate")
        changed = dataclasses.replace(last, audits=audits)
        later = dataclasses.replace(rows, cycles=[*rows.cycles[:-1], changed])
        timed("one late regrade in the last cycle", lambda: decide(later, cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
