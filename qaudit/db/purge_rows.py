"""What a purge changes in each table (``db.purge``): for one cycle, or one workshop, the
rows that hold personal data and what each of their columns becomes.

A purged row keeps what the figures are made of: grades, answers (Yes, No, N/A),
quadrant, audit type, team, kind, dates, moderation grades and agreement, RI and
escalation states and steps. It loses who it was about and what people wrote. Ids
(record, person, worker) and the names the figures group by (Service Manager, auditor,
manager) become tokens keyed by a key made for the purge run and never stored: one value
keeps one token within the run, so every join, count and grouping of the reports holds,
and nothing links a token to the world or to another run. A reference (qaudit's own id)
becomes its pseudonym under the workspace's key, so a re-audit's link to its audit and the
anonymised export still join on it. A practitioner's name, every email address, free
text, and the file names and hashes of returned files are blanked; each draw's seed is
forgotten (with the export it was drawn from, it would draw the same cases again). The
day work was completed is kept as its month (day 01): beside a quadrant, a team and an
audit type a day could find the case in the council's case system; the reports read only
the month.

The rule of which rows are a cycle's lives here once (``CYCLE_ROWS``): every draw's
allocations (replaced draws hold people too), their returns, answers, RI items,
escalations, moderation outcomes, named auditors, feedback and messages. So does the
rewriting of what is kept as JSON (a form's fields, a draw's recorded selection, the
history's details), each giving only what changes, so that purging again writes nothing.
What a value becomes is ``Redaction``'s (``jobs.purge.Redactor``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from qaudit.db.dialect import Connection

#: The history entries of the purges themselves: what was purged, never purged.
_PURGES = frozenset({"purged", "workshop_purged", "purged_again", "workshop_purged_again"})

#: Every allocation of every draw of the cycle: replaced draws hold people too.
ALLOCATIONS = ("SELECT a.id FROM allocations a JOIN draws d ON d.id = a.draw_id"
               " WHERE d.cycle_id = :cycle")
RETURNS = f"SELECT id FROM returns WHERE allocation_id IN ({ALLOCATIONS})"
RI = f"SELECT id FROM ri_items WHERE allocation_id IN ({ALLOCATIONS})"
ITEMS = ("SELECT i.id FROM moderation_items i JOIN moderation_samples s"
         " ON s.id = i.sample_id WHERE s.cycle_id = :cycle")


@dataclass(frozen=True)
class WorkshopHeld:
    """A workshop, and the day it was held."""

    id: int
    name: str
    held_on: date



@dataclass(frozen=True)
class Blank:
    """One table's personal columns, for the rows of one cycle (or workshop): ``what``
    the dry run calls them, ``where`` they are, and what each column becomes (``sets``:
    SQL, where ``pseudonym(kind, value)`` is an id's token or pseudonym and
    ``name_pseudonym(kind, name)`` a person's name's token: ``Redaction``). Only a row
    with something to take out is written, so purging again writes nothing."""

    what: str
    table: str
    where: str
    sets: tuple[tuple[str, str], ...]
    counted: bool = True  # one row of the cycle itself is not worth a count

    def update(self) -> str:
        columns = ", ".join(f"{column} = {becomes}" for column, becomes in self.sets)
        return f"UPDATE {self.table} SET {columns} WHERE ({self.where}) AND ({self.changing})"

    def count(self, changing: bool) -> str:
        """Its rows; with ``changing``, only those with something to take out."""
        return (f"SELECT count(*) FROM {self.table} WHERE ({self.where})"
                + (f" AND ({self.changing})" if changing else ""))

    @property
    def changing(self) -> str:
        return " OR ".join(f"{column} IS NOT ({becomes})" for column, becomes in self.sets)


def _blanked(*columns: str) -> tuple[tuple[str, str], ...]:
    return tuple((column, "''") for column in columns)


CYCLE_ROWS: tuple[Blank, ...] = (
    Blank("allocations", "allocations", f"id IN ({ALLOCATIONS})", (
        ("reference", "pseudonym('REF', reference)"),
        ("record_id", "pseudonym('REC', record_id)"),
        ("person_id", "pseudonym('PER', person_id)"),
        ("worker_id", "pseudonym('WKR', worker_id)"),
        ("service_manager", "name_pseudonym('SM', service_manager)"),
        ("completed_date", "CASE WHEN length(completed_date) = 10"
                           " THEN substr(completed_date, 1, 8) || '01' ELSE completed_date END"),
        ("follows_up", "pseudonym('REF', follows_up)"),
        *_blanked("worker_name", "worker_email", "service_manager_email", "drawn_because"))),
    Blank("returned forms", "returns", f"id IN ({RETURNS})",
          (*_blanked("file_name", "file_sha256", "content_hash"), ("warnings_json", "'[]'"))),
    Blank("answer comments", "answers", f"return_id IN ({RETURNS}) AND comment != ''",
          _blanked("comment")),
    Blank("RI items", "ri_items", f"id IN ({RI})", _blanked("note")),
    Blank("RI steps", "ri_steps", f"ri_id IN ({RI})", _blanked("note")),
    Blank("RI history", "ri_history", f"ri_id IN ({RI})", _blanked("note")),
    Blank("escalations", "escalations", f"return_id IN ({RETURNS})",
          (("manager_name", "name_pseudonym('MGR', manager_name)"),
           *_blanked("note", "outcome"))),
    Blank("moderation outcomes", "moderation_outcomes", f"item_id IN ({ITEMS})",
          _blanked("comments", "learning", "file_name", "content_hash")),
    Blank("auditors named", "auditor_assignments", f"allocation_id IN ({ALLOCATIONS})",
          (("auditor_name", "name_pseudonym('AUD', auditor_name)"),
           *_blanked("auditor_email", "file_name", "file_sha256"),
           ("warnings_json", "'[]'"))),
    Blank("feedback conversations", "feedback", f"allocation_id IN ({ALLOCATIONS})",
          _blanked("note")),
    Blank("messages", "messages", "cycle_id = :cycle",
          (*_blanked("about", "recipients", "cc", "subject", "content_hash"),
           ("path", "NULL"))),
    # A seed is from 0 up: -1 is none. With the export, the seed would draw the same cases.
    Blank("draws", "draws", "cycle_id = :cycle",
          (*_blanked("export_name"), ("seed", "-1")), counted=False),
    Blank("cycle", "cycles", "id = :cycle", _blanked("cancel_reason"), counted=False),
    Blank("deep dive terms", "deep_dives", "cycle_id = :cycle", _blanked("terms_sha256")),
)

WORKSHOP_ROWS: tuple[Blank, ...] = (
    Blank("participants", "workshop_participants", "workshop_id = :workshop",
          _blanked("name")),
    Blank("workshop grades", "workshop_grades", "workshop_id = :workshop",
          _blanked("note", "file_name", "file_sha256", "content_hash")),
)


class Redaction(Protocol):
    """What each purged value becomes (``jobs.purge.Redactor``): an id's token (a
    reference's pseudonym), a person's name's token, a returned form's fields, a history
    entry's detail, a draw's recorded selection, and a deep dive's terms as published;
    and ``audited``, the keyed pseudonym (the workspace's key) the list of persons and
    records audited before keeps."""

    def pseudonym(self, kind: str, value: str) -> str: ...

    def name(self, kind: str, name: str) -> str: ...

    def audited(self, kind: str, value: str) -> str: ...

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    def detail(self, detail: Mapping[str, Any],
               references: Callable[[str], str]) -> dict[str, Any]: ...

    def selection(self, selection: Mapping[str, Any], own: bool,
                  cycles: frozenset[str]) -> dict[str, Any]: ...

    def published(self, text: str) -> str: ...


def row_counts(conn: Connection, blanks: Iterable[Blank],
               params: Mapping[str, int], changing: bool = False) -> dict[str, int]:
    """Rows of each kind (``blanks``) of one cycle or workshop (``params``); with
    ``changing``, only those with something to take out."""
    return {b.what: int(conn.execute(b.count(changing), params).fetchone()[0])
            for b in blanks if b.counted or changing}


# --- the record's JSON and history, rewritten ---------------------------------------------


def field_changes(conn: Connection, cycle_id: int, redaction: Redaction
                  ) -> list[tuple[str, int]]:
    """The cycle's returned forms whose fields hold something to take out: (their
    fields once purged, id)."""
    changed = []
    for return_id, stored in conn.execute(
            f"SELECT id, fields_json FROM returns WHERE id IN ({RETURNS})",
            {"cycle": cycle_id}).fetchall():
        fields = json.loads(stored)
        kept = redaction.fields(fields)
        if kept != fields:
            changed.append((json.dumps(kept, ensure_ascii=False), int(return_id)))
    return changed


def publish_terms(conn: Connection, cycle_id: int, redaction: Redaction) -> None:
    """A deep dive's terms of reference as its report publishes them (scrubbed once,
    when it is purged: the QA team's own definition of the dive)."""
    terms = conn.execute("SELECT title, purpose, understand, method, directed_by"
                         " FROM deep_dives WHERE cycle_id = ?", (cycle_id,)).fetchone()
    if terms is not None:
        conn.execute("UPDATE deep_dives SET title = ?, purpose = ?, understand = ?,"
                     " method = ?, directed_by = ? WHERE cycle_id = ?",
                     (*(redaction.published(str(v)) for v in terms), cycle_id))


def selection_changes(conn: Connection, ids: Sequence[int], names: frozenset[str],
                      redaction: Redaction) -> list[tuple[str, int]]:
    """Draw records to change: the purged (``ids``) cycles' own, and every other draw's
    record of the audits of the cycles purged now (``names``)."""
    changed = []
    for draw_id, cycle_id, settings in conn.execute(
            "SELECT id, cycle_id, settings_json FROM draws").fetchall():
        data = json.loads(settings)
        selection = data.get("selection")
        if not isinstance(selection, dict) or not selection:
            continue
        if cycle_id not in ids and not names:
            continue
        kept = redaction.selection(selection, cycle_id in ids, names)
        if kept != selection:
            changed.append((json.dumps({**data, "selection": kept}), int(draw_id)))
    return changed


def references_of(conn: Connection, cycle_ids: Sequence[int]) -> frozenset[str]:
    """Every reference the cycles' draws gave, as stored."""
    return frozenset(str(r[0]) for c in cycle_ids for r in conn.execute(
        "SELECT DISTINCT reference FROM allocations a JOIN draws d ON d.id = a.draw_id"
        " WHERE d.cycle_id = ?", (c,)))


def events_of(conn: Connection, cycle_ids: Collection[int],
              workshops: Sequence[WorkshopHeld]
              ) -> list[tuple[tuple[str, int], int, str | None, dict[str, Any]]]:
    """The history entries of the cycles (theirs, or about one of their allocations)
    and of the workshops (made, or grades taken in), read once: the cycle or workshop
    each is of (("cycle" or "workshop", id)), its id, reference and detail. Not the
    entries of the purges themselves."""
    references = {ref: c for c in cycle_ids for ref in references_of(conn, [c])}
    ids = {w.id for w in workshops}
    named = {w.name: w.id for w in workshops}
    found = []
    for event_id, cycle_id, kind, reference, detail in conn.execute(
            "SELECT id, cycle_id, kind, reference, detail_json FROM events ORDER BY id"):
        if kind in _PURGES:
            continue
        data = json.loads(detail)
        cases = [references[c] for c in data.get("cases", [])
                 if isinstance(c, str) and c in references] if kind == "workshop_made" else []
        owner = (("cycle", cycle_id) if cycle_id in cycle_ids
                 else ("cycle", references[reference]) if reference in references
                 else ("workshop", data["workshop_id"]) if kind == "workshop_grades"
                 and data.get("workshop_id") in ids
                 else ("workshop", named[data["workshop"]]) if kind == "workshop_made"
                 and data.get("workshop") in named
                 else ("cycle", cases[0]) if cases else None)
        if owner is not None:
            found.append((owner, int(event_id), reference, data))
    return found


def event_changes(conn: Connection, cycle_ids: Collection[int],
                  workshops: Sequence[WorkshopHeld], redaction: Redaction
                  ) -> list[tuple[tuple[str, int], str | None, str, int]]:
    """History entries to change: whose, their reference and detail once purged, id."""
    mine = references_of(conn, list(cycle_ids))

    def reference(ref: str) -> str:
        return redaction.pseudonym("REF", ref) if ref in mine else ref

    changed = []
    for owner, event_id, ref, detail in events_of(conn, cycle_ids, workshops):
        kept_ref = None if ref is None else reference(ref)
        kept = redaction.detail(detail, reference)
        if (kept_ref, kept) != (ref, detail):
            changed.append((owner, kept_ref, json.dumps(kept, ensure_ascii=False),
                            event_id))
    return changed
