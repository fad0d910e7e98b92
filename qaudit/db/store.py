"""Connection, migrations, cycles and draws: the allocation half of the database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from qaudit.db.schema import MIGRATIONS, SCHEMA_VERSION
from qaudit.errors import CycleError, WorkspaceError


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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def current_draw_id(self, cycle_name: str) -> int | None:
        cycle = self.cycle(cycle_name)
        return self._current_draw_id(cycle.id) if cycle else None

    def drawn_elsewhere(
        self, cycle_name: str, before_draw: int | None = None
    ) -> tuple[frozenset[str], frozenset[str]]:
        """Persons and records in the current draw of every other cycle; with
        ``before_draw``, only draws stored before that one (to re-check a recorded draw)."""
        rows = self.conn.execute(
            "SELECT a.person_id, a.record_id FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " JOIN cycles c ON c.id = d.cycle_id WHERE d.replaced_at IS NULL AND c.name != ?"
            " AND (? IS NULL OR d.id < ?)",
            (cycle_name, before_draw, before_draw),
        ).fetchall()
        return frozenset(r[0] for r in rows), frozenset(r[1] for r in rows)

    def recent_workers(
        self, cycle_name: str, before: date, cycles: int, before_draw: int | None = None
    ) -> frozenset[str]:
        """Workers drawn in the ``cycles`` latest other drawn cycles ending on or before
        ``before``; with ``before_draw``, only cycles drawn before that draw."""
        if cycles <= 0:
            return frozenset()
        rows = self.conn.execute(
            "SELECT DISTINCT a.worker_id FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " WHERE d.replaced_at IS NULL AND d.cycle_id IN ("
            "   SELECT c.id FROM cycles c JOIN draws k ON k.cycle_id = c.id"
            "   AND k.replaced_at IS NULL WHERE c.name != ? AND c.date_to <= ?"
            "   AND (? IS NULL OR k.id < ?) ORDER BY c.date_to DESC, c.id DESC LIMIT ?)",
            (cycle_name, before.isoformat(), before_draw, before_draw, cycles),
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

