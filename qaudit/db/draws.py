"""Cycles, draws and allocations: what was drawn, when, from which export, with which seed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from qaudit.db.schema import now
from qaudit.errors import CycleError, QuestionSetError
from qaudit.questions import QuestionSet
from qaudit.values import cycle_key

if TYPE_CHECKING:
    from qaudit.db.store import Store

_ALLOCATION_COLUMNS = (
    "reference, record_id, person_id, audit_type, stratum_type, quadrant, worker_id,"
    " worker_name, team, service_manager, completed_date, question_set,"
    " question_set_version, question_set_hash, work_type, worker_email,"
    " service_manager_email, follows_up, drawn_because"
)
_ALLOCATION_WIDTH = _ALLOCATION_COLUMNS.count(",") + 1

# The kinds of cycle: one of the year's regular cycles; a themed deep dive (its own terms
# of reference and question set, ``qaudit deep-dive``); a round of re-audits (``qaudit
# reaudit``). All three go through the same forms, ingest, moderation and sending; only a
# regular cycle counts toward the year's 960 and its figures.
REGULAR = "regular"
DEEP_DIVE = "deep_dive"
REAUDIT = "reaudit"
CYCLE_KINDS = (REGULAR, DEEP_DIVE, REAUDIT)


@dataclass(frozen=True)
class Cycle:
    id: int
    name: str
    date_from: date
    date_to: date
    due_date: date
    cancelled_at: str | None = None
    cancel_reason: str = ""
    kind: str = REGULAR  # REGULAR, DEEP_DIVE or REAUDIT

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def regular(self) -> bool:
        """One of the year's cycles: counts toward the 120 and the year's figures."""
        return self.kind == REGULAR


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
    work_type: str = ""  # as the case record calls it
    # What the case export said, checked for form ('' if it gave none): sending falls back
    # on these where the staff list has no address; never shown in a register or report.
    worker_email: str = ""
    service_manager_email: str = ""
    # A re-audit: the reference of the audit it follows up; and why a case was drawn where
    # a rule would otherwise have passed it over ("cool-down waived: re-audit of ...").
    follows_up: str = ""
    drawn_because: str = ""

    @property
    def practitioner(self) -> str:
        """The practitioner as forms show them: the name, or the worker id if none."""
        return self.worker_name or self.worker_id


@dataclass(frozen=True)
class IssuedAllocation:
    """An allocation of a current draw, as a returned form is checked against it."""

    id: int
    row: AllocationRow
    cycle: str
    due_date: date
    signed: bool  # its forms carry a signature of their identification
    redrawn_records: frozenset[str]  # records its reference had in replaced draws


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
    question_sets: list[QuestionSet] = field(default_factory=list)


_CYCLE_COLUMNS = "id, name, date_from, date_to, due_date, cancelled_at, cancel_reason, kind"


def _cycle(row: Sequence[Any]) -> Cycle:
    return Cycle(
        int(row[0]), row[1], date.fromisoformat(row[2]), date.fromisoformat(row[3]),
        date.fromisoformat(row[4]), row[5], row[6], row[7],
    )


def describe_kind(kind: str) -> str:
    return {REGULAR: "regular cycle", DEEP_DIVE: "deep dive",
            REAUDIT: "re-audit round"}.get(kind, kind)


@dataclass(frozen=True)
class Draws:
    db: Store
    # Issued question sets never change, so one read per open store is enough.
    _question_sets: dict[str, QuestionSet] = field(default_factory=dict, repr=False)

    # --- cycles ---------------------------------------------------------------------------

    def cycle(self, name: str) -> Cycle | None:
        """The cycle a name means: names compare by their folder name, ignoring case, so
        '2026-27 c4' and '2026-27-C4' are the cycle '2026-27 C4' (``values.cycle_key``)."""
        key = cycle_key(name)
        return next((c for c in self.cycles() if cycle_key(c.name) == key), None)

    def stored_name(self, name: str) -> str:
        """The name a cycle was stored under, for a name that means it; else the name."""
        found = self.cycle(name)
        return found.name if found else name

    def stored_reference(self, text: str) -> str:
        """The reference as stored, for one typed in any case, with spaces for hyphens or
        none ('2026-27 c3-004' is 2026-27-C3-004, as the forms show it); else the text, so the
        command's own "unknown reference" says what was typed. The one rule of every
        command that takes a reference."""
        typed = "".join(c for c in text.casefold() if c.isalnum())
        row = self.db.conn.execute(
            "SELECT reference FROM allocations"
            " WHERE replace(replace(lower(reference), '-', ''), ' ', '') = ?"
            " ORDER BY id DESC LIMIT 1", (typed,)).fetchone()
        return str(row[0]) if row else text.strip()

    def cycles(self) -> list[Cycle]:
        rows = self.db.conn.execute(
            f"SELECT {_CYCLE_COLUMNS} FROM cycles ORDER BY date_to, id"
        )
        return [_cycle(r) for r in rows]

    def require_cycle(self, name: str) -> Cycle:
        """The cycle (as stored), or a clear error listing the cycles there are. Every
        command resolves a cycle name through here."""
        found = self.cycle(name)
        if found is None:
            known = ", ".join(repr(c.name) for c in self.cycles()) or "none yet"
            raise CycleError(f"no cycle {name!r} (cycles: {known}); give one of those names"
                             " (case and punctuation aside).")
        return found

    def check_window(self, name: str, date_from: date, date_to: date, due: date,
                     allow_overlap: bool, kind: str = REGULAR) -> None:
        """A cycle's returns are due after its window ends, and a regular cycle's window does
        not overlap another regular cycle's, drawn or planned (unless ``allow_overlap``, for
        the rare deliberate case). A deep dive or re-audit round looks back over windows the
        regular cycles drew from, so only its due date is checked. Called early by allocate
        and again inside the draw's transaction."""
        if due <= date_to:
            raise CycleError(
                f"returns due {due:%d/%m/%Y} is not after the window's last day"
                f" {date_to:%d/%m/%Y}; work completed on the last day needs time to be"
                " audited. Give a later --due."
            )
        if allow_overlap or kind != REGULAR:
            return
        key = cycle_key(name)
        for other in self.cycles():
            if (cycle_key(other.name) == key or other.cancelled or not other.regular
                    or self.current_draw_id(other.name) is None):
                continue
            if date_from <= other.date_to and other.date_from <= date_to:
                raise CycleError(
                    f"the window {date_from:%d/%m/%Y} to {date_to:%d/%m/%Y} overlaps cycle"
                    f" {other.name!r} ({other.date_from:%d/%m/%Y} to {other.date_to:%d/%m/%Y});"
                    " work completed in both windows could be audited twice. Choose a window"
                    " after it, or add --allow-overlap if this is deliberate."
                )
        self.db.plan.check_window(name, date_from, date_to)

    def check_can_cancel(self, name: str, force: bool) -> Cycle:
        found = self.require_cycle(name)
        if found.cancelled:
            raise CycleError(f"cycle {found.name!r} was cancelled on {found.cancelled_at}.")
        if self.current_draw_id(found.name) is None:
            raise CycleError(f"cycle {found.name!r} has no draw to cancel.")
        # A re-audit is linked to the audit it follows up (allocations.follows_up_id): the
        # audit's cycle stays while a current round's re-audit follows one of its audits.
        rounds = self.db.conn.execute(
            "SELECT r.cycle, group_concat(f.reference, ', ') FROM current_allocations r"
            " JOIN current_allocations f ON f.id = r.follows_up_id"
            " WHERE f.cycle_id = ? AND r.cycle_id != ? GROUP BY r.cycle_id, r.cycle"
            " ORDER BY r.cycle",
            (found.id, found.id)).fetchall()
        if rounds:
            name, references = str(rounds[0][0]), str(rounds[0][1])
            raise CycleError(
                f"cycle {found.name!r} has audits the re-audit round {name!r} follows up"
                f" ({references}); cancelling it would leave those re-audits following up"
                f" audits no longer on record, --force or not. Cancel the round first"
                f" (`qaudit cycle cancel '{name}' --reason ...`), then this cycle."
            )
        if self.has_returns(found.name) and not force:
            raise CycleError(
                f"cycle {found.name!r} already has returned forms; cancelling it takes them"
                " out of every figure. Add --force if that is what you mean."
            )
        return found

    def cancel(self, name: str, reason: str, force: bool) -> Cycle:
        """Cancel a mistaken cycle: kept in history, its draw no longer current, so its
        people, records and workers are free for later draws."""
        with self.db.transaction() as conn:
            found = self.check_can_cancel(name, force)
            draw = self.current_draw_id(found.name)
            stamp = now()
            conn.execute("UPDATE draws SET replaced_at = ? WHERE id = ?", (stamp, draw))
            conn.execute("UPDATE cycles SET cancelled_at = ?, cancel_reason = ? WHERE id = ?",
                         (stamp, reason, found.id))
            self.db.log(found.id, "cycle_cancelled",
                        {"draw_id": draw, "reason": reason, "forced": force})
        cancelled = self.cycle(found.name)
        assert cancelled is not None
        return cancelled

    def latest_cycle(self) -> str | None:
        """The latest drawn regular cycle: what a command means without --cycle (a deep
        dive or re-audit round is named when meant)."""
        row = self.db.conn.execute(
            "SELECT c.name FROM cycles c JOIN draws d ON d.cycle_id = c.id"
            " WHERE d.replaced_at IS NULL AND c.kind = 'regular'"
            " ORDER BY c.date_to DESC, c.id DESC LIMIT 1"
        ).fetchone()
        return str(row[0]) if row else None

    def cycles_up_to(self, name: str, most: int = 8) -> list[str]:
        """This cycle and the drawn regular cycles before it, oldest first, at most ``most``
        (a deep dive or re-audit round is no point on the year's trend)."""
        end = self.require_cycle(name).date_to.isoformat()
        rows = self.db.conn.execute(
            "SELECT c.name FROM cycles c JOIN draws d ON d.cycle_id = c.id"
            " WHERE d.replaced_at IS NULL AND c.date_to <= ? AND c.kind = 'regular'"
            " ORDER BY c.date_to DESC, c.id DESC LIMIT ?", (end, most),
        )
        return [r[0] for r in rows][::-1]

    # --- draws ----------------------------------------------------------------------------

    def latest_draw_id(self) -> int:
        """The newest draw of any cycle (0 for none): what a draw's history was read up to."""
        return int(self.db.conn.execute("SELECT COALESCE(max(id), 0) FROM draws").fetchone()[0])

    def check_no_draw_since(self, mark: int, name: str) -> None:
        """Inside a draw's transaction: refuse it if another draw was stored after its
        history was read (``mark``). Writers take turns, so this is exact: the two officers'
        draws cannot both hold one person, and a cycle drawn twice at once is drawn once."""
        row = self.db.conn.execute(
            "SELECT c.name, d.created_at FROM draws d JOIN cycles c ON c.id = d.cycle_id"
            " WHERE d.id > ? ORDER BY d.id LIMIT 1", (mark,)).fetchone()
        if row is not None:
            same = row[0] == self.stored_name(name)
            raise CycleError(
                f"{'this cycle' if same else repr(row[0])} was drawn by another qaudit command"
                f" at {row[1]} while this draw was being made, so nothing was stored. Run"
                " the same command again: it will see that draw"
                + (" (and refuse to draw the cycle twice)." if same
                   else ", and leave out the people and workers it took."))

    def current_draw_id(self, name: str) -> int | None:
        name = self.stored_name(name)
        row = self.db.conn.execute(
            "SELECT d.id FROM draws d JOIN cycles c ON c.id = d.cycle_id"
            " WHERE c.name = ? AND d.replaced_at IS NULL", (name,),
        ).fetchone()
        return int(row[0]) if row else None

    def selection_of(self, name: str) -> dict[str, Any]:
        """What the current draw's selection recorded from the record as it stood when it
        drew (``Selection.recorded``): empty for a regular cycle, or none drawn."""
        name = self.stored_name(name)
        row = self.db.conn.execute(
            "SELECT d.settings_json FROM draws d JOIN cycles c ON c.id = d.cycle_id"
            " WHERE c.name = ? AND d.replaced_at IS NULL", (name,)).fetchone()
        if row is None:
            return {}
        found = json.loads(row[0]).get("selection", {})
        return found if isinstance(found, dict) else {}

    def has_returns(self, name: str) -> bool:
        """Whether any form of the cycle's current draw has come back."""
        name = self.stored_name(name)
        row = self.db.conn.execute(
            "SELECT 1 FROM returns r JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE a.cycle = ? LIMIT 1", (name,),
        ).fetchone()
        return row is not None

    def check_can_draw(self, name: str, redraw: bool) -> None:
        """A draw is final once stored: drawing a cycle again needs ``redraw``, and is
        refused once any return has come back. A purged cycle is never drawn into, even a
        cancelled one: a new draw in its row would count as purged, and the next purge
        would take its live forms for leftovers and never purge its rows. Checked early
        by the job (before the export is read) and again inside the transaction that
        stores the draw."""
        self._check_not_purged(name)
        if self.current_draw_id(name) is None:
            return
        if not redraw:
            raise CycleError(
                f"cycle {name!r} is already drawn. A draw is final once written; to draw it"
                " again add --redraw (only before any return is ingested)."
            )
        if self.has_returns(name):
            raise CycleError(
                f"cycle {name!r} already has returned audits, so its draw can no longer be"
                " replaced."
            )

    def _check_not_purged(self, name: str) -> None:
        found = self.cycle(name)
        if found is None:
            return
        row = self.db.conn.execute(
            "SELECT purged_at FROM purged_cycles WHERE cycle_id = ?", (found.id,)).fetchone()
        if row is not None:
            raise CycleError(
                f"cycle {found.name!r} was purged on {str(row[0])[:10]} (retention), so it"
                " can never be drawn again; give the new draw a name of its own.")

    def drawn_elsewhere(
        self, name: str, before_draw: int | None = None
    ) -> tuple[frozenset[str], frozenset[str]]:
        """Persons and records in the current draw of every other cycle; with
        ``before_draw``, only draws stored before that one (to re-check a recorded draw).
        A deep dive stored as not blocking later draws (``[deep_dives]
        block_later_draws = false`` when it was drawn) does not count."""
        name = self.stored_name(name)
        rows = self.db.conn.execute(
            "SELECT person_id, record_id FROM current_allocations"
            " WHERE cycle != ? AND (? IS NULL OR draw_id < ?) AND cycle_id NOT IN"
            " (SELECT cycle_id FROM deep_dives WHERE blocks_later_draws = 0)",
            (name, before_draw, before_draw),
        ).fetchall()
        return frozenset(r[0] for r in rows), frozenset(r[1] for r in rows)

    def recent_workers(
        self, name: str, before: date, cycles: int, before_draw: int | None = None
    ) -> frozenset[str]:
        """Workers drawn in the ``cycles`` latest other drawn regular cycles ending on or
        before ``before``; with ``before_draw``, only cycles drawn before that draw. (The
        cool-down counts the year's cycles: a deep dive or re-audit round is not one.)"""
        if cycles <= 0:
            return frozenset()
        name = self.stored_name(name)
        rows = self.db.conn.execute(
            "SELECT DISTINCT a.worker_id FROM current_allocations a WHERE a.cycle_id IN ("
            "   SELECT c.id FROM cycles c JOIN draws k ON k.cycle_id = c.id"
            "   AND k.replaced_at IS NULL WHERE c.name != ? AND c.date_to <= ?"
            "   AND c.kind = 'regular' AND (? IS NULL OR k.id < ?)"
            "   ORDER BY c.date_to DESC, c.id DESC LIMIT ?)",
            (name, before.isoformat(), before_draw, before_draw, cycles),
        ).fetchall()
        return frozenset(r[0] for r in rows)

    def save(
        self,
        name: str,
        date_from: date,
        date_to: date,
        due_date: date,
        record: DrawRecord,
        allocations: Sequence[AllocationRow],
        redraw: bool,
        allow_overlap: bool = False,
        kind: str = REGULAR,
    ) -> Cycle:
        """Store a cycle's draw in one transaction; with ``redraw``, replace the current one.
        A cycle keeps its kind: a deep dive is never redrawn as a regular cycle."""
        db = self.db
        with db.transaction() as conn:
            self.check_can_draw(name, redraw)
            self.check_window(name, date_from, date_to, due_date, allow_overlap, kind)
            existing = self.cycle(name)
            if existing is not None:
                name = existing.name
                if existing.kind != kind:
                    raise CycleError(
                        f"{name!r} is a {describe_kind(existing.kind)}, not a"
                        f" {describe_kind(kind)}; give the new one a name of its own.")
            if existing is None:
                cur = conn.execute(
                    "INSERT INTO cycles (name, date_from, date_to, due_date, created_at, kind)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (name, date_from.isoformat(), date_to.isoformat(), due_date.isoformat(),
                     now(), kind),
                )
                cycle_id = int(cur.lastrowid or 0)
            else:
                cycle_id = existing.id
                current = self.current_draw_id(name)
                if existing.cancelled:  # a cancelled cycle drawn again, afresh
                    conn.execute("UPDATE cycles SET cancelled_at = NULL, cancel_reason = ''"
                                 " WHERE id = ?", (cycle_id,))
                    db.log(cycle_id, "cycle_drawn_again", {"was_cancelled": existing.cancelled_at})
                if current is not None or existing.cancelled:
                    conn.execute("UPDATE draws SET replaced_at = ? WHERE id = ?",
                                 (now(), current))
                    conn.execute(
                        "UPDATE cycles SET date_from = ?, date_to = ?, due_date = ? WHERE id = ?",
                        (date_from.isoformat(), date_to.isoformat(), due_date.isoformat(),
                         cycle_id),
                    )
                    db.log(cycle_id, "redraw", {"replaced_draw": current})
            cur = conn.execute(
                "INSERT INTO draws (cycle_id, seed, export_name, export_sha256, export_sheet,"
                " rows_read, settings_json, excluded_json, unusable_json, strata_json,"
                " created_at, signed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    cycle_id, record.seed, record.export_name, record.export_sha256,
                    record.export_sheet, record.rows_read, json.dumps(record.settings),
                    json.dumps(record.excluded), json.dumps(record.unusable),
                    json.dumps(record.strata), now(),
                ),
            )
            draw_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT OR IGNORE INTO question_sets (hash, id, version, content_json)"
                " VALUES (?, ?, ?, ?)",
                [(q.digest, q.id, q.version, json.dumps(q.model_dump(), ensure_ascii=False))
                 for q in record.question_sets],
            )
            conn.executemany(
                f"INSERT INTO allocations (draw_id, {_ALLOCATION_COLUMNS})"
                f" VALUES (?{', ?' * _ALLOCATION_WIDTH})",
                [(draw_id, *astuple(a)) for a in allocations],
            )
            db.log(
                cycle_id, "draw",
                {"draw_id": draw_id, "seed": record.seed, "allocations": len(allocations),
                 "export_sha256": record.export_sha256},
            )
        cycle = self.cycle(name)
        assert cycle is not None
        return cycle

    # --- allocations ----------------------------------------------------------------------

    def allocations(self, name: str) -> list[AllocationRow]:
        name = self.stored_name(name)
        rows = self.db.conn.execute(
            f"SELECT {_ALLOCATION_COLUMNS} FROM current_allocations WHERE cycle = ? ORDER BY id",
            (name,),
        )
        return [AllocationRow(*r) for r in rows]

    def issued(self, reference: str) -> IssuedAllocation | None:
        row = self.db.conn.execute(
            f"SELECT id, {_ALLOCATION_COLUMNS}, cycle, due_date, signed FROM current_allocations"
            " WHERE reference = ?", (reference,),
        ).fetchone()
        if row is None:
            return None
        redrawn = frozenset(r[0] for r in self.db.conn.execute(
            "SELECT a.record_id FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " WHERE a.reference = ? AND d.replaced_at IS NOT NULL", (reference,)))
        end = 1 + _ALLOCATION_WIDTH
        return IssuedAllocation(int(row[0]), AllocationRow(*row[1:end]), row[end],
                                date.fromisoformat(row[end + 1]), bool(row[end + 2]), redrawn)

    def issued_question_set(self, digest: str) -> QuestionSet:
        """The question set exactly as it was issued (forms are checked against it, not
        against today's templates)."""
        cache = self._question_sets
        if digest not in cache:
            row = self.db.conn.execute(
                "SELECT content_json FROM question_sets WHERE hash = ?", (digest,)
            ).fetchone()
            if row is None:
                raise QuestionSetError(
                    "a question set issued with this cycle is missing from the database;"
                    " restore the database from a backup"
                )
            cache[digest] = QuestionSet.model_validate_json(row[0])
        return cache[digest]
