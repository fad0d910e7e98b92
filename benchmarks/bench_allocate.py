"""Time ``qaudit allocate`` against the fastest parser there is, and the pandas/openpyxl baseline.

Usage::

    python benchmarks/bench_allocate.py [--rows 200000] [--repeat 3] [--skip-openpyxl]
                                        [--skip-cli] [--full] [--profile [TOP]]

The script makes (or reuses) a clean N-row export under ``benchmarks/data/`` (git-ignored)
with ``benchmarks/make_export.py``, then times, round by round (``common.interleaved``, so that
load on a shared machine falls on all of them alike), best of ``--repeat``:

1. *floor*: fastexcel reading the sheet into Arrow and nothing else,
   ``fastexcel.read_excel(p).load_sheet(0).to_arrow()``. fastexcel is the Rust calamine crate
   writing Arrow columns directly, with no Python object per cell: the fastest parser there is
   for .xlsx, and the floor for any reader of it;
2. *read+draw*: ``qaudit.jobs.allocate.plan_allocation`` on a fresh workspace, which is exactly
   ``qaudit allocate --dry-run`` (check, read, normalise, filter, draw; nothing written);
3. *end to end*: ``qaudit allocate`` through the CLI entry point in this process, with a fresh
   workspace and ``--out`` folder each round: read+draw, then 120 audit forms, 120
   self-reflection forms, ~20 Service Manager workbooks and the register written, and the draw
   stored (``--skip-cli`` leaves it out);
4. *python-calamine to_python*: the same engine building a Python object per cell; the floor
   measured before issue 13, shown for reference only.

Before those, the peak RSS of a child process (this script with ``--child-plan``) doing one
read+draw; ``--full`` also makes a 1,048,575-row export (Excel's maximum), twice (text inline, as
the generator writes it, and in a shared-string table, as Excel does), and runs read+draw and
the bare fastexcel read on each, once in a child, for their time and peak RSS (the child's
own ``VmHWM``: a forked child's ``ru_maxrss`` would start from its parent's peak). After them,
once: ``pandas.read_excel(engine="openpyxl")``
(the slow baseline; ``--skip-openpyxl``). ``--profile`` prints the top cProfile costs of one
read+draw. The window drawn from is the generator's own date range
(``examples/generate_export.py``), which is in the past, so the CLI accepts it.

It prints the ratios against the issue's targets: read+draw <= 2x the floor, >= 10x faster than
openpyxl, peak memory of read+draw on the 1,048,575-row export < 1 GiB. A benchmark, not a
timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import (
    DATA,
    ChildResult,
    child_report,
    interleaved,
    machine,
    ratio_line,
    run_child,
    seconds_line,
    timed,
)
from make_export import load_generator

HERE = Path(__file__).resolve().parent
MAKE_EXPORT = HERE / "make_export.py"
FULL_ROWS = 1_048_575
SEED = 1
TARGET_PLAN_OVER_FLOOR = 2.0
TARGET_OPENPYXL_OVER_PLAN = 10.0
TARGET_PEAK_MIB = 1024.0
PACKAGES = ("qaudit", "fastexcel", "pyarrow", "pandas", "numpy", "python-calamine", "openpyxl")

_GENERATOR = load_generator()
#: The completion dates the generator spreads the rows over: all in the past.
WINDOW = (_GENERATOR.DEFAULT_START, _GENERATOR.DEFAULT_END)
TODAY = WINDOW[1] + timedelta(days=1)  # for read+draw: the day after the window


# --- the export --------------------------------------------------------------------------


def export_path(rows: int, shared: bool = False) -> Path:
    """Where the clean ``rows``-row export is cached (text inline, or ``shared`` strings)."""
    return DATA / f"export-{rows}-seed{SEED}-clean{'-shared' if shared else ''}.xlsx"


def ensure_export(rows: int, shared: bool = False) -> Path:
    """Return the cached export, generating it first if it is missing."""
    path = export_path(rows, shared)
    if path.is_file():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    print(f"generating {path.relative_to(HERE.parent)} ({rows:,} rows) ...", flush=True)
    subprocess.run(
        [sys.executable, str(MAKE_EXPORT), str(rows), str(partial), "--seed", str(SEED),
         *(["--shared-strings"] if shared else [])],
        check=True,
    )
    partial.replace(path)
    return path


# --- the phases ---------------------------------------------------------------------------


def floor(path: Path) -> int:
    """The fastest parser there is, only reading: fastexcel into Arrow."""
    import fastexcel

    return int(fastexcel.read_excel(str(path)).load_sheet(0).to_arrow().num_rows)


def calamine_objects(path: Path) -> int:
    """python-calamine building a Python object per cell (the floor before issue 13)."""
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python())


def plan_once(path: Path, scratch: Path) -> dict[str, Any]:
    """One ``qaudit allocate --dry-run`` (read+draw) in a new workspace under ``scratch``;
    only ``plan_allocation`` is timed."""
    from qaudit.jobs.allocate import AllocationRequest, plan_allocation
    from qaudit.workbooks.export_values import BAD_TYPE
    from qaudit.workspace import init_workspace

    ws = init_workspace(Path(tempfile.mkdtemp(prefix="ws-", dir=scratch)))
    store = ws.store()
    request = AllocationRequest(
        export=path, cycle="BENCH", date_from=WINDOW[0], date_to=WINDOW[1], today=TODAY,
        seed=SEED,
    )
    try:
        began = time.perf_counter()
        plan = plan_allocation(ws, store, request)
        seconds = time.perf_counter() - began
    finally:
        store.close()
    unusable = plan.export.unusable["reason"]
    return {
        "seconds": seconds,
        "rows_read": plan.export.rows_read,
        "usable": len(plan.export.cases),
        "eligible": plan.eligible,
        "allocated": len(plan.allocations),
        "unusable_listed": int((unusable != BAD_TYPE).sum()),
        "other_work": int((unusable == BAD_TYPE).sum()),
    }


def cli_once(path: Path, scratch: Path) -> float:
    """One ``qaudit allocate`` end to end through the CLI entry point; its seconds."""
    from qaudit.cli import main as qaudit_main
    from qaudit.workspace import init_workspace

    root = Path(tempfile.mkdtemp(prefix="cli-", dir=scratch))
    ws = init_workspace(root / "ws")
    argv = [
        "--workspace", str(ws.root), "allocate", str(path), "--cycle", "BENCH",
        "--from", f"{WINDOW[0]:%d/%m/%Y}", "--to", f"{WINDOW[1]:%d/%m/%Y}",
        "--seed", str(SEED), "--out", str(root / "out"),
    ]
    sink = io.StringIO()
    code: Any = 0
    began = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            qaudit_main(argv)
    except SystemExit as exc:
        code = exc.code
    seconds = time.perf_counter() - began
    if code not in (0, None):
        raise RuntimeError(f"qaudit allocate exited {code}:\n{sink.getvalue()}")
    shutil.rmtree(root, ignore_errors=True)
    return seconds


def openpyxl_baseline(path: Path) -> int:
    """The slow baseline: pandas reading the workbook with openpyxl."""
    import pandas as pd

    return len(pd.read_excel(path, engine="openpyxl"))


def child_main(mode: str, path: Path) -> int:
    """Body of ``--child-plan`` / ``--child-floor``: one run, then ``child_report``."""
    if mode == "plan":
        with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as scratch:
            facts = plan_once(path, Path(scratch))
        child_report(**facts)
    else:
        began = time.perf_counter()
        rows = floor(path)
        child_report(time.perf_counter() - began, rows=rows)
    return 0


def child(mode: str, path: Path) -> ChildResult:
    return run_child([str(Path(__file__).resolve()), f"--child-{mode}", str(path)])


def profile_plan(path: Path, top: int) -> None:
    """Print the top costs of one read+draw run under cProfile."""
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as scratch:
        profiler = cProfile.Profile()
        profiler.enable()
        plan_once(path, Path(scratch))
        profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"\ncProfile of read+draw, top {top} by {order}:")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(order).print_stats(top)


# --- the run ------------------------------------------------------------------------------


def measure(path: Path, repeat: int, cli: bool) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Every phase round by round; the seconds of each run by phase, and the draw's facts."""
    facts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as tmp:
        scratch = Path(tmp)

        def plan() -> float:
            facts.update(plan_once(path, scratch))
            return float(facts["seconds"])

        runs = {
            "floor": lambda: timed(lambda: floor(path)),
            "plan": plan,
            **({"cli": lambda: cli_once(path, scratch)} if cli else {}),
            "calamine": lambda: timed(lambda: calamine_objects(path)),
        }
        return interleaved(repeat, runs), facts


def report(times: dict[str, list[float]], facts: dict[str, Any], baseline: float | None,
           peak: ChildResult) -> None:
    print(f"rows read {facts['rows_read']:,}, usable {facts['usable']:,}, eligible"
          f" {facts['eligible']:,}, allocated {facts['allocated']}; the register lists"
          f" {facts['unusable_listed']:,} problem rows and {facts['other_work']:,} rows of"
          " other work types by type")
    print(f"  {'phase':<52} {'best s':>8}   all runs")
    print(seconds_line("floor: fastexcel load_sheet(0).to_arrow()", times["floor"]))
    print(seconds_line("qaudit allocate --dry-run (plan_allocation)", times["plan"]))
    if "cli" in times:
        print(seconds_line("qaudit allocate end to end (CLI, in process)", times["cli"]))
    print(seconds_line("python-calamine to_python (reference)", times["calamine"]))
    if baseline is not None:
        print(seconds_line("pandas.read_excel(engine='openpyxl'), once", [baseline]))
    best = {name: min(runs) for name, runs in times.items()}
    print(f"\n  {'ratio':<52} {'value':>8}   target")
    print(ratio_line("read+draw / floor", best["plan"], best["floor"], TARGET_PLAN_OVER_FLOOR))
    print(ratio_line("python-calamine to_python / floor", best["calamine"], best["floor"]))
    if "cli" in best:
        print(ratio_line("end to end / floor (for reference)", best["cli"], best["floor"]))
    if baseline is not None:
        speedup = baseline / best["plan"]
        verdict = "met" if speedup >= TARGET_OPENPYXL_OVER_PLAN else "MISSED"
        print(f"  {'openpyxl baseline / read+draw':<52} {speedup:8.1f}   >="
              f" {TARGET_OPENPYXL_OVER_PLAN:g}  {verdict}")
    print(f"  {'peak RSS of read+draw (child), MiB':<52} {peak.peak_mib:8.0f}"
          f"   (child run {peak.seconds:.2f} s)")


def report_full(path: Path, bare: ChildResult, plan: ChildResult) -> None:
    print(f"\nfull sheet: {path.relative_to(HERE.parent)} ({FULL_ROWS:,} rows,"
          f" {path.stat().st_size / 1024**2:.1f} MiB), one run each in a child")
    print(f"  {'floor (fastexcel to Arrow)':<52} {bare.seconds:8.2f} s   peak RSS"
          f" {bare.peak_mib:.0f} MiB")
    verdict = "met" if plan.peak_mib < TARGET_PEAK_MIB else "MISSED"
    print(f"  {'qaudit allocate --dry-run':<52} {plan.seconds:8.2f} s   peak RSS"
          f" {plan.peak_mib:.0f} MiB (< {TARGET_PEAK_MIB:g}: {verdict})"
          f"   ratio {plan.seconds / bare.seconds:.2f}")
    print(f"  rows read {plan.facts['rows_read']:,}, usable {plan.facts['usable']:,},"
          f" eligible {plan.facts['eligible']:,}, allocated {plan.facts['allocated']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="data rows (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, best of (default 3)")
    parser.add_argument("--skip-openpyxl", action="store_true", help="skip the slow baseline")
    parser.add_argument("--skip-cli", action="store_true", help="skip the end-to-end run")
    parser.add_argument(
        "--full", action="store_true", help=f"also read+draw a {FULL_ROWS:,}-row export once"
    )
    parser.add_argument(
        "--profile", type=int, nargs="?", const=15, default=0, metavar="TOP",
        help="also print the top cProfile costs of one read+draw run (default 15)",
    )
    parser.add_argument("--child-plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_plan is not None:
        return child_main("plan", args.child_plan)
    if args.child_floor is not None:
        return child_main("floor", args.child_floor)
    if not 1 <= args.rows <= FULL_ROWS:
        parser.error(f"--rows must be between 1 and {FULL_ROWS:,}")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")

    path = ensure_export(args.rows)
    # Text inline (as the generator writes it) and in a shared-string table (as Excel does).
    full_paths = [ensure_export(FULL_ROWS, shared) for shared in (False, True)] if args.full else []
    print()
    for line in machine(PACKAGES):
        print(line)
    size = path.stat().st_size / 1024**2
    print(f"export: {path.relative_to(HERE.parent)} ({args.rows:,} rows, {size:.1f} MiB)")
    print(f"best of {args.repeat}, interleaved; window {WINDOW[0]:%d/%m/%Y}-"
          f"{WINDOW[1]:%d/%m/%Y}, seed {SEED}\n", flush=True)
    peak = child("plan", path)
    full = [(p, child("floor", p), child("plan", p)) for p in full_paths]
    times, facts = measure(path, args.repeat, not args.skip_cli)
    baseline = None if args.skip_openpyxl else timed(lambda: openpyxl_baseline(path))
    report(times, facts, baseline, peak)
    for full_path, bare, plan in full:
        report_full(full_path, bare, plan)
    if args.profile:
        profile_plan(path, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
