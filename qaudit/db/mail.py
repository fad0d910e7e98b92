"""Every message qaudit drafted or sent: what, to whom, its content hash and Message-ID;
and the reads that find who a cycle's messages go to.

A row is written once a message has gone: a draft written into the outbox, or a message
the relay accepted (``recipients`` and ``cc`` then hold the addresses it accepted). Rows are
never changed or removed, so the record is the history of what went out. The reads of
allocations, the staff list, named auditors, returns and moderation here are read-only.

Who a message goes to comes from the staff list, and after it from the emails the case
exports gave (stored with each allocation): ``contacts`` returns both, the export's marked,
and ``qaudit.mail.addresses.Directory`` lets the staff list win.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class Contact:
    """One person as sending needs them (blank: not known): a row of the staff list, or,
    with ``export_cycle``, what that cycle's case export said of a practitioner it drew
    (their email, and their Service Manager's)."""

    worker_id: str
    name: str
    email: str
    team: str
    role: str
    line_manager: str
    line_manager_email: str
    service_manager: str
    service_manager_email: str
    export_cycle: str = ""  # '' for the staff list

    @property
    def from_export(self) -> bool:
        return bool(self.export_cycle)


@dataclass(frozen=True)
class ReturnedForm:
    """A form of an allocation that has come back (the current return of its kind)."""

    return_id: int
    received_at: str  # UTC, ISO
    grade: str | None  # grade key (audits)
    fields: dict[str, str]


@dataclass(frozen=True)
class MailCase:
    """One allocation of a cycle's current draw, with what messages about it depend on."""

    allocation_id: int
    reference: str
    audit_type: str
    quadrant: str
    worker_id: str
    worker_name: str
    team: str
    service_manager: str
    due_date: date
    auditor_name: str  # named by the Service Manager; '' while none is
    auditor_email: str
    audit: ReturnedForm | None
    reflection: ReturnedForm | None
    sampled: bool  # its audit is in the cycle's current moderation sample
    moderated_grade: str | None  # the moderators' grade, once recorded


@dataclass(frozen=True)
class SentMessage:
    """One message as the record holds it."""

    kind: str
    about: str  # what it is about, unique within a cycle and kind: '<ref> audit form'...
    recipients: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    content_hash: str
    message_id: str
    route: str  # draft | smtp
    path: str | None  # the draft, relative to the workspace
    at: str  # UTC, ISO
    actor: str = ""

    @property
    def addresses(self) -> frozenset[str]:
        """Everyone it went to, compared ignoring case."""
        return frozenset(a.casefold() for a in (*self.recipients, *self.cc))


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


_MESSAGE_COLUMNS = ("kind, about, recipients, cc, subject, content_hash, message_id, route,"
                    " path, at, actor")


def _sent(row: Sequence[Any]) -> SentMessage:
    return SentMessage(row[0], row[1], _addresses(row[2]), _addresses(row[3]), *row[4:])


class Messages:
    """Every message qaudit drafted or sent: what, to whom, its content hash and Message-ID."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- the record ---------------------------------------------------------------------

    def sent(self, cycle_id: int, kind: str) -> list[SentMessage]:
        """Every message of one kind recorded for a cycle, oldest first."""
        rows = self.store.conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE cycle_id = ? AND kind = ?"
            " ORDER BY id", (cycle_id, kind))
        return [_sent(r) for r in rows]

    def by_message_id(self, message_id: str) -> SentMessage | None:
        row = self.store.conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE message_id = ?", (message_id,),
        ).fetchone()
        return _sent(row) if row else None

    def path_recorded(self, path: str) -> bool:
        """Whether a draft at ``path`` (relative to the workspace) is in the record."""
        return self.store.conn.execute(
            "SELECT 1 FROM messages WHERE path = ? LIMIT 1", (path,)).fetchone() is not None

    def record(self, cycle_id: int, message: SentMessage, reference: str | None) -> None:
        """Record one message that went out, and log it, in one transaction (the caller's,
        when it holds one: a batch of drafts is written and recorded inside one). The row
        and its event are stored together or not at all, even inside the caller's
        transaction, so the caller can still commit the messages recorded before one that
        failed."""
        with self.store.transaction() as conn:
            conn.execute("SAVEPOINT message")
            try:
                conn.execute(
                    f"INSERT INTO messages (cycle_id, {_MESSAGE_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (cycle_id, message.kind, message.about, ", ".join(message.recipients),
                     ", ".join(message.cc), message.subject, message.content_hash,
                     message.message_id, message.route, message.path, message.at,
                     self.store.actor))
                self.store.log(cycle_id, "message_" + ("drafted" if message.route == "draft"
                                                       else "sent"),
                               {"kind": message.kind, "about": message.about,
                                "message_id": message.message_id,
                                "recipients": len(message.recipients) + len(message.cc)},
                               reference)
            except BaseException:
                # A failed write may have ended the whole transaction already; then there
                # is nothing to undo here, and the caller's commit fails in its turn.
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK TO message")
                raise
            finally:
                with suppress(sqlite3.Error):
                    conn.execute("RELEASE message")

    # --- who the messages go to (read-only) -----------------------------------------------

    def contacts(self) -> list[Contact]:
        """The staff list (``qaudit staff import``), then the emails the case exports gave
        for the practitioners they drew and their Service Managers, one contact per
        allocation that has either: the most recently drawn cycle first (a later export
        knows a later address), each marked with its cycle."""
        conn = self.store.conn
        staff = conn.execute(
            "SELECT worker_id, name, email, team, role, line_manager, line_manager_email,"
            " service_manager, service_manager_email FROM staff ORDER BY worker_id")
        exported = conn.execute(
            "SELECT worker_id, worker_name, worker_email, team, '', '', '', service_manager,"
            " service_manager_email, cycle FROM current_allocations"
            " WHERE worker_email != '' OR service_manager_email != ''"
            " ORDER BY cycle_end DESC, cycle_id DESC, id")
        return [*(Contact(*r) for r in staff), *(Contact(*r) for r in exported)]

    def cases(self, cycle: str) -> list[MailCase]:
        """Every allocation of the cycle's current draw: its named auditor, its current
        returns, and where its audit stands in moderation."""
        cycle = self.store.draws.stored_name(cycle)
        conn = self.store.conn
        returns: dict[tuple[int, str], ReturnedForm] = {}
        for allocation_id, kind, return_id, received, grade, fields in conn.execute(
            "SELECT r.allocation_id, r.kind, r.id, r.received_at, r.grade, r.fields_json"
            " FROM returns r JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE a.cycle = ? AND r.replaced_at IS NULL", (cycle,),
        ):
            returns[(allocation_id, kind)] = ReturnedForm(
                int(return_id), received, grade, json.loads(fields))
        rows = conn.execute(
            "SELECT a.id, a.reference, a.audit_type, a.quadrant, a.worker_id, a.worker_name,"
            " a.team, a.service_manager, a.due_date,"
            " COALESCE(s.auditor_name, ''), COALESCE(s.auditor_email, ''),"
            " EXISTS (SELECT 1 FROM returns r JOIN moderation_items i ON i.return_id = r.id"
            "   JOIN moderation_samples m ON m.id = i.sample_id"
            "   WHERE r.allocation_id = a.id AND r.kind = 'audit' AND r.replaced_at IS NULL"
            "   AND m.replaced_at IS NULL),"
            " (SELECT g.moderated_grade FROM audit_grades g WHERE g.allocation_id = a.id)"
            " FROM current_allocations a LEFT JOIN auditor_assignments s"
            "   ON s.allocation_id = a.id AND s.replaced_at IS NULL"
            " WHERE a.cycle = ? ORDER BY a.id", (cycle,))
        return [
            MailCase(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                     date.fromisoformat(r[8]), r[9], r[10],
                     returns.get((int(r[0]), "audit")),
                     returns.get((int(r[0]), "self_reflection")), bool(r[11]), r[12])
            for r in rows
        ]
