"""The allocation register: every case drawn, the strata, what was excluded and why.

The Service Managers' workbooks are in ``workbooks/manager.py``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook

from qaudit.db import AllocationRow
from qaudit.sampling import StratumResult
from qaudit.workbooks.cells import DEFAULT_MARKING, save, write_table
from qaudit.workbooks.export_values import BAD_TYPE
from qaudit.workbooks.paper import mark_workbook

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
    marking: str = DEFAULT_MARKING,
) -> None:
    """The whole allocation in one workbook: cases, strata, exclusions, unusable rows; the
    protective ``marking`` beside the first sheet's header and on every printed page, the
    cycle (the draw's first fact) in every page's footer. Each sheet prints landscape, one
    page wide, its header row on every page."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Allocations")
    # A re-audit round also says which audit each case follows up, and why a rule that
    # would have passed the case over was waived.
    linked = any(a.follows_up or a.drawn_because for a in allocations)
    write_table(
        ws, ALLOCATION_HEADERS + (("Follows up", "Drawn because") if linked else ()),
        (
            (
                a.reference, a.quadrant, type_names[a.audit_type],
                type_names.get(a.stratum_type, a.stratum_type),
                "Yes" if a.stratum_type != a.audit_type else "No", a.record_id, a.person_id,
                date.fromisoformat(a.completed_date), a.worker_id, a.worker_name, a.team,
                a.service_manager, manager_files[a.service_manager],
                *((a.follows_up, a.drawn_because) if linked else ()),
            )
            for a in allocations
        ),
        (18, 13, 30, 30, 10, 14, 12, 14, 12, 24, 38, 24, 26) + ((18, 40) if linked else ()),
        marking=marking,
    )
    ws = wb.create_sheet("Strata")
    write_table(
        ws,
        ("Quadrant", "Audit type", "Eligible", "Quota", "Drawn", "Topped up", "Topped up from",
         "Shortfall"),
        (
            # (a deep dive's or re-audit round's one stratum is named by its selection)
            (s.quadrant, type_names.get(s.audit_type, s.audit_type), s.eligible, s.quota,
             s.drawn, s.topped_up,
             ", ".join(f"{type_names.get(k, k)} ({v})" for k, v in s.topped_up_from.items()),
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
        (11, 32, 30, 14, 12, 26, 18, 12, 38, 14),
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
    mark_workbook(wb, marking, f"Allocation register {dict(draw_facts).get('Cycle', '')}")
    save(wb, path)

