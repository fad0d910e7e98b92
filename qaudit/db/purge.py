"""Retention (``qaudit purge``): the personal data of cycles and workshops taken out of the
record in place (``db.purge_rows`` says what each row becomes), what stops it, and the
record of what was purged.

What the rule "a record or person audited before is not audited again" needs is kept
apart and unlinked (``purged_audited``): the keyed pseudonym (the workspace's key) of each
purged audit's person and record, with no cycle, date or grade.

Every run applies the purge again to what was purged before, so personal data written
into a purged cycle since is taken out too; a value already a token or pseudonym stays
as it is (``privacy.is_pseudonym``), and a row with nothing to take out is not written.

A purge is checked early and again inside its transaction (``check_can_purge``): nothing
open may be lost with the record, and no draw still running may lose what its re-check
reads.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from qaudit.db import transfer
from qaudit.db.dialect import POSTGRESQL
from qaudit.db.draws import Cycle, describe_kind
from qaudit.db.purge_rows import (
    CYCLE_ROWS,
    WORKSHOP_ROWS,
    Redaction,
    WorkshopHeld,
    event_changes,
    events_of,
    field_changes,
    publish_terms,
    row_counts,
    selection_changes,
)
from qaudit.db.schema import now
from qaudit.errors import CycleError, WorkspaceError

if TYPE_CHECKING:
    from qaudit.db.store import Store

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
class Rereads:
    """What a re-check of ``reader``'s draw reads of other cycles, as the draw did: the
    workers of those its cool-down read (``Draws.recent_workers``: the latest other
    regular cycles ending on or before it, drawn before it), and nothing of those drawn
    after it (``later``). Once one of them is purged the re-check cannot draw the same:
    its workers are tokens, and its persons and records are left out of every draw."""

    reader: Cycle
    cooled: tuple[Cycle, ...]
    later: tuple[Cycle, ...]

    def reads(self, cycle: Cycle) -> bool:
        return cycle in self.cooled or cycle in self.later

    def reason(self, cycle: Cycle) -> str:
        """Why a purge of ``cycle`` waits while the reader's returns are due."""
        how = ("its cool-down read this cycle's workers (sampling.worker_cooldown_cycles)"
               if cycle in self.cooled else
               "it was drawn before this cycle, whose persons and records it would now"
               " leave out")
        due = f"{self.reader.due_date:%d/%m/%Y}"
        return (f"a re-check of the draw of {self.reader.name}, still running (returns due by"
                f" {due}), would change: {how}; purge it after {due}")


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
        return self._workshops("held_on < ?", (before.isoformat(),))

    def _workshops(self, where: str, params: Sequence[Any] = ()) -> list[WorkshopHeld]:
        return [WorkshopHeld(int(r[0]), r[1], date.fromisoformat(r[2]))
                for r in self.db.conn.execute(
                    f"SELECT id, name, held_on FROM workshops WHERE {where}"
                    " ORDER BY held_on, id", params)]

    def _purged_workshops_held(self) -> list[WorkshopHeld]:
        return self._workshops("id IN (SELECT workshop_id FROM purged_workshops)")

    def purged_people(self) -> tuple[frozenset[str], frozenset[str]]:
        """The keyed pseudonyms of the persons, and of the records, of every purged audit
        (``purged_audited``: a deep dive that did not block later draws left none, as
        ``Draws.drawn_elsewhere`` leaves it out)."""
        rows = self.db.conn.execute("SELECT kind, pseudonym FROM purged_audited").fetchall()
        return (frozenset(p for kind, p in rows if kind == "person"),
                frozenset(p for kind, p in rows if kind == "record"))

    # --- what would go, and what stops it --------------------------------------------------

    def counts(self, cycle_id: int) -> dict[str, int]:
        """Rows of each kind whose personal data a purge of the cycle takes out."""
        return row_counts(self.db.conn, CYCLE_ROWS, {"cycle": cycle_id}) | {
            "history entries": len(events_of(self.db.conn, [cycle_id], []))}

    def workshop_counts(self, workshop: WorkshopHeld) -> dict[str, int]:
        return row_counts(self.db.conn, WORKSHOP_ROWS, {"workshop": workshop.id}) | {
            "history entries": len(events_of(self.db.conn, [], [workshop]))}

    def again(self, redaction: Redaction) -> dict[tuple[str, int], dict[str, int]]:
        """What applying the purge again takes out of the cycles and workshops purged
        before: ("cycle" or "workshop", id) -> rows of each kind with personal data written
        since (or left by an earlier qaudit's purge), for those with any."""
        self._functions(redaction)
        conn = self.db.conn
        done, held = list(self.purged_cycles()), self._purged_workshops_held()
        history = Counter(owner for owner, *_ in event_changes(conn, done, held, redaction))
        found: dict[tuple[str, int], dict[str, int]] = {}
        for cycle_id in done:
            found[("cycle", cycle_id)] = row_counts(conn, CYCLE_ROWS, {"cycle": cycle_id},
                                                    changing=True) | {
                "form fields": len(field_changes(conn, cycle_id, redaction)),
                "draw records": len(selection_changes(conn, [cycle_id], frozenset(),
                                                            redaction)),
                "history entries": history[("cycle", cycle_id)]}
        for workshop in held:
            found[("workshop", workshop.id)] = row_counts(
                conn, WORKSHOP_ROWS, {"workshop": workshop.id}, changing=True) | {
                "history entries": history[("workshop", workshop.id)]}
        return {key: rows for key, rows in found.items() if any(rows.values())}

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

    def recheck_reads(self, cooldown: int) -> dict[int, Rereads]:
        """Cycle id -> the cycles whose people a ``--dry-run`` re-check of its current
        draw reads as that draw did (``jobs.allocate``), for every cycle drawn."""
        drawn = [(c, draw) for c in reversed(self.db.draws.cycles())  # latest first
                 if (draw := self.db.draws.current_draw_id(c.name)) is not None]
        open_ = {int(r[0]) for r in self.db.conn.execute(
            "SELECT cycle_id FROM deep_dives WHERE blocks_later_draws = 0")}
        return {reader.id: Rereads(
            reader,
            tuple([c for c, earlier in drawn if c.regular and c.id != reader.id
                   and c.date_to <= reader.date_to and earlier < draw][:max(cooldown, 0)]),
            tuple(c for c, later in drawn if later > draw and c.id not in open_))
            for reader, draw in drawn}

    def followed_up_by(self, purging: Collection[int]) -> dict[int, list[Cycle]]:
        """Cycle id (of ``purging``) -> the re-audit rounds, neither purged nor among
        ``purging``, with a re-audit (of any draw) following up one of its audits."""
        rounds = {c.id: c for c in self.db.draws.cycles()}
        found: dict[int, list[Cycle]] = {}
        for followed, round_id in self.db.conn.execute(
                "SELECT DISTINCT fd.cycle_id, rd.cycle_id FROM allocations r"
                " JOIN draws rd ON rd.id = r.draw_id JOIN allocations f ON f.id = r.follows_up_id"
                " JOIN draws fd ON fd.id = f.draw_id"
                " WHERE rd.cycle_id NOT IN (SELECT cycle_id FROM purged_cycles)"):
            if followed in purging and round_id not in purging:
                found.setdefault(int(followed), []).append(rounds[int(round_id)])
        return found

    def refusals(self, cycles: Sequence[Cycle], today: date, cooldown: int) -> list[str]:
        """Why each of ``cycles`` cannot be purged yet: its returns still due, something
        open, its workers read by the next draw's cool-down, a re-check of a draw still
        running that would change, or its audits followed up by a round not purged with
        it."""
        purging = {c.id for c in cycles}
        latest = set(self.latest_regular(cooldown))
        running = [r for r in self.recheck_reads(cooldown).values()
                   if r.reader.due_date >= today and r.reader.id not in purging]
        rounds = self.followed_up_by(purging)
        said: list[str] = []
        for cycle in cycles:
            reasons = [] if cycle.cancelled else self.holds(cycle.id).reasons()
            if not cycle.cancelled and cycle.due_date >= today:
                reasons.insert(0, f"its returns are due by {cycle.due_date:%d/%m/%Y}")
            if cycle.id in latest:
                reasons.append(
                    f"it is one of the {cooldown} latest regular cycle(s), whose workers the"
                    " next draw's cool-down reads (sampling.worker_cooldown_cycles)")
            reasons += [r.reason(cycle) for r in running if r.reads(cycle)]
            reasons += [
                f"its audits are followed up by the re-audit round {r.name}, which is not"
                " purged with it; purge the round with it (--before a date after"
                f" {r.date_to:%d/%m/%Y}), or wait" for r in rounds.get(cycle.id, [])]
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
        """Take the personal data of ``cycles`` and ``workshops`` out of the record, list
        their persons and records as audited, mark them purged and log each (``logged``:
        ("cycle" or "workshop", id) -> the counts its history entry keeps); apply the purge
        again to what was purged before, logging what that took out. All in one
        transaction: every row, or none."""
        conn = self.db.conn
        conn.execute("PRAGMA secure_delete = ON")  # freed space overwritten, not left
        self._functions(redaction)
        with self.db.transaction():
            self.check_can_purge(cycles, today, cooldown)
            done = list(self.purged_cycles())
            held = self._purged_workshops_held()
            if {c.id for c in cycles} & set(done) or {w.id for w in workshops} & {
                    w.id for w in held}:
                raise CycleError("another run of `qaudit purge` purged some of these"
                                 " meanwhile; nothing was purged by this one. Run it again.")
            again = self.again(redaction)
            self._list_audited(cycles, redaction)
            every = [*(c.id for c in cycles), *done]  # before any reference changes:
            events = event_changes(conn, every, [*workshops, *held], redaction)
            conn.executemany("UPDATE events SET reference = ?, detail_json = ? WHERE id = ?",
                             [change[1:] for change in events])
            conn.executemany("UPDATE draws SET settings_json = ? WHERE id = ?",
                             selection_changes(conn, every, frozenset(c.name for c in cycles),
                                                     redaction))
            for cycle_id in every:
                conn.executemany("UPDATE returns SET fields_json = ? WHERE id = ?",
                                 field_changes(conn, cycle_id, redaction))
                for blank in CYCLE_ROWS:
                    conn.execute(blank.update(), {"cycle": cycle_id})
            for cycle in cycles:
                publish_terms(conn, cycle.id, redaction)
            for workshop in (*workshops, *held):
                for blank in WORKSHOP_ROWS:
                    conn.execute(blank.update(), {"workshop": workshop.id})
            self._mark(cycles, workshops, before, logged)
            self._log_again(again, held, before)

    def compact(self, always: bool) -> None:
        """Rewrite the database file without its free pages (VACUUM), so that nothing
        purged is left in the file's unused space; with ``always`` false, only if it has
        free pages. On PostgreSQL, every table is rewritten (VACUUM FULL): the old row
        versions holding what was taken out go with their files."""
        if self.db.dialect == POSTGRESQL:
            if always:
                self._compact_postgresql()
            return
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

    def _compact_postgresql(self) -> None:
        try:
            for table in transfer.TABLES:
                self.db.conn.execute(f"VACUUM (FULL) {table}")
        except sqlite3.OperationalError as exc:
            raise WorkspaceError(
                f"the record is purged, but PostgreSQL could not rewrite its tables without"
                f" what was taken out ({exc}); run the same purge again when no other qaudit"
                " command is using the record.") from exc

    def _functions(self, redaction: Redaction) -> None:
        conn = self.db.conn
        conn.create_function("pseudonym", 2, redaction.pseudonym, deterministic=True)
        conn.create_function("name_pseudonym", 2, redaction.name, deterministic=True)

    def _list_audited(self, cycles: Sequence[Cycle], redaction: Redaction) -> None:
        """The persons and records of the cycles' current draws (not of a deep dive that
        did not block later draws), by their keyed pseudonyms alone: a later draw leaves
        them out (``Draws.drawn_elsewhere`` no longer can)."""
        listed = set()
        for cycle in cycles:
            for person, record in self.db.conn.execute(
                    "SELECT person_id, record_id FROM current_allocations WHERE cycle_id = ?"
                    " AND cycle_id NOT IN (SELECT cycle_id FROM deep_dives"
                    " WHERE blocks_later_draws = 0)", (cycle.id,)):
                listed |= {("person", redaction.audited("PER", person)),
                           ("record", redaction.audited("REC", record))}
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO purged_audited (kind, pseudonym) VALUES (?, ?)",
            sorted((kind, p) for kind, p in listed if p))

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

    def _log_again(self, again: Mapping[tuple[str, int], dict[str, int]],
                   held: Sequence[WorkshopHeld], before: date) -> None:
        """A history entry for each cycle or workshop purged before that this run took
        personal data out of again: the counts of rows, no more."""
        names = {w.id: w.name for w in held}
        for (what, row_id), rows in again.items():
            counts = {k: n for k, n in rows.items() if n}
            if what == "cycle":
                self.db.log(row_id, "purged_again", {"before": before.isoformat(), **counts})
            else:
                self.db.log(None, "workshop_purged_again", {
                    "workshop": names[row_id], "before": before.isoformat(), **counts})
