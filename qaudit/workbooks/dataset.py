"""The analysts' data set written, as one workbook or as a folder of CSV files (UTF-8 with
a byte order mark, for Excel), from the tables ``dataset_columns`` describes.

Text is never a formula: the workbook stores it as text (``cells``); a CSV file cannot,
so a value that Excel would take for a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return: ``cells.FORMULA_START``) gets a leading ``'``, as OWASP
advises. A CSV file cannot carry the protective marking either: the folder's README.txt
and the data dictionary carry it.
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from qaudit.files import MARKER, atomic_path, made_by_qaudit, staged_folder, write_text
from qaudit.workbooks.cells import DEFAULT_MARKING, FORMULA_START, save, write_table
from qaudit.workbooks.dataset_columns import (
    ABOUT,
    DATE,
    DICTIONARY,
    NUMBER,
    SHEETS,
    Column,
    Table,
)
from qaudit.workbooks.paper import mark_workbook, marking_text

#: What a CSV file puts before text Excel would read as a formula.
DEFUSE = "'"


# --- the workbook ---------------------------------------------------------------------------


def _width(column: Column) -> int:
    return {DATE: 12, NUMBER: 10}.get(column.kind, max(12, min(40, len(column.header) + 4)))


def write_workbook(path: Path, tables: Sequence[Table], marking: str = DEFAULT_MARKING) -> None:
    """One sheet a table, atomically; the protective ``marking`` beside the first sheet's
    header and on every printed page. A date is a date cell shown dd/mm/yyyy. Each sheet
    prints A4 landscape, one page wide, its header row on every page (``write_table``)."""
    with atomic_path(path) as tmp:  # first: a place that cannot be written costs nothing
        wb = Workbook(write_only=True)
        for n, table in enumerate(tables):
            ws = wb.create_sheet(table.sheet.title)
            write_table(ws, [c.header for c in table.columns],
                        (["" if v is None else v for v in r] for r in table.rows),
                        [_width(c) for c in table.columns], marking=marking if n == 0 else "")
        mark_workbook(wb, marking)
        save(wb, tmp)


# --- the CSV files --------------------------------------------------------------------------


def csv_value(value: Any) -> str:
    """A cell as a CSV file holds it: a date ISO (yyyy-mm-dd), text Excel would take for a
    formula with a leading ``'``, nothing as an empty field."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return DEFUSE + value if value[:1] in FORMULA_START else value
    return str(value)


def csv_text(table: Table) -> str:
    """A table as CSV text: the header row, then each row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(csv_value(c.header) for c in table.columns)
    writer.writerows([csv_value(v) for v in row] for row in table.rows)
    return buffer.getvalue()


def readme(tables: Sequence[Table], marking: str, anonymised: bool) -> str:
    """README.txt: the marking (a CSV file cannot carry one), what the files are, how to
    read them; lines of at most 80 characters, Windows line ends (Notepad)."""
    text = marking_text(marking)
    what = "anonymised " if anonymised else ""
    width = max(len(t.sheet.file_name) for t in tables)
    files = [f"  {t.sheet.file_name:<{width}}  {t.sheet.title}: {len(t.rows)}"
             f" row{'' if len(t.rows) == 1 else 's'}" for t in tables]
    paragraphs = [
        "data-dictionary.csv says what every column of every file means, its type, its"
        " allowed values and what anonymising does to it.",
        "The files are UTF-8 with a byte order mark (Excel opens them as UTF-8), comma"
        " separated, with one header row. Dates are yyyy-mm-dd"
        + ("; a date anonymised is its month, yyyy-mm." if anonymised else "."),
        f"Text that Excel would read as a formula (starting with =, +, -, @, a tab or a"
        f" carriage return) starts with {DEFUSE}: remove it in R or Power BI to have the"
        " text as typed.",
        "Power BI: Get data > Text/CSV (or Folder). R: readr::read_csv(file), or"
        " read.csv(file, fileEncoding = \"UTF-8-BOM\").",
    ]
    if anonymised:
        paragraphs.append("Identifiers are keyed pseudonyms; about-this-export.csv says what"
                          " was done. Do not publish these files.")
    lines = [text, "", f"The qaudit {what}data set: one CSV file a table.", "", *files]
    for paragraph in paragraphs:
        lines += ["", *textwrap.wrap(paragraph, 80)]
    if text:
        lines += ["", text]
    return "\r\n".join(lines).strip() + "\r\n"


#: The README a CSV export writes beside its tables.
README = "README.txt"

#: What the system leaves in a folder that someone has looked at (macOS Finder, Windows
#: Explorer), holding nothing of theirs: no reason to refuse a folder.
_SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})

#: How many of the files in the way an error names.
_NAMED = 3


def _export_files() -> frozenset[str]:
    """Every file a CSV export writes (the tables, the data dictionary, about-this-export,
    the README and the folder's marker)."""
    return frozenset({*(s.file_name for s in (*SHEETS, ABOUT, DICTIONARY)), README, MARKER})


def check_csv_folder(folder: Path) -> str | None:
    """Why ``folder`` cannot take a CSV export, or None: it must be new, empty, or an
    export qaudit wrote that holds nothing else. A new export replaces the folder whole
    and deletes the old one, so a file or folder someone added to it since (an analyst's
    script, a dashboard, notes) is a reason to refuse, as is any other folder of
    qaudit's (a cycle's holds the marker too)."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return f"--out {folder} is a file; give a folder's name for the CSV files."
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    known = _export_files()
    others = [p.name for p in entries
              if p.name not in _SYSTEM_FILES and not (p.is_file() and p.name in known)]
    ours = made_by_qaudit(folder) and (folder / DICTIONARY.file_name).is_file()
    if not entries or (ours and not others):
        return None
    named = others or [p.name for p in entries]
    more = f" and {len(named) - _NAMED} more" if len(named) > _NAMED else ""
    return (f"--out {folder} is a folder that holds other files ({', '.join(named[:_NAMED])}"
            f"{more}), and a CSV export replaces its folder whole. Give a new or empty"
            " folder's name, or move those files out of this one first.")


def write_csv_folder(folder: Path, tables: Sequence[Table], marking: str,
                     anonymised: bool) -> None:
    """One CSV file a table and README.txt, written whole into a scratch folder and renamed
    into place; an earlier export there is replaced (not kept: it holds personal data)."""
    with staged_folder(folder, keep_replaced=False) as scratch:
        for table in tables:
            write_text(scratch / table.sheet.file_name, "\ufeff" + csv_text(table))
        write_text(scratch / "README.txt", "\ufeff" + readme(tables, marking, anonymised))
