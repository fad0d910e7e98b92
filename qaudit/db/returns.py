"""Returns, answers, RI monitoring and escalations: the ingest half of the database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from qaudit.db.store import AllocationRow, _DrawStore, _now
from qaudit.errors import CycleError, QuestionSetError
from qaudit.questions import QuestionSet

# --- returns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedAllocation:
    id: int
    row: AllocationRow
    cycle: str
    due_date: date


@dataclass(frozen=True)
class StoredReturn:
    id: int
    file_sha256: str
    content_hash: str


RI_STEPS: dict[str, str] = {
    "corrective-action": "Corrective action by the team manager",
    "psw-meeting": "Discussed at the six-weekly meeting with the Principal Social Worker",
    "esca-referral": "Discussed with the training academy (ESCA)",
}


class _ReturnsStore(_DrawStore):
    """Returns, RI monitoring and escalations."""

    def issued(self, reference: str) -> IssuedAllocation | None:
        row = self.conn.execute(
            "SELECT a.id, a.reference, a.record_id, a.person_id, a.audit_type, a.stratum_type,"
            " a.quadrant, a.worker_id, a.worker_name, a.team, a.service_manager,"
            " a.completed_date, a.question_set, a.question_set_version, a.question_set_hash,"
            " c.name, c.due_date FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " JOIN cycles c ON c.id = d.cycle_id"
            " WHERE a.reference = ? AND d.replaced_at IS NULL",
            (reference,),
        ).fetchone()
        if row is None:
            return None
        return IssuedAllocation(int(row[0]), AllocationRow(*row[1:15]), row[15],
                                date.fromisoformat(row[16]))

    def issued_question_set(self, digest: str) -> QuestionSet:
        """The question set exactly as it was issued (forms are checked against it, not
        against today's templates)."""
        cache: dict[str, QuestionSet] = self.__dict__.setdefault("_question_sets", {})
        if digest not in cache:
            row = self.conn.execute(
                "SELECT content_json FROM question_sets WHERE hash = ?", (digest,)
            ).fetchone()
            if row is None:
                raise QuestionSetError(
                    "a question set issued with this cycle is missing from the database;"
                    " restore the database from a backup"
                )
            cache[digest] = QuestionSet.model_validate_json(row[0])
        return cache[digest]

    def current_return(self, allocation_id: int, kind: str) -> StoredReturn | None:
        row = self.conn.execute(
            "SELECT id, file_sha256, content_hash FROM returns"
            " WHERE allocation_id = ? AND kind = ? AND replaced_at IS NULL",
            (allocation_id, kind),
        ).fetchone()
        return StoredReturn(int(row[0]), row[1], row[2]) if row else None

    def store_return(
        self,
        allocation_id: int,
        kind: str,
        *,
        file_name: str,
        file_sha256: str,
        content_hash: str,
        grade: str | None,
        fields: dict[str, str],
        answers: Sequence[tuple[str, str, str, str]],
        warnings: Sequence[str],
        replace: StoredReturn | None,
        escalation: tuple[str, str, str, str] | None,
        ri_grade: bool,
    ) -> int:
        """Store one returned form, all of it or nothing; ``replace`` keeps the old as history."""
        now = _now()
        with self.transaction() as conn:
            if replace is not None:
                conn.execute("UPDATE returns SET replaced_at = ? WHERE id = ?", (now, replace.id))
            cur = conn.execute(
                "INSERT INTO returns (allocation_id, kind, file_name, file_sha256, content_hash,"
                " received_at, grade, fields_json, warnings_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (allocation_id, kind, file_name, file_sha256, content_hash, now, grade,
                 json.dumps(fields, ensure_ascii=False), json.dumps(list(warnings))),
            )
            return_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO answers (return_id, question_id, aspect, answer, comment)"
                " VALUES (?, ?, ?, ?, ?)",
                [(return_id, *a) for a in answers],
            )
            if escalation is not None:
                conn.execute(
                    "INSERT INTO escalations (return_id, escalated_to, manager_name,"
                    " escalated_on, note) VALUES (?, ?, ?, ?, ?)",
                    (return_id, *escalation),
                )
            if replace is not None:
                # Moderation of the audit stays with it when the return is replaced.
                conn.execute("UPDATE moderation_items SET return_id = ? WHERE return_id = ?",
                             (return_id, replace.id))
            if kind == "audit":
                moderated = conn.execute(
                    "SELECT o.moderated_grade FROM moderation_items i JOIN moderation_outcomes o"
                    " ON o.item_id = i.id AND o.replaced_at IS NULL WHERE i.return_id = ?",
                    (return_id,),
                ).fetchone()
                if moderated is not None:  # the moderated grade is the grade of record
                    ri_grade = moderated[0] == "requires_improvement"
                self._sync_ri(conn, allocation_id, ri_grade, now)
            self._log(conn, None, "replace" if replace else "return",
                      {"allocation_id": allocation_id, "kind": kind, "return_id": return_id,
                       "file": file_name})
        return return_id

    @staticmethod
    def _sync_ri(conn: sqlite3.Connection, allocation_id: int, ri_grade: bool, now: str,
                 reason: str = "regraded by a replacement return") -> None:
        item = conn.execute(
            "SELECT id, status FROM ri_items WHERE allocation_id = ?", (allocation_id,)
        ).fetchone()
        if ri_grade and item is None:
            conn.execute(
                "INSERT INTO ri_items (allocation_id, opened_at, status) VALUES (?, ?, 'open')",
                (allocation_id, now),
            )
        elif ri_grade and item[1] == "withdrawn":
            conn.execute("UPDATE ri_items SET status = 'open', closed_at = NULL, note = ''"
                         " WHERE id = ?", (item[0],))
        elif not ri_grade and item is not None and item[1] == "open":
            conn.execute(
                "UPDATE ri_items SET status = 'withdrawn', closed_at = ?, note = ? WHERE id = ?",
                (now, reason, item[0]),
            )

    def returns_count(self) -> int:
        return int(self.conn.execute(
            "SELECT count(*) FROM returns WHERE replaced_at IS NULL").fetchone()[0])

    def ri_list(self, cycle: str | None) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT i.id, a.reference, c.name, a.quadrant, a.team, a.worker_name,"
            " json_extract(r.fields_json, '$.auditor_name'),"
            " json_extract(r.fields_json, '$.ri_action'), json_extract(r.fields_json, '$.ri_by'),"
            " json_extract(r.fields_json, '$.ri_due'), i.opened_at, i.status, i.closed_at, i.note"
            " FROM ri_items i JOIN allocations a ON a.id = i.allocation_id"
            " JOIN draws d ON d.id = a.draw_id JOIN cycles c ON c.id = d.cycle_id"
            " LEFT JOIN returns r ON r.allocation_id = a.id AND r.kind = 'audit'"
            "  AND r.replaced_at IS NULL"
            " WHERE d.replaced_at IS NULL AND (? IS NULL OR c.name = ?) ORDER BY a.reference",
            (cycle, cycle),
        ).fetchall()
        steps: dict[int, dict[str, str]] = {}
        for ri_id, step, done_on in self.conn.execute(
            "SELECT ri_id, step, done_on FROM ri_steps ORDER BY id"
        ):
            steps.setdefault(ri_id, {})[step] = done_on
        keys = ("reference", "cycle", "quadrant", "team", "practitioner", "auditor",
                "action", "action_by", "action_due", "opened_at", "status", "closed_at", "note")
        return [dict(zip(keys, r[1:], strict=True)) | {"steps": steps.get(r[0], {})}
                for r in rows]

    def _ri_id(self, reference: str) -> int:
        row = self.conn.execute(
            "SELECT i.id FROM ri_items i JOIN allocations a ON a.id = i.allocation_id"
            " JOIN draws d ON d.id = a.draw_id WHERE a.reference = ? AND d.replaced_at IS NULL",
            (reference,),
        ).fetchone()
        if row is None:
            raise CycleError(
                f"{reference} is not on the Requires improvement list; `qaudit ri` lists it."
            )
        return int(row[0])

    def record_ri_step(self, reference: str, step: str, done_on: date, note: str) -> None:
        ri_id = self._ri_id(reference)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO ri_steps (ri_id, step, done_on, note, recorded_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (ri_id, step, done_on.isoformat(), note, _now()),
            )
            self._log(conn, None, "ri_step", {"reference": reference, "step": step})

    def close_ri(self, reference: str, note: str) -> None:
        ri_id = self._ri_id(reference)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE ri_items SET status = 'closed', closed_at = ?, note = ? WHERE id = ?",
                (_now(), note, ri_id),
            )
            self._log(conn, None, "ri_closed", {"reference": reference})

    def escalation_list(self, cycle: str | None) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT a.reference, c.name, a.quadrant, a.team, e.escalated_to, e.manager_name,"
            " e.escalated_on, e.note FROM escalations e JOIN returns r ON r.id = e.return_id"
            " JOIN allocations a ON a.id = r.allocation_id JOIN draws d ON d.id = a.draw_id"
            " JOIN cycles c ON c.id = d.cycle_id WHERE r.replaced_at IS NULL"
            " AND d.replaced_at IS NULL AND (? IS NULL OR c.name = ?)"
            " ORDER BY e.escalated_on, a.reference",
            (cycle, cycle),
        ).fetchall()
        keys = ("reference", "cycle", "quadrant", "team", "escalated_to", "manager",
                "escalated_on", "note")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def answers_for(self, reference: str) -> dict[str, tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT n.question_id, n.answer, n.comment FROM answers n"
            " JOIN returns r ON r.id = n.return_id JOIN allocations a ON a.id = r.allocation_id"
            " JOIN draws d ON d.id = a.draw_id WHERE a.reference = ? AND r.replaced_at IS NULL"
            " AND d.replaced_at IS NULL",
            (reference,),
        )
        return {q: (ans, cmt) for q, ans, cmt in rows}
