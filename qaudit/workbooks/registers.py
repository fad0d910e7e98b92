"""The allocation register and the Service Managers' allocation workbooks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook

from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import AllocationRow
from qaudit.sampling import StratumResult
from qaudit.workbooks.case_export import BAD_TYPE
from qaudit.workbooks.cells import (
    BOLD,
    BOX,
    HEADER_FILL,
    HEADER_FONT,
    INPUT_FILL,
    TITLE,
    UNLOCKED,
    WRAP,
    a4,
    date_validation,
    list_validation,
    protect,
    put,
    save,
    write_table,
)

ALLOCATION_HEADERS = (
    "Reference", "Quadrant", "Audit type", "Drawn for", "Topped up", "Record ID", "Person ID",
    "Work completed", "Worker ID", "Worker", "Team", "Service Manager", "Allocation workbook",
)


def write_register(
    path: Path,
    *,
    draw_facts: Sequence[tuple[str, Any]],
    allocations: Sequence[AllocationRow],
    type_names: dict[str, str],
    manager_files: dict[str, str],
    strata: Sequence[StratumResult],
    excluded: dict[str, int],
    unusable_counts: dict[str, int],
    unusable: pd.DataFrame,
) -> None:
    """The whole allocation in one workbook: cases, strata, exclusions, unusable rows."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Allocations")
    write_table(
        ws, ALLOCATION_HEADERS,
        (
            (
                a.reference, a.quadrant, type_names[a.audit_type], type_names[a.stratum_type],
                "Yes" if a.stratum_type != a.audit_type else "No", a.record_id, a.person_id,
                date.fromisoformat(a.completed_date), a.worker_id, a.worker_name, a.team,
                a.service_manager, manager_files[a.service_manager],
            )
            for a in allocations
        ),
        (18, 13, 30, 30, 10, 14, 12, 14, 12, 24, 30, 24, 26),
    )
    ws = wb.create_sheet("Strata")
    write_table(
        ws,
        ("Quadrant", "Audit type", "Eligible", "Quota", "Drawn", "Topped up", "Topped up from",
         "Shortfall"),
        (
            (s.quadrant, type_names[s.audit_type], s.eligible, s.quota, s.drawn, s.topped_up,
             ", ".join(f"{type_names[k]} ({v})" for k, v in s.topped_up_from.items()),
             s.shortfall)
            for s in strata
        ),
        (14, 32, 10, 8, 8, 10, 40, 10),
    )
    ws = wb.create_sheet("Excluded")
    write_table(
        ws, ("Stage", "Reason", "Rows"),
        [*(("Not eligible", r, n) for r, n in excluded.items()),
         *(("Unusable row", r, n) for r, n in unusable_counts.items())],
        (16, 50, 10),
    )
    # Rows of work that is simply not audited (financial assessments, contacts...) can be
    # most of an export; they are listed by work type, every other unusable row by itself.
    other_work = unusable["reason"] == BAD_TYPE
    ws = wb.create_sheet("Unusable rows")
    write_table(
        ws,
        ("Export row", "Reason", "Detail", "Record ID", "Person ID", "Work type", "Completed",
         "Worker ID", "Team", "Quadrant"),
        unusable.loc[~other_work].itertuples(index=False, name=None),
        (11, 32, 30, 14, 12, 26, 18, 12, 28, 14),
    )
    by_label = unusable.loc[other_work].groupby("detail", sort=True)["source_row"]
    ws = wb.create_sheet("Other work types")
    write_table(
        ws, ("Work type in the export", "Rows", "First export row", "Last export row"),
        ((label, len(rows), int(rows.min()), int(rows.max())) for label, rows in by_label),
        (40, 10, 16, 16),
    )
    ws = wb.create_sheet("Draw")
    write_table(ws, ("Fact", "Value"), draw_facts, (28, 90))
    save(wb, path)


def write_manager_workbook(
    path: Path,
    *,
    cycle: str,
    manager: str,
    due: date,
    allocations: Sequence[AllocationRow],
    type_names: dict[str, str],
    return_to: str = "",
    auditor_roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES,
) -> None:
    """One Service Manager's cases, with cells to name the auditor for each."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Allocation"
    put(ws, "A1", f"Case audit allocation: {cycle}", font=TITLE)
    put(ws, "A2", f"Service Manager: {manager}", font=BOLD)
    put(
        ws, "A3",
        "Please give each case to an auditor at Senior Practitioner level or above who does"
        " not manage the practitioner, and fill in the yellow cells. Audits and the"
        f" practitioners' self-reflections are due back by {due:%d/%m/%Y}"
        + (f", to {return_to}." if return_to else "."),
        alignment=WRAP,
    )
    ws.merge_cells("A3:K3")
    ws.row_dimensions[3].height = 32
    headers = ("Reference", "Audit type", "Quadrant", "Team", "Practitioner", "Work completed",
               "Record ID", "Person ID", "Auditor", "Auditor role", "Date allocated")
    widths = (18, 30, 13, 28, 24, 14, 13, 12, 24, 22, 14)
    for col, (text, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = ws.cell(row=5, column=col)
        put(ws, cell.coordinate, text, font=HEADER_FONT, fill=HEADER_FILL, alignment=WRAP)
        ws.column_dimensions[cell.column_letter].width = width
    roles = list_validation(ws, auditor_roles)
    dates = date_validation(ws)
    for row, a in enumerate(allocations, start=6):
        values = (a.reference, type_names[a.audit_type], a.quadrant, a.team,
                  a.practitioner, date.fromisoformat(a.completed_date),
                  a.record_id, a.person_id)
        for col, value in enumerate(values, start=1):
            put(ws, ws.cell(row=row, column=col).coordinate, value, border=BOX)
        for letter in "IJK":
            cell = ws[f"{letter}{row}"]
            cell.protection = UNLOCKED
            cell.fill = INPUT_FILL
            cell.border = BOX
        roles.add(f"J{row}")
        dates.add(f"K{row}")
        ws[f"K{row}"].number_format = "dd/mm/yyyy"
    ws.freeze_panes = "A6"
    protect(ws)
    ws.protection.autoFilter = False
    a4(ws, landscape=True)
    ws.print_title_rows = "5:5"
    save(wb, path)
