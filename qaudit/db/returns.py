"""Returned forms, their answers, RI monitoring and escalations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from qaudit.db.schema import now
from qaudit.errors import CycleError
from qaudit.grading import (
    RiStatus,
    grade_of_record,
    ri_close_refusal,
    ri_status_after,
    ri_step_refusal,
)

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class StoredReturn:
    id: int
    file_sha256: str
    content_hash: str


@dataclass(frozen=True)
class Escalation:
    """What an auditor escalated, as the form recorded it."""

    escalated_to: str
    manager: str
    escalated_on: str  # ISO
    note: str


@dataclass(frozen=True)
class NewReturn:
    """One validated form, ready to store."""

    allocation_id: int
    kind: str
    file_name: str
    file_sha256: str
    content_hash: str
    grade: str | None
    fields: dict[str, str]
    answers: Sequence[tuple[str, str, str, str]]  # question id, aspect, answer, comment
    warnings: Sequence[str]
    escalation: Escalation | None


@dataclass(frozen=True)
class RiItem:
    """One audit on the Practice Quality Team's Requires improvement list."""

    reference: str
    cycle: str
    quadrant: str
    team: str
    practitioner: str
    auditor: str | None
    action: str | None
    action_by: str | None
    action_due: str | None
    opened_at: str
    status: RiStatus
    closed_at: str | None
    note: str
    steps: dict[str, str] = field(default_factory=dict)  # step -> ISO date done


@dataclass(frozen=True)
class EscalationItem:
    reference: str
    cycle: str
    quadrant: str
    team: str
    escalated_to: str
    manager: str
    escalated_on: str  # ISO
    note: str
    closed_at: str | None = None
    outcome: str = ""
    closed_by: str = ""


@dataclass(frozen=True)
class RiStepDone:
    step: str
    done_on: str  # ISO
    note: str
    actor: str
    recorded_at: str


@dataclass(frozen=True)
class RiHistoryEntry:
    at: str
    action: str  # opened, step, closed, closed (forced), reopened, withdrawn
    actor: str
    note: str


@dataclass(frozen=True)
class Returns:
    db: Store

    def current(self, allocation_id: int, kind: str) -> StoredReturn | None:
        row = self.db.conn.execute(
            "SELECT id, file_sha256, content_hash FROM returns"
            " WHERE allocation_id = ? AND kind = ? AND replaced_at IS NULL",
            (allocation_id, kind),
        ).fetchone()
        return StoredReturn(int(row[0]), row[1], row[2]) if row else None

    def stored_from(self, file_sha256: str) -> tuple[str, str] | None:
        """(reference, kind) of the current return stored from a file with exactly these
        bytes, for an allocation still current; None if there is none."""
        rows = self.db.conn.execute(
            "SELECT a.reference, r.kind FROM returns r"
            " JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE r.file_sha256 = ? AND r.replaced_at IS NULL", (file_sha256,),
        ).fetchall()
        return (str(rows[0][0]), str(rows[0][1])) if len(rows) == 1 else None

    def superseded(self, allocation_id: int, kind: str) -> dict[str, str]:
        """Content hash -> when it was replaced, for every earlier return of an allocation."""
        rows = self.db.conn.execute(
            "SELECT content_hash, replaced_at FROM returns WHERE allocation_id = ? AND kind = ?"
            " AND replaced_at IS NOT NULL ORDER BY id", (allocation_id, kind),
        )
        return {h: at for h, at in rows}

    def content(self, return_id: int) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """What a stored return says: its fields, and question -> (answer, comment)."""
        (fields,) = self.db.conn.execute(
            "SELECT fields_json FROM returns WHERE id = ?", (return_id,)).fetchone()
        answers = {q: (a, c) for q, a, c in self.db.conn.execute(
            "SELECT question_id, answer, comment FROM answers WHERE return_id = ?",
            (return_id,))}
        return json.loads(fields), answers

    def store(self, new: NewReturn, replace: StoredReturn | None) -> int | None:
        """Store one returned form, all of it or nothing; ``replace`` keeps the old as history.

        Returns the new return's id, or None when the same content was stored meanwhile
        (another officer ingesting the same folder at the same time): unchanged, not a
        failure. If different content was stored meanwhile, nothing is stored (CycleError).
        """
        db = self.db
        stamp = now()
        with db.transaction() as conn:
            now_current = self.current(new.allocation_id, new.kind)
            if now_current is not None and now_current.content_hash == new.content_hash:
                return None
            if (now_current.id if now_current else None) != (replace.id if replace else None):
                raise CycleError("another return of this allocation was stored while this"
                                 " file was being checked; run ingest again to compare them")
            if replace is not None:
                conn.execute("UPDATE returns SET replaced_at = ? WHERE id = ?",
                             (stamp, replace.id))
            cur = conn.execute(
                "INSERT INTO returns (allocation_id, kind, file_name, file_sha256, content_hash,"
                " received_at, grade, fields_json, warnings_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new.allocation_id, new.kind, new.file_name, new.file_sha256, new.content_hash,
                 stamp, new.grade, json.dumps(new.fields, ensure_ascii=False),
                 json.dumps(list(new.warnings))),
            )
            return_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO answers (return_id, question_id, aspect, answer, comment)"
                " VALUES (?, ?, ?, ?, ?)",
                [(return_id, *a) for a in new.answers],
            )
            if new.escalation is not None:
                e = new.escalation
                conn.execute(
                    "INSERT INTO escalations (return_id, escalated_to, manager_name,"
                    " escalated_on, note) VALUES (?, ?, ?, ?, ?)",
                    (return_id, e.escalated_to, e.manager, e.escalated_on, e.note),
                )
            if replace is not None:
                db.moderation.follow_replacement(replace.id, return_id)
            if new.kind == "audit" and new.grade is not None:
                moderated = db.moderation.moderated_grade(return_id)
                self.sync_ri(new.allocation_id, grade_of_record(new.grade, moderated), stamp,
                             "regraded by a replacement return")
            (reference,) = conn.execute("SELECT reference FROM allocations WHERE id = ?",
                                        (new.allocation_id,)).fetchone()
            db.log(None, "replace" if replace else "return",
                   {"allocation_id": new.allocation_id, "kind": new.kind,
                    "return_id": return_id, "file": new.file_name}, reference)
        return return_id

    def sync_ri(self, allocation_id: int, grade: str, stamp: str, reason: str) -> None:
        """Apply the monitoring rule (``grading.ri_status_after``) for a new grade of record,
        inside the caller's transaction."""
        conn = self.db.conn
        item = conn.execute(
            "SELECT id, status FROM ri_items WHERE allocation_id = ?", (allocation_id,)
        ).fetchone()
        status = ri_status_after(RiStatus(item[1]) if item else None, grade)
        if status is None:
            return
        if item is None:
            cur = conn.execute("INSERT INTO ri_items (allocation_id, opened_at, status)"
                               " VALUES (?, ?, ?)", (allocation_id, stamp, status))
            self._history(int(cur.lastrowid or 0), "opened", "")
        elif status is RiStatus.OPEN:
            conn.execute("UPDATE ri_items SET status = ?, closed_at = NULL, note = ''"
                         " WHERE id = ?", (status, item[0]))
            self._history(item[0], "reopened", "graded Requires improvement again")
        else:
            conn.execute("UPDATE ri_items SET status = ?, closed_at = ?, note = ? WHERE id = ?",
                         (status, stamp, reason, item[0]))
            self._history(item[0], str(status), reason)

    def _history(self, ri_id: int, action: str, note: str) -> None:
        self.db.conn.execute(
            "INSERT INTO ri_history (ri_id, at, action, actor, note) VALUES (?, ?, ?, ?, ?)",
            (ri_id, now(), action, self.db.actor, note))

    def answers_for(self, reference: str) -> dict[str, tuple[str, str]]:
        rows = self.db.conn.execute(
            "SELECT n.question_id, n.answer, n.comment FROM answers n"
            " JOIN returns r ON r.id = n.return_id"
            " JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE a.reference = ? AND r.replaced_at IS NULL",
            (reference,),
        )
        return {q: (ans, cmt) for q, ans, cmt in rows}

    # --- Requires improvement follow-up ---------------------------------------------------

    def ri_items(self, cycle: str | None) -> list[RiItem]:
        cycle = None if cycle is None else self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT i.id, a.reference, a.cycle, a.quadrant, a.team, a.worker_name,"
            " json_extract(r.fields_json, '$.auditor_name'),"
            " json_extract(r.fields_json, '$.ri_action'), json_extract(r.fields_json, '$.ri_by'),"
            " json_extract(r.fields_json, '$.ri_due'), i.opened_at, i.status, i.closed_at, i.note"
            " FROM ri_items i JOIN current_allocations a ON a.id = i.allocation_id"
            " LEFT JOIN returns r ON r.allocation_id = a.id AND r.kind = 'audit'"
            "  AND r.replaced_at IS NULL"
            " WHERE (? IS NULL OR a.cycle = ?) ORDER BY a.reference",
            (cycle, cycle),
        ).fetchall()
        steps: dict[int, dict[str, str]] = {}
        for ri_id, step, done_on in self.db.conn.execute(
            "SELECT ri_id, step, done_on FROM ri_steps ORDER BY id"
        ):
            steps.setdefault(ri_id, {})[step] = done_on
        return [RiItem(reference=r[1], cycle=r[2], quadrant=r[3], team=r[4], practitioner=r[5],
                       auditor=r[6], action=r[7], action_by=r[8], action_due=r[9],
                       opened_at=r[10], status=RiStatus(r[11]), closed_at=r[12], note=r[13],
                       steps=steps.get(r[0], {}))
                for r in rows]

    def _ri(self, reference: str) -> tuple[int, RiStatus, dict[str, str]]:
        """The RI item of a current allocation: id, status, step -> ISO date done."""
        row = self.db.conn.execute(
            "SELECT i.id, i.status FROM ri_items i JOIN current_allocations a"
            " ON a.id = i.allocation_id WHERE a.reference = ?", (reference,),
        ).fetchone()
        if row is None:
            raise CycleError(
                f"{reference} is not on the Requires improvement list; `qaudit ri` lists it."
            )
        done = {step: on for step, on in self.db.conn.execute(
            "SELECT step, done_on FROM ri_steps WHERE ri_id = ? ORDER BY id", (row[0],))}
        return int(row[0]), RiStatus(row[1]), done

    def record_ri_step(self, reference: str, step: str, done_on: date, note: str,
                       steps: dict[str, str]) -> None:
        """Record a follow-up step, once, on an open item (``grading.ri_step_refusal``)."""
        with self.db.transaction() as conn:
            ri_id, status, done = self._ri(reference)
            refusal = ri_step_refusal(status, done, step, steps)
            if refusal:
                raise CycleError(f"cannot record {step} for {reference}: {refusal}")
            conn.execute(
                "INSERT INTO ri_steps (ri_id, step, done_on, note, recorded_at, actor)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (ri_id, step, done_on.isoformat(), note, now(), self.db.actor),
            )
            self._history(ri_id, "step", f"{step} on {done_on.isoformat()}"
                          + (f": {note}" if note else ""))
            self.db.log(None, "ri_step", {"step": step, "done_on": done_on.isoformat()},
                        reference)

    def close_ri(self, reference: str, note: str, steps: dict[str, str], force: bool) -> None:
        """Close an open item once every required step is recorded, or with ``force`` (the
        caller gives the reason as ``note``)."""
        with self.db.transaction() as conn:
            ri_id, status, done = self._ri(reference)
            refusal = ri_close_refusal(status, done, steps, force)
            if refusal:
                raise CycleError(f"cannot close {reference}: {refusal}")
            missing = [s for s in steps if s not in done]
            conn.execute(
                "UPDATE ri_items SET status = ?, closed_at = ?, note = ? WHERE id = ?",
                (RiStatus.CLOSED, now(), note, ri_id),
            )
            action = "closed (forced)" if missing else "closed"
            self._history(ri_id, action, note + (f" (not recorded: {', '.join(missing)})"
                                                 if missing else ""))
            self.db.log(None, "ri_closed", {"forced": bool(missing), "missing": missing},
                        reference)

    def reopen_ri(self, reference: str, reason: str) -> None:
        with self.db.transaction() as conn:
            ri_id, status, _ = self._ri(reference)
            if status is not RiStatus.CLOSED:
                raise CycleError(f"cannot reopen {reference}: it is {status}, not closed.")
            conn.execute("UPDATE ri_items SET status = ?, closed_at = NULL WHERE id = ?",
                         (RiStatus.OPEN, ri_id))
            self._history(ri_id, "reopened", reason)
            self.db.log(None, "ri_reopened", {"reason": reason}, reference)

    def ri_detail(self, reference: str) -> tuple[list[RiStepDone], list[RiHistoryEntry]]:
        """Every step recorded and every change of an RI item, oldest first."""
        ri_id, _, _ = self._ri(reference)
        steps = [RiStepDone(*r) for r in self.db.conn.execute(
            "SELECT step, done_on, note, actor, recorded_at FROM ri_steps WHERE ri_id = ?"
            " ORDER BY id", (ri_id,))]
        history = [RiHistoryEntry(*r) for r in self.db.conn.execute(
            "SELECT at, action, actor, note FROM ri_history WHERE ri_id = ? ORDER BY id",
            (ri_id,))]
        return steps, history

    def escalations(self, cycle: str | None) -> list[EscalationItem]:
        cycle = None if cycle is None else self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT a.reference, a.cycle, a.quadrant, a.team, e.escalated_to, e.manager_name,"
            " e.escalated_on, e.note, e.closed_at, e.outcome, e.closed_by"
            " FROM escalations e JOIN returns r ON r.id = e.return_id"
            " JOIN current_allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
            " AND (? IS NULL OR a.cycle = ?) ORDER BY e.escalated_on, a.reference",
            (cycle, cycle),
        ).fetchall()
        return [EscalationItem(*r) for r in rows]

    def close_escalation(self, reference: str, outcome: str) -> None:
        """Record what came of an escalation, and close it."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT e.id, e.closed_at FROM escalations e JOIN returns r ON r.id = e.return_id"
                " JOIN current_allocations a ON a.id = r.allocation_id"
                " WHERE r.replaced_at IS NULL AND a.reference = ?", (reference,),
            ).fetchone()
            if row is None:
                raise CycleError(f"{reference} has no escalation recorded; `qaudit escalations`"
                                 " lists them.")
            if row[1] is not None:
                raise CycleError(f"the escalation of {reference} was closed on {row[1][:10]}.")
            conn.execute("UPDATE escalations SET closed_at = ?, outcome = ?, closed_by = ?"
                         " WHERE id = ?", (now(), outcome, self.db.actor, row[0]))
            self.db.log(None, "escalation_closed", {"outcome": outcome}, reference)
