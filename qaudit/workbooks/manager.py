"""The Service Manager's allocation workbook: layout and named-cell contract.

One workbook per Service Manager lists the cases of theirs that were drawn; they name an
auditor for each (name, email, role, date allocated) and send it back, and ``qaudit
ingest`` reads their choices (``validation.check_manager_rows``). Same discipline as the
audit forms (``docs/forms.md``): every input cell is a workbook-level defined name
(``sm_<n>_auditor`` ..., ``n`` the case's row in the table, from 1), each row's reference
cell is named too (locked), only input cells are unlocked, and a very hidden ``_qaudit``
sheet names the workspace, cycle, Service Manager and the references and records it holds,
signed with the workspace's key. The protective marking stands in the title's row (J1:L1)
and on every printed page.

A cycle's workbooks are written by one :class:`ManagerWorkbooks`, which lays out and saves
each size of workbook once and writes each manager's from it (``workbooks.template``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from qaudit import __version__
from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import AllocationRow
from qaudit.privacy import sign
from qaudit.workbooks.cells import (
    BOLD,
    BOX,
    DEFAULT_MARKING,
    HEADER_FILL,
    HEADER_FONT,
    INPUT_LOOK,
    META_SHEET,
    WRAP,
    date_validation,
    define_name,
    input_cell,
    list_validation,
    protect,
    put,
    put_marking,
    put_title,
    write_meta,
)
from qaudit.workbooks.form_sheet import InputField
from qaudit.workbooks.paper import LINE, a4, mark_workbook, text_height
from qaudit.workbooks.template import BLANK_DATE, FOOTER, BookTemplate, CellKey, fill_cells

MANAGER_FORM = "service_manager"
SHEET = "Allocation"
HEADER_ROW = 5
FIRST_ROW = HEADER_ROW + 1
#: The table's columns: (header, width); the last four are the Service Manager's inputs.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Reference", 16), ("Audit type", 24), ("Quadrant", 12), ("Team", 26),
    ("Practitioner", 22), ("Work completed", 12), ("Record ID", 12), ("Person ID", 11),
    ("Auditor", 24), ("Auditor email", 30), ("Auditor role", 22), ("Date allocated", 12),
)
#: Each case's row shows three lines of wrapped text: a long team or audit type whole.
ROW_HEIGHT = 48.0
REFERENCE_COLUMN = "A"
NAME_MAX = 200
EMAIL_MAX = 254


def reference_name(n: int) -> str:
    """The locked cell showing row ``n``'s allocation reference."""
    return f"sm_{n}_reference"


def auditor_fields(n: int, auditor_roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES
               ) -> tuple[InputField, ...]:
    """The named inputs of row ``n`` (from 1) of the table, in column order I to L."""
    return (
        InputField(f"sm_{n}_auditor", "Auditor", "text", max_length=NAME_MAX),
        InputField(f"sm_{n}_email", "Auditor email", "text", max_length=EMAIL_MAX),
        InputField(f"sm_{n}_role", "Auditor role", "choice", auditor_roles),
        InputField(f"sm_{n}_date", "Date allocated", "date"),
    )


_INPUT_COLUMNS = ("I", "J", "K", "L")


def manager_layout(count: int) -> dict[str, tuple[str, str, int]]:
    """Where each named cell of a workbook of ``count`` cases is as issued:
    name -> (sheet, column, row), as ``validation.check_layout`` compares it."""
    layout: dict[str, tuple[str, str, int]] = {}
    for n in range(1, count + 1):
        row = FIRST_ROW + n - 1
        layout[reference_name(n)] = (SHEET, REFERENCE_COLUMN, row)
        for column, spec in zip(_INPUT_COLUMNS, auditor_fields(n), strict=True):
            layout[spec.name] = (SHEET, column, row)
    return layout


#: What the signature covers: the workbook's identification cannot be edited undetected.
MANAGER_SIGNED_KEYS = ("form_kind", "workspace", "cycle", "manager", "references", "record_ids")


@dataclass(frozen=True)
class ManagerBook:
    """What one Service Manager's workbook is for: written once, read back by ingest."""

    workspace_id: str
    signing_key: bytes
    cycle: str
    manager: str
    due: date
    allocations: Sequence[AllocationRow]
    type_names: dict[str, str]
    return_to: str = ""
    auditor_roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES
    marking: str = DEFAULT_MARKING  # the protective marking, [organisation] protective_marking


def manager_meta(book: ManagerBook) -> dict[str, str]:
    """The hidden sheet's ``key -> value`` rows. The references and record ids are JSON
    lists in the table's row order (one cell each, whatever the number of cases)."""
    values = {
        "form_kind": MANAGER_FORM,
        "workspace": book.workspace_id,
        "cycle": book.cycle,
        "manager": book.manager,
        "references": json.dumps([a.reference for a in book.allocations]),
        "record_ids": json.dumps([a.record_id for a in book.allocations]),
        "cases": str(len(book.allocations)),
        "qaudit_version": __version__,
    }
    values["signature"] = sign([values[k] for k in MANAGER_SIGNED_KEYS], book.signing_key)
    return values


_MANAGER_META_KEYS = ("form_kind", "workspace", "cycle", "manager", "references",
                      "record_ids", "cases", "qaudit_version", "signature")


def manager_cells(book: ManagerBook) -> dict[CellKey, str | date]:
    """Every cell of a workbook that says whose it is and what it holds: the title, the
    Service Manager, the instructions, each case's row, the hidden sheet's values and the
    pages' footers."""
    values: dict[CellKey, str | date] = {
        (SHEET, "A1"): f"Case audit allocation: {book.cycle}",
        (SHEET, "A2"): f"Service Manager: {book.manager}",
        (SHEET, "A3"): (
            "Please give each case to an auditor at Senior Practitioner level or above who is"
            " not the practitioner, does not manage them and, where you can, is not in their"
            f" team. Fill in {INPUT_LOOK} of each row: the auditor's name, work email and"
            " role, and the date you allocated it. Audits and the practitioners'"
            " self-reflections are due"
            f" back by {book.due:%d/%m/%Y}"
            + (f"; return this workbook to {book.return_to}." if book.return_to
               else "; return this workbook to the Practice Quality Team.")),
    }
    for n, a in enumerate(book.allocations, start=1):
        shown: tuple[str | date, ...] = (
            a.reference, book.type_names[a.audit_type], a.quadrant, a.team, a.practitioner,
            date.fromisoformat(a.completed_date), a.record_id, a.person_id)
        for col, value in enumerate(shown, start=1):
            values[SHEET, f"{get_column_letter(col)}{FIRST_ROW + n - 1}"] = value
    meta = manager_meta(book)
    assert tuple(meta) == _MANAGER_META_KEYS
    for row, text in enumerate(meta.values(), start=1):
        values[META_SHEET, f"B{row}"] = text
    for title in (SHEET, META_SHEET):  # each page's footer: the cycle, not the manager's name
        values[title, FOOTER] = f"Service Manager allocation {book.cycle}"
    return values


def _layout(count: int, auditor_roles: tuple[str, ...], marking: str) -> Workbook:
    """A workbook of ``count`` cases with every style, name, drop-down and protection in
    place and blank text (dates where dates go) in the cells :func:`manager_cells` fills."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    last = get_column_letter(len(COLUMNS))
    put_title(ws, "A1", "")
    # The marking at the top right, over the last three columns: beside the title, so no
    # row of the contract moves.
    marking_from = get_column_letter(len(COLUMNS) - 2)
    put_marking(ws, f"{marking_from}1", marking)
    ws.merge_cells(f"{marking_from}1:{last}1")
    put(ws, "A2", "", font=BOLD)
    put(ws, "A3", "", alignment=WRAP)
    ws.merge_cells(f"A3:{last}3")
    ws.row_dimensions[3].height = 3 * LINE + 3
    for col, (text, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col)
        put(ws, cell.coordinate, text, font=HEADER_FONT, fill=HEADER_FILL, alignment=WRAP)
        ws.column_dimensions[cell.column_letter].width = width
    ws.row_dimensions[HEADER_ROW].height = max(text_height(text, width, bold=True)
                                               for text, width in COLUMNS)
    roles = list_validation(ws, auditor_roles, "Senior Practitioner or above")
    dates = date_validation(ws)
    blank_row = ("", "", "", "", "", BLANK_DATE, "", "")
    for n in range(1, count + 1):
        row = FIRST_ROW + n - 1
        for col, value in enumerate(blank_row, start=1):
            put(ws, ws.cell(row=row, column=col).coordinate, value, border=BOX, alignment=WRAP)
        ws.row_dimensions[row].height = ROW_HEIGHT
        define_name(wb, reference_name(n), ws, f"{REFERENCE_COLUMN}{row}")
        for column, spec in zip(_INPUT_COLUMNS, auditor_fields(n), strict=True):
            ref = f"{column}{row}"
            input_cell(ws, ref)
            define_name(wb, spec.name, ws, ref)
        roles.add(f"K{row}")
        dates.add(f"L{row}")
        ws[f"L{row}"].number_format = "dd/mm/yyyy"
    ws.freeze_panes = f"A{FIRST_ROW}"
    protect(ws)
    ws.protection.autoFilter = False
    a4(ws, landscape=True)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    write_meta(wb, dict.fromkeys(_MANAGER_META_KEYS, ""))
    mark_workbook(wb, marking)
    return wb


def manager_workbook(book: ManagerBook) -> Workbook:
    """One Service Manager's workbook in openpyxl's object model: what
    :class:`ManagerWorkbooks` writes, cell for cell."""
    return fill_cells(_layout(len(book.allocations), book.auditor_roles, book.marking),
                      manager_cells(book))


class ManagerWorkbooks:
    """Writes a cycle's Service Manager workbooks, each layout laid out and saved once.

    A workbook's layout depends only on its number of cases, the workspace's auditor
    roles and the marking; a cycle's twenty-odd managers hold a handful of different
    numbers of cases, and laying out and saving a workbook through openpyxl costs more
    than writing one from a saved layout (``workbooks.template``)."""

    def __init__(self) -> None:
        self._templates: dict[tuple[int, tuple[str, ...], str], BookTemplate] = {}

    def write(self, path: Path, book: ManagerBook) -> None:
        """One Service Manager's cases, with named cells to name the auditor for each."""
        key = (len(book.allocations), book.auditor_roles, book.marking)
        values = manager_cells(book)
        if key not in self._templates:
            self._templates[key] = BookTemplate(_layout(*key), values.keys())
        self._templates[key].write(path, values)


def write_manager_workbook(path: Path, book: ManagerBook) -> None:
    """One Service Manager's workbook on its own (a cycle's go through one
    :class:`ManagerWorkbooks`, which lays out each size of workbook once)."""
    ManagerWorkbooks().write(path, book)
