"""The workspace database: every SQL statement qaudit runs lives in this module.

SQLite, with the schema kept as numbered migrations recorded in ``schema_migrations``
(the shape of sqlite-utils' Migrations). Every write that belongs together happens in
one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the database as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from qaudit.errors import CycleError, WorkspaceError

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "cycles, draws and allocations",
        """
        CREATE TABLE cycles (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            date_from TEXT NOT NULL,
            date_to TEXT NOT NULL,
            due_date TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE draws (
            id INTEGER PRIMARY KEY,
            cycle_id INTEGER NOT NULL REFERENCES cycles(id),
            seed INTEGER NOT NULL,
            export_name TEXT NOT NULL,
            export_sha256 TEXT NOT NULL,
            export_sheet TEXT,
            rows_read INTEGER NOT NULL,
            settings_json TEXT NOT NULL,
            excluded_json TEXT NOT NULL,
            unusable_json TEXT NOT NULL,
            strata_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX draws_one_current ON draws(cycle_id) WHERE replaced_at IS NULL;
        CREATE TABLE allocations (
            id INTEGER PRIMARY KEY,
            draw_id INTEGER NOT NULL REFERENCES draws(id),
            reference TEXT NOT NULL,
            record_id TEXT NOT NULL,
            person_id TEXT NOT NULL,
            audit_type TEXT NOT NULL,
            stratum_type TEXT NOT NULL,
            quadrant TEXT NOT NULL,
            worker_id TEXT NOT NULL,
            worker_name TEXT NOT NULL,
            team TEXT NOT NULL,
            service_manager TEXT NOT NULL,
            completed_date TEXT NOT NULL,
            question_set TEXT NOT NULL,
            question_set_version TEXT NOT NULL,
            question_set_hash TEXT NOT NULL,
            UNIQUE (draw_id, reference),
            UNIQUE (draw_id, record_id),
            UNIQUE (draw_id, person_id)
        );
        CREATE INDEX allocations_person ON allocations(person_id);
        CREATE INDEX allocations_worker ON allocations(worker_id);
        CREATE TABLE question_sets (
            hash TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            version TEXT NOT NULL,
            content_json TEXT NOT NULL
        );
        CREATE TABLE workspace (
            id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO workspace (id, created_at)
            VALUES (lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            cycle_id INTEGER REFERENCES cycles(id),
            kind TEXT NOT NULL,
            detail_json TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "returns, answers, RI monitoring and escalations",
        """
        CREATE TABLE returns (
            id INTEGER PRIMARY KEY,
            allocation_id INTEGER NOT NULL REFERENCES allocations(id),
            kind TEXT NOT NULL CHECK (kind IN ('audit', 'self_reflection')),
            file_name TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            received_at TEXT NOT NULL,
            replaced_at TEXT,
            grade TEXT,
            fields_json TEXT NOT NULL,
            warnings_json TEXT NOT NULL
        );
        CREATE UNIQUE INDEX returns_one_current ON returns(allocation_id, kind)
            WHERE replaced_at IS NULL;
        CREATE INDEX returns_file ON returns(file_sha256);
        CREATE TABLE answers (
            return_id INTEGER NOT NULL REFERENCES returns(id),
            question_id TEXT NOT NULL,
            aspect TEXT NOT NULL,
            answer TEXT NOT NULL CHECK (answer IN ('Yes', 'No', 'N/A')),
            comment TEXT NOT NULL,
            PRIMARY KEY (return_id, question_id)
        );
        CREATE TABLE ri_items (
            id INTEGER PRIMARY KEY,
            allocation_id INTEGER NOT NULL UNIQUE REFERENCES allocations(id),
            opened_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'withdrawn')),
            closed_at TEXT,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE ri_steps (
            id INTEGER PRIMARY KEY,
            ri_id INTEGER NOT NULL REFERENCES ri_items(id),
            step TEXT NOT NULL,
            done_on TEXT NOT NULL,
            note TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL UNIQUE REFERENCES returns(id),
            escalated_to TEXT NOT NULL,
            manager_name TEXT NOT NULL,
            escalated_on TEXT NOT NULL,
            note TEXT NOT NULL
        );
        """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Cycle:
    id: int
    name: str
    date_from: date
    date_to: date
    due_date: date


@dataclass(frozen=True)
class AllocationRow:
    reference: str
    record_id: str
    person_id: str
    audit_type: str
    stratum_type: str
    quadrant: str
    worker_id: str
    worker_name: str
    team: str
    service_manager: str
    completed_date: str  # ISO
    question_set: str
    question_set_version: str
    question_set_hash: str


@dataclass(frozen=True)
class DrawRecord:
    """Everything about one draw that is stored beside its allocations."""

    seed: int
    export_name: str
    export_sha256: str
    export_sheet: str | None
    rows_read: int
    settings: dict[str, Any]
    excluded: dict[str, int]
    unusable: dict[str, int]
    strata: list[dict[str, Any]]


class _DrawStore:
    """One open workspace database: connection, migrations, cycles and draws."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path, create: bool = False) -> Self:
        if not create and not path.exists():
            raise WorkspaceError(
                f"the workspace database {path} is missing. Run `qaudit init` in the"
                " workspace folder to create it."
            )
        try:
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 5000")
            store = cls(conn, path)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(
                f"{path} is not a qaudit database ({exc}). Restore it from a backup, or move"
                " it aside and run `qaudit init`."
            ) from exc
        return store

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _migrate(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = {r[0] for r in self.conn.execute("SELECT version FROM schema_migrations")}
        if applied and max(applied) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.path} was written by a newer qaudit (schema {max(applied)}); upgrade"
                " qaudit to use this workspace."
            )
        for version, name, sql in MIGRATIONS:
            if version in applied:
                continue
            with self.transaction() as conn:
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, _now())
                )

    def workspace_id(self) -> str:
        """A random id made with the database: forms carry it, so a form from another
        workspace is recognised as foreign."""
        return str(self.conn.execute("SELECT id FROM workspace").fetchone()[0])

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # --- cycles and draws --------------------------------------------------------

    def cycle(self, name: str) -> Cycle | None:
        row = self.conn.execute(
            "SELECT id, name, date_from, date_to, due_date FROM cycles WHERE name = ?", (name,)
        ).fetchone()
        return _cycle(row) if row else None

    def cycles(self) -> list[Cycle]:
        rows = self.conn.execute(
            "SELECT id, name, date_from, date_to, due_date FROM cycles ORDER BY date_to, id"
        )
        return [_cycle(r) for r in rows]

    def has_current_draw(self, cycle_id: int) -> bool:
        return self._current_draw_id(cycle_id) is not None

    def _current_draw_id(self, cycle_id: int) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM draws WHERE cycle_id = ? AND replaced_at IS NULL", (cycle_id,)
        ).fetchone()
        return int(row[0]) if row else None

    def has_returns(self, cycle_id: int) -> bool:
        """Whether any form of the cycle's current draw has come back."""
        row = self.conn.execute(
            "SELECT 1 FROM returns r JOIN allocations a ON a.id = r.allocation_id"
            " JOIN draws d ON d.id = a.draw_id WHERE d.cycle_id = ? AND d.replaced_at IS NULL"
            " LIMIT 1",
            (cycle_id,),
        ).fetchone()
        return row is not None

    def drawn_elsewhere(self, cycle_name: str) -> tuple[frozenset[str], frozenset[str]]:
        """Persons and records in the current draw of every other cycle."""
        rows = self.conn.execute(
            "SELECT a.person_id, a.record_id FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " JOIN cycles c ON c.id = d.cycle_id WHERE d.replaced_at IS NULL AND c.name != ?",
            (cycle_name,),
        ).fetchall()
        return frozenset(r[0] for r in rows), frozenset(r[1] for r in rows)

    def recent_workers(self, cycle_name: str, before: date, cycles: int) -> frozenset[str]:
        """Workers drawn in the ``cycles`` latest other cycles ending on or before ``before``."""
        if cycles <= 0:
            return frozenset()
        rows = self.conn.execute(
            "SELECT DISTINCT a.worker_id FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " WHERE d.replaced_at IS NULL AND d.cycle_id IN ("
            "   SELECT id FROM cycles WHERE name != ? AND date_to <= ?"
            "   ORDER BY date_to DESC, id DESC LIMIT ?)",
            (cycle_name, before.isoformat(), cycles),
        ).fetchall()
        return frozenset(r[0] for r in rows)

    def save_draw(
        self,
        name: str,
        date_from: date,
        date_to: date,
        due_date: date,
        record: DrawRecord,
        allocations: Sequence[AllocationRow],
        redraw: bool,
        question_sets: Sequence[tuple[str, str, str, str]] = (),
    ) -> Cycle:
        """Store a cycle's draw in one transaction; with ``redraw``, replace the current one."""
        with self.transaction() as conn:
            existing = self.cycle(name)
            if existing is None:
                cur = conn.execute(
                    "INSERT INTO cycles (name, date_from, date_to, due_date, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, date_from.isoformat(), date_to.isoformat(), due_date.isoformat(),
                     _now()),
                )
                cycle_id = int(cur.lastrowid or 0)
            else:
                cycle_id = existing.id
                current = self._current_draw_id(cycle_id)
                if current is not None and not redraw:
                    raise CycleError(
                        f"cycle {name!r} is already drawn. A draw is final; to draw it again"
                        " use --redraw (allowed only before any return is ingested)."
                    )
                if current is not None and self.has_returns(cycle_id):
                    raise CycleError(
                        f"cycle {name!r} already has returned audits, so its draw can no"
                        " longer be replaced."
                    )
                conn.execute(
                    "UPDATE draws SET replaced_at = ? WHERE id = ?", (_now(), current)
                )
                conn.execute(
                    "UPDATE cycles SET date_from = ?, date_to = ?, due_date = ? WHERE id = ?",
                    (date_from.isoformat(), date_to.isoformat(), due_date.isoformat(), cycle_id),
                )
                self._log(conn, cycle_id, "redraw", {"replaced_draw": current})
            cur = conn.execute(
                "INSERT INTO draws (cycle_id, seed, export_name, export_sha256, export_sheet,"
                " rows_read, settings_json, excluded_json, unusable_json, strata_json,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cycle_id, record.seed, record.export_name, record.export_sha256,
                    record.export_sheet, record.rows_read, json.dumps(record.settings),
                    json.dumps(record.excluded), json.dumps(record.unusable),
                    json.dumps(record.strata), _now(),
                ),
            )
            draw_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT OR IGNORE INTO question_sets (hash, id, version, content_json)"
                " VALUES (?, ?, ?, ?)",
                question_sets,
            )
            conn.executemany(
                "INSERT INTO allocations (draw_id, reference, record_id, person_id, audit_type,"
                " stratum_type, quadrant, worker_id, worker_name, team, service_manager,"
                " completed_date, question_set, question_set_version, question_set_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(draw_id, *_astuple(a)) for a in allocations],
            )
            self._log(
                conn, cycle_id, "draw",
                {"draw_id": draw_id, "seed": record.seed, "allocations": len(allocations),
                 "export_sha256": record.export_sha256},
            )
        cycle = self.cycle(name)
        assert cycle is not None
        return cycle

    def allocations(self, cycle_name: str) -> list[AllocationRow]:
        rows = self.conn.execute(
            "SELECT a.reference, a.record_id, a.person_id, a.audit_type, a.stratum_type,"
            " a.quadrant, a.worker_id, a.worker_name, a.team, a.service_manager,"
            " a.completed_date, a.question_set, a.question_set_version, a.question_set_hash"
            " FROM allocations a JOIN draws d ON d.id = a.draw_id JOIN cycles c"
            " ON c.id = d.cycle_id WHERE c.name = ? AND d.replaced_at IS NULL ORDER BY a.id",
            (cycle_name,),
        )
        return [AllocationRow(*r) for r in rows]

    def draw_seed(self, cycle_name: str) -> int | None:
        row = self.conn.execute(
            "SELECT d.seed FROM draws d JOIN cycles c ON c.id = d.cycle_id"
            " WHERE c.name = ? AND d.replaced_at IS NULL",
            (cycle_name,),
        ).fetchone()
        return int(row[0]) if row else None

    def events(self, kind: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        rows = self.conn.execute(
            "SELECT e.at, e.kind, e.detail_json FROM events e"
            " WHERE ? IS NULL OR e.kind = ? ORDER BY e.id",
            (kind, kind),
        )
        return [(at, k, json.loads(d)) for at, k, d in rows]

    @staticmethod
    def _log(
        conn: sqlite3.Connection, cycle_id: int | None, kind: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            "INSERT INTO events (at, cycle_id, kind, detail_json) VALUES (?, ?, ?, ?)",
            (_now(), cycle_id, kind, json.dumps(detail)),
        )


def _astuple(a: AllocationRow) -> tuple[str, ...]:
    return (
        a.reference, a.record_id, a.person_id, a.audit_type, a.stratum_type, a.quadrant,
        a.worker_id, a.worker_name, a.team, a.service_manager, a.completed_date,
        a.question_set, a.question_set_version, a.question_set_hash,
    )


def _cycle(row: Sequence[Any]) -> Cycle:
    return Cycle(
        int(row[0]), row[1], date.fromisoformat(row[2]), date.fromisoformat(row[3]),
        date.fromisoformat(row[4]),
    )


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


class Store(_DrawStore):
    """One open workspace database, with returns, RI monitoring and escalations."""

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

    def question_set_content(self, digest: str) -> str | None:
        row = self.conn.execute(
            "SELECT content_json FROM question_sets WHERE hash = ?", (digest,)
        ).fetchone()
        return str(row[0]) if row else None

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
            if kind == "audit":
                self._sync_ri(conn, allocation_id, ri_grade, now)
            self._log(conn, None, "replace" if replace else "return",
                      {"allocation_id": allocation_id, "kind": kind, "return_id": return_id,
                       "file": file_name})
        return return_id

    @staticmethod
    def _sync_ri(conn: sqlite3.Connection, allocation_id: int, ri_grade: bool, now: str) -> None:
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
                "UPDATE ri_items SET status = 'withdrawn', closed_at = ?,"
                " note = 'regraded by a replacement return' WHERE id = ?",
                (now, item[0]),
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
