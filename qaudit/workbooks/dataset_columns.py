"""The analysts' data set described: its tables and every column's meaning, type, allowed
values and what anonymising does to it, in one place (:data:`SHEETS`), from which the
sheets are written (``dataset``) and the data dictionary generated
(:func:`data_dictionary`), so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from qaudit.workbooks.paper import marking_text

TEXT, NUMBER, DATE = "text", "number", "date"
#: The vocabularies of labelled columns: the export maps each stored code to its label.
GRADE, AUDIT_TYPE, CYCLE_KIND, QUADRANT = "grade", "audit type", "kind of cycle", "quadrant"
YES_NO, ANSWER, ASPECT, ROLE, THEME = "yes/no", "answer", "aspect", "auditor role", "theme"
ESCALATED_TO, RI_STATUS, RI_STEP = "escalated to", "RI status", "RI step"


class Anonymised(StrEnum):
    """What the anonymised export does to a column."""

    KEPT = "kept"
    PSEUDONYM = "pseudonym"
    SCRUBBED = "scrubbed"
    MONTH = "month"
    PERIOD = "period"  # k-anonymity: a month, a range of months or suppressed
    WITHHELD = "withheld"


@dataclass(frozen=True)
class Column:
    """One column of a sheet: what the dictionary says of it and what anonymising does."""

    key: str  # the record's name for it (``db.reporting``)
    header: str
    meaning: str
    kind: str = TEXT  # TEXT, NUMBER, DATE or a vocabulary (its values are labels)
    anonymised: Anonymised = Anonymised.KEPT
    pseudonym: str = ""  # the pseudonym's prefix: "REF" makes REF-xxxxxxxxxx
    several: str = ""  # how a cell of several values is written, between them


def _free(key: str, header: str, meaning: str) -> Column:
    return Column(key, header, meaning, anonymised=Anonymised.SCRUBBED)


def _date(key: str, header: str, meaning: str) -> Column:
    return Column(key, header, meaning, DATE, Anonymised.MONTH)


def _pseudonym(key: str, header: str, meaning: str, prefix: str, several: str = "") -> Column:
    return Column(key, header, meaning, anonymised=Anonymised.PSEUDONYM, pseudonym=prefix,
                  several=several)


@dataclass(frozen=True)
class Sheet:
    """One table of the data set: a sheet of the workbook, a file of the CSV folder."""

    key: str  # the record's table, and its CSV file's name
    title: str
    columns: tuple[Column, ...]

    @property
    def file_name(self) -> str:
        return f"{self.key}.csv"


_REFERENCE = _pseudonym("reference", "Reference", "The audit's reference: the key of an"
                        " allocation, joining the sheets", "REF")
_CYCLE = _free("cycle", "Cycle", "The cycle's name (a deep dive's or re-audit round's too)")
_GRADE = "a grade of the framework"
_WORKSHOP = _free("workshop", "Workshop", "The workshop's name")
_CASE = Column("case_label", "Case", "The case's label in its workshop (\"Case A\")")
_EITHER = " or "  # a deep dive's filter: any of its values
_AND = "; "

SHEETS: tuple[Sheet, ...] = (
    Sheet("allocations", "Allocations", (
        _CYCLE,
        Column("kind", "Kind", "The kind of cycle it was drawn in", CYCLE_KIND),
        _REFERENCE,
        Column("quadrant", "Quadrant", "The quadrant of the work", QUADRANT),
        Column("audit_type", "Audit type", "The kind of work audited", AUDIT_TYPE),
        Column("drawn_for", "Drawn for", "The audit type whose quota it was drawn for (another"
               " where a quota was topped up)", AUDIT_TYPE),
        _pseudonym("record_id", "Record ID", "The case record's id in the case system", "REC"),
        _pseudonym("person_id", "Person ID", "The person's id in the case system", "PER"),
        Column("work_completed", "Work completed", "The day the work was completed", DATE,
               Anonymised.PERIOD),
        _pseudonym("worker_id", "Worker ID", "The practitioner's id", "WKR"),
        _pseudonym("worker", "Worker", "The practitioner's name", "NAME"),
        _pseudonym("team", "Team", "The practitioner's team", "TEAM"),
        _pseudonym("service_manager", "Service Manager", "The Service Manager of the team",
                   "SM"),
        Column("question_set", "Question set", "The id of the question set issued"),
        Column("version", "Version", "The question set's version"),
        _pseudonym("follows_up", "Follows up", "A re-audit: the Reference of the audit it"
                   " follows up", "REF"),
        _free("drawn_because", "Drawn because", "Why a case was drawn despite the cool-down"),
    )),
    Sheet("audits", "Audits", (
        _REFERENCE,
        Column("auditor_grade", "Auditor's grade", f"The auditor's grade, {_GRADE}", GRADE),
        Column("moderated_grade", "Moderated grade", "The moderators' grade, if moderated",
               GRADE),
        Column("grade_of_record", "Grade of record", "The grade that counts: the moderated"
               " grade where there is one", GRADE),
        _free("rationale", "Rationale", "The rationale for the grade"),
        _free("strengths", "Strengths", "Strengths in the work"),
        _free("learning", "Learning", "Learning and recommendations"),
        Column("shareable", "Shareable", "May be shared anonymously as good practice", YES_NO),
        _pseudonym("auditor", "Auditor", "The auditor's name", "AUD"),
        Column("role", "Role", "The auditor's role", ROLE),
        _date("completed", "Completed", "The day the auditor completed the audit"),
        _date("received", "Received", "The day the form was read in"),
        _free("warnings", "Warnings", "What the form was read in with (late, for example)"),
    )),
    Sheet("answers", "Answers", (
        _REFERENCE,
        Column("aspect", "Aspect", "The aspect of practice the question is under", ASPECT),
        Column("question_id", "Question ID", "The question's id in its set (\"V1\"): its"
               " stable key"),
        Column("question", "Question", "The question as the form asked it"),
        Column("answer", "Answer", "The auditor's answer", ANSWER),
        _free("comment", "Comment", "The auditor's comment"),
    )),
    Sheet("self-reflections", "Self-reflections", (
        _REFERENCE,
        _free("went_well", "Went well", "What went well in the work"),
        _free("differently", "Would do differently", "What the practitioner would change"),
        _free("support", "Support wanted", "Support or learning that would help"),
        Column("own_grade", "Own grade", f"The practitioner's own grade, {_GRADE}", GRADE),
        _date("reflected_on", "Date", "The day the self-reflection was completed"),
    )),
    Sheet("moderation", "Moderation", (
        _REFERENCE,
        Column("moderated_grade", "Moderated grade", "The moderators' grade", GRADE),
        Column("constructive", "Constructive", "The feedback was constructive", YES_NO),
        Column("names_strengths", "Names strengths", "The feedback names strengths", YES_NO),
        Column("names_learning", "Names learning", "The feedback names learning", YES_NO),
        Column("theme", "Theme", "The moderation's theme", THEME),
        _free("comments", "Comments", "The moderators' comments"),
        _free("auditor_learning", "Learning for the auditor", "Learning for the auditor"),
    )),
    Sheet("ri-follow-up", "RI follow-up", (
        _REFERENCE,
        Column("status", "Status", "Where the follow-up of a Requires improvement audit"
               " stands", RI_STATUS),
        _date("opened", "Opened", "The day the audit went on the monitoring list"),
        _date("closed", "Closed", "The day the follow-up was closed or withdrawn"),
        _free("corrective_action", "Corrective action", "The corrective action the audit"
              " form set out"),
        _pseudonym("action_by", "Action by", "Who is to take the corrective action", "MGR"),
        _date("action_due", "Action due", "By when the corrective action is due"),
        Column("steps_outstanding", "Steps outstanding", "Follow-up steps not yet recorded"
               " (none once withdrawn)", RI_STEP, several=_AND),
        _free("note", "Note", "The note it was closed or withdrawn with"),
    )),
    Sheet("ri-steps", "RI steps", (
        _REFERENCE,
        Column("step", "Step", "A follow-up step recorded", RI_STEP),
        _date("done_on", "Done on", "The day the step was done"),
        _free("step_note", "Step note", "The note recorded with the step"),
    )),
    Sheet("escalations", "Escalations", (
        _REFERENCE,
        Column("escalated_to", "Escalated to", "Whom the auditor escalated a concern to",
               ESCALATED_TO),
        _pseudonym("manager", "Manager", "The manager contacted", "MGR"),
        _date("escalated_on", "On", "The day it was escalated"),
        _free("note", "Note", "What was escalated and agreed"),
    )),
    Sheet("planned-cycles", "Planned cycles", (
        Column("year", "Year", "The year planned (\"2026-27\")"),
        Column("position", "Position", "The cycle's place in the year", NUMBER),
        _free("cycle", "Cycle", "The cycle's name: its allocations' Cycle"),
        _date("window_from", "Window from", "The first day of the window drawn from"),
        _date("window_to", "Window to", "The last day of the window drawn from"),
        _date("due", "Due", "The day the audits are due"),
        Column("weeks", "Weeks", "The window's length in weeks", NUMBER),
    )),
    Sheet("deep-dives", "Deep dives", (
        _CYCLE,
        _date("window_from", "Window from", "The first day of the window drawn from"),
        _date("window_to", "Window to", "The last day of the window drawn from"),
        _free("title", "Title", "The deep dive's title (terms of reference)"),
        _free("purpose", "Purpose", "Its purpose"),
        _free("understand", "Seeks to understand", "What it seeks to understand"),
        _free("method", "Method", "Its method"),
        _free("directed_by", "Directed by", "Who directed it"),
        Column("question_set", "Question set", "The id of its question set"),
        _pseudonym("team_filter", "Team filter", "Teams drawn from (any of), as the"
                   " allocations' Team", "TEAM", _EITHER),
        Column("audit_type_filter", "Audit type filter", "Audit types drawn from (any of)",
               AUDIT_TYPE, several=_EITHER),
        Column("quadrant_filter", "Quadrant filter", "Quadrants drawn from (any of)",
               QUADRANT, several=_EITHER),
        Column("question_filter", "Question filter", "Earlier answers drawn on (\"V4:No\","
               " any of)"),
        Column("size", "Size", "The number of audits asked for", NUMBER),
        Column("blocks_later_draws", "Blocks later draws", "Its cases count as audited for"
               " later draws", YES_NO),
        Column("terms_sha256", "Terms SHA-256", "The SHA-256 of the terms of reference file",
               anonymised=Anonymised.WITHHELD),
    )),
    Sheet("workshops", "Workshops", (
        _WORKSHOP,
        _date("held_on", "Held on", "The day it was held"),
        _free("from_cycle", "From cycle", "The cycle its cases came from"),
        Column("cases", "Cases", "Its cases", NUMBER),
        Column("participants", "Participants", "Its participants", NUMBER),
        Column("participants_returned", "Participants returned",
               "Participants whose grades are back", NUMBER),
    )),
    Sheet("workshop-cases", "Workshop cases", (
        _WORKSHOP, _CASE,
        replace(_REFERENCE, meaning="The audit the case came from (blank if its cycle was"
                " cancelled)"),
        _free("cycle", "Cycle", "The cycle of that audit"),
        Column("audit_type", "Audit type", "Its audit type", AUDIT_TYPE),
        Column("grade_of_record", "Grade of record", "Its grade of record now", GRADE),
    )),
    Sheet("workshop-grades", "Workshop grades", (
        _WORKSHOP,
        Column("participant", "Participant", "The participant's label (\"Participant 1\"):"
               " names are never exported"),
        _CASE,
        Column("grade", "Grade", "The participant's grade for the case", GRADE),
        _free("note", "Note", "The participant's note"),
        _date("received", "Received", "The day the grades were read in"),
    )),
)
#: The anonymised export's account of what was done, and the dictionary itself.
ABOUT = Sheet("about-this-export", "About this export", (
    Column("topic", "Topic", "What the row is about"),
    Column("what", "What was done", "What anonymising did"),
))
DICTIONARY = Sheet("data-dictionary", "Data dictionary", (
    Column("sheet", "Sheet", "The sheet (of the workbook) the column is in"),
    Column("file", "CSV file", "The CSV file (of a --format csv export) it is in"),
    Column("column", "Column", "The column's header"),
    Column("meaning", "Meaning", "What the column holds"),
    Column("type", "Type", "Text, whole number, date or label"),
    Column("allowed", "Allowed values", "The labels a label column may hold (a code no"
           " longer in the settings is shown as stored)"),
    Column("anonymised", "When anonymised", "What the anonymised export does to the column"),
))
MARKING_ROW = "(every sheet)"


@dataclass(frozen=True)
class Table:
    """A sheet as written: the columns it has (the anonymised export leaves some out)."""

    sheet: Sheet
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[Any]]


def _type(column: Column, anonymised: bool) -> str:
    if column.kind == DATE and anonymised:
        return ("Month, or range of months (text)" if column.anonymised is Anonymised.PERIOD
                else "Month (text, yyyy-mm)")
    kind = {TEXT: "Text", NUMBER: "Whole number",
            DATE: "Date (dd/mm/yyyy in the workbook, yyyy-mm-dd in CSV)"}.get(
        column.kind, "Label")
    return f"{kind}; several are joined by \"{column.several}\"" if column.several else kind


def _when_anonymised(column: Column) -> str:
    kept = "Kept" if column.kind != TEXT else (
        "Kept; any email address removed, dates in it shown as months")
    return {
        Anonymised.KEPT: kept,
        Anonymised.PSEUDONYM: f"Keyed pseudonym ({column.pseudonym}-xxxxxxxxxx): one value,"
                              " one pseudonym in every sheet",
        Anonymised.SCRUBBED: "Scrubbed: ids, references, names and email addresses become"
                             " (removed); dates in it become months",
        Anonymised.MONTH: "Its month (yyyy-mm)",
        Anonymised.PERIOD: "Its month, a range of months (\"2026-09 to 2026-10\") or"
                           " (suppressed), so that Cycle, Quadrant, Audit type and Drawn for"
                           " with it are shared by at least k rows",
        Anonymised.WITHHELD: "Left out",
    }[column.anonymised]


def data_dictionary(tables: Sequence[Table], allowed: Mapping[str, Sequence[str]],
                    anonymised: bool, marking: str) -> Table:
    """The dictionary of ``tables`` and of itself: one row a column, from the columns as
    written; the protective marking first. ``allowed`` gives each vocabulary's labels."""
    rows: list[tuple[str, ...]] = []
    if text := marking_text(marking):
        rows.append((MARKING_ROW, "README.txt", "Protective marking", f"This data set is"
                     f" {text}: every sheet and file of it, to be handled as marked.",
                     "", "", ""))
    for table in (*tables, Table(DICTIONARY, DICTIONARY.columns, ())):
        rows += [(table.sheet.title, table.sheet.file_name, c.header, c.meaning,
                  _type(c, anonymised), _AND.join(allowed.get(c.kind, ())),
                  _when_anonymised(c)) for c in table.columns]
    return Table(DICTIONARY, DICTIONARY.columns, rows)
