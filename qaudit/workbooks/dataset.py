"""The analysts' workbook: one sheet per table of the record, text always as text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from qaudit.files import atomic_path
from qaudit.workbooks.cells import save, write_table


def write_dataset(path: Path, sheets: dict[str, tuple[Sequence[str], Sequence[Sequence[Any]]]]
                  ) -> None:
    """Write ``name -> (headers, rows)`` as one workbook, atomically."""
    wb = Workbook(write_only=True)
    for name, (headers, rows) in sheets.items():
        ws = wb.create_sheet(name)
        write_table(ws, headers, (["" if v is None else v for v in r] for r in rows),
                    [max(12, min(40, len(h) + 4)) for h in headers])
    with atomic_path(path) as tmp:
        save(wb, tmp)
