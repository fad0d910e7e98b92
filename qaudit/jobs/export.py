"""`qaudit export`: the full data set as one workbook for analysts, optionally anonymised.

Anonymised, for workshops: every identifier (reference, record, person, worker, team,
Service Manager, auditor, manager) becomes a keyed pseudonym (HMAC with the workspace's
secret key, which never leaves the workspace), and free text is scrubbed of every id and
name the database knows. Everything is written as text where it is text: no formula.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from qaudit.db import Store
from qaudit.privacy import pseudonymiser, scrubber
from qaudit.workbooks.cells import save, write_table

#: Column header -> pseudonym kind, for identifying columns.
PSEUDONYMS = {
    "Reference": "REF", "Record ID": "REC", "Person ID": "PER", "Worker ID": "WKR",
    "Worker": "NAME", "Team": "TEAM", "Service Manager": "SM", "Auditor": "AUD",
    "Manager": "MGR",
}
#: Free-text columns, scrubbed of known ids and names when anonymised.
FREE_TEXT = {
    "Rationale", "Strengths", "Learning", "Comment", "Comments", "Went well",
    "Would do differently", "Support wanted", "Note", "Step note", "Learning for the auditor",
}


def _anonymise_row(headers: Sequence[str], row: Sequence[Any],
                   pseudonym: Callable[[str, str], str],
                   scrub: Callable[[str], str]) -> list[Any]:
    out: list[Any] = []
    for header, value in zip(headers, row, strict=True):
        if header in PSEUDONYMS and isinstance(value, str):
            out.append(pseudonym(PSEUDONYMS[header], value))
        elif header in FREE_TEXT and isinstance(value, str):
            out.append(scrub(value))
        else:
            out.append(value)
    return out


def export_workbook(store: Store, path: Path, key: bytes | None) -> dict[str, int]:
    """Write every table; with ``key``, anonymised. Returns rows per sheet."""
    tables = store.export_tables()
    wb = Workbook(write_only=True)
    pseudonym = pseudonymiser(key) if key is not None else None
    scrub = scrubber(store.known_identifiers()) if key is not None else None
    counts: dict[str, int] = {}
    for name, (headers, rows) in tables.items():
        if pseudonym is not None and scrub is not None:
            rows = [tuple(_anonymise_row(headers, r, pseudonym, scrub)) for r in rows]
        ws = wb.create_sheet(name)
        write_table(ws, headers, (["" if v is None else v for v in r] for r in rows),
                    [max(12, min(40, len(h) + 4)) for h in headers])
        counts[name] = len(rows)
    tmp = path.with_name(f".{path.name}.tmp")
    save(wb, tmp)
    tmp.replace(path)
    return counts
