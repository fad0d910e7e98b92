"""Moderation samples and outcomes: the moderation part of the database."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qaudit.db.returns import _ReturnsStore
from qaudit.db.store import Cycle, _now
from qaudit.errors import CycleError
from qaudit.workbooks.forms import AUDITOR_ROLES, ESCALATED_TO


@dataclass(frozen=True)
class ReturnedAudit:
    """A cycle's current audit return, as moderation needs it."""

    return_id: int
    reference: str
    audit_type: str
    quadrant: str
    grade: str  # grade key
    auditor: str
    fields: dict[str, str]


@dataclass(frozen=True)
class SampleItem:
    item_id: int
    position: int
    audit: ReturnedAudit


@dataclass(frozen=True)
class Outcome:
    moderated_grade: str  # grade key
    constructive: str
    names_strengths: str
    names_learning: str
    theme: str
    comments: str
    learning: str


#: Words in people's names fields that are not names ("Team manager", "Dr", "Jr").
_NOT_NAMES = frozenset({"team", "manager", "service", "senior", "practitioner", "the", "and"})


class Store(_ReturnsStore):
    """One open workspace database: draws, returns and moderation."""

    def returned_audits(self, cycle: str) -> list[ReturnedAudit]:
        rows = self.conn.execute(
            "SELECT r.id, a.reference, a.audit_type, a.quadrant, r.grade,"
            " json_extract(r.fields_json, '$.auditor_name'), r.fields_json"
            " FROM returns r JOIN allocations a ON a.id = r.allocation_id"
            " JOIN draws d ON d.id = a.draw_id JOIN cycles c ON c.id = d.cycle_id"
            " WHERE c.name = ? AND d.replaced_at IS NULL AND r.replaced_at IS NULL"
            " AND r.kind = 'audit' ORDER BY a.reference",
            (cycle,),
        ).fetchall()
        return [ReturnedAudit(r[0], r[1], r[2], r[3], r[4], r[5] or "", json.loads(r[6]))
                for r in rows]

    def answers_of(self, return_id: int) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT question_id, answer, comment FROM answers WHERE return_id = ?"
            " ORDER BY rowid", (return_id,))]

    def _cycle_id(self, cycle: str) -> int:
        return self.require_cycle(cycle).id

    def require_cycle(self, cycle: str) -> Cycle:
        """The cycle, or a clear error listing the cycles there are."""
        found = self.cycle(cycle)
        if found is None:
            known = ", ".join(repr(c.name) for c in self.cycles()) or "none yet"
            raise CycleError(f"no cycle {cycle!r} (cycles: {known}); names are exact, as"
                             " given to `qaudit allocate`.")
        return found

    def current_sample(self, cycle: str) -> tuple[int, int, bool, list[SampleItem]] | None:
        """(sample id, seed, blind, items) of the cycle's current moderation sample."""
        row = self.conn.execute(
            "SELECT id, seed, blind FROM moderation_samples WHERE cycle_id = ?"
            " AND replaced_at IS NULL", (self._cycle_id(cycle),),
        ).fetchone()
        if row is None:
            return None
        audits = {a.return_id: a for a in self.returned_audits(cycle)}
        items = [
            SampleItem(item_id, position, audits[return_id])
            for item_id, position, return_id in self.conn.execute(
                "SELECT id, position, return_id FROM moderation_items WHERE sample_id = ?"
                " ORDER BY position", (row[0],))
            if return_id in audits
        ]
        return int(row[0]), int(row[1]), bool(row[2]), items

    def has_outcomes(self, sample_id: int) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
            " WHERE i.sample_id = ? LIMIT 1", (sample_id,),
        ).fetchone() is not None

    def save_sample(self, cycle: str, seed: int, rate: float, blind: bool,
                    return_ids: Sequence[int], redraw: bool) -> tuple[int, int | None]:
        """Store a sample; returns its id and the id of the sample it replaced, if any."""
        cycle_id = self._cycle_id(cycle)
        with self.transaction() as conn:
            current = conn.execute(
                "SELECT id FROM moderation_samples WHERE cycle_id = ? AND replaced_at IS NULL",
                (cycle_id,),
            ).fetchone()
            if current is not None:
                if not redraw:
                    raise CycleError(
                        f"the moderation sample of {cycle!r} is already drawn; use --redraw to"
                        " draw it again (only before any outcome is recorded)."
                    )
                if self.has_outcomes(int(current[0])):
                    raise CycleError(
                        f"moderation outcomes of {cycle!r} are already recorded, so its sample"
                        " can no longer be redrawn."
                    )
                conn.execute("UPDATE moderation_samples SET replaced_at = ? WHERE id = ?",
                             (_now(), current[0]))
                self._log(conn, cycle_id, "moderation_redraw", {"replaced": current[0]})
            cur = conn.execute(
                "INSERT INTO moderation_samples (cycle_id, seed, rate, blind, created_at)"
                " VALUES (?, ?, ?, ?, ?)", (cycle_id, seed, rate, int(blind), _now()),
            )
            sample_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO moderation_items (sample_id, position, return_id) VALUES (?, ?, ?)",
                [(sample_id, n, rid) for n, rid in enumerate(return_ids, start=1)],
            )
            self._log(conn, cycle_id, "moderation_sample",
                      {"sample_id": sample_id, "seed": seed, "items": len(return_ids)})
        return sample_id, (int(current[0]) if current else None)

    def discard_sample(self, sample_id: int, restore: int | None) -> None:
        """Undo ``save_sample`` when its workbook could not be written."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM moderation_items WHERE sample_id = ?", (sample_id,))
            conn.execute("DELETE FROM moderation_samples WHERE id = ?", (sample_id,))
            if restore is not None:
                conn.execute("UPDATE moderation_samples SET replaced_at = NULL WHERE id = ?",
                             (restore,))
            self._log(conn, None, "moderation_sample_discarded", {"sample_id": sample_id})

    def current_outcomes(self, sample_id: int) -> dict[int, tuple[Outcome, str]]:
        """item id -> (outcome, content hash of the workbook it came from)."""
        rows = self.conn.execute(
            "SELECT o.item_id, o.moderated_grade, o.constructive, o.names_strengths,"
            " o.names_learning, o.theme, o.comments, o.learning, o.content_hash"
            " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
            " WHERE i.sample_id = ? AND o.replaced_at IS NULL", (sample_id,),
        )
        return {r[0]: (Outcome(*r[1:8]), r[8]) for r in rows}

    def save_outcomes(self, outcomes: Sequence[tuple[int, Outcome]], file_name: str,
                      content_hash: str) -> None:
        now = _now()
        with self.transaction() as conn:
            for item_id, o in outcomes:
                conn.execute("UPDATE moderation_outcomes SET replaced_at = ? WHERE item_id = ?"
                             " AND replaced_at IS NULL", (now, item_id))
                conn.execute(
                    "INSERT INTO moderation_outcomes (item_id, moderated_grade, constructive,"
                    " names_strengths, names_learning, theme, comments, learning, file_name,"
                    " content_hash, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (item_id, o.moderated_grade, o.constructive, o.names_strengths,
                     o.names_learning, o.theme, o.comments, o.learning, file_name,
                     content_hash, now),
                )
                (allocation_id,) = conn.execute(
                    "SELECT r.allocation_id FROM moderation_items i JOIN returns r"
                    " ON r.id = i.return_id WHERE i.id = ?", (item_id,),
                ).fetchone()
                # The moderated grade is the grade of record: it decides RI monitoring.
                self._sync_ri(conn, allocation_id, o.moderated_grade == "requires_improvement",
                              now, "regraded at moderation")
            self._log(conn, None, "moderation_outcomes",
                      {"file": file_name, "items": len(outcomes)})

    def grades_of_record(self, cycle: str) -> dict[str, tuple[str, str | None, str]]:
        """reference -> (auditor's grade, moderated grade or None, grade of record)."""
        rows = self.conn.execute(
            "SELECT a.reference, g.auditor_grade, g.moderated_grade, g.grade_of_record"
            " FROM audit_grades g JOIN allocations a ON a.id = g.allocation_id"
            " JOIN draws d ON d.id = a.draw_id JOIN cycles c ON c.id = d.cycle_id"
            " WHERE c.name = ? AND d.replaced_at IS NULL", (cycle,),
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def moderated_pairs(self, cycle: str | None) -> list[dict[str, Any]]:
        """Every current outcome with the auditor's grade, across cycles or for one."""
        rows = self.conn.execute(
            "SELECT c.name, a.reference, a.audit_type, a.quadrant, r.grade, o.moderated_grade,"
            " json_extract(r.fields_json, '$.auditor_name'), o.constructive, o.names_strengths,"
            " o.names_learning, o.theme, o.comments, o.learning"
            " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
            " JOIN moderation_samples s ON s.id = i.sample_id"
            " JOIN returns r ON r.id = i.return_id JOIN allocations a ON a.id = r.allocation_id"
            " JOIN cycles c ON c.id = s.cycle_id"
            " WHERE o.replaced_at IS NULL AND s.replaced_at IS NULL AND r.replaced_at IS NULL"
            " AND (? IS NULL OR c.name = ?) ORDER BY c.date_to, a.reference",
            (cycle, cycle),
        ).fetchall()
        keys = ("cycle", "reference", "audit_type", "quadrant", "auditor_grade",
                "moderated_grade", "auditor", "constructive", "names_strengths",
                "names_learning", "theme", "comments", "learning")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def known_identifiers(self) -> list[str]:
        """Every person id, record id and name the database holds: scrubbed from text
        that is published."""
        values: set[str] = set()
        names: set[str] = set()
        for person, record, worker, worker_name, manager, team in self.conn.execute(
            "SELECT person_id, record_id, worker_id, worker_name, service_manager, team"
            " FROM allocations"
        ):
            values.update(v for v in (person, record, worker, team) if v)
            names.update(v for v in (worker_name, manager) if v)
        for (fields,) in self.conn.execute("SELECT fields_json FROM returns"):
            data = json.loads(fields)
            names.update(data.get(k, "") for k in ("auditor_name", "esc_name", "ri_by"))
        # Roles ("Team manager") are not people: scrubbing them would only blur the text.
        roles = {r.casefold() for r in (*AUDITOR_ROLES, *ESCALATED_TO)}
        names = {n for n in names if n.casefold() not in roles}
        # "Ms Adeyemi" or "Niamh" alone must go too: every part of a person's name counts.
        parts = {p for n in names for p in re.findall(r"[^\W\d_][\w'’-]*", n)
                 if len(p) >= 3 and p.casefold() not in _NOT_NAMES}
        values |= names | parts
        return sorted((v for v in values if len(v) >= 3), key=len, reverse=True)

    def latest_cycle(self) -> str | None:
        row = self.conn.execute(
            "SELECT c.name FROM cycles c JOIN draws d ON d.cycle_id = c.id"
            " WHERE d.replaced_at IS NULL ORDER BY c.date_to DESC, c.id DESC LIMIT 1"
        ).fetchone()
        return str(row[0]) if row else None

    def allocation_progress(self, cycle: str) -> list[dict[str, Any]]:
        """One row per allocation of the cycle's current draw: what has come back."""
        rows = self.conn.execute(
            "SELECT a.reference, a.quadrant, a.service_manager, c.due_date,"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id AND r.kind = 'audit'"
            "   AND r.replaced_at IS NULL),"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id"
            "   AND r.kind = 'self_reflection' AND r.replaced_at IS NULL),"
            " EXISTS (SELECT 1 FROM audit_grades g WHERE g.allocation_id = a.id"
            "   AND g.moderated_grade IS NOT NULL),"
            " EXISTS (SELECT 1 FROM ri_items i WHERE i.allocation_id = a.id"
            "   AND i.status = 'open')"
            " FROM allocations a JOIN draws d ON d.id = a.draw_id JOIN cycles c"
            " ON c.id = d.cycle_id WHERE c.name = ? AND d.replaced_at IS NULL ORDER BY a.id",
            (cycle,),
        ).fetchall()
        keys = ("reference", "quadrant", "service_manager", "due", "audit_back",
                "reflection_back", "moderated", "ri_open")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def export_tables(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """Every table an analyst needs, current rows only, as (headers, rows)."""
        queries = {
            "Allocations": (
                "SELECT c.name, a.reference, a.quadrant, a.audit_type, a.stratum_type,"
                " a.record_id, a.person_id, a.completed_date, a.worker_id, a.worker_name,"
                " a.team, a.service_manager, a.question_set, a.question_set_version"
                " FROM allocations a JOIN draws d ON d.id = a.draw_id JOIN cycles c"
                " ON c.id = d.cycle_id WHERE d.replaced_at IS NULL ORDER BY c.date_to, a.id",
                ["Cycle", "Reference", "Quadrant", "Audit type", "Drawn for", "Record ID",
                 "Person ID", "Work completed", "Worker ID", "Worker", "Team",
                 "Service Manager", "Question set", "Version"],
            ),
            "Audits": (
                "SELECT a.reference, g.auditor_grade, g.moderated_grade, g.grade_of_record,"
                " json_extract(r.fields_json, '$.rationale'),"
                " json_extract(r.fields_json, '$.strengths'),"
                " json_extract(r.fields_json, '$.learning'),"
                " json_extract(r.fields_json, '$.share_good_practice'),"
                " json_extract(r.fields_json, '$.auditor_name'),"
                " json_extract(r.fields_json, '$.auditor_role'),"
                " json_extract(r.fields_json, '$.auditor_date'), r.received_at, r.warnings_json"
                " FROM returns r JOIN audit_grades g ON g.return_id = r.id"
                " JOIN allocations a ON a.id = r.allocation_id ORDER BY a.reference",
                ["Reference", "Auditor's grade", "Moderated grade", "Grade of record",
                 "Rationale", "Strengths", "Learning", "Shareable", "Auditor", "Role",
                 "Completed", "Received", "Warnings"],
            ),
            "Answers": (
                "SELECT a.reference, n.aspect, n.question_id, n.answer, n.comment"
                " FROM answers n JOIN returns r ON r.id = n.return_id"
                " JOIN allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
                " ORDER BY a.reference, n.rowid",
                ["Reference", "Aspect", "Question", "Answer", "Comment"],
            ),
            "Self-reflections": (
                "SELECT a.reference, json_extract(r.fields_json, '$.sr_went_well'),"
                " json_extract(r.fields_json, '$.sr_differently'),"
                " json_extract(r.fields_json, '$.sr_support'),"
                " json_extract(r.fields_json, '$.sr_grade'),"
                " json_extract(r.fields_json, '$.sr_date')"
                " FROM returns r JOIN allocations a ON a.id = r.allocation_id"
                " WHERE r.kind = 'self_reflection' AND r.replaced_at IS NULL"
                " ORDER BY a.reference",
                ["Reference", "Went well", "Would do differently", "Support wanted",
                 "Own grade", "Date"],
            ),
            "Moderation": (
                "SELECT a.reference, o.moderated_grade, o.constructive, o.names_strengths,"
                " o.names_learning, o.theme, o.comments, o.learning"
                " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
                " JOIN moderation_samples s ON s.id = i.sample_id"
                " JOIN returns r ON r.id = i.return_id JOIN allocations a"
                " ON a.id = r.allocation_id WHERE o.replaced_at IS NULL"
                " AND s.replaced_at IS NULL AND r.replaced_at IS NULL ORDER BY a.reference",
                ["Reference", "Moderated grade", "Constructive", "Names strengths",
                 "Names learning", "Theme", "Comments", "Learning for the auditor"],
            ),
            "RI follow-up": (
                "SELECT a.reference, i.status, i.opened_at, i.closed_at, i.note, s.step,"
                " s.done_on, s.note FROM ri_items i JOIN allocations a"
                " ON a.id = i.allocation_id LEFT JOIN ri_steps s ON s.ri_id = i.id"
                " ORDER BY a.reference, s.id",
                ["Reference", "Status", "Opened", "Closed", "Note", "Step", "Done on",
                 "Step note"],
            ),
            "Escalations": (
                "SELECT a.reference, e.escalated_to, e.manager_name, e.escalated_on, e.note"
                " FROM escalations e JOIN returns r ON r.id = e.return_id"
                " JOIN allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
                " ORDER BY e.escalated_on",
                ["Reference", "Escalated to", "Manager", "On", "Note"],
            ),
        }
        return {name: (headers, [tuple(r) for r in self.conn.execute(sql)])
                for name, (sql, headers) in queries.items()}

    def graded_audits(self, cycle: str) -> list[dict[str, Any]]:
        """The cycle's current audit returns with their grade of record."""
        rows = self.conn.execute(
            "SELECT a.reference, a.quadrant, a.audit_type, g.grade_of_record, r.fields_json"
            " FROM audit_grades g JOIN returns r ON r.id = g.return_id"
            " JOIN allocations a ON a.id = g.allocation_id JOIN draws d ON d.id = a.draw_id"
            " JOIN cycles c ON c.id = d.cycle_id WHERE c.name = ? AND d.replaced_at IS NULL"
            " ORDER BY a.reference", (cycle,),
        )
        return [{"reference": r[0], "quadrant": r[1], "audit_type": r[2], "grade": r[3],
                 "fields": json.loads(r[4])} for r in rows]

    def answer_counts(self, cycle: str) -> list[tuple[str, str, str, str, str, int]]:
        """(quadrant, audit type, aspect, question id, answer, count) over the cycle's
        current audits."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT a.quadrant, a.audit_type, n.aspect, n.question_id, n.answer, count(*)"
            " FROM answers n"
            " JOIN returns r ON r.id = n.return_id JOIN allocations a ON a.id = r.allocation_id"
            " JOIN draws d ON d.id = a.draw_id JOIN cycles c ON c.id = d.cycle_id"
            " WHERE c.name = ? AND d.replaced_at IS NULL AND r.replaced_at IS NULL"
            " GROUP BY a.quadrant, a.audit_type, n.aspect, n.question_id, n.answer", (cycle,))]

    def cycles_up_to(self, cycle: str, most: int = 8) -> list[str]:
        """This cycle and the drawn cycles before it, oldest first, at most ``most``."""
        end = self.require_cycle(cycle).date_to.isoformat()
        rows = self.conn.execute(
            "SELECT c.name FROM cycles c JOIN draws d ON d.cycle_id = c.id"
            " WHERE d.replaced_at IS NULL AND c.date_to <= ? ORDER BY c.date_to DESC, c.id DESC"
            " LIMIT ?", (end, most),
        )
        return [r[0] for r in rows][::-1]
