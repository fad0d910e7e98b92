"""The export job: the full data set for analysts, as one workbook or a folder of CSV files,
optionally anonymised. What each column is, and what anonymising does to it, is
``workbooks.dataset_columns.SHEETS``; the data dictionary sheet is written from it.

In the framework's words: a grade, an audit type, a kind of cycle, an aspect, an RI status
and step are shown by their labels ("Requires improvement", "Care Act assessment"), as the
settings and ``grading`` name them; dates are dates. The Reference is the key that joins
the sheets; the Question ID, question set and version are kept as the stable keys of a
question. The RI follow-up is each Requires improvement audit's corrective action, who
takes it and by when (from its audit form), where it stands and the steps not yet
recorded; the RI steps sheet each step recorded.

Anonymised, for workshops: every identifier (reference, record, person, worker, team,
Service Manager, auditor, manager, who takes an RI action) becomes a keyed pseudonym (HMAC
with the workspace's secret key, which never leaves the workspace); free text is scrubbed
of every id, name and email address the database knows (the staff list and the auditors
the Service Managers named too; and of titled names, id-shaped text and email addresses it
does not know), and no other cell keeps an email address either; every date is shown as
its month, as text (yyyy-mm: a date of the 1st would look exact); and on the Allocations
sheet the month work was completed is coarsened further where needed so that every
combination of cycle, quadrant, audit type and period is shared by at least
``reporting.suppression_threshold`` rows (k-anonymity), or has no period. A sheet "About
this export" says what was done and the k achieved. The year's sheets (plan, deep dives,
workshops) show no completion date or other case attribute, so the Allocations sheet's
k-anonymity is the export's.

The staff list, the auditors the Service Managers named, the messages sent, the feedback
conversations, the email addresses the case export gave and the names of workshop
participants are not exported, anonymised or not: they are the QA team's working record of
who to write to, and hold names and email addresses an analyst has no need of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from qaudit.config import Settings
from qaudit.db import Store
from qaudit.db.draws import CYCLE_KINDS, describe_kind
from qaudit.errors import QauditError
from qaudit.grading import ESCALATED_TO, GRADES, RiStatus
from qaudit.jobs.people import scrub_for_publication
from qaudit.privacy import (
    SUPPRESSED,
    Generalisation,
    coarsen_dates_in_text,
    is_pseudonym,
    k_anonymous_periods,
    month_of,
    pseudonymiser,
    scrub_emails,
)
from qaudit.questions import ASPECTS
from qaudit.workbooks import dataset, dataset_columns
from qaudit.workbooks.dataset_columns import Anonymised, Column, Table
from qaudit.workbooks.forms import ANSWERS, YES_NO
from qaudit.workbooks.moderation import THEMES
from qaudit.workspace import Workspace

#: The Allocations sheet's quasi-identifiers: what a case export also shows about a case.
#: Their combination with the completion period must be shared by at least k rows.
QUASI_IDENTIFIERS = ("cycle", "quadrant", "audit_type", "drawn_for")
RI_STATUSES = {RiStatus.OPEN: "Open", RiStatus.CLOSED: "Closed",
               RiStatus.WITHDRAWN: "Withdrawn (regraded)"}

Pseudonym = Callable[[str, str], str]
Scrub = Callable[[str], str]


def _same(values: Iterable[str]) -> dict[str, str]:
    """A vocabulary whose codes are its labels (a Yes/No answer, an auditor's role)."""
    return {v: v for v in values}


def vocabularies(settings: Settings) -> dict[str, dict[str, str]]:
    """Each labelled column's vocabulary: the code stored -> the label shown. A grade is
    stored by key, or by label on a self-reflection."""
    return {
        dataset_columns.GRADE: {g.key: g.label for g in GRADES} | _same(g.label for g in GRADES),
        dataset_columns.AUDIT_TYPE: settings.type_names(),
        dataset_columns.CYCLE_KIND: {k: describe_kind(k).capitalize() for k in CYCLE_KINDS},
        dataset_columns.QUADRANT: _same(settings.quadrants),
        dataset_columns.YES_NO: _same(YES_NO),
        dataset_columns.ANSWER: _same(ANSWERS),
        dataset_columns.ASPECT: dict(ASPECTS),
        dataset_columns.ROLE: _same(settings.auditor_roles),
        dataset_columns.THEME: _same(THEMES),
        dataset_columns.ESCALATED_TO: _same(ESCALATED_TO),
        dataset_columns.RI_STATUS: {str(k): v for k, v in RI_STATUSES.items()},
        dataset_columns.RI_STEP: dict(settings.ri.steps),
    }


def _as_date(value: Any) -> Any:
    """An ISO date as a date; a time qaudit recorded (UTC) as its day on this computer's
    clock; anything else as it is."""
    if not isinstance(value, str) or len(value) < 10:
        return value
    try:
        return (datetime.fromisoformat(value).astimezone().date() if "T" in value
                else date.fromisoformat(value))
    except ValueError:
        return value


def _present(column: Column, value: Any, labels: dict[str, dict[str, str]]) -> Any:
    """A stored value as the sheet shows it: a label for a code, a date for an ISO date."""
    if isinstance(value, tuple):
        return tuple(_present(column, v, labels) for v in value)
    if column.kind == dataset_columns.DATE:
        return _as_date(value)
    vocabulary = labels.get(column.kind)
    if vocabulary is not None and isinstance(value, str):
        return vocabulary.get(value, value)
    return value


def _anonymise(column: Column, value: Any, pseudonym: Pseudonym, scrub: Scrub) -> Any:
    """A value as the anonymised export shows it (the column's ``Anonymised``)."""
    treatment = column.anonymised
    if isinstance(value, tuple):  # several values: each pseudonymised, or joined
        if treatment is Anonymised.PSEUDONYM:
            return tuple(_pseudonymised(column, str(v), pseudonym) for v in value)
        value = column.several.join(map(str, value))
    if treatment is Anonymised.PSEUDONYM and isinstance(value, str):
        return _pseudonymised(column, value, pseudonym)
    if treatment in (Anonymised.MONTH, Anonymised.PERIOD) and value not in (None, ""):
        return month_of(value) or SUPPRESSED
    if treatment is Anonymised.SCRUBBED and isinstance(value, str):
        return coarsen_dates_in_text(scrub(value))
    if isinstance(value, str):
        return coarsen_dates_in_text(scrub_emails(value))
    return value


def _pseudonymised(column: Column, value: str, pseudonym: Pseudonym) -> str:
    """A value's pseudonym; a purged cycle's value is one already (a reference the very
    pseudonym this export gives it, anything else a token of its purge run:
    ``privacy.is_pseudonym``) and stays as it is."""
    kind = column.pseudonym
    return value if is_pseudonym(value, kind) else pseudonym(kind, value)


def generalise_allocations(columns: Sequence[Column], rows: Sequence[Sequence[Any]],
                           k: int) -> tuple[list[tuple[Any, ...]], Generalisation]:
    """The Allocations rows with the completion month coarsened (``k_anonymous_periods``)
    so that every quasi-identifier group has at least k rows or no period; checked."""
    keys = [c.key for c in columns]
    column = next(i for i, c in enumerate(columns) if c.anonymised is Anonymised.PERIOD)
    groups = [tuple(r[keys.index(q)] for q in QUASI_IDENTIFIERS if q in keys) for r in rows]
    result = k_anonymous_periods(groups, [month_of(r[column]) for r in rows], k)
    out = [(*r[:column], period, *r[column + 1:])
           for r, period in zip(rows, result.periods, strict=True)]
    sizes: dict[tuple[Any, ...], int] = {}
    for group, period in zip(groups, result.periods, strict=True):
        sizes[(*group, period)] = sizes.get((*group, period), 0) + 1
    small = [g for g, n in sizes.items() if n < k and g[-1] != SUPPRESSED]
    if small:  # k_anonymous_periods promises this never happens
        raise QauditError(f"the anonymised export would show {len(small)} group(s) of fewer"
                          f" than {k} allocations; nothing was written.")
    return out, result


def _about(k_result: Generalisation | None, threshold: int) -> Table:
    *some, last = dict.fromkeys(c.header for s in dataset_columns.SHEETS for c in s.columns
                                if c.anonymised is Anonymised.PSEUDONYM)
    rows: list[tuple[str, str]] = [
        ("Identifiers", f"{', '.join(some)} and {last} are keyed pseudonyms (HMAC-SHA256 with"
         " the workspace's key, which is never shared): one value has one pseudonym in every"
         " sheet and every export from this workspace. \"Follows up\" (the audit a"
         " re-audit follows up) is pseudonymised as a Reference, and a deep dive's \"Team"
         " filter\" as a Team, so both still join; who takes an RI corrective action"
         " (\"Action by\") as a Manager. A cycle purged for retention (qaudit purge) holds"
         " tokens of its purge run instead, which join nothing outside it."),
        ("Free text", "Every id, reference, name and email address the record holds (the"
         " staff list, the auditors the Service Managers named and the workshop"
         " participants named included), titled names (\"Mrs Patel\"), id-shaped text and"
         " any email address are replaced by \"(removed)\"; dates written in the text are"
         " shown as their month. So are an RI corrective action, a deep dive's terms of"
         " reference (title, purpose, what it seeks to understand, method, directed by), why"
         " a case was drawn, the names of cycles and workshops, and grade notes. A name the"
         " record never saw, written without a title, can remain. No other cell keeps an"
         " email address either. The SHA-256 of a deep dive's terms file is left out: it"
         " would confirm a guess at what was removed."),
        ("Dates", "Every date (work completed, received, completed, opened, closed, an RI"
         " action's due date, done on, escalated on, a planned cycle's or deep dive's window"
         " and due date, the day a workshop was held) is shown as its month, as text"
         " yyyy-mm (a date cell would look like an exact day)."),
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
                 " one worker or team. Do not publish this data set."))
    return Table(dataset_columns.ABOUT, dataset_columns.ABOUT.columns, rows)


def _labelled(ws: Workspace, store: Store) -> list[Table]:
    """Every table of the record, as ``dataset_columns.SHEETS`` describes it, codes labelled."""
    stored = store.reporting.export_tables(tuple(ws.settings.ri.steps))
    unknown = set(stored) - {s.key for s in dataset_columns.SHEETS}
    if unknown:  # a table the dictionary does not describe is never written
        raise QauditError(f"the export has no description of {', '.join(sorted(unknown))}.")
    labels = vocabularies(ws.settings)
    tables = []
    for sheet in (s for s in dataset_columns.SHEETS if s.key in stored):
        table = stored[sheet.key]
        at = [table.columns.index(c.key) for c in sheet.columns]
        tables.append(Table(sheet, sheet.columns, [
            tuple(_present(c, row[i], labels) for c, i in zip(sheet.columns, at, strict=True))
            for row in table.rows]))
    return tables


def _anonymised(ws: Workspace, store: Store, tables: Sequence[Table]) -> list[Table]:
    """The tables anonymised (each column's ``Anonymised``), k-anonymity checked, and the
    "About this export" sheet saying what was done."""
    threshold = ws.settings.reporting.suppression_threshold
    pseudonym = pseudonymiser(ws.pseudonym_key())
    # one scrub per distinct text: a cycle's name is on each of its allocations
    scrub = lru_cache(maxsize=65536)(
        scrub_for_publication(store, tuple(ws.settings.auditor_roles)))
    out: list[Table] = []
    k_result: Generalisation | None = None
    for table in tables:
        columns = table.columns
        rows: Sequence[Sequence[Any]] = [
            tuple(_anonymise(c, v, pseudonym, scrub) for c, v in zip(columns, row, strict=True))
            for row in table.rows]
        if any(c.anonymised is Anonymised.PERIOD for c in columns):
            rows, k_result = generalise_allocations(columns, rows, threshold)
        kept = [i for i, c in enumerate(columns) if c.anonymised is not Anonymised.WITHHELD]
        out.append(Table(table.sheet, tuple(columns[i] for i in kept),
                         [tuple(r[i] for i in kept) for r in rows]))
    return [*out, _about(k_result, threshold)]


def _joined(table: Table) -> Table:
    """A cell of several values written as one (``Column.several`` between them)."""
    return Table(table.sheet, table.columns, [
        tuple(c.several.join(map(str, v)) if isinstance(v, tuple) else v
              for c, v in zip(table.columns, row, strict=True)) for row in table.rows])


def check_out(path: Path, as_csv: bool) -> None:
    """Refuse an ``--out`` the format cannot write to, before anything is read."""
    if not as_csv and path.suffix.lower() != ".xlsx":
        raise QauditError(f"--out {path} must end in .xlsx (or give --format csv and a"
                          " folder's name, for one CSV file a table).")
    if as_csv:
        if path.suffix.lower() in (".xlsx", ".csv"):
            raise QauditError(f"--format csv writes a folder of CSV files: give --out a"
                              f" folder's name, not {path.name}.")
        if problem := dataset.check_csv_folder(path):
            raise QauditError(problem)


def export_dataset(ws: Workspace, store: Store, path: Path, anonymise: bool,
                   as_csv: bool = False) -> dict[str, int]:
    """Write every table and the data dictionary, as a workbook or a folder of CSV files;
    anonymised if asked. Returns rows per table of the record, by sheet title."""
    check_out(path, as_csv)
    tables = _labelled(ws, store)
    if anonymise:
        tables = _anonymised(ws, store, tables)
    tables = [_joined(t) for t in tables]
    marking = ws.settings.marking
    allowed = {kind: list(dict.fromkeys(labels.values()))
               for kind, labels in vocabularies(ws.settings).items()}
    tables.append(dataset_columns.data_dictionary(tables, allowed, anonymise, marking))
    try:
        if as_csv:
            dataset.write_csv_folder(path, tables, marking, anonymise)
        else:
            dataset.write_workbook(path, tables, marking)
    except OSError as exc:
        raise QauditError(f"could not write {path}: {exc.strerror or exc}. Give --out a"
                          " place you can write to; nothing was written.") from exc
    return {t.sheet.title: len(t.rows) for t in tables
            if t.sheet not in (dataset_columns.ABOUT, dataset_columns.DICTIONARY)}
