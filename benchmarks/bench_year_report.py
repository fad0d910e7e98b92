"""Time the suppression decisions of ``qaudit report --kind year`` on a synthetic full year.

Usage::

    python benchmarks/bench_year_report.py [--cycles 8] [--seed 1] [--repeat 1]
        [--profile N] [--save FILE] [--compare FILE]

Builds ``--cycles`` regular cycles of 120 audits each (five quadrants x four audit types x
six, as the default quotas draw), every figure the cycle reports and the year report
publish: grades of record, the answers to every question of the four question sets, RI
items open and closed with their follow-up steps, escalations, feedback shared,
moderation with themes, good practice excerpts, the month each audited piece of work was
completed, re-audit outcomes. No workbook and no database: the ``CycleRows`` and
``YearRows`` are made directly, and timed is exactly what ``qaudit report --kind year``
decides, with the decision cache the report job keeps (``DecisionFiles``, here in a
temporary folder of each round's own). Round by round (``--repeat``):

1. *cold*: every cycle's ``cycle_disclosure`` with nothing kept, then ``year_disclosure``
   with those decisions: a year's first run (each cycle's time and the year's too);
2. *floor*: both again with every decision kept, a run with nothing changed: it builds
   every model, hashes it and reads its decision back, all that a decision costs but the
   deciding, so no first run can be faster;
3. *one late regrade*: the last cycle's grade of one audit changed, everything else as it
   was (that cycle and the year are decided again; the other cycles' decisions are kept).

It prints wall-clock and CPU seconds (on a shared, loaded machine the CPU time is the
steadier), the first run against the floor, and the targets of issue 13: a year's first
run within 15 s, one cycle's within 2 s. ``--save FILE`` writes every decision (the figures
each shows) as JSON and ``--compare FILE`` says which differ from such a file: how to check
that a change decides as before. ``--profile N`` prints the N costliest functions of one
more cold run, untimed. The solver is imported before anything is timed (once a
process, about half a second). It is a benchmark, not a timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib
import io
import json
import math
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from common import interleaved, machine, ratio_line, seconds_line

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
    steps: dict[str, Collection[str]] = {}
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


def clocked(work: Callable[[], T]) -> tuple[T, float, float]:
    """What ``work`` returns, and the wall-clock and CPU seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


@dataclass
class Times:
    """Every round's seconds (wall clock, CPU) of one thing timed."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> float:
        self.wall.append(wall)
        self.cpu.append(cpu)
        return wall


Decided = dict[str, list[list[str]]]


def shown(disclosure: Disclosure) -> list[list[str]]:
    return sorted(list(k) for k in disclosure.shown)


def regraded(rows: YearRows) -> YearRows:
    """The year with the last cycle's first audit graded otherwise: one late correction."""
    last = rows.cycles[-1]
    audits = list(last.audits)
    first = audits[0]
    assert isinstance(first, Audit)
    audits[0] = dataclasses.replace(first, grade="good" if first.grade != "good"
                                    else "adequate")
    return dataclasses.replace(rows, cycles=[*rows.cycles[:-1],
                                             dataclasses.replace(last, audits=audits)])


class Bench:
    """The three runs of a round, each deciding as ``qaudit report --kind year`` does,
    with the decision cache the report job uses (``DecisionFiles``) in ``folder``."""

    def __init__(self, rows: YearRows, folder: Path) -> None:
        self.rows, self.later = rows, regraded(rows)
        self.folder = folder
        self.round = 0
        self.cycles = {c.cycle: Times() for c in rows.cycles}
        self.year, self.cold, self.warm, self.late = Times(), Times(), Times(), Times()
        self.decided: Decided = {}

    def cache(self) -> Any:
        from qaudit.jobs.report import DecisionFiles

        return DecisionFiles(self.folder / f"round-{self.round}")

    def run_cold(self) -> float:
        """Every cycle's decision and the year's, nothing kept: a year's first run."""
        self.round += 1
        cache = self.cache()
        wall, cpu = time.perf_counter(), time.process_time()
        decided = {}
        for c in self.rows.cycles:
            decided[c.cycle], *spent = clocked(lambda c=c: cycle_disclosure(  # type: ignore[misc]
                c, THRESHOLD, TODAY, cache))
            self.cycles[c.cycle].add(*spent)
        year, *spent = clocked(lambda: year_disclosure(self.rows, THRESHOLD, TODAY, decided,
                                                       cache))
        self.year.add(*spent)
        self.decided = {**{name: shown(d) for name, d in decided.items()}, "year": shown(year)}
        return self.cold.add(time.perf_counter() - wall, time.process_time() - cpu)

    def run_warm(self) -> float:
        """The same again, every decision kept: what deciding costs but the deciding."""
        _, *spent = clocked(lambda: decide(self.rows, self.cache()))
        return self.warm.add(*spent)

    def run_late(self) -> float:
        """The last cycle regraded: that cycle and the year decided again."""
        (cycles, year), *spent = clocked(lambda: decide(self.later, self.cache()))
        self.decided["late: last cycle"] = shown(cycles[self.later.cycles[-1].cycle])
        self.decided["late: year"] = shown(year)
        return self.late.add(*spent)


def decide(rows: YearRows, cache: Any) -> tuple[dict[str, Disclosure], Disclosure]:
    decided = {c.cycle: cycle_disclosure(c, THRESHOLD, TODAY, cache) for c in rows.cycles}
    return decided, year_disclosure(rows, THRESHOLD, TODAY, decided, cache)


def target_line(label: str, seconds: float, limit: float) -> str:
    verdict = "met" if seconds <= limit else "MISSED"
    return f"  {label:<52} {seconds:8.2f}   <= {limit:g} s  {verdict}"


def report(bench: Bench) -> None:
    """Every time, best of the rounds; the ratio to the floor; the targets."""
    slowest = [max(t.wall[r] for t in bench.cycles.values()) for r in range(bench.round)]
    slowest_cpu = [max(t.cpu[r] for t in bench.cycles.values()) for r in range(bench.round)]
    for clock in ("wall", "cpu"):
        print(f"{'Wall-clock' if clock == 'wall' else 'CPU'} seconds, best of {bench.round}"
              f" (every round after it):")
        for name, times in bench.cycles.items():
            print(seconds_line(f"cycle {name}, cold", getattr(times, clock)))
        print(seconds_line("slowest cycle, cold", slowest if clock == "wall" else slowest_cpu))
        print(seconds_line("the year's own decision, cold", getattr(bench.year, clock)))
        print(seconds_line("a year's first run (every cycle + the year)",
                           getattr(bench.cold, clock)))
        print(seconds_line("floor: nothing changed, every decision kept",
                           getattr(bench.warm, clock)))
        print(seconds_line("one late regrade (last cycle + year)", getattr(bench.late, clock)))
    print("Against the floor (CPU, the steadier on a shared machine):")
    print(ratio_line("a year's first run / floor", min(bench.cold.cpu), min(bench.warm.cpu)))
    print("Targets of issue 13 (CPU seconds, best round):")
    print(target_line("a year's first run", min(bench.cold.cpu), 15))
    print(target_line("one cycle's first decision (the slowest)", min(slowest_cpu), 2))


def compare(decided: Decided, path: Path) -> None:
    """Which decisions differ from those saved in ``path`` (``--save``)."""
    before: Decided = json.loads(path.read_text(encoding="utf-8"))
    differ = [name for name in decided if name in before and before[name] != decided[name]]
    missing = sorted(set(decided) ^ set(before))
    print(f"Against {path}: {len(decided) - len(differ) - len(missing)} decisions the same,"
          f" {len(differ)} different{': ' + ', '.join(differ) if differ else ''}"
          f"{'; not in both: ' + ', '.join(missing) if missing else ''}")
    for name in differ:
        was, now = {tuple(k) for k in before[name]}, {tuple(k) for k in decided[name]}
        print(f"  {name}: {len(now - was)} figures shown only now, {len(was - now)} only"
              " before")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of cold, warm and late runs (default 1)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of the first cold run")
    parser.add_argument("--save", type=Path, metavar="FILE",
                        help="write every decision (the figures each shows) to FILE")
    parser.add_argument("--compare", type=Path, metavar="FILE",
                        help="say which decisions differ from those --save wrote to FILE")
    args = parser.parse_args(argv)
    for line in machine(["numpy", "scipy"]):
        print(line)
    rows = synthetic_year(args.cycles, args.seed)
    for solver in ("scipy.optimize", "scipy.sparse.csgraph"):  # once a process: not timed
        importlib.import_module(solver)

    print(f"{args.cycles} cycles, {sum(len(c.audits) for c in rows.cycles)} audits returned,"
          f" threshold {THRESHOLD}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(rows, Path(folder))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(bench.run_cold)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                args.profile)
            print(out.getvalue())
            bench = Bench(rows, Path(folder) / "timed")
        interleaved(args.repeat, {"cold": bench.run_cold, "warm": bench.run_warm,
                                  "late": bench.run_late})
    report(bench)
    if args.save:
        args.save.write_text(json.dumps(bench.decided, indent=0) + "\n", encoding="utf-8")
    if args.compare:
        compare(bench.decided, args.compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
