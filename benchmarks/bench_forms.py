"""Time writing a cycle's workbooks against writing the same zip members with ``zipfile``.

Usage::

    python benchmarks/bench_forms.py [--rows 20000] [--repeat 5] [--profile [TOP]]

The script makes a scratch workspace and draws a cycle (``plan_allocation``) from the
synthetic export ``bench_allocate.ensure_export`` makes (or reuses) under
``benchmarks/data/``: 120 cases, so 120 audit forms, 120 self-reflection forms, a workbook
for each Service Manager (about 20) and the register, 261 files. Then, interleaved round
by round, best of ``--repeat``:

1. *job*: ``qaudit.jobs.allocate._write_files``, the part of ``qaudit allocate`` that writes
   every workbook of the cycle into its scratch folder (laying out each form once, then
   each file);
2. *floor*: the same files' zip members (their uncompressed part bytes, read from the
   job's own output beforehand, untimed) written into as many zip files with ``zipfile``
   alone, deflated as qaudit deflates them. No writer of these files can do less than put
   those bytes into zip archives, so this is the floor.

It prints both and their ratio against the target (job <= 3x the floor). It is a
benchmark, not a timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench_allocate import ensure_export
from common import interleaved, machine, ratio_line, seconds_line, timed

TARGET = 3.0
WINDOW = (date(2026, 8, 1), date(2026, 11, 30))
SEED = 1
PACKAGES = ("qaudit", "openpyxl")
#: One file's members: (name in the archive, uncompressed bytes), in archive order.
Members = list[tuple[str, bytes]]


def draw(export: Path, scratch: Path) -> tuple[Any, Any]:
    """A workspace and a cycle drawn from ``export`` in it (nothing written yet)."""
    from qaudit.jobs.allocate import AllocationRequest, plan_allocation
    from qaudit.workspace import init_workspace

    ws = init_workspace(scratch / "workspace")
    store = ws.store()
    try:
        plan = plan_allocation(ws, store, AllocationRequest(
            export=export, cycle="BENCH", date_from=WINDOW[0], date_to=WINDOW[1],
            today=WINDOW[1] + timedelta(days=1), seed=SEED,
        ))
    finally:
        store.close()
    return ws, plan


def write_cycle(ws: Any, plan: Any, folder: Path) -> int:
    """The job: every workbook of the cycle written into ``folder``; returns the ticks."""
    from qaudit.jobs.allocate import _write_files

    ticks = []
    folder.mkdir(parents=True)
    _write_files(ws, plan, folder, lambda done, total: ticks.append(done))
    return len(ticks)


def members_of(folder: Path) -> list[Members]:
    """Every workbook's members under ``folder``, as the floor writes them again."""
    books = []
    for path in sorted(folder.rglob("*.xlsx")):
        with zipfile.ZipFile(path) as archive:
            books.append([(info.filename, archive.read(info)) for info in archive.infolist()])
    return books


def write_zips(books: list[Members], folder: Path) -> None:
    """The floor: each file's members into a zip of its own, deflated, with zipfile."""
    folder.mkdir(parents=True)
    for n, members in enumerate(books):
        with zipfile.ZipFile(folder / f"{n:03d}.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000,
                        help="rows of the export drawn from (default 20000)")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many (default 5)")
    parser.add_argument("--profile", type=int, nargs="?", const=20, default=0, metavar="TOP",
                        help="also print the top cProfile costs of one job run (default 20)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    export = ensure_export(args.rows)
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-forms-") as tmp:
        scratch = Path(tmp)
        ws, plan = draw(export, scratch)
        ticks = write_cycle(ws, plan, scratch / "first")
        books = members_of(scratch / "first")
        size = sum(len(data) for members in books for _, data in members)
        rounds = iter(range(10**6))

        def job() -> float:
            folder = scratch / f"job-{next(rounds)}"
            seconds = timed(lambda: write_cycle(ws, plan, folder))
            shutil.rmtree(folder)
            return seconds

        def floor() -> float:
            folder = scratch / f"floor-{next(rounds)}"
            seconds = timed(lambda: write_zips(books, folder))
            shutil.rmtree(folder)
            return seconds

        print()
        for line in machine(PACKAGES):
            print(line)
        print(f"cycle: {len(plan.allocations)} cases, {len(plan.managers)} Service Managers;"
              f" {len(books)} workbooks ({ticks} progress ticks), {size / 1024**2:.1f} MiB of"
              f" members; best of {args.repeat}, interleaved")
        times = interleaved(args.repeat, {"floor": floor, "job": job})
        print(f"  {'':<52} {'best s':>8}   all runs")
        print(seconds_line("floor: the same members zipped with zipfile", times["floor"]))
        print(seconds_line("job: allocate's _write_files", times["job"]))
        print(ratio_line("job / floor", min(times["job"]), min(times["floor"]), TARGET))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(write_cycle, ws, plan, scratch / "profiled")
            pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(
                "cumulative").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
