"""The analysts' workbook: one sheet per table of the record, text always as text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from qaudit.files import atomic_path
from qaudit.workbooks.cells import DEFAULT_MARKING, mark_workbook, save, write_table


def write_dataset(path: Path, sheets: dict[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
                  marking: str = DEFAULT_MARKING) -> None:
    """Write ``name -> (headers, rows)`` as one workbook, atomically; the protective
    ``marking`` beside the first sheet's header and on every printed page."""
    wb = Workbook(write_only=True)
    for n, (name, (headers, rows)) in enumerate(sheets.items()):
        ws = wb.create_sheet(name)
        write_table(ws, headers, (["" if v is None else v for v in r] for r in rows),
                    [max(12, min(40, len(h) + 4)) for h in headers],
                    marking=marking if n == 0 else "")
    mark_workbook(wb, marking)
    with atomic_path(path) as tmp:
        save(wb, tmp)
