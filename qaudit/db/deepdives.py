"""The deep dives: their terms of reference, filters and size, stored beside the cycle
(of kind deep_dive) that holds their draw; and what a ``question=`` filter reads of the
earlier returned audits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qaudit.db.draws import DEEP_DIVE, Cycle
from qaudit.db.schema import now
from qaudit.errors import CycleError

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class DeepDiveRecord:
    """One deep dive as stored: its cycle and its terms of reference."""

    cycle: Cycle
    title: str
    purpose: str
    understand: str
    method: str
    directed_by: str
    terms_sha256: str
    question_set: str  # the question set's id
    filters: dict[str, list[str]]  # key -> values (a key's values: any of them)
    size: int  # N asked for
    blocks_later_draws: bool
    created_at: str
    actor: str

    @property
    def name(self) -> str:
        return self.cycle.name


_COLUMNS = ("title, purpose, understand, method, directed_by, terms_sha256, question_set,"
            " filters_json, size, blocks_later_draws, created_at, actor")


@dataclass(frozen=True)
class DeepDives:
    db: Store

    def _record(self, cycle: Cycle, row: Sequence[Any]) -> DeepDiveRecord:
        return DeepDiveRecord(cycle, row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                              json.loads(row[7]), int(row[8]), bool(row[9]), row[10], row[11])

    def get(self, name: str) -> DeepDiveRecord | None:
        """The deep dive a name means (names compare as cycles do), or None."""
        cycle = self.db.draws.cycle(name)
        if cycle is None or cycle.kind != DEEP_DIVE:
            return None
        row = self.db.conn.execute(f"SELECT {_COLUMNS} FROM deep_dives WHERE cycle_id = ?",
                                   (cycle.id,)).fetchone()
        return None if row is None else self._record(cycle, row)

    def require(self, name: str) -> DeepDiveRecord:
        """The deep dive, or a clear error naming those there are."""
        found = self.get(name)
        if found is None:
            known = ", ".join(repr(d.name) for d in self.all()) or "none yet"
            other = self.db.draws.cycle(name)
            what = (f"{other.name!r} is a {other.kind.replace('_', ' ')} cycle, not a deep dive"
                    if other is not None else f"no deep dive {name!r}")
            raise CycleError(f"{what} (deep dives: {known}); `qaudit deep-dive list` lists"
                             " them.")
        return found

    def all(self) -> list[DeepDiveRecord]:
        """Every deep dive, oldest window first (cancelled ones too)."""
        rows = {int(r[0]): r[1:] for r in self.db.conn.execute(
            f"SELECT cycle_id, {_COLUMNS} FROM deep_dives")}
        return [self._record(c, rows[c.id]) for c in self.db.draws.cycles() if c.id in rows]

    def save(self, cycle: Cycle, *, title: str, purpose: str, understand: str, method: str,
             directed_by: str, terms_sha256: str, question_set: str,
             filters: dict[str, list[str]], size: int, blocks_later_draws: bool) -> None:
        """Store a deep dive's terms beside its cycle, inside the draw's transaction (a
        cancelled deep dive drawn again under its name gets the new terms)."""
        with self.db.transaction() as conn:
            conn.execute(
                f"INSERT INTO deep_dives (cycle_id, {_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (cycle_id) DO UPDATE SET title = excluded.title,"
                " purpose = excluded.purpose, understand = excluded.understand,"
                " method = excluded.method, directed_by = excluded.directed_by,"
                " terms_sha256 = excluded.terms_sha256, question_set = excluded.question_set,"
                " filters_json = excluded.filters_json, size = excluded.size,"
                " blocks_later_draws = excluded.blocks_later_draws,"
                " created_at = excluded.created_at, actor = excluded.actor",
                (cycle.id, title, purpose, understand, method, directed_by, terms_sha256,
                 question_set, json.dumps(filters, ensure_ascii=False), size,
                 int(blocks_later_draws), now(), self.db.actor),
            )
            self.db.log(cycle.id, "deep_dive", {
                "title": title, "terms_sha256": terms_sha256, "question_set": question_set,
                "filters": filters, "size": size, "blocks_later_draws": blocks_later_draws})

    def issued_question_ids(self) -> frozenset[str]:
        """Every question id of every question set issued so far."""
        ids: set[str] = set()
        for (content,) in self.db.conn.execute("SELECT content_json FROM question_sets"):
            for aspect in json.loads(content).get("aspects", []):
                ids.update(str(q["id"]) for q in aspect.get("questions", []))
        return frozenset(ids)

    def workers_answered(self, question_id: str, answer: str,
                         received_before: str | None = None) -> frozenset[str]:
        """Workers whose returned audits gave ``answer`` to the question ``question_id``,
        in any cycle's current draw: the returns of record now, or with
        ``received_before``, the returns of record at that time (received before it, and
        not yet replaced then: a return replaced since still counts, its replacement does
        not)."""
        current = "r.replaced_at IS NULL"
        args: tuple[str, ...] = (question_id, answer)
        if received_before is not None:
            current = "r.received_at < ? AND (r.replaced_at IS NULL OR r.replaced_at >= ?)"
            args += (received_before, received_before)
        rows = self.db.conn.execute(
            "SELECT DISTINCT a.worker_id FROM answers n JOIN returns r ON r.id = n.return_id"
            " JOIN current_allocations a ON a.id = r.allocation_id"
            f" WHERE r.kind = 'audit' AND n.question_id = ? AND n.answer = ? AND {current}",
            args)
        return frozenset(str(r[0]) for r in rows)
