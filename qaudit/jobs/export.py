"""The export job: the full data set as one workbook for analysts, optionally anonymised.

Anonymised, for workshops: every identifier (reference, record, person, worker, team,
Service Manager, auditor, manager) becomes a keyed pseudonym (HMAC with the workspace's
secret key, which never leaves the workspace); free text is scrubbed of every id, name and
email address the database knows (the staff list and the auditors the Service Managers
named too; and of titled names, id-shaped text and email addresses it does not know), and
no other cell keeps an email address either; every date is shown as its month; and on the
Allocations sheet the month work was completed is coarsened further where needed so that
every combination of cycle, quadrant, audit type and period is shared by at least
``reporting.suppression_threshold`` rows (k-anonymity), or has no period. A sheet "About
this export" says what was done and the k achieved.

The staff list, the auditors the Service Managers named, the messages sent, the feedback
conversations and the email addresses the case export gave are not exported, anonymised or
not: they are the QA team's working record of who to write to, and hold names and email
addresses an analyst has no need of.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qaudit.db import Store
from qaudit.errors import QauditError
from qaudit.jobs.people import scrub_for_publication
from qaudit.privacy import (
    SUPPRESSED,
    Generalisation,
    coarsen_dates_in_text,
    k_anonymous_periods,
    month_of,
    pseudonymiser,
    scrub_emails,
)
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
    "Warnings",
}
#: Date columns: shown as their month when anonymised.
DATES = {"Work completed", "Completed", "Received", "Date", "Opened", "Closed", "Done on", "On"}
#: The Allocations sheet's quasi-identifiers: what a case export also shows about a case.
#: Their combination with the completion period must be shared by at least k rows.
ALLOCATIONS = "Allocations"
QUASI_IDENTIFIERS = ("Cycle", "Quadrant", "Audit type", "Drawn for")
COMPLETED = "Work completed"
ABOUT = "About this export"

Sheet = tuple[Sequence[str], Sequence[Sequence[Any]]]


def _anonymise_row(headers: Sequence[str], row: Sequence[Any],
                   pseudonym: Callable[[str, str], str],
                   scrub: Callable[[str], str]) -> tuple[Any, ...]:
    out: list[Any] = []
    for header, value in zip(headers, row, strict=True):
        if header in PSEUDONYMS and isinstance(value, str):
            out.append(pseudonym(PSEUDONYMS[header], value))
        elif header in DATES and value not in (None, ""):
            out.append(month_of(value) or SUPPRESSED)
        elif header in FREE_TEXT and isinstance(value, str):
            out.append(coarsen_dates_in_text(scrub(value)))
        elif isinstance(value, str):
            out.append(coarsen_dates_in_text(scrub_emails(value)))
        else:
            out.append(value)
    return tuple(out)


def generalise_allocations(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                           k: int) -> tuple[list[tuple[Any, ...]], Generalisation]:
    """The Allocations rows with the completion month coarsened (``k_anonymous_periods``)
    so that every quasi-identifier group has at least k rows or no period; checked."""
    keys = [tuple(r[headers.index(h)] for h in QUASI_IDENTIFIERS if h in headers)
            for r in rows]
    column = headers.index(COMPLETED)
    months = [month_of(r[column]) for r in rows]
    result = k_anonymous_periods(keys, months, k)
    out = [(*r[:column], period, *r[column + 1:])
           for r, period in zip(rows, result.periods, strict=True)]
    sizes: dict[tuple[Any, ...], int] = {}
    for key, period in zip(keys, result.periods, strict=True):
        sizes[(*key, period)] = sizes.get((*key, period), 0) + 1
    small = [g for g, n in sizes.items() if n < k and g[-1] != SUPPRESSED]
    if small:  # k_anonymous_periods promises this never happens
        raise QauditError(f"the anonymised export would show {len(small)} group(s) of fewer"
                          f" than {k} allocations; nothing was written.")
    return out, result


def _about(k_result: Generalisation | None, threshold: int) -> Sheet:
    rows: list[tuple[str, str]] = [
        ("Identifiers", "Reference, Record ID, Person ID, Worker ID, Worker, Team, Service"
         " Manager, Auditor and Manager are keyed pseudonyms (HMAC-SHA256 with the"
         " workspace's key, which is never shared): one value has one pseudonym in every"
         " sheet and every export from this workspace."),
        ("Free text", "Every id, reference, name and email address the record holds (the"
         " staff list and the auditors the Service Managers named included), titled names"
         " (\"Mrs Patel\"), id-shaped text and any email address are replaced by"
         " \"(removed)\"; dates written in the text are shown as their month. A name the"
         " record never saw, written without a title, can remain. No other cell keeps an"
         " email address either."),
        ("Dates", "Every date (work completed, received, completed, opened, closed, done on,"
         " escalated on) is shown as its month, YYYY-MM."),
        ("Work completed", "On the Allocations sheet, cycle, quadrant, audit type, drawn for"
         f" and the completion period are shared by at least {threshold} rows (k-anonymity,"
         " k = reporting.suppression_threshold). A month with fewer rows is joined with"
         " the months next to it of the same cycle, quadrant and type (\"2026-09 to"
         f" 2026-10\"); rows that cannot make {threshold} together show \"{SUPPRESSED}\"."),
        ("k required", str(threshold)),
    ]
    if k_result is not None:
        rows += [
            ("k achieved", "no group shown (every period suppressed)"
             if k_result.achieved is None else str(k_result.achieved)),
            ("Allocations by month", str(k_result.months)),
            ("Allocations by range of months", str(k_result.ranges)),
            ("Allocations with the period suppressed", str(k_result.suppressed)),
        ]
    rows.append(("Not exported", "The staff list, the auditors the Service Managers named,"
                 " the messages sent, the feedback conversations and the email addresses the"
                 " case export gave: names and addresses an analysis has no need of."))
    rows.append(("Sharing", "For analysts' workshops only: pseudonyms still link rows of"
                 " one worker or team. Do not publish this workbook."))
    return ["Topic", "What was done"], rows


def export_dataset(ws: Workspace, store: Store, path: Path, anonymise: bool) -> dict[str, int]:
    """Write every table; anonymised if asked. Returns rows per table sheet (not counting
    the anonymised export's "About this export")."""
    if path.suffix.lower() != ".xlsx":
        raise QauditError(f"--out {path} must end in .xlsx.")
    tables = store.reporting.export_tables()
    sheets: dict[str, Sheet] = {}
    if anonymise:
        threshold = ws.settings.reporting.suppression_threshold
        pseudonym = pseudonymiser(ws.pseudonym_key())
        scrub = scrub_for_publication(store, tuple(ws.settings.auditor_roles))
        k_result: Generalisation | None = None
        for name, t in tables.items():
            rows: Sequence[Sequence[Any]] = [
                _anonymise_row(t.headers, r, pseudonym, scrub) for r in t.rows]
            if name == ALLOCATIONS and COMPLETED in t.headers:
                rows, k_result = generalise_allocations(t.headers, rows, threshold)
            sheets[name] = (t.headers, rows)
        counts = {name: len(rows) for name, (_, rows) in sheets.items()}
        sheets[ABOUT] = _about(k_result, threshold)
    else:
        sheets = {name: (t.headers, t.rows) for name, t in tables.items()}
        counts = {name: len(rows) for name, (_, rows) in sheets.items()}
    write_dataset(path, sheets, ws.settings.mail.protective_marking)
    return counts
