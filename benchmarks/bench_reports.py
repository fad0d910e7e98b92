"""Time ``qaudit report --kind all`` on a cycle of 120 returned, moderated audits against
bare matplotlib drawing the same charts and writing the same files.

Usage::

    python benchmarks/bench_reports.py [--repeat 5] [--fresh 3] [--cold 1]
        [--workspace DIR] [--profile 25]

The script builds a workspace with the default quotas (120 cases), draws a cycle from the
example export, fills every audit form (``examples/fill_forms.py``, as the tests do), takes
them back, selects and moderates the moderation sample: the record a cycle's reports are
made from. ``--workspace DIR`` keeps that workspace (built on first use) for later runs.

Timed, interleaved round by round so that load falls on both alike:

1. *floor*: the charts of the same kinds and sizes drawn with plain matplotlib calls
   (``matplotlib.figure.Figure``, ``bar``/``annotate`` or ``plot``, each saved as SVG as
   qaudit saves them, ``bbox_inches="tight"``), twelve of them (two for each of the summary
   and the five quadrants' reports), and the same files' bytes written (the Markdown and
   HTML of a run of the job, read beforehand). What it draws is prepared untimed, from the
   job's own figures.
2. *warm*: ``qaudit report --kind all`` through the CLI entry point in this process, the
   decisions on what to hide kept from an earlier run (``<workspace>/.cache/disclosure/``):
   the normal case of every run but a cycle's first.
3. *fresh process*, ``--fresh`` rounds: the same two each run as a new Python process
   (this script running the CLI entry point, or the floor), so each pays its imports,
   as a user's run does.
4. *cold*, ``--cold`` rounds: the job with the decision cache emptied first, the first run
   of a cycle, which works the decisions out (``qaudit.disclosure``), against the floor.

It prints every time, the ratios against the issue's target (warm job <= 2x the floor), in
wall-clock time and in CPU time (this process's and its children's: on a shared, loaded
machine the steadier of the two), and whether the floor's SVG files are byte for byte
qaudit's. ``--profile N`` prints the N
costliest functions of one warm run. It is a benchmark, not a timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import random
import resource
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from common import (
    child_report,
    interleaved,
    machine,
    ratio_line,
    run_child,
    seconds_line,
    timed,
)

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
CYCLE = "2026-27 C3"
TODAY = date(2026, 12, 20)
TARGET = 2.0
PACKAGES = ("qaudit", "matplotlib", "jinja2", "scipy", "numpy")
#: What the floor's charts look like: the settings qaudit draws with.
STYLE = {"svg.hashsalt": "qaudit", "font.size": 11, "svg.fonttype": "none",
         "font.sans-serif": ["DejaVu Sans"]}


# --- the record --------------------------------------------------------------------------


def qaudit(root: Path, *args: str | Path) -> None:
    """Run one qaudit command in this process, quietly; it must succeed (what it said is
    in the error if it does not)."""
    from qaudit import cli

    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        try:
            cli.main(["-w", str(root), *map(str, args)])
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"qaudit {' '.join(map(str, args))} failed:\n"
                                   f"{said.getvalue()}") from exc


def build_workspace(root: Path) -> None:
    """A cycle of 120 drawn, every audit returned (one escalated), 20% moderated."""
    sys.path.insert(0, str(EXAMPLES))
    import fill_forms

    from qaudit.workspace import init_workspace

    ws = init_workspace(root)
    qaudit(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
           "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due", "11/12/2026")
    rng = random.Random(4)
    back = root.parent / "returned"
    for i, form in enumerate(sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))):
        fill_forms.fill_audit(form, back / form.name, rng, escalate=i == 0,
                              when=date(2026, 11, 20))
    qaudit(root, "ingest", back)
    qaudit(root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    moderated = root.parent / "moderated.xlsx"
    fill_forms.fill_moderation(
        ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation.xlsx", moderated,
        random.Random(1))
    qaudit(root, "moderate", "ingest", moderated)


def run_job(root: Path, out: Path) -> None:
    """``qaudit report --kind all`` through the CLI entry point, in this process."""
    shutil.rmtree(out, ignore_errors=True)
    qaudit(root, "report", "--cycle", CYCLE, "--kind", "all", "--out", out)


def forget_decisions(root: Path) -> None:
    shutil.rmtree(root / ".cache" / "disclosure", ignore_errors=True)


# --- the floor ---------------------------------------------------------------------------


def floor_plan(root: Path, written: Path) -> dict[str, Any]:
    """What the floor draws and writes, prepared untimed: each chart's bars (label, height,
    the text above it) or trend points, from the job's own figures, and every Markdown and
    HTML file the job wrote, as text."""
    from qaudit.jobs.report import build_reports
    from qaudit.workspace import open_workspace

    ws = open_workspace(root)
    with ws.store() as store:
        built = build_reports(ws, store, CYCLE, internal=False, message="", today=TODAY)
    charts = []
    for stem, data in [("summary", built.summary), *built.quadrants.items()]:
        shown = data["overall"][0]["percents"]
        points = [(t["cycle"], float(t["percent"].rstrip("%"))) for t in data["trend"]
                  if t["percent"] not in ("*", "–")]
        charts.append({
            "stem": stem, "labels": [g["label"] for g in data["grades"]], "shown": shown,
            "heights": [float(p.rstrip("%")) if p not in ("*", "–") else 0.0 for p in shown],
            "points": points})
    pages = {p.name: p.read_text(encoding="utf-8") for p in sorted(written.iterdir())
             if p.suffix in (".md", ".html")}
    return {"charts": charts, "pages": pages}


def run_floor(plan: dict[str, Any], out: Path) -> None:
    """Bare matplotlib: each chart a ``Figure`` of the same size and kind, saved as SVG the
    way qaudit saves it; then the same pages' bytes."""
    import matplotlib
    from matplotlib.figure import Figure

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    matplotlib.rcParams.update(STYLE)
    for chart in plan["charts"]:
        fig = Figure(figsize=(7, 2.8))
        ax = fig.subplots()
        bars = ax.bar(chart["labels"], chart["heights"], color="#1f4e79")
        for bar, text in zip(bars, chart["shown"], strict=True):
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom")
        ax.set_ylabel("% of audits")
        ax.set_ylim(0, 100)
        ax.spines[["top", "right"]].set_visible(False)
        fig.savefig(out / f"{chart['stem']}-grades.svg", format="svg",
                    metadata={"Date": None}, bbox_inches="tight")
        fig = Figure(figsize=(7, 2.8))
        ax = fig.subplots()
        if chart["points"]:
            ax.plot(*zip(*chart["points"], strict=True), marker="o", color="#1f4e79")
        else:
            ax.set_xticks([])
            ax.text(0.5, 0.5, "Too few audits in any cycle to show a trend", ha="center",
                    va="center", transform=ax.transAxes)
        ax.set_ylabel("% good or better")
        ax.set_ylim(0, 100)
        ax.spines[["top", "right"]].set_visible(False)
        fig.savefig(out / f"{chart['stem']}-trend.svg", format="svg",
                    metadata={"Date": None}, bbox_inches="tight")
    for name, text in plan["pages"].items():
        (out / name).write_text(text, encoding="utf-8")


def same_charts(job: Path, floor: Path) -> bool:
    """Whether the floor drew qaudit's charts byte for byte (the job's files are named by
    report, the floor's by the summary or quadrant they belong to)."""
    ours = sorted(p.read_bytes() for p in job.glob("*.svg"))
    bare = sorted(p.read_bytes() for p in floor.glob("*.svg"))
    return len(ours) == 12 and ours == bare


# --- fresh processes ---------------------------------------------------------------------


def child_main(kind: str, argv: list[str]) -> int:
    """One fresh-process run: the job (``--child-job ROOT OUT``) or the floor
    (``--child-floor PLAN OUT``); the parent times the whole process."""
    if kind == "job":
        run_job(Path(argv[0]), Path(argv[1]))
    else:
        run_floor(json.loads(Path(argv[0]).read_text(encoding="utf-8")), Path(argv[1]))
    child_report(0.0)
    return 0


def fresh(flag: str, *args: Path) -> None:
    run_child([__file__, flag, *map(str, args)])


# --- timing ------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and every child waited for so far: on a shared machine it
    moves far less with the load than the wall clock does."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


Run = tuple[Callable[[], object], str]  # what to run, and its label


def compare(title: str, rounds: int, floor: Run, job: Run) -> list[float]:
    """The floor and the job, interleaved round by round; prints wall and CPU seconds and
    both ratios, and returns the job's wall seconds."""
    cpu: dict[str, list[float]] = {"floor": [], "job": []}

    def measured(name: str, work: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            began = cpu_seconds()
            wall = timed(work)
            cpu[name].append(cpu_seconds() - began)
            return wall
        return run

    wall = interleaved(rounds, {"floor": measured("floor", floor[0]),
                                "job": measured("job", job[0])})
    print(f"\n{title}, wall clock (s):")
    print(seconds_line(floor[1], wall["floor"]))
    print(seconds_line(job[1], wall["job"]))
    print(ratio_line("report / floor", min(wall["job"]), min(wall["floor"]), TARGET))
    print(ratio_line("report / floor, CPU time", min(cpu["job"]), min(cpu["floor"]), TARGET))
    return wall["job"]


# --- the run -----------------------------------------------------------------------------


@contextlib.contextmanager
def workspace(keep: Path | None) -> Iterator[Path]:
    """The benchmark's workspace: ``keep`` (built there on first use) or a scratch one."""
    if keep is not None:
        root = keep.resolve() / "ws"
        if not (root / "qaudit.toml").is_file():
            print(f"building the workspace in {root} ...", flush=True)
            build_workspace(root)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-reports-") as scratch:
        print("building the workspace (about half a minute) ...", flush=True)
        root = Path(scratch) / "ws"
        build_workspace(root)
        yield root


def profile(root: Path, out: Path, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run_job(root, out)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    print(text.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds of floor and warm job in this process (default 5)")
    parser.add_argument("--fresh", type=int, default=3,
                        help="rounds of each as a fresh process (default 3; 0 skips)")
    parser.add_argument("--cold", type=int, default=1,
                        help="runs with the decision cache emptied (default 1; 0 skips)")
    parser.add_argument("--workspace", type=Path, metavar="DIR",
                        help="keep the workspace in DIR (built there on first use)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of one warm run")
    parser.add_argument("--child-job", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-floor", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_job:
        return child_main("job", args.child_job)
    if args.child_floor:
        return child_main("floor", args.child_floor)
    for line in machine(PACKAGES):
        print(line)
    with workspace(args.workspace) as root, \
            tempfile.TemporaryDirectory(prefix="qaudit-bench-out-") as scratch:
        outs = Path(scratch)
        first = timed(lambda: run_job(root, outs / "job"))  # decides, or finds them kept
        plan = floor_plan(root, outs / "job")
        plan_file = outs / "floor.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        print(f"{CYCLE}: {len(list((outs / 'job').iterdir()))} files; first run"
              f" {first:.2f} s", flush=True)
        floor = (lambda: run_floor(plan, outs / "floor"), "floor: bare matplotlib, 12 charts"
                 " + the pages")
        warm = compare(f"In this process, best of {args.repeat}", args.repeat, floor,
                       (lambda: run_job(root, outs / "job"),
                        "report --kind all, decisions kept"))
        print(f"floor's SVG files are qaudit's byte for byte:"
              f" {same_charts(outs / 'job', outs / 'floor')}")
        if args.fresh:
            compare(f"Fresh processes, best of {args.fresh}", args.fresh,
                    (lambda: fresh("--child-floor", plan_file, outs / "floor"),
                     "floor: python + matplotlib + 12 charts + pages"),
                    (lambda: fresh("--child-job", root, outs / "job"),
                     "qaudit report --kind all, new process, decisions kept"))
        if args.cold:
            cold = compare(f"A cycle's first run (no decision kept), best of {args.cold}",
                           args.cold, floor,
                           (lambda: (forget_decisions(root), run_job(root, outs / "job")),
                            "report --kind all, deciding what to hide"))
            print(seconds_line("of which the decisions (cold - best warm job)",
                               [t - min(warm) for t in cold]))
        if args.profile:
            profile(root, outs / "job", args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
