"""Time ``qaudit ingest`` of a year's 960 filled audit forms against python-calamine reading them.

Usage::

    python benchmarks/bench_ingest.py [--repeat 3] [--profile N]
    python benchmarks/bench_ingest.py --durability [--repeat 3]

The first run builds, under ``benchmarks/data/ingest/`` (git-ignored), a workspace with the
default settings (but no worker cool-down, without which every other cycle of this
synthetic organisation falls short) and eight regular cycles of 120 cases drawn from a
synthetic 40,000-row export (``examples/generate_export.py --clean``), two weeks each
between August and November 2026, and every one of the 960 audit forms filled by
``examples/fill_forms.py``
(typed answers in varied case, comments, grades, Requires improvement actions, one row
inserted above the questions per cycle). Later runs reuse it; delete the folder to
build it again.

Then, interleaved round by round (floor, ingest, again), best of ``--repeat``:

1. *floor*: python-calamine reading every sheet of every form
   (``CalamineWorkbook.from_path(p)`` then ``get_sheet_by_index(i).to_python()``), the
   floor issue 13 sets the target against; and fastexcel reading every sheet of every
   form into Arrow, the fastest reader there is (for files this small, barely faster:
   each file's opening costs as much as its cells);
2. *ingest*: what ``qaudit ingest FOLDER`` does, in this process, into a fresh copy of
   the workspace (its database and settings): open the store, find the forms, validate
   and store each in its own transaction;
3. *again*: the same folder ingested a second time into that copy, every form already
   stored (the common "ingest the whole returns folder again");
4. for reference only, the first ingest with SQLite's commits not synced to disk: the
   difference from 2. is what 960 durable commits cost on this disk, which no parsing
   speeds up (``--durability`` measures one commit in every SQLite setting).

It prints the seconds and the ratios against the target (ingest <= 10x the floor).
``--profile N`` prints the N costliest functions of one ingest.

``--durability`` measures instead what SQLite's durability costs per commit on this disk:
a transaction shaped like one return (its row, 40 answers, an event), committed one at a
time in each journal mode and ``synchronous`` setting, interleaved, best of ``--repeat``.
A benchmark, not a timed test: nothing fails on a figure.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import DATA, interleaved, machine, ratio_line, seconds_line, timed

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
HOME = DATA / "ingest"
WORKSPACE = HOME / "workspace"
RETURNS = HOME / "returns"
READY = HOME / "READY"
EXPORT_ROWS = 40_000
SEED = 1
CYCLES = 8
FIRST_DAY = date(2026, 8, 1)
WINDOW_DAYS = 14
TARGET = 10.0
PACKAGES = ("qaudit", "python-calamine", "fastexcel", "openpyxl")


# --- the year's forms ---------------------------------------------------------------------


def cycle_name(n: int) -> str:
    return f"2026-27 C{n}"


def qaudit(*args: str | Path) -> None:
    """Run ``qaudit ARGS`` as a user would; stop the build if it fails."""
    done = subprocess.run([sys.executable, "-m", "qaudit", *map(str, args)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"qaudit {' '.join(map(str, args))} failed:\n{done.stderr}")


def draw_year(export: Path) -> None:
    """A workspace with eight regular cycles of 120 cases, two weeks of work each."""
    qaudit("init", WORKSPACE)
    settings = WORKSPACE / "qaudit.toml"
    # No cool-down: with it, a worker drawn in one cycle is not drawn in the next and every
    # other cycle falls short of 120 cases in this synthetic organisation.
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "worker_cooldown_cycles = 1", "worker_cooldown_cycles = 0"), encoding="utf-8")
    due = (date.today() + timedelta(days=60)).strftime("%d/%m/%Y")
    for n in range(1, CYCLES + 1):
        first = FIRST_DAY + timedelta(days=(n - 1) * WINDOW_DAYS)
        last = first + timedelta(days=WINDOW_DAYS - 1)
        qaudit("-w", WORKSPACE, "allocate", export, "--cycle", cycle_name(n),
               "--from", f"{first:%d/%m/%Y}", "--to", f"{last:%d/%m/%Y}", "--due", due,
               "--seed", str(n))


def _fill(job: tuple[Path, Path, int, bool]) -> None:
    """One form filled as a person would (in a worker process: openpyxl is slow)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    import fill_forms

    src, dst, seed, insert_row = job
    fill_forms.fill_audit(src, dst, random.Random(seed), insert_row=insert_row)


def fill_year() -> int:
    """Every audit form of every cycle filled into ``RETURNS/<cycle folder>/``."""
    jobs = []
    for folder in sorted((WORKSPACE / "cycles").iterdir()):
        forms = sorted((folder / "audit-forms").glob("*-audit.xlsx"))
        jobs += [(form, RETURNS / folder.name / form.name, len(jobs) + i, i == 0)
                 for i, form in enumerate(forms)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_fill, jobs, chunksize=8))
    return len(jobs)


def ensure_year() -> None:
    """Build the workspace and the filled forms once; a half-built folder is built again."""
    if READY.is_file():
        return
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    export = HOME / f"export-{EXPORT_ROWS}-seed{SEED}.xlsx"
    print(f"building {HOME.relative_to(REPO)}: export, {CYCLES} cycles, filled forms ...",
          flush=True)
    subprocess.run([sys.executable, str(EXAMPLES / "generate_export.py"), "--rows",
                    str(EXPORT_ROWS), "--seed", str(SEED), "--clean", "--out", str(export)],
                   check=True, capture_output=True)
    build = timed(lambda: draw_year(export))
    count = 0

    def fill() -> None:
        nonlocal count
        count = fill_year()

    filling = timed(fill)
    print(f"  drawn in {build:.0f} s; {count} forms filled in {filling:.0f} s", flush=True)
    READY.write_text(f"{count}\n", encoding="utf-8")


def forms() -> list[Path]:
    return sorted(RETURNS.rglob("*.xlsx"))


# --- what is timed ------------------------------------------------------------------------


def calamine_floor(paths: Sequence[Path]) -> int:
    """python-calamine reading every sheet of every file into Python lists."""
    from python_calamine import CalamineWorkbook

    rows = 0
    for path in paths:
        book = CalamineWorkbook.from_path(str(path))
        for i in range(len(book.sheet_names)):
            rows += len(book.get_sheet_by_index(i).to_python())
    return rows


def fastexcel_floor(paths: Sequence[Path]) -> int:
    """fastexcel (calamine in Rust, into Arrow) reading every sheet of every file."""
    import fastexcel

    rows = 0
    for path in paths:
        book = fastexcel.read_excel(str(path))
        for name in book.sheet_names:
            rows += book.load_sheet(name, header_row=None).to_arrow().num_rows
    return rows


def fresh_workspace(scratch: Path) -> Path:
    """A copy of the drawn workspace without its cycle folders (ingest reads none of them)."""
    root = Path(tempfile.mkdtemp(prefix="ws-", dir=scratch))
    shutil.copytree(WORKSPACE, root, dirs_exist_ok=True,
                    ignore=lambda folder, _: ["cycles"] if Path(folder) == WORKSPACE else [])
    return root


def ingest(root: Path, synced: bool = True) -> Any:
    """What ``qaudit -w ROOT ingest RETURNS`` does: open, find, validate and store each.
    ``synced=False`` (for reference only; qaudit never does it) leaves each commit to the
    operating system, which shows what the disk's syncs cost."""
    from qaudit.jobs.ingest import find_forms, ingest_files
    from qaudit.workspace import open_workspace

    ws = open_workspace(root)
    with ws.store() as store:
        if not synced:
            store.conn.execute("PRAGMA synchronous = OFF")
        return ingest_files(store, find_forms([RETURNS]), today=date.today(),
                            settings=ws.settings)


def summary(report: Any) -> str:
    counts = report.to_json()["summary"]
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)


def profile_ingest(scratch: Path, top: int) -> None:
    profiler = cProfile.Profile()
    root = fresh_workspace(scratch)
    profiler.enable()
    ingest(root)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"\ncProfile of one ingest, top {top} by {order}:")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(order).print_stats(top)


# --- what a commit costs -----------------------------------------------------------------

DURABILITY = (("DELETE", "FULL"), ("DELETE", "NORMAL"), ("TRUNCATE", "FULL"),
              ("TRUNCATE", "NORMAL"), ("PERSIST", "FULL"), ("PERSIST", "NORMAL"),
              ("WAL", "FULL"), ("WAL", "NORMAL"), ("DELETE", "OFF"))
COMMITS = 100


def commits(folder: Path, journal: str, synchronous: str) -> float:
    """Seconds for ``COMMITS`` return-shaped transactions, each committed on its own."""
    path = Path(tempfile.mkdtemp(dir=folder)) / "commits.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode = {journal}")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.executescript(
            "CREATE TABLE returns (id INTEGER PRIMARY KEY, fields TEXT, at TEXT);"
            "CREATE TABLE answers (return_id INTEGER, question TEXT, answer TEXT, comment TEXT);"
            "CREATE TABLE events (id INTEGER PRIMARY KEY, detail TEXT);")

        def run() -> None:
            for n in range(COMMITS):
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute("INSERT INTO returns (fields, at) VALUES (?, ?)",
                                   ("f" * 1500, "2026-11-26")).lastrowid
                conn.executemany("INSERT INTO answers VALUES (?, ?, ?, ?)",
                                 [(row, f"Q{q}", "Yes", "a comment" * 3) for q in range(40)])
                conn.execute("INSERT INTO events (detail) VALUES (?)", (f"return {n}",))
                conn.execute("COMMIT")

        return timed(run)
    finally:
        conn.close()


def durability(repeat: int) -> None:
    """Milliseconds a commit costs in each journal mode and synchronous setting."""
    with tempfile.TemporaryDirectory(prefix="qaudit-bench-", dir=HOME) as tmp:
        times = interleaved(repeat, {
            f"{journal} {sync}": lambda j=journal, s=sync: commits(Path(tmp), j, s)
            for journal, sync in DURABILITY})
    print(f"  {'journal_mode synchronous: ms a commit':<52} {'best':>8}   all runs")
    for name, runs in times.items():
        print(seconds_line(name, [t * 1000 / COMMITS for t in runs]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print the N costliest functions of one ingest")
    parser.add_argument("--durability", action="store_true",
                        help="measure what a commit costs in each SQLite durability setting")
    args = parser.parse_args(argv)
    if args.durability:
        HOME.mkdir(parents=True, exist_ok=True)
        for line in machine(("python-calamine",)):
            print(line)
        durability(args.repeat)
        return 0
    ensure_year()
    paths = forms()
    print()
    for line in machine(PACKAGES):
        print(line)
    size = sum(p.stat().st_size for p in paths) / 1024**2
    print(f"{len(paths)} filled audit forms ({size:.1f} MiB) of {CYCLES} cycles;"
          f" best of {args.repeat}, interleaved\n", flush=True)
    reports: dict[str, Any] = {}
    import qaudit.jobs.ingest  # noqa: F401  (start-up is bench_startup's; not timed here)

    with tempfile.TemporaryDirectory(prefix="qaudit-bench-") as tmp:
        scratch = Path(tmp)
        roots: list[Path] = []

        def first() -> float:
            roots.append(fresh_workspace(scratch))
            return _quietly(lambda: reports.__setitem__("first", ingest(roots[-1])))

        def again() -> float:
            return _quietly(lambda: reports.__setitem__("again", ingest(roots[-1])))

        def unsynced() -> float:
            root = fresh_workspace(scratch)
            return _quietly(lambda: ingest(root, synced=False))

        times = interleaved(args.repeat, {
            "floor": lambda: timed(lambda: calamine_floor(paths)),
            "fastexcel": lambda: timed(lambda: fastexcel_floor(paths)),
            "ingest": first, "again": again, "unsynced": unsynced})
        print(f"  first ingest: {summary(reports['first'])}")
        print(f"  again:        {summary(reports['again'])}\n")
        print(f"  {'seconds':<52} {'best':>8}   all runs")
        print(seconds_line("floor: python-calamine, every sheet of every form", times["floor"]))
        print(seconds_line("fastexcel, every sheet of every form to Arrow",
                           times["fastexcel"]))
        print(seconds_line("qaudit ingest, fresh workspace", times["ingest"]))
        print(seconds_line("qaudit ingest again, every form stored", times["again"]))
        print(seconds_line("  reference: ingest with commits not synced to disk",
                           times["unsynced"]))
        floor = min(times["floor"])
        print(f"\n  {'ratio to the floor':<52} {'value':>8}   target")
        print(ratio_line("qaudit ingest / calamine read", min(times["ingest"]), floor, TARGET))
        print(ratio_line("qaudit ingest again / calamine read", min(times["again"]), floor))
        print(ratio_line("qaudit ingest / fastexcel read", min(times["ingest"]),
                         min(times["fastexcel"])))
        print(ratio_line("  reference: not synced / calamine read", min(times["unsynced"]),
                         floor))
        if args.profile:
            profile_ingest(scratch, args.profile)
    return 0


def _quietly(work: Callable[[], object]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        return timed(work)


if __name__ == "__main__":
    sys.exit(main())
