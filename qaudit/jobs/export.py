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

The year is in it too. Every allocation says its cycle's kind (regular, deep dive,
re-audit round), the reference of the audit a re-audit follows up ("Follows up",
pseudonymised as a Reference is, so it still joins the row it follows up) and why a case
was drawn despite the cool-down. Once the record has them, sheets of the current plan's
cycles, of the deep dives (their terms of reference, scrubbed as free text when anonymised;
a team filter pseudonymised as the Team column is, so no filter names a team; the terms
file's SHA-256 left out, as it would confirm a guess at a scrubbed word), and of the
workshops, their cases (by the reference of the audit each came from) and each
participant's current grades, by label. Anonymised, the names of cycles and workshops are
scrubbed too (a deep dive may be named after its team). None of these sheets has a
completion date or another case attribute, so the Allocations sheet's k-anonymity is the
export's.

The staff list, the auditors the Service Managers named, the messages sent, the feedback
conversations, the email addresses the case export gave and the names of workshop
participants are not exported, anonymised or not: they are the QA team's working record of
who to write to, and hold names and email addresses an analyst has no need of.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
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

#: Column header -> pseudonym kind, for identifying columns. "Follows up" holds a
#: reference and "Team filter" teams: the same kinds, so they join.
PSEUDONYMS = {
    "Reference": "REF", "Record ID": "REC", "Person ID": "PER", "Worker ID": "WKR",
    "Worker": "NAME", "Team": "TEAM", "Service Manager": "SM", "Auditor": "AUD",
    "Manager": "MGR", "Follows up": "REF", "Team filter": "TEAM",
}
#: Free-text columns, scrubbed of known ids and names when anonymised.
FREE_TEXT = {
    "Rationale", "Strengths", "Learning", "Comment", "Comments", "Went well",
    "Would do differently", "Support wanted", "Note", "Step note", "Learning for the auditor",
    "Warnings", "Drawn because", "Title", "Purpose", "Seeks to understand", "Method",
    "Directed by", "Workshop",
    # Cycle names are typed by the QA team too: a deep dive may be named after its team.
    "Cycle", "From cycle",
}
#: Date columns: shown as their month when anonymised.
DATES = {"Work completed", "Completed", "Received", "Date", "Opened", "Closed", "Done on", "On",
         "Window from", "Window to", "Due", "Held on"}
#: Columns left out when anonymised: the SHA-256 of a deep dive's terms file would let
#: a guessed name be checked against the text the scrubbing removed it from.
WITHHELD = {"Terms SHA-256"}
#: How a cell holding several values (a deep dive's filter: any of them) is shown.
EITHER = " or "
#: The Allocations sheet's quasi-identifiers: what a case export also shows about a case.
#: Their combination with the completion period must be shared by at least k rows.
ALLOCATIONS = "Allocations"
QUASI_IDENTIFIERS = ("Cycle", "Quadrant", "Audit type", "Drawn for")
COMPLETED = "Work completed"
ABOUT = "About this export"

Sheet = tuple[Sequence[str], Sequence[Sequence[Any]]]


def _plain_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row as the identified export shows it: several values joined."""
    return tuple(EITHER.join(map(str, v)) if isinstance(v, tuple) else v for v in row)


def _anonymise_row(headers: Sequence[str], row: Sequence[Any],
                   pseudonym: Callable[[str, str], str],
                   scrub: Callable[[str], str]) -> tuple[Any, ...]:
    out: list[Any] = []
    for header, value in zip(headers, row, strict=True):
        if isinstance(value, tuple):  # several values: each pseudonymised, or joined
            if header in PSEUDONYMS:
                out.append(EITHER.join(pseudonym(PSEUDONYMS[header], str(v)) for v in value))
                continue
            value = EITHER.join(map(str, value))
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
         " sheet and every export from this workspace. \"Follows up\" (the audit a"
         " re-audit follows up) is pseudonymised as a Reference, and a deep dive's \"Team"
         " filter\" as a Team, so both still join."),
        ("Free text", "Every id, reference, name and email address the record holds (the"
         " staff list, the auditors the Service Managers named and the workshop"
         " participants named included), titled names (\"Mrs Patel\"), id-shaped text and"
         " any email address are replaced by \"(removed)\"; dates written in the text are"
         " shown as their month. So are a deep dive's terms of reference (title, purpose,"
         " what it seeks to understand, method, directed by), why a case was drawn, the"
         " names of cycles and workshops, and grade notes. A name the record never saw,"
         " written without a title, can remain. No other cell keeps an email address"
         " either. The SHA-256 of a deep dive's terms file is left out: it would confirm a"
         " guess at what was removed."),
        ("Dates", "Every date (work completed, received, completed, opened, closed, done on,"
         " escalated on, a planned cycle's or deep dive's window and due date, the day a"
         " workshop was held) is shown as its month, YYYY-MM."),
        ("Work completed", "On the Allocations sheet, cycle, quadrant, audit type, drawn for"
         f" and the completion period are shared by at least {threshold} rows (k-anonymity,"
         " k = reporting.suppression_threshold). A month with fewer rows is joined with"
         " the months next to it of the same cycle, quadrant and type (\"2026-09 to"
         f" 2026-10\"); rows that cannot make {threshold} together show \"{SUPPRESSED}\"."
         " A cycle's kind goes with its name, and no other sheet shows a case's"
         " completion, quadrant or type beside anything but its pseudonymised reference,"
         " so the groups are the same."),
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
    rows.append(("Workshops", "Participants are shown by their label (\"Participant 1\")"
                 " only; the names given to `qaudit workshop make` are never exported."))
    rows.append(("Not exported", "The staff list, the auditors the Service Managers named,"
                 " the messages sent, the feedback conversations, the email addresses the"
                 " case export gave and the names of workshop participants: names and"
                 " addresses an analysis has no need of."))
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
        # one scrub per distinct text: a cycle's name is on each of its allocations
        scrub = lru_cache(maxsize=65536)(
            scrub_for_publication(store, tuple(ws.settings.auditor_roles)))
        k_result: Generalisation | None = None
        for name, t in tables.items():
            rows: Sequence[Sequence[Any]] = [
                _anonymise_row(t.headers, r, pseudonym, scrub) for r in t.rows]
            if name == ALLOCATIONS and COMPLETED in t.headers:
                rows, k_result = generalise_allocations(t.headers, rows, threshold)
            kept = [i for i, h in enumerate(t.headers) if h not in WITHHELD]
            sheets[name] = ([t.headers[i] for i in kept],
                            [tuple(r[i] for i in kept) for r in rows])
        counts = {name: len(rows) for name, (_, rows) in sheets.items()}
        sheets[ABOUT] = _about(k_result, threshold)
    else:
        sheets = {name: (t.headers, [_plain_row(r) for r in t.rows])
                  for name, t in tables.items()}
        counts = {name: len(rows) for name, (_, rows) in sheets.items()}
    write_dataset(path, sheets, ws.settings.mail.protective_marking)
    return counts
