"""Retention (``qaudit purge``): the personal data of a cycle, or of a workshop, taken out
of the record in place, and the record of what was purged.

A purged row keeps what the figures are made of: grades, answers (Yes, No, N/A),
quadrant, audit type, team, kind, dates, moderation grades and agreement, RI and
escalation states and steps. It loses who it was about and what people wrote. Ids
(reference, record, person, worker) and the names the figures group by (Service
Manager, auditor, manager) become keyed pseudonyms (``privacy.pseudonymiser`` with the
workspace's key: the same id always the same pseudonym, so every join, count and
grouping of the reports holds); a practitioner's name and every email address are
blanked; free text is blanked (a shareable strength, which the highlights publish, is
kept as published); file names and hashes of returned files are blanked. The day work
was completed is kept as its month (day 01): beside a quadrant, a team and an audit type
a day could find the case again in the council's case system, and the reports read only
the month.

The history (``events``) of a purged cycle keeps who did what and when, with its
references pseudonymised and its notes, reasons and file names blanked.

A purge is checked early and again inside its transaction (``check_can_purge``): nothing
open may be lost with the record.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from qaudit.db.draws import Cycle, describe_kind
from qaudit.db.schema import now
from qaudit.errors import CycleError, WorkspaceError

if TYPE_CHECKING:
    from qaudit.db.store import Store

#: Every allocation of every draw of the cycle: replaced draws hold people too.
_ALLOCATIONS = ("SELECT a.id FROM allocations a JOIN draws d ON d.id = a.draw_id"
                " WHERE d.cycle_id = :cycle")
_RETURNS = f"SELECT id FROM returns WHERE allocation_id IN ({_ALLOCATIONS})"
_RI = f"SELECT id FROM ri_items WHERE allocation_id IN ({_ALLOCATIONS})"
_ITEMS = ("SELECT i.id FROM moderation_items i JOIN moderation_samples s"
          " ON s.id = i.sample_id WHERE s.cycle_id = :cycle")


@dataclass(frozen=True)
class Blank:
    """One table's personal columns, for the rows of one cycle (or workshop): ``what``
    the dry run calls them, ``where`` they are, and what they become (``becomes``, SQL
    where ``pseudonym(kind, value)`` is an id's keyed pseudonym and
    ``name_pseudonym(kind, name)`` a person's: ``Redaction``)."""

    what: str
    table: str
    where: str
    becomes: str
    counted: bool = True  # one row of the cycle itself is not worth a count


CYCLE_ROWS: tuple[Blank, ...] = (
    Blank("allocations", "allocations", f"id IN ({_ALLOCATIONS})",
          "reference = pseudonym('REF', reference), record_id = pseudonym('REC', record_id),"
          " person_id = pseudonym('PER', person_id), worker_id = pseudonym('WKR', worker_id),"
          " worker_name = '', service_manager = name_pseudonym('SM', service_manager),"
          " completed_date = CASE WHEN length(completed_date) = 10"
          "  THEN substr(completed_date, 1, 8) || '01' ELSE completed_date END,"
          " worker_email = '', service_manager_email = '',"
          " follows_up = pseudonym('REF', follows_up), drawn_because = ''"),
    Blank("returned forms", "returns", f"id IN ({_RETURNS})",
          "file_name = '', file_sha256 = '', content_hash = '', warnings_json = '[]'"),
    Blank("answer comments", "answers", f"return_id IN ({_RETURNS}) AND comment != ''",
          "comment = ''"),
    Blank("RI items", "ri_items", f"id IN ({_RI})", "note = ''"),
    Blank("RI steps", "ri_steps", f"ri_id IN ({_RI})", "note = ''"),
    Blank("RI history", "ri_history", f"ri_id IN ({_RI})", "note = ''"),
    Blank("escalations", "escalations", f"return_id IN ({_RETURNS})",
          "manager_name = name_pseudonym('MGR', manager_name), note = '', outcome = ''"),
    Blank("moderation outcomes", "moderation_outcomes", f"item_id IN ({_ITEMS})",
          "comments = '', learning = '', file_name = '', content_hash = ''"),
    Blank("auditors named", "auditor_assignments", f"allocation_id IN ({_ALLOCATIONS})",
          "auditor_name = name_pseudonym('AUD', auditor_name), auditor_email = '',"
          " file_name = '', file_sha256 = '', warnings_json = '[]'"),
    Blank("feedback conversations", "feedback", f"allocation_id IN ({_ALLOCATIONS})",
          "note = ''"),
    Blank("messages", "messages", "cycle_id = :cycle",
          "about = '', recipients = '', cc = '', subject = '', content_hash = '', path = NULL"),
    Blank("draws", "draws", "cycle_id = :cycle", "export_name = ''", counted=False),
    Blank("cycle", "cycles", "id = :cycle", "cancel_reason = ''", counted=False),
    Blank("deep dive terms", "deep_dives", "cycle_id = :cycle", "terms_sha256 = ''"),
)

WORKSHOP_ROWS: tuple[Blank, ...] = (
    Blank("participants", "workshop_participants", "workshop_id = :workshop", "name = ''"),
    Blank("workshop grades", "workshop_grades", "workshop_id = :workshop",
          "note = '', file_name = '', file_sha256 = '', content_hash = ''"),
)


class Redaction(Protocol):
    """What each purged value becomes (``jobs.purge.Redactor``): an id's keyed pseudonym,
    a person's name's, a returned form's fields, a history entry's detail, a draw's
    recorded selection, and published text as published."""

    def pseudonym(self, kind: str, value: str) -> str: ...

    def name(self, kind: str, name: str) -> str: ...

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    def detail(self, detail: Mapping[str, Any],
               references: Callable[[str], str]) -> dict[str, Any]: ...

    def selection(self, selection: Mapping[str, Any], own: bool,
                  cycles: frozenset[str]) -> dict[str, Any]: ...

    def published(self, text: str) -> str: ...


# --- the record of purges -----------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """A cycle (or workshop) purged: when, by whom, and the date it was purged before."""

    name: str
    before: str  # ISO
    purged_at: str
    actor: str


@dataclass(frozen=True)
class Holds:
    """What a cycle still has open, which a purge would lose."""

    open_ri: int = 0
    open_escalations: int = 0
    unmoderated: int = 0

    def reasons(self) -> list[str]:
        said = [(self.open_ri, "open RI item(s) (`qaudit ri`)"),
                (self.open_escalations, "open escalation(s) (`qaudit escalations`)"),
                (self.unmoderated, "audit(s) in its moderation sample with no outcome yet")]
        return [f"{n} {what}" for n, what in said if n]


@dataclass(frozen=True)
class WorkshopHeld:
    id: int
    name: str
    held_on: date


@dataclass(frozen=True)
class Purges:
    db: Store

    def purged_cycles(self) -> dict[int, Purged]:
        """Cycle id -> its purge."""
        return self._purged("cycle", "cycles", "c.date_to")

    def purged_workshops(self) -> dict[int, Purged]:
        """Workshop id -> its purge."""
        return self._purged("workshop", "workshops", "c.held_on")

    def _purged(self, what: str, table: str, order: str) -> dict[int, Purged]:
        return {int(r[0]): Purged(*r[1:]) for r in self.db.conn.execute(
            f"SELECT p.{what}_id, c.name, p.before, p.purged_at, p.actor FROM purged_{table} p"
            f" JOIN {table} c ON c.id = p.{what}_id ORDER BY {order}, c.id")}

    def workshops_held_before(self, before: date) -> list[WorkshopHeld]:
        return [WorkshopHeld(int(r[0]), r[1], date.fromisoformat(r[2]))
                for r in self.db.conn.execute(
                    "SELECT id, name, held_on FROM workshops WHERE held_on < ?"
                    " ORDER BY held_on, id", (before.isoformat(),))]

    def purged_people(self) -> tuple[frozenset[str], frozenset[str]]:
        """The pseudonyms of the persons and records of the purged cycles' current draws
        (what ``Draws.drawn_elsewhere`` gives for the others)."""
        rows = self.db.conn.execute(
            "SELECT a.person_id, a.record_id FROM current_allocations a"
            " JOIN purged_cycles p ON p.cycle_id = a.cycle_id").fetchall()
        return frozenset(r[0] for r in rows if r[0]), frozenset(r[1] for r in rows if r[1])

    # --- what would go, and what stops it --------------------------------------------------

    def counts(self, cycle_id: int) -> dict[str, int]:
        """Rows of each kind whose personal data a purge of the cycle takes out."""
        return _counts(self.db.conn, CYCLE_ROWS, {"cycle": cycle_id}) | {
            "history entries": len(self._events([cycle_id], []))}

    def workshop_counts(self, workshop: WorkshopHeld) -> dict[str, int]:
        return _counts(self.db.conn, WORKSHOP_ROWS, {"workshop": workshop.id}) | {
            "history entries": len(self._events([], [workshop]))}

    def holds(self, cycle_id: int) -> Holds:
        conn = self.db.conn
        ri = conn.execute(
            "SELECT count(*) FROM ri_items i JOIN current_allocations a"
            " ON a.id = i.allocation_id WHERE a.cycle_id = ? AND i.status = 'open'",
            (cycle_id,)).fetchone()[0]
        escalations = conn.execute(
            "SELECT count(*) FROM escalations e JOIN returns r ON r.id = e.return_id"
            " JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE r.replaced_at IS NULL AND a.cycle_id = ? AND e.closed_at IS NULL",
            (cycle_id,)).fetchone()[0]
        unmoderated = conn.execute(
            "SELECT count(*) FROM moderation_items i JOIN moderation_samples s"
            " ON s.id = i.sample_id WHERE s.cycle_id = ? AND s.replaced_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM moderation_outcomes o WHERE o.item_id = i.id"
            "  AND o.replaced_at IS NULL)", (cycle_id,)).fetchone()[0]
        return Holds(int(ri), int(escalations), int(unmoderated))

    def latest_regular(self, most: int) -> list[int]:
        """The ``most`` latest drawn regular cycles (not cancelled): the next draw's
        cool-down reads their workers (``Draws.recent_workers``)."""
        if most <= 0:
            return []
        return [int(r[0]) for r in self.db.conn.execute(
            "SELECT c.id FROM cycles c JOIN draws d ON d.cycle_id = c.id"
            " AND d.replaced_at IS NULL WHERE c.kind = 'regular' AND c.cancelled_at IS NULL"
            " ORDER BY c.date_to DESC, c.id DESC LIMIT ?", (most,))]

    def refusals(self, cycles: Sequence[Cycle], today: date, cooldown: int) -> list[str]:
        """Why each of ``cycles`` cannot be purged yet: its returns still due, something
        open, or its workers read by the next draw's cool-down."""
        latest = set(self.latest_regular(cooldown))
        said: list[str] = []
        for cycle in cycles:
            reasons = [] if cycle.cancelled else self.holds(cycle.id).reasons()
            if not cycle.cancelled and cycle.due_date >= today:
                reasons.insert(0, f"its returns are due by {cycle.due_date:%d/%m/%Y}")
            if cycle.id in latest:
                reasons.append(
                    f"it is one of the {cooldown} latest regular cycle(s), whose workers the"
                    " next draw's cool-down reads (sampling.worker_cooldown_cycles)")
            if reasons:
                said.append(f"{cycle.name} ({describe_kind(cycle.kind)}): "
                            + "; ".join(reasons))
        return said

    def check_can_purge(self, cycles: Sequence[Cycle], today: date, cooldown: int) -> None:
        """Refuse the whole purge while any of its cycles has something open. Called early
        by the job and again inside the purge's transaction."""
        said = self.refusals(cycles, today, cooldown)
        if said:
            raise CycleError(
                "nothing was purged: " + " | ".join(said) + ". Close what is open (or wait"
                " for it), or purge before an earlier date.")

    # --- the purge ------------------------------------------------------------------------

    def purge(self, cycles: Sequence[Cycle], workshops: Sequence[WorkshopHeld], *,
              before: date, today: date, cooldown: int, redaction: Redaction,
              logged: Mapping[tuple[str, int], dict[str, Any]]) -> None:
        """Take the personal data of ``cycles`` and ``workshops`` out of the record, mark
        them purged and log each (``logged``: ("cycle" or "workshop", id) -> the counts
        its history entry keeps), all in one transaction: every row, or none."""
        conn = self.db.conn
        conn.execute("PRAGMA secure_delete = ON")  # freed space overwritten, not left
        conn.create_function("pseudonym", 2, redaction.pseudonym, deterministic=True)
        conn.create_function("name_pseudonym", 2, redaction.name, deterministic=True)
        names = frozenset(c.name for c in cycles)
        with self.db.transaction():
            self.check_can_purge(cycles, today, cooldown)
            if ({c.id for c in cycles} & set(self.purged_cycles())
                    or {w.id for w in workshops} & set(self.purged_workshops())):
                raise CycleError("another run of `qaudit purge` purged some of these"
                                 " meanwhile; nothing was purged by this one. Run it again.")
            ids = [c.id for c in cycles]
            self._purge_events(ids, workshops, redaction)
            for cycle in cycles:
                self._purge_json(cycle.id, redaction)
                for blank in CYCLE_ROWS:
                    conn.execute(f"UPDATE {blank.table} SET {blank.becomes}"
                                 f" WHERE {blank.where}", {"cycle": cycle.id})
            self._purge_selections(ids, names, redaction)
            for workshop in workshops:
                for blank in WORKSHOP_ROWS:
                    conn.execute(f"UPDATE {blank.table} SET {blank.becomes}"
                                 f" WHERE {blank.where}", {"workshop": workshop.id})
            self._mark(cycles, workshops, before, logged)

    def compact(self, always: bool) -> None:
        """Rewrite the database file without its free pages (VACUUM), so that nothing
        purged is left in the file's unused space; with ``always`` false, only if it has
        free pages."""
        (free,) = self.db.conn.execute("PRAGMA freelist_count").fetchone()
        if not (always or free):
            return
        try:
            self.db.conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            raise WorkspaceError(
                f"the record is purged, but the database file could not be rewritten without"
                f" what was taken out ({exc}); run the same purge again when no other qaudit"
                " command is using the workspace.") from exc

    def _mark(self, cycles: Sequence[Cycle], workshops: Sequence[WorkshopHeld], before: date,
              logged: Mapping[tuple[str, int], dict[str, Any]]) -> None:
        stamp, day = now(), before.isoformat()
        marks: list[tuple[str, int, int | None, str, dict[str, Any]]] = [
            ("cycle", c.id, c.id, "purged", {}) for c in cycles] + [
            ("workshop", w.id, None, "workshop_purged", {"workshop": w.name})
            for w in workshops]
        for what, row_id, cycle_id, kind, detail in marks:
            self.db.conn.execute(
                f"INSERT INTO purged_{what}s ({what}_id, before, purged_at, actor)"
                " VALUES (?, ?, ?, ?)", (row_id, day, stamp, self.db.actor))
            self.db.log(cycle_id, kind, {**detail, "before": day,
                                         **logged.get((what, row_id), {})})

    def _purge_json(self, cycle_id: int, redaction: Redaction) -> None:
        """The cycle's returned forms' fields, and a deep dive's terms as its report
        publishes them."""
        conn = self.db.conn
        rows = conn.execute(f"SELECT id, fields_json FROM returns WHERE id IN ({_RETURNS})",
                            {"cycle": cycle_id}).fetchall()
        conn.executemany("UPDATE returns SET fields_json = ? WHERE id = ?", [
            (json.dumps(redaction.fields(json.loads(f)), ensure_ascii=False), i)
            for i, f in rows])
        terms = conn.execute("SELECT title, purpose, understand, method, directed_by"
                             " FROM deep_dives WHERE cycle_id = ?", (cycle_id,)).fetchone()
        if terms is not None:
            conn.execute("UPDATE deep_dives SET title = ?, purpose = ?, understand = ?,"
                         " method = ?, directed_by = ? WHERE cycle_id = ?",
                         (*(redaction.published(str(v)) for v in terms), cycle_id))

    def _purge_selections(self, ids: Sequence[int], names: frozenset[str],
                          redaction: Redaction) -> None:
        """Every draw's recorded selection, without the people of the purged cycles."""
        conn = self.db.conn
        changed = []
        for draw_id, cycle_id, settings in conn.execute(
                "SELECT id, cycle_id, settings_json FROM draws").fetchall():
            data = json.loads(settings)
            selection = data.get("selection")
            if not isinstance(selection, dict) or not selection:
                continue
            kept = redaction.selection(selection, cycle_id in ids, names)
            if kept != selection:
                changed.append((json.dumps({**data, "selection": kept}), draw_id))
        conn.executemany("UPDATE draws SET settings_json = ? WHERE id = ?", changed)

    def _references(self, cycle_ids: Sequence[int]) -> frozenset[str]:
        """Every reference the cycles' draws gave, as stored."""
        return frozenset(str(r[0]) for c in cycle_ids for r in self.db.conn.execute(
            "SELECT DISTINCT reference FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " WHERE d.cycle_id = ?", (c,)))

    def _events(self, cycle_ids: Sequence[int], workshops: Sequence[WorkshopHeld]
                ) -> list[tuple[int, str | None, dict[str, Any]]]:
        """The history entries of the cycles (theirs, or about one of their allocations)
        and of the workshops (made, or grades taken in): id, reference, detail."""
        references = self._references(cycle_ids)
        ids = {w.id for w in workshops}
        names = {w.name for w in workshops}
        found = []
        for event_id, cycle_id, kind, reference, detail in self.db.conn.execute(
                "SELECT id, cycle_id, kind, reference, detail_json FROM events ORDER BY id"):
            data = json.loads(detail)
            ours = (cycle_id in cycle_ids or reference in references
                    or (kind == "workshop_grades" and data.get("workshop_id") in ids)
                    or (kind == "workshop_made" and (data.get("workshop") in names or bool(
                        references.intersection(data.get("cases", []))))))
            if ours and kind not in ("purged", "workshop_purged"):
                found.append((int(event_id), reference, data))
        return found

    def _purge_events(self, cycle_ids: Sequence[int], workshops: Sequence[WorkshopHeld],
                      redaction: Redaction) -> None:
        mine = self._references(cycle_ids)

        def reference(ref: str) -> str:
            return redaction.pseudonym("REF", ref) if ref in mine else ref

        self.db.conn.executemany(
            "UPDATE events SET reference = ?, detail_json = ? WHERE id = ?",
            [(None if ref is None else reference(ref),
              json.dumps(redaction.detail(detail, reference), ensure_ascii=False), event_id)
             for event_id, ref, detail in self._events(cycle_ids, workshops)])


def _counts(conn: sqlite3.Connection, blanks: Iterable[Blank],
            params: Mapping[str, int]) -> dict[str, int]:
    return {b.what: int(conn.execute(f"SELECT count(*) FROM {b.table} WHERE {b.where}",
                                     params).fetchone()[0]) for b in blanks if b.counted}
