"""The export job: the full data set as one workbook for analysts, optionally anonymised.

Anonymised, for workshops: every identifier (reference, record, person, worker, team,
Service Manager, auditor, manager) becomes a keyed pseudonym (HMAC with the workspace's
secret key, which never leaves the workspace), and free text is scrubbed of every id and
name the database knows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qaudit.db import Store
from qaudit.errors import QauditError
from qaudit.jobs.people import scrub_for_publication
from qaudit.privacy import pseudonymiser
from qaudit.workbooks.dataset import write_dataset
from qaudit.workspace import Workspace

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
                   scrub: Callable[[str], str]) -> tuple[Any, ...]:
    out: list[Any] = []
    for header, value in zip(headers, row, strict=True):
        if header in PSEUDONYMS and isinstance(value, str):
            out.append(pseudonym(PSEUDONYMS[header], value))
        elif header in FREE_TEXT and isinstance(value, str):
            out.append(scrub(value))
        else:
            out.append(value)
    return tuple(out)


def export_dataset(ws: Workspace, store: Store, path: Path, anonymise: bool) -> dict[str, int]:
    """Write every table; anonymised if asked. Returns rows per sheet."""
    if path.suffix.lower() != ".xlsx":
        raise QauditError(f"--out {path} must end in .xlsx.")
    tables = store.reporting.export_tables()
    sheets: dict[str, tuple[Sequence[str], Sequence[Sequence[Any]]]] = {}
    if anonymise:
        pseudonym = pseudonymiser(ws.pseudonym_key())
        scrub = scrub_for_publication(store, tuple(ws.settings.auditor_roles))
        for name, t in tables.items():
            sheets[name] = (t.headers, [_anonymise_row(t.headers, r, pseudonym, scrub)
                                        for r in t.rows])
    else:
        sheets = {name: (t.headers, t.rows) for name, t in tables.items()}
    write_dataset(path, sheets)
    return {name: len(rows) for name, (_, rows) in sheets.items()}
