"""Make a synthetic Mosaic case export of completed workflow steps.

Every name, id and team in the output is invented: the file only has the *shape* of a real
Adult Social Care export, so that ``qaudit`` can be tried and tested without real data.

The output models a nightly case-management report of completed work steps: about 300
workers in about 60 teams under about 20 Service Managers, each team in one quadrant
(North East, Mid, South, West) or Countywide. A pool of roughly ``rows / 3`` persons means
several pieces of work per person. Four step types are audited (Care Act assessment and
review, Mental Capacity assessment, s42 enquiry); the rest of the work is not.

By default the file is *messy*, as real exports are: a cover sheet, report titles above the
header row, blank rows and a total row, ids stored as numbers or as text (with stray spaces,
or as ``"123456.0"``), UK dates stored as real dates or as ``dd/mm/yyyy`` text, odd case and
spacing in step types and quadrants, a few problem rows (blank person id, impossible dates,
unknown quadrant), a few exact duplicate rows, and worker names that look like formulas.
``--clean`` gives one sheet with the header in row 1, real dates and no problem rows.

Usage::

    python examples/generate_export.py --rows 4000 --seed 2026 --out examples/case-export.xlsx
    python examples/generate_export.py --rows 1500 --seed 7 --out examples/case-export.csv
    python examples/generate_export.py --rows 200000 --seed 1 --out big.xlsx --clean

The same arguments always give the same rows (``random.Random`` and a numpy ``Generator``
seeded from ``--seed``; the global random state is never used). Workbooks are written with
xlsxwriter in ``constant_memory`` mode when it is installed, otherwise with openpyxl in
write-only mode; both keep memory bounded for a full 1,048,575-row sheet.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import random
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "AUDITED_TYPES",
    "DEFAULT_END",
    "DEFAULT_RUN_AT",
    "DEFAULT_START",
    "HEADERS",
    "MAX_XLSX_ROWS",
    "QUADRANTS",
    "REPORT_TITLE",
    "STEP_TYPE_MIX",
    "Organisation",
    "Team",
    "Worker",
    "build_organisation",
    "build_rows",
    "iter_rows",
    "make_zip_reproducible",
    "write_export",
]

HEADERS: list[str] = [
    "Workflow Step ID",
    "Person ID",
    "Person Name",
    "Step Type",
    "Completed Date",
    "Worker ID",
    "Worker Name",
    "Team",
    "Service Manager",
    "Quadrant",
    "Step Status",
]
#: Column positions, for readability below.
COL_STEP, COL_PERSON, COL_PNAME, COL_TYPE, COL_DATE = 0, 1, 2, 3, 4
COL_WID, COL_WNAME, COL_TEAM, COL_SM, COL_QUAD, COL_STATUS = 5, 6, 7, 8, 9, 10

DEFAULT_START = date(2026, 8, 1)
DEFAULT_END = date(2026, 11, 20)
#: When the (pretend) nightly report ran: the morning after the default window ends.
DEFAULT_RUN_AT = datetime(2026, 11, 21, 7, 2)
REPORT_TITLE = "Adult Social Care - Completed Workflow Steps"
#: Excel's last row is 1,048,576; one of them is the header.
MAX_XLSX_ROWS = 1_048_575
#: Zero-based index of Excel's last row.
EXCEL_MAX_ROW_INDEX = 1_048_575
#: Rows a messy sheet uses besides data: 3 title rows, header, 2 blank rows, total.
MESSY_EXTRA_ROWS = 7

QUADRANTS: tuple[str, ...] = ("North East", "Mid", "South", "West", "Countywide")
AUDITED_TYPES: tuple[str, ...] = (
    "Care Act Assessment",
    "Care Act Review",
    "Mental Capacity Assessment",
    "Safeguarding Enquiry (S42)",
)
NON_AUDITED_TYPES: tuple[str, ...] = (
    "Financial Assessment",
    "Occupational Therapy Assessment",
    "Carers Support Plan",
    "Contact Record",
)
STEP_TYPES: tuple[str, ...] = AUDITED_TYPES + NON_AUDITED_TYPES
#: Overall mix of step types (generic teams use exactly this; specialist teams lean).
STEP_TYPE_MIX: dict[str, float] = {
    "Care Act Assessment": 0.30,
    "Care Act Review": 0.30,
    "Mental Capacity Assessment": 0.12,
    "Safeguarding Enquiry (S42)": 0.10,
    "Financial Assessment": 0.06,
    "Occupational Therapy Assessment": 0.05,
    "Carers Support Plan": 0.04,
    "Contact Record": 0.03,
}
#: Countywide specialist teams and the work they mostly complete.
SPECIALIST_MIX: dict[str, dict[str, float]] = {
    "Countywide Safeguarding Team": {
        "Safeguarding Enquiry (S42)": 0.70,
        "Mental Capacity Assessment": 0.12,
        "Care Act Assessment": 0.08,
        "Contact Record": 0.10,
    },
    "Hospital Discharge Team": {
        "Care Act Assessment": 0.55,
        "Mental Capacity Assessment": 0.15,
        "Care Act Review": 0.10,
        "Occupational Therapy Assessment": 0.10,
        "Contact Record": 0.10,
    },
    "Deprivation of Liberty Safeguards Team": {
        "Mental Capacity Assessment": 0.75,
        "Care Act Review": 0.15,
        "Contact Record": 0.10,
    },
    "Carers' Support & Wellbeing Team": {
        "Carers Support Plan": 0.55,
        "Care Act Assessment": 0.25,
        "Care Act Review": 0.20,
    },
}

# Invented localities (four per geographic quadrant) and name parts. Any likeness to a real
# person is chance: names are drawn independently from first-name and surname lists.
LOCALITIES: dict[str, tuple[str, ...]] = {
    "North East": ("Elmsworth", "Haverleigh", "Kestrel Bay", "Saltmarsh"),
    "Mid": ("Brackenford", "Oakhurst", "Millbrook", "Chantry Green"),
    "South": ("Wrenbridge", "Southmere", "Larkspur", "Castlereach"),
    "West": ("Thornvale", "Westerby", "Foxley Cross", "Hollowmead"),
}
LOCALITY_TEAM_KINDS: tuple[str, ...] = (
    "Adult Community Team",
    "Learning Disability Team",
    "Older People Team",
)
COUNTYWIDE_TEAMS: tuple[str, ...] = (
    "Countywide Safeguarding Team",
    "Hospital Discharge Team",
    "Deprivation of Liberty Safeguards Team",
    "Carers' Support & Wellbeing Team",
    "Transitions Team",
    "Sensory Services Team",
    "Autism Support Team",
    "Countywide Reablement Team",
)
_FIRST_NAMES_TEXT = """
    Aaliyah Abdul Ada Aiden Alfie Amara Amelia Ananya Arthur Aisha Beatrice Bilal Caleb Chloe
    Connor Daisy Darius Delia Eleanor Elijah Ellis Esme Ewan Fatima Felix Florence Freya
    Gareth Georgia Grace Hamza Harriet Harvey Ibrahim Imogen Isla Jasper Jaya Joan Jude Kai
    Keira Kofi Lena Leon Lucia Maisie Marcus Maya Mohammed Nadia Niamh Noah Olive Omar Orla
    Patrick Phoebe Priya Rafael Reggie Rosa Rowan Ruby Sadie Samir Sienna Stanley Tariq Tessa
    Theo Ursula Vera Wilfred Winifred Yusuf Zara Zofia
    """
FIRST_NAMES: tuple[str, ...] = tuple(_FIRST_NAMES_TEXT.split())
_SURNAMES_TEXT = """
    Abbott Adeyemi Ahmed Ashworth Bailey Barker Bennett Bhatt Blackwood Brennan Carrow
    Chaudhry Clarke Cole Dalton Dimitrov Doyle Ellery Evans Farrant Fenwick Fletcher Garside
    Gill Goddard Hale Hargreaves Holloway Hussain Iqbal Jarvis Kaur Kelly Kowalski Lambert
    Lindqvist Lowe Mahmood Marsh McAllister Mensah Moreau Nash Novak Nwosu O'Connell Okafor
    Osei Parry Pemberton Quinn Rahman Reid Rossi Sandhu Shaw Singh Sutcliffe Tanaka Thorne
    Underwood Varga Wainwright Whitlock Yates Zielinski
    """
SURNAMES: tuple[str, ...] = tuple(_SURNAMES_TEXT.split())
#: Worker names that begin like a formula: they must stay text all the way through.
FORMULA_LIKE_WORKER_NAMES: tuple[str, ...] = (
    "=Smith, Jo",
    "-Ann Lee",
    "+Sam Okafor",
    "@Riley Shaw",
)
#: Messy spellings of quadrants seen in exports (all but "Unknown" mean a real quadrant).
QUADRANT_VARIANTS: dict[str, tuple[str, ...]] = {
    "North East": ("north east", "NE", "North East ", "NORTH EAST"),
    "Mid": ("mid", "MID", " Mid"),
    "South": ("south", "South ", "SOUTH"),
    "West": ("west", "WEST", " West "),
    "Countywide": ("County Wide", "countywide", "COUNTYWIDE"),
}
UNKNOWN_QUADRANT = "Unknown"
#: Problem rows, in turn: blank person id, impossible date, placeholder date, odd quadrant.
PROBLEM_KINDS: tuple[str, ...] = ("blank_person", "date_31_feb", "date_tbc", "unknown_quadrant")

WORKBOOK_ENGINES = ("auto", "xlsxwriter", "openpyxl")
Engine = Literal["auto", "xlsxwriter", "openpyxl"]
Row = list[object]


@dataclass(frozen=True)
class Team:
    """One team: its name, quadrant and (fixed) Service Manager."""

    name: str
    quadrant: str
    service_manager: str


@dataclass(frozen=True)
class Worker:
    """One practitioner: always in the same team."""

    worker_id: str
    name: str
    team: Team


@dataclass(frozen=True)
class Organisation:
    """The invented organisation the export describes."""

    teams: tuple[Team, ...]
    workers: tuple[Worker, ...]
    service_managers: tuple[str, ...]


def _person_name(rnd: random.Random) -> str:
    return f"{rnd.choice(FIRST_NAMES)} {rnd.choice(SURNAMES)}"


def _unique_names(rnd: random.Random, count: int, taken: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = _person_name(rnd)
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def build_organisation(seed: int, messy: bool = True) -> Organisation:
    """Build ~60 teams, ~20 Service Managers and ~300 workers, all invented.

    Each geographic quadrant has 13 teams under 4 Service Managers; Countywide has 8 teams
    under 4. With ``messy`` a few workers get names that start with ``=``, ``+``, ``-`` or
    ``@``.
    """
    rnd = random.Random(f"organisation:{seed}")
    taken: set[str] = set()
    managers = _unique_names(rnd, 20, taken)
    teams: list[Team] = []
    manager_iter = iter(managers)
    for quadrant, localities in LOCALITIES.items():
        names = [f"{place} {kind}" for place in localities for kind in LOCALITY_TEAM_KINDS]
        names.append(f"{quadrant} Mental Health Social Work Team")
        quadrant_managers = [next(manager_iter) for _ in range(4)]
        teams.extend(Team(name, quadrant, quadrant_managers[i % 4]) for i, name in enumerate(names))
    county_managers = [next(manager_iter) for _ in range(4)]
    teams.extend(
        Team(name, "Countywide", county_managers[i // 2]) for i, name in enumerate(COUNTYWIDE_TEAMS)
    )
    team_sizes = [rnd.randint(3, 7) for _ in teams]
    worker_numbers = rnd.sample(range(10000, 100000), sum(team_sizes))
    worker_names = _unique_names(rnd, sum(team_sizes), taken)
    workers: list[Worker] = []
    for team, size in zip(teams, team_sizes, strict=True):
        for _ in range(size):
            k = len(workers)
            workers.append(Worker(f"W{worker_numbers[k]}", worker_names[k], team))
    if messy:
        for pos, odd in zip(
            rnd.sample(range(len(workers)), len(FORMULA_LIKE_WORKER_NAMES)),
            FORMULA_LIKE_WORKER_NAMES,
            strict=True,
        ):
            w = workers[pos]
            workers[pos] = Worker(w.worker_id, odd, w.team)
    return Organisation(tuple(teams), tuple(workers), tuple(managers))


def _working_days(start: date, end: date) -> tuple[list[date], np.ndarray]:
    """Days of the window and their weights (little work is completed at weekends)."""
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    weights = np.array([1.0 if d.weekday() < 5 else 0.06 for d in days])
    return days, weights / weights.sum()


def _step_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Unique, increasing 7-digit ids with random gaps (like a database sequence)."""
    base = 2_000_000
    max_gap = min(8, (9_999_999 - base) // max(count, 1))
    if max_gap < 1:
        raise ValueError(f"cannot make {count} unique 7-digit ids")
    gaps = rng.integers(1, max_gap + 1, size=count)
    return base + np.cumsum(gaps)


def _uk(d: datetime, with_time: bool = False) -> str:
    return d.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def _messy_type(rnd: random.Random, step_type: str) -> str:
    variant = rnd.randrange(5)
    if variant == 0:
        return step_type.lower()
    if variant == 1:
        return f" {step_type} "
    if variant == 2:
        return step_type.upper()
    if variant == 3:
        return step_type.replace(" ", "  ", 1)
    return f"{step_type} "


def _messy_person_id(rnd: random.Random, pid: int) -> object:
    r = rnd.random()
    if r < 0.75:
        return pid
    if r < 0.85:
        return str(pid)
    if r < 0.95:
        return rnd.choice((f" {pid}", f"{pid} ", f" {pid} ", f"  {pid}"))
    return f"{pid}.0"


def _messy_date(rnd: random.Random, when: datetime) -> object:
    r = rnd.random()
    if r < 0.70:
        return when
    if r < 0.95:
        return _uk(when)
    return _uk(when, with_time=True)


def iter_rows(
    n_rows: int,
    seed: int,
    messy: bool = True,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
) -> Iterator[Row]:
    """Yield ``n_rows`` data rows (in ``HEADERS`` order) without holding them all.

    Rows come in completion order. With ``messy`` the rows include problem rows (about
    0.5%) and 3-5 exact duplicates, which count towards ``n_rows``; blank, title and total
    rows are added by :func:`write_export`, not here.
    """
    if n_rows < 0:
        raise ValueError("n_rows must be 0 or more")
    if n_rows == 0:
        return
    org = build_organisation(seed, messy)
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)

    n_dups = rnd.randint(3, 5) if messy and n_rows >= 40 else 0
    n_unique = n_rows - n_dups

    # People: ~rows/3 of them, each with a fixed 6-digit id and name.
    n_people = max(1, min(900_000, n_rows // 3))
    person_ids = rng.choice(900_000, size=n_people, replace=False) + 100_000
    person_first = rng.integers(0, len(FIRST_NAMES), size=n_people)
    person_last = rng.integers(0, len(SURNAMES), size=n_people)
    row_person = rng.integers(0, n_people, size=n_unique)

    # Who did the work: some workers complete much more than others.
    activity = rng.gamma(4.0, 1.0, size=len(org.workers))
    row_worker = rng.choice(len(org.workers), size=n_unique, p=activity / activity.sum())

    # What the work was: the team's mix (specialist teams lean to their own work).
    type_index = {name: i for i, name in enumerate(STEP_TYPES)}
    base_p = np.array([STEP_TYPE_MIX[t] for t in STEP_TYPES])
    row_type = np.empty(n_unique, dtype=np.int64)
    worker_team = np.array([w.team.name for w in org.workers], dtype=object)[row_worker]
    generic = np.ones(n_unique, dtype=bool)
    for team_name, mix in SPECIALIST_MIX.items():
        mask = worker_team == team_name
        generic &= ~mask
        p = np.zeros(len(STEP_TYPES))
        for type_name, share in mix.items():
            p[type_index[type_name]] = share
        row_type[mask] = rng.choice(len(STEP_TYPES), size=int(mask.sum()), p=p / p.sum())
    row_type[generic] = rng.choice(len(STEP_TYPES), size=int(generic.sum()), p=base_p)

    # When: working days across the window, in completion order, with a time of day.
    days, day_p = _working_days(start, end)
    row_day = rng.choice(len(days), size=n_unique, p=day_p)
    row_time = rng.integers(8 * 60, 18 * 60 + 30, size=n_unique)  # minutes after midnight
    order = np.lexsort((row_time, row_day))
    row_day, row_time = row_day[order], row_time[order]
    step_ids = _step_ids(rng, n_unique)

    # Problems and duplicates (messy only).
    problems: dict[int, str] = {}
    if messy and n_rows >= 40:
        n_problems = max(len(PROBLEM_KINDS), round(n_unique * 0.005))
        for k, pos in enumerate(sorted(rnd.sample(range(n_unique), n_problems))):
            problems[pos] = PROBLEM_KINDS[k % len(PROBLEM_KINDS)]
    dup_at: dict[int, list[int]] = {}
    dup_sources = set(
        rnd.sample([i for i in range(n_unique) if i not in problems], n_dups) if n_dups else []
    )
    for src in sorted(dup_sources):
        dup_at.setdefault(min(n_unique - 1, src + rnd.randint(0, 30)), []).append(src)
    held: dict[int, Row] = {}

    step_status = "Completed"
    for i in range(n_unique):
        worker = org.workers[int(row_worker[i])]
        team = worker.team
        person_no = int(row_person[i])
        pid = int(person_ids[person_no])
        minute = int(row_time[i])
        when = datetime.combine(days[int(row_day[i])], datetime.min.time())
        step_type = STEP_TYPES[int(row_type[i])]
        quadrant = team.quadrant
        person: object = pid
        completed: object = when
        if messy:
            when = when + timedelta(minutes=minute)
            person = _messy_person_id(rnd, pid)
            completed = _messy_date(rnd, when)
            if rnd.random() < 0.05:
                step_type = _messy_type(rnd, step_type)
            if rnd.random() < 0.04:
                quadrant = rnd.choice(QUADRANT_VARIANTS[quadrant])
            kind = problems.get(i)
            if kind == "blank_person":
                person = None
            elif kind == "date_31_feb":
                completed = "31/02/2026"
            elif kind == "date_tbc":
                completed = "TBC"
            elif kind == "unknown_quadrant":
                quadrant = UNKNOWN_QUADRANT
        row: Row = [
            int(step_ids[i]),
            person,
            f"{FIRST_NAMES[int(person_first[person_no])]} {SURNAMES[int(person_last[person_no])]}",
            step_type,
            completed,
            worker.worker_id,
            worker.name,
            team.name,
            team.service_manager,
            quadrant,
            step_status,
        ]
        if i in dup_sources:
            held[i] = row
        yield row
        for src in dup_at.get(i, ()):
            yield list(held.pop(src))


def build_rows(
    n_rows: int,
    seed: int,
    messy: bool = True,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
) -> tuple[list[str], list[list[object]]]:
    """Return ``(headers, rows)`` for a synthetic export of ``n_rows`` data rows.

    ``rows`` hold Python values as an export reader would meet them: ``int`` ids, ``str``
    text, ``datetime`` for real dates and ``str`` for dates stored as text. ``None`` is an
    empty cell.
    """
    return list(HEADERS), list(iter_rows(n_rows, seed, messy, start, end))


# --------------------------------------------------------------------------- writing


def _layout(
    rows: Iterable[Sequence[object]], messy: bool, seed: int, expected_rows: int | None
) -> tuple[Iterable[Sequence[object]], int, set[int]]:
    """Count the rows (-1 if unknown) and pick where blank rows go ('after data row k')."""
    if isinstance(rows, Sized):
        n = len(rows)
    elif expected_rows is not None:
        n = expected_rows
    elif messy:  # the cover sheet and the blank rows need the count
        rows = list(rows)
        n = len(rows)
    else:
        n = -1
    if not messy:
        return rows, n, set()
    rnd = random.Random(f"layout:{seed}:{n}")
    blanks = set(rnd.sample(range(1, n), min(2, n - 1))) if n > 1 else set()
    return rows, n, blanks


def _cover_lines(
    n_rows: int, run_at: datetime, start: date, end: date, seed: int | None
) -> list[tuple[str, object]]:
    lines: list[tuple[str, object]] = [
        (REPORT_TITLE, ""),
        ("", ""),
        ("Report", "ASC-QA-014 Completed workflow steps (all teams)"),
        ("Run date", run_at.strftime("%d/%m/%Y %H:%M")),
        ("Run by", "Scheduled task"),
        ("", ""),
        ("Parameters", ""),
        ("Completed from", start.strftime("%d/%m/%Y")),
        ("Completed to", end.strftime("%d/%m/%Y")),
        ("Step status", "Completed"),
        ("Step types", "All"),
        ("Teams", "All"),
        ("Rows returned", n_rows),
        ("", ""),
        ("SYNTHETIC DATA: made by examples/generate_export.py; every name is invented.", ""),
    ]
    if seed is not None:
        lines.append(("Seed", seed))
    return lines


NOTES_LINES: tuple[str, ...] = (
    "Notes",
    "Completed Date is the date the step was finished in the case management system.",
    "Person ID is the case management system's person identifier.",
    "Steps completed in error and later cancelled are not shown.",
    "The Total row counts the data rows above it (blank rows are not counted).",
    "This file is synthetic: it describes no real person, worker or team.",
)


def _title_rows(run_at: datetime) -> list[list[object]]:
    return [[REPORT_TITLE], [f"Run date: {run_at.strftime('%d/%m/%Y %H:%M')}"], []]


def write_export(
    path: str | Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    messy: bool = True,
    *,
    run_at: datetime = DEFAULT_RUN_AT,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    seed: int | None = None,
    engine: Engine = "auto",
    expected_rows: int | None = None,
) -> int:
    """Write ``headers`` and ``rows`` as ``.xlsx`` (or ``.xlsm``) or ``.csv``; return data rows.

    With ``messy`` the file gets what real exports have around the data: for a workbook a
    "Cover" sheet first, three title/info rows above the header on the "Report" sheet, two
    blank rows among the data, a "Total" row under it and a "Notes" sheet; for csv the title
    rows, blank rows and total row. ``run_at``, ``start``, ``end`` and ``seed`` only fill in
    the cover sheet and titles. ``engine`` picks the workbook writer (``auto``: xlsxwriter
    when installed, else openpyxl). Workbooks are reproducible byte for byte.

    ``rows`` may be an iterator (see :func:`iter_rows`): pass ``expected_rows`` (how many it
    yields) and even a messy file is streamed; otherwise a messy file collects the rows first.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".xlsx", ".xlsm", ".csv"}:
        raise ValueError(f"{path.name}: the file name must end in .xlsx, .xlsm or .csv")
    if engine not in WORKBOOK_ENGINES:
        raise ValueError(f"engine must be one of {', '.join(WORKBOOK_ENGINES)}")
    rows, n_known, blanks = _layout(rows, messy, seed or 0, expected_rows)
    if suffix == ".csv":
        return _write_csv(path, headers, rows, messy, blanks, run_at)
    if engine == "auto":
        engine = "xlsxwriter" if importlib.util.find_spec("xlsxwriter") else "openpyxl"
    cover = _cover_lines(n_known, run_at, start, end, seed)
    if engine == "xlsxwriter":
        return _write_xlsxwriter(path, headers, rows, messy, blanks, run_at, cover)
    return _write_openpyxl(path, headers, rows, messy, blanks, run_at, cover)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _uk(value)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _write_csv(
    path: Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    messy: bool,
    blanks: set[int],
    run_at: datetime,
) -> int:
    width = len(headers)

    def pad(cells: Sequence[object]) -> list[str]:
        return [_csv_cell(c) for c in cells] + [""] * (width - len(cells))

    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        if messy:
            writer.writerows(pad(r) for r in _title_rows(run_at))
        writer.writerow(list(headers))
        for row in rows:
            writer.writerow(pad(row))
            count += 1
            if count in blanks:
                writer.writerow(pad([]))
        if messy:
            writer.writerow(pad(["Total", count]))
    return count


def _write_xlsxwriter(
    path: Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    messy: bool,
    blanks: set[int],
    run_at: datetime,
    cover: list[tuple[str, object]],
) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    workbook.set_properties(
        {"title": REPORT_TITLE, "author": "qaudit example generator", "created": run_at}
    )
    bold = workbook.add_format({"bold": True})
    date_fmt = workbook.add_format({"num_format": "dd/mm/yyyy"})
    count = 0
    try:
        if messy:
            sheet = workbook.add_worksheet("Cover")
            sheet.set_column(0, 0, 34)
            sheet.set_column(1, 1, 48)
            for r, (label, value) in enumerate(cover):
                if label:
                    sheet.write_string(r, 0, label, bold if r == 0 else None)
                if isinstance(value, int) and value >= 0:
                    sheet.write_number(r, 1, value)
                elif isinstance(value, str) and value:
                    sheet.write_string(r, 1, value)
        sheet = workbook.add_worksheet("Report")
        for c, width in enumerate((16, 12, 22, 30, 16, 10, 22, 40, 22, 13, 12)):
            sheet.set_column(c, c, width)
        r = 0
        if messy:
            for title in _title_rows(run_at):
                if title:
                    sheet.write_string(r, 0, str(title[0]), bold if r == 0 else None)
                r += 1
        for c, name in enumerate(headers):
            sheet.write_string(r, c, name, bold)
        r += 1
        last_row = EXCEL_MAX_ROW_INDEX + (0 if messy else 1)  # keep a row for the total
        for row in rows:
            if r >= last_row:
                raise ValueError(f"more than {count:,} rows do not fit on one worksheet")
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, datetime | date):
                    sheet.write_datetime(r, c, value, date_fmt)
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, str(value))
            r += 1
            count += 1
            if count in blanks:
                r += 1
        if messy:
            sheet.write_string(r, 0, "Total", bold)
            sheet.write_number(r, 1, count, bold)
            notes = workbook.add_worksheet("Notes")
            notes.set_column(0, 0, 90)
            for i, line in enumerate(NOTES_LINES):
                notes.write_string(i, 0, line, bold if i == 0 else None)
    finally:
        workbook.close()
    if path.suffix.lower() == ".xlsm":
        make_zip_reproducible(path, run_at, macro_enabled=True)
    return count


def _write_openpyxl(
    path: Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    messy: bool,
    blanks: set[int],
    run_at: datetime,
    cover: list[tuple[str, object]],
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    workbook.properties.title = REPORT_TITLE
    workbook.properties.creator = "qaudit example generator"
    bold = Font(bold=True)

    def text(sheet: object, value: str, is_bold: bool = False) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, even when it starts with "="
        if is_bold:
            cell.font = bold
        return cell

    if messy:
        sheet = workbook.create_sheet("Cover")
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 48
        for r, (label, value) in enumerate(cover):
            second: object = None
            if isinstance(value, int) and value >= 0:
                second = value
            elif isinstance(value, str) and value:
                second = text(sheet, value)
            sheet.append([text(sheet, label, r == 0) if label else None, second])
    sheet = workbook.create_sheet("Report")
    for letter, width in zip(
        "ABCDEFGHIJK", (16, 12, 22, 30, 16, 10, 22, 40, 22, 13, 12), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    if messy:
        for n, title in enumerate(_title_rows(run_at)):
            sheet.append([text(sheet, str(title[0]), n == 0)] if title else [])
    sheet.append([text(sheet, h, True) for h in headers])
    count = 0
    used = (4 if messy else 1) + 1  # rows above the data, plus the total row
    for row in rows:
        if count + used + len(blanks) > EXCEL_MAX_ROW_INDEX + 1:
            raise ValueError(f"more than {count:,} rows do not fit on one worksheet")
        cells: list[object] = []
        for value in row:
            if isinstance(value, datetime | date):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "dd/mm/yyyy"
                cells.append(cell)
            elif isinstance(value, str):
                cells.append(text(sheet, value))
            else:
                cells.append(value)
        sheet.append(cells)
        count += 1
        if count in blanks:
            sheet.append([])
    if messy:
        sheet.append([text(sheet, "Total", True), count])
        notes = workbook.create_sheet("Notes")
        notes.column_dimensions["A"].width = 90
        for i, line in enumerate(NOTES_LINES):
            notes.append([text(notes, line, i == 0)])
    workbook.save(str(path))
    make_zip_reproducible(path, run_at, macro_enabled=path.suffix.lower() == ".xlsm")
    return count


XLSX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def make_zip_reproducible(
    path: str | Path, when: datetime = DEFAULT_RUN_AT, *, macro_enabled: bool = False
) -> None:
    """Rewrite a workbook so that saving the same content twice gives the same bytes.

    openpyxl stamps the save time into ``docProps/core.xml`` and into every zip entry; this
    replaces both with ``when``. With ``macro_enabled`` the workbook part is declared
    macro-enabled, as Excel expects of an ``.xlsm`` file (openpyxl and xlsxwriter only do
    that when the workbook carries a VBA project).
    """
    path = Path(path)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    fd, tmp_name = tempfile.mkstemp(suffix=path.suffix, dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with (
            open(fd, "wb") as out_handle,
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(out_handle, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for info in source.infolist():
                fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                fixed.compress_type = zipfile.ZIP_DEFLATED
                fixed.external_attr = 0o600 << 16
                if info.filename == "docProps/core.xml":
                    target.writestr(fixed, _restamp_core(source.read(info.filename), stamp))
                    continue
                if info.filename == "[Content_Types].xml" and macro_enabled:
                    types = source.read(info.filename).replace(
                        XLSX_MAIN_TYPE.encode(), XLSM_MAIN_TYPE.encode()
                    )
                    target.writestr(fixed, types)
                    continue
                big = info.file_size >= zipfile.ZIP64_LIMIT
                with source.open(info) as src, target.open(fixed, "w", force_zip64=big) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)  # streamed: sheets can be large
        tmp.chmod(0o644)  # mkstemp makes owner-only files
        shutil.move(str(tmp), path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _restamp_core(data: bytes, stamp: str) -> bytes:
    import re

    text = data.decode("utf-8")
    for tag in ("dcterms:created", "dcterms:modified"):
        text = re.sub(
            rf"(<{tag}[^>]*>)[^<]*(</{tag}>)", lambda m: f"{m.group(1)}{stamp}{m.group(2)}", text
        )
    return text.encode("utf-8")


# --------------------------------------------------------------------------- command line


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-08-01") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description="Write a synthetic (invented) Mosaic case export as .xlsx or .csv."
    )
    parser.add_argument("--rows", type=int, default=4000, help="data rows (default 4000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--out", type=Path, required=True, help="output .xlsx or .csv file")
    parser.add_argument(
        "--clean",
        action="store_true",
        help="one sheet, header in row 1, real dates, no problem rows",
    )
    parser.add_argument(
        "--start",
        type=_parse_date,
        default=DEFAULT_START,
        help="first completed date (default 2026-08-01)",
    )
    parser.add_argument(
        "--end",
        type=_parse_date,
        default=DEFAULT_END,
        help="last completed date (default 2026-11-20)",
    )
    parser.add_argument(
        "--engine",
        choices=WORKBOOK_ENGINES,
        default="auto",
        help="workbook writer (default: xlsxwriter if installed)",
    )
    args = parser.parse_args(argv)
    limit = MAX_XLSX_ROWS - (0 if args.clean else MESSY_EXTRA_ROWS - 1)
    if args.out.suffix.lower() == ".csv":
        limit = 10_000_000
    if args.rows < 1 or args.rows > limit:
        parser.error(f"--rows must be between 1 and {limit:,} for this file")
    messy = not args.clean
    args.out.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    rows = iter_rows(args.rows, args.seed, messy, args.start, args.end)
    count = write_export(
        args.out,
        HEADERS,
        rows,
        messy,
        run_at=datetime.combine(args.end + timedelta(days=1), datetime.min.time())
        + timedelta(hours=7, minutes=2),
        start=args.start,
        end=args.end,
        seed=args.seed,
        engine=args.engine,
        expected_rows=args.rows,
    )
    took = time.perf_counter() - began
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({count:,} data rows, {'clean' if args.clean else 'messy'},"
        f" {size / 1_048_576:.1f} MiB) in {took:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
