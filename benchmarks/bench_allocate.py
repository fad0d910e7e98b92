"""Time ``qaudit allocate`` against the fastest bare parse and the pandas/openpyxl baseline.

Usage::

    python benchmarks/bench_allocate.py [--rows 200000] [--repeat 3] [--skip-openpyxl] [--full]

The script makes (or reuses) a clean N-row export under ``benchmarks/data/`` (git-ignored)
with ``benchmarks/make_export.py``, then measures in one run, best of ``--repeat``:

1. *bare parse*: python-calamine reading the sheet into Python lists and nothing else, the
   fastest available parser and the floor for any reader;
2. *read+draw*: ``qaudit.jobs.allocate.plan_allocation`` on a scratch workspace, which is
   exactly ``qaudit allocate --dry-run`` (read, normalise, filter, draw; nothing written);
3. *end to end*: ``qaudit allocate`` through the CLI entry point in this process, with a fresh
   workspace and ``--out`` folder each repeat. On top of read+draw it writes 120 audit forms,
   120 self-reflection forms, ~20 Service Manager workbooks and the register: meant as a fixed
   cost, except that the register lists every unusable row (in a clean export, all the work of
   types that are not audited), so that part grows with N;
4. *baseline*: ``pandas.read_excel(engine="openpyxl")`` reading the same file, run once.

It prints the seconds and the ratios against the targets (read+draw <= 2x the bare parse,
>= 10x faster than openpyxl, peak memory < 1 GiB). Peak memory of read+draw is measured in a
child process (this script with ``--child-plan``) as ``ru_maxrss``. ``--full`` also runs
read+draw once on a 1,048,575-row export (Excel's maximum). ``--profile`` prints the top
cProfile costs of one read+draw run. It is a benchmark, not a timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MAKE_EXPORT = HERE / "make_export.py"
GENERATOR = HERE.parent / "examples" / "generate_export.py"
FULL_ROWS = 1_048_575
SEED = 1
WINDOW = (date(2026, 8, 1), date(2026, 11, 30))
TARGET_PLAN_OVER_BARE = 2.0
TARGET_OPENPYXL_OVER_PLAN = 10.0
TARGET_PEAK_MIB = 1024.0
PACKAGES = ("qaudit", "pandas", "numpy", "python-calamine", "openpyxl", "xlsxwriter")


# --- the export --------------------------------------------------------------------------


def export_path(rows: int) -> Path:
    """Where the clean ``rows``-row export is cached."""
    return DATA / f"export-{rows}-seed{SEED}-clean.xlsx"


def ensure_export(rows: int) -> Path:
    """Return the cached export, generating it first if it is missing."""
    path = export_path(rows)
    if path.is_file():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    print(f"generating {path.relative_to(HERE.parent)} ({rows:,} rows) ...", flush=True)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(MAKE_EXPORT), str(rows), str(partial), "--seed", str(SEED)],
        check=False,
    )
    if done.returncode != 0 or not partial.is_file():
        print("make_export.py failed; calling examples/generate_export.py directly", flush=True)
        gen = _load_generator()
        gen.write_export(
            partial, gen.HEADERS, gen.iter_rows(rows, SEED, False), False,
            seed=SEED, expected_rows=rows,
        )
    partial.replace(path)
    print(f"  done in {time.perf_counter() - began:.1f} s", flush=True)
    return path


def _load_generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("qaudit_bench_generate_export", GENERATOR)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --- the phases ---------------------------------------------------------------------------


def bare_parse(path: Path) -> int:
    """The fastest available parser, only reading: python-calamine to Python lists."""
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    return len(rows)


def _request(path: Path) -> Any:
    from qaudit.jobs.allocate import AllocationRequest

    return AllocationRequest(
        export=path, cycle="BENCH", date_from=WINDOW[0], date_to=WINDOW[1],
        today=WINDOW[1] + timedelta(days=1), seed=SEED,
    )


def plan_once(path: Path, scratch: Path) -> dict[str, Any]:
    """One ``qaudit allocate --dry-run`` (read+draw) in a new workspace under ``scratch``."""
    from qaudit.jobs.allocate import plan_allocation
    from qaudit.workbooks.case_export import BAD_TYPE
    from qaudit.workspace import init_workspace

    ws = init_workspace(Path(tempfile.mkdtemp(prefix="ws-", dir=scratch)))
    store = ws.store()
    try:
        began = time.perf_counter()
        plan = plan_allocation(ws, store, _request(path))
        seconds = time.perf_counter() - began
    finally:
        store.close()
    return {
        "seconds": seconds,
        "rows_read": plan.export.rows_read,
        "usable": len(plan.export.cases),
        "eligible": plan.eligible,
        "allocated": len(plan.allocations),
        "unusable_listed": int((plan.export.unusable["reason"] != BAD_TYPE).sum()),
        "other_work": int((plan.export.unusable["reason"] == BAD_TYPE).sum()),
    }


def cli_once(path: Path, scratch: Path) -> tuple[float, int]:
    """One ``qaudit allocate`` end to end through the CLI entry; returns (seconds, files)."""
    from qaudit.cli import main as qaudit_main
    from qaudit.workspace import init_workspace

    root = Path(tempfile.mkdtemp(prefix="cli-", dir=scratch))
    ws = init_workspace(root / "ws")
    out = root / "out"
    argv = [
        "--workspace", str(ws.root), "allocate", str(path), "--cycle", "BENCH",
        "--from", f"{WINDOW[0]:%d/%m/%Y}", "--to", f"{WINDOW[1]:%d/%m/%Y}",
        "--seed", str(SEED), "--out", str(out),
    ]
    sink = io.StringIO()
    began = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            qaudit_main(argv)
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    seconds = time.perf_counter() - began
    if code not in (0, None):
        raise RuntimeError(f"qaudit allocate exited {code}:\n{sink.getvalue()}")
    files = sum(1 for _ in out.rglob("*.xlsx"))
    shutil.rmtree(root, ignore_errors=True)
    return seconds, files


def openpyxl_baseline(path: Path) -> int:
    """The slow baseline: pandas reading the workbook with openpyxl."""
    import pandas as pd

    return len(pd.read_excel(path, engine="openpyxl"))


def best_of(repeat: int, run: Callable[[], float]) -> tuple[float, list[float]]:
    """Run ``run`` (which returns seconds) ``repeat`` times; return (best, all)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        times.append(run())
    return min(times), times


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


# --- child processes for peak memory --------------------------------------------------------


def _self_peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _children_peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


@dataclass
class ChildResult:
    mode: str
    seconds: float
    peak_mib: float
    facts: dict[str, Any]


def run_child(mode: str, path: Path) -> ChildResult:
    """Run one phase in a fresh interpreter and read its peak RSS from RUSAGE_CHILDREN.

    RUSAGE_CHILDREN keeps the largest peak of any child waited for so far; if an earlier
    child (the generator) was larger, fall back to the figure the child reports itself.
    """
    before = _children_peak_mib()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), f"--child-{mode}", str(path)],
        capture_output=True, text=True, check=False,
    )
    after = _children_peak_mib()
    if done.returncode != 0:
        raise RuntimeError(f"child {mode} failed ({done.returncode}):\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    peak = after if after > before else float(report.pop("self_peak_mib"))
    report.pop("self_peak_mib", None)
    return ChildResult(mode, float(report.pop("seconds")), peak, report)


def child_main(mode: str, path: Path) -> int:
    """Body of ``--child-plan`` / ``--child-bare``: one run, a JSON line on stdout."""
    if mode == "plan":
        with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as scratch:
            report: dict[str, Any] = plan_once(path, Path(scratch))
    else:
        began = time.perf_counter()
        rows = bare_parse(path)
        report = {"seconds": time.perf_counter() - began, "rows": rows}
    report["self_peak_mib"] = _self_peak_mib()
    print(json.dumps(report))
    return 0


# --- reporting ----------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}; " + ", ".join(versions),
    ]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def profile_plan(path: Path, top: int) -> None:
    """Print the top costs of one read+draw run under cProfile."""
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as scratch:
        profiler = cProfile.Profile()
        profiler.enable()
        plan_once(path, Path(scratch))
        profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"\ncProfile of read+draw, top {top} by {order}:")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats(order).print_stats(top)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="data rows (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument("--skip-openpyxl", action="store_true", help="skip the slow baseline")
    parser.add_argument(
        "--full", action="store_true", help=f"also read+draw a {FULL_ROWS:,}-row export once"
    )
    parser.add_argument(
        "--profile", type=int, nargs="?", const=15, default=0, metavar="TOP",
        help="also print the top cProfile costs of one read+draw run (default 15)",
    )
    parser.add_argument("--child-plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_plan is not None:
        return child_main("plan", args.child_plan)
    if args.child_bare is not None:
        return child_main("bare", args.child_bare)
    if not 1 <= args.rows <= FULL_ROWS:
        parser.error(f"--rows must be between 1 and {FULL_ROWS:,}")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")

    path = ensure_export(args.rows)
    full_path = ensure_export(FULL_ROWS) if args.full else None
    print()
    for line in machine():
        print(line)
    size = path.stat().st_size / 1024**2
    print(f"export: {path.relative_to(HERE.parent)} ({args.rows:,} rows, {size:.1f} MiB)")
    print(f"best of {args.repeat}; window {WINDOW[0]:%d/%m/%Y}-{WINDOW[1]:%d/%m/%Y}, seed {SEED}")
    print(flush=True)

    bare, bare_all = best_of(args.repeat, lambda: timed(lambda: bare_parse(path)))
    facts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as tmp:
        scratch = Path(tmp)

        def plan_run() -> float:
            facts.update(plan_once(path, scratch))
            return float(facts["seconds"])

        plan, plan_all = best_of(args.repeat, plan_run)
        files = 0

        def cli_run() -> float:
            nonlocal files
            seconds, files = cli_once(path, scratch)
            return seconds

        cli, cli_all = best_of(args.repeat, cli_run)
    baseline = None if args.skip_openpyxl else timed(lambda: openpyxl_baseline(path))
    child = run_child("plan", path)

    def row(name: str, best: float | None, runs: Sequence[float]) -> None:
        shown = "skipped" if best is None else f"{best:8.2f}"
        every = ", ".join(f"{t:.2f}" for t in runs)
        print(f"  {name:<48} {shown:>8}   {every}")

    print(f"rows read {facts['rows_read']:,}, usable {facts['usable']:,}, eligible"
          f" {facts['eligible']:,}, allocated {facts['allocated']}, workbooks written {files},"
          f" problem rows listed in the register {facts['unusable_listed']:,}, rows of other"
          f" work types (listed by type) {facts['other_work']:,}")
    print(f"  {'phase':<48} {'best s':>8}   all runs")
    row("bare parse (python-calamine to_python)", bare, bare_all)
    row("qaudit allocate --dry-run (plan_allocation)", plan, plan_all)
    row("qaudit allocate end to end (CLI, in-process)", cli, cli_all)
    row("  of which writing workbooks (e2e - read+draw)", cli - plan, [])
    row("pandas.read_excel(engine='openpyxl'), once", baseline, [] if baseline is None
        else [baseline])
    print()
    print(f"  {'ratio':<48} {'value':>8}   target")
    ratio = plan / bare
    print(f"  {'read+draw / bare parse':<48} {ratio:8.2f}   <= {TARGET_PLAN_OVER_BARE:g}"
          f"  {verdict(ratio <= TARGET_PLAN_OVER_BARE)}")
    print(f"  {'end to end / bare parse (for reference)':<48} {cli / bare:8.2f}")
    if baseline is not None:
        speedup = baseline / plan
        print(f"  {'openpyxl baseline / read+draw':<48} {speedup:8.1f}   >="
              f" {TARGET_OPENPYXL_OVER_PLAN:g}  {verdict(speedup >= TARGET_OPENPYXL_OVER_PLAN)}")
        print(f"  {'openpyxl baseline / end to end':<48} {baseline / cli:8.1f}")
    print(f"  {'peak RSS of read+draw (child), MiB':<48} {child.peak_mib:8.0f}   <"
          f" {TARGET_PEAK_MIB:g}  {verdict(child.peak_mib < TARGET_PEAK_MIB)}"
          f"   (child run {child.seconds:.2f} s)")

    if full_path is not None:
        print(f"\nfull sheet: {full_path.relative_to(HERE.parent)} ({FULL_ROWS:,} rows,"
              f" {full_path.stat().st_size / 1024**2:.1f} MiB), one run each in a child")
        fb = run_child("bare", full_path)
        fp = run_child("plan", full_path)
        print(f"  {'bare parse':<48} {fb.seconds:8.2f} s   peak RSS {fb.peak_mib:.0f} MiB")
        print(f"  {'qaudit allocate --dry-run':<48} {fp.seconds:8.2f} s   peak RSS"
              f" {fp.peak_mib:.0f} MiB   ratio {fp.seconds / fb.seconds:.2f}")
        print(f"  rows read {fp.facts['rows_read']:,}, usable {fp.facts['usable']:,},"
              f" eligible {fp.facts['eligible']:,}, allocated {fp.facts['allocated']}")

    if args.profile:
        profile_plan(path, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
