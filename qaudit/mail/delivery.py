"""Delivering what is ready, and recording each message as it goes.

Drafts: each ``.eml`` is written whole and its row stored with its hash (``store.files``,
as a feedback pack's is), many to a transaction (a commit waits for the disk several times
over: one a draft was most of a batch's time). A
draft whose row cannot be stored is removed again, and so is every draft of a transaction
that cannot be committed, so the outbox and the record agree. Which those are is asked of
the record afresh (a transaction that raised may have been committed all the same), and
Ctrl-C waits for a batch's commit. SMTP: one connection for the batch; a message is
recorded the moment the relay accepts it, with the recipients it accepted, in its own
transaction, before the next one goes (a message handed over and not recorded would go
again on a rerun; Ctrl-C waits for its record). A refused message is reported and the
batch goes on; a lost connection stops the batch, and the messages after it are reported
not sent. Either way a rerun sends what is left, and nothing twice.

A message is recorded as sent at this moment of the send job's day (``recorded_at``): the
job is given its day, and what is counted from a message (a second reminder's days) is
counted on that same clock (``sent_on``).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from qaudit.config import MailSettings
from qaudit.db import Store
from qaudit.db.files import DRAFT, FEEDBACK_PACK, Written
from qaudit.db.mail import SentMessage
from qaudit.errors import QauditError, StorageError
from qaudit.mail.addresses import Addressee
from qaudit.mail.drafts import draft_path, write_whole
from qaudit.mail.kinds import Route
from qaudit.mail.message import (
    Attachment,
    Pending,
    Sender,
    new_message_id,
    wire_message,
)
from qaudit.mail.smtp import (
    ConnectionLost,
    MessageRefused,
    Relay,
    RelayError,
    check_relay,
    relay_password,
)


@dataclass(frozen=True)
class Ready:
    """A letter still to go, rendered: its subject, body and attachments as they go."""

    pending: Pending
    subject: str
    body: str
    attachments: tuple[Attachment, ...]

    @property
    def pack(self) -> Attachment | None:
        return next((a for a in self.attachments if a.rendered), None)


@dataclass(frozen=True)
class Outcome:
    """One message of a run: to whom, and what became of it."""

    about: str
    reference: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    reason: str  # new | changed | new recipient | resend
    status: str  # drafted | sent | would go | refused | not sent
    path: str | None = None  # the draft, relative to the workspace
    message_id: str | None = None
    refused: tuple[tuple[str, str], ...] = ()  # (address, the relay's reply)
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("refused", "not sent") or bool(self.refused)

    def to_json(self) -> dict[str, Any]:
        return {"about": self.about, "reference": self.reference, "to": list(self.to),
                "cc": list(self.cc), "subject": self.subject, "reason": self.reason,
                "status": self.status, "path": self.path, "message_id": self.message_id,
                "refused": [{"address": a, "reply": r} for a, r in self.refused],
                "error": self.error}


def outcome(item: Ready, status: str, **more: Any) -> Outcome:
    pending = item.pending
    return Outcome(pending.letter.about, pending.letter.reference,
                   tuple(a.address for a in pending.to), tuple(a.address for a in pending.cc),
                   item.subject, pending.reason, status, **more)


def relative(root: Path, path: Path) -> str:
    """A path as the record keeps it: relative to the workspace."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def recorded_at(today: date) -> str:
    """When a message went, as the record keeps it (UTC, like every ``*_at``): the time of
    day now, on the send job's day. Run for today, that is simply now."""
    local = datetime.combine(today, datetime.now().time().replace(microsecond=0))
    return local.astimezone(UTC).isoformat(timespec="seconds")


def sent_on(at: str) -> date:
    """The day a message went, on the send job's clock: the local date of its ``at``."""
    return datetime.fromisoformat(at).astimezone().date()


def _record(item: Ready, route: Route, message_id: str, path: str | None,
            to: tuple[Addressee, ...], cc: tuple[Addressee, ...], at: str) -> SentMessage:
    letter = item.pending.letter
    return SentMessage(
        kind=str(letter.kind), about=letter.about, recipients=tuple(a.address for a in to),
        cc=tuple(a.address for a in cc), subject=item.subject,
        content_hash=item.pending.content_hash, message_id=message_id, route=str(route),
        path=path, at=at)


def _write_pack(where: Destination, item: Ready) -> list[Written]:
    """The feedback pack a message attaches, kept as it went; what to record of it."""
    pack = item.pack
    if pack is None:
        return []
    path = where.packs / pack.filename
    write_whole(path, pack.data)
    return [Written.of(relative(where.root, path), FEEDBACK_PACK, pack.data)]


@dataclass(frozen=True)
class Destination:
    """Where a run's files go: the workspace (paths are recorded relative to it), the
    kind's outbox, and the folder of feedback packs; and the send job's day, which each
    message's record is dated by."""

    root: Path
    outbox: Path
    packs: Path
    today: date


def _wire(item: Ready, sender: Sender, message_id: str, draft: bool) -> bytes:
    """The bytes of one ready message, to its pending recipients."""
    pending = item.pending
    return wire_message(sender=sender, to=pending.to, cc=pending.cc, subject=item.subject,
                        body=item.body, attachments=item.attachments, message_id=message_id,
                        draft=draft)


#: Drafts are recorded many to a transaction, since each commit waits for the disk several
#: times over (most of the time a batch took when each had its own), but no transaction is
#: held open much longer than this: another officer's command may be waiting to write.
HOLD_SECONDS = 1.0


def draft_all(store: Store, cycle_id: int, sender: Sender, ready: Sequence[Ready],
              where: Destination) -> list[Outcome]:
    """Each draft written whole and recorded, a transaction at a time (``HOLD_SECONDS``)."""
    outcomes: list[Outcome] = []
    while len(outcomes) < len(ready):
        outcomes += _draft_some(store, cycle_id, sender, ready[len(outcomes):], where)
    return outcomes


def _draft_some(store: Store, cycle_id: int, sender: Sender, ready: Sequence[Ready],
                where: Destination) -> list[Outcome]:
    """The first of ``ready`` drafted and recorded in one transaction, for up to
    ``HOLD_SECONDS`` (recorded at one moment: they are committed together). A draft that
    fails is removed and ends the batch: the drafts before it are committed and kept, as
    if each had had its own transaction. Ctrl-C waits for the batch to be committed (at
    most ``HOLD_SECONDS``; a second one does not wait). If the transaction raises, the
    drafts the record does not hold are removed, and only those: it may have been
    committed all the same (a second Ctrl-C as COMMIT returns). The outbox holds what the
    record holds."""
    began = time.monotonic()
    at = recorded_at(where.today)
    written: list[tuple[Path, Outcome]] = []
    failure: BaseException | None = None
    try:
        with _interrupt_held(), store.transaction():
            for item in ready:
                try:
                    written.append(_draft_one(store, cycle_id, sender, item, where, at))
                except BaseException as exc:
                    failure = exc
                    break
                if time.monotonic() - began >= HOLD_SECONDS:
                    break
    except BaseException:
        for path in _unrecorded(store, where.root, [path for path, _ in written]):
            path.unlink(missing_ok=True)
        if failure is None:
            raise
    if failure is not None:  # the first error is the one that matters
        raise failure
    return [done for _, done in written]


def _unrecorded(store: Store, root: Path, paths: Sequence[Path]) -> list[Path]:
    """Those of ``paths`` the record does not hold, asked afresh once a transaction has
    raised. If the record cannot be read, none: a draft left that it does not hold is
    written over by the next run (``draft_path``), where one removed that it does hold
    would never go."""
    try:
        return [p for p in paths if not store.messages.path_recorded(relative(root, p))]
    except sqlite3.Error:
        return []


def _draft_one(store: Store, cycle_id: int, sender: Sender, item: Ready,
               where: Destination, at: str) -> tuple[Path, Outcome]:
    """One draft written whole and recorded in the caller's transaction; removed again if
    it cannot be recorded."""
    pending = item.pending
    message_id = new_message_id(sender)
    path = draft_path(where.outbox, pending.letter.draft_name,
                      lambda p: store.messages.path_recorded(relative(where.root, p)))
    kept = relative(where.root, path)
    files = _write_pack(where, item)
    wire = _wire(item, sender, message_id, draft=True)
    write_whole(path, wire)
    try:
        with store.transaction():  # the message and its files recorded together, or neither
            store.messages.record(cycle_id, _record(item, Route.DRAFT, message_id, kept,
                                                    pending.to, pending.cc, at),
                                  pending.letter.reference)
            store.files.record([*files, Written.of(kept, DRAFT, wire)], cycle_id=cycle_id)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, outcome(item, "drafted", path=kept, message_id=message_id)


def send_all(store: Store, cycle_id: int, sender: Sender, ready: Sequence[Ready],
             mail: MailSettings, environ: Mapping[str, str], where: Destination
             ) -> tuple[list[Outcome], str]:
    """Every message through one connection, each recorded as soon as the relay accepts
    it. Returns the outcomes, and why the batch stopped early ('' if it did not)."""
    if not ready:
        return [], ""
    check_relay(mail, sender.address)
    password = relay_password(mail, environ)
    outcomes: list[Outcome] = []
    with Relay(mail, password) as relay:
        for number, item in enumerate(ready):
            try:
                with _interrupt_held():
                    outcomes.append(_send_one(store, cycle_id, sender, item, relay, where))
            except (ConnectionLost, RelayError) as exc:
                stopped = (f"the relay closed the connection ({exc})"
                           if isinstance(exc, ConnectionLost) else str(exc))
                stopped += (f"; {len(ready) - number} message(s) not sent. Run the command"
                            " again to send them: what went is recorded and not sent twice.")
                return outcomes + [outcome(rest, "not sent", error=stopped)
                                   for rest in ready[number:]], stopped
    return outcomes, ""


def _send_one(store: Store, cycle_id: int, sender: Sender, item: Ready, relay: Relay,
              where: Destination) -> Outcome:
    """One message handed to the relay and, once accepted, recorded with the recipients it
    took, in its own transaction: the record is on disk before the next message goes."""
    pending = item.pending
    message_id = new_message_id(sender)
    message = _wire(item, sender, message_id, draft=False)
    store.files.record(_write_pack(where, item), cycle_id=cycle_id)  # on disk: recorded
    recipients = [a.address for a in (*pending.to, *pending.cc)]
    try:
        accepted = relay.send(message, sender.address, recipients)
    except MessageRefused as exc:
        return outcome(item, "refused", refused=exc.refused, error=str(exc))
    taken = {a.casefold() for a in accepted.accepted}
    to = tuple(a for a in pending.to if a.address.casefold() in taken)
    cc = tuple(a for a in pending.cc if a.address.casefold() in taken)
    try:
        store.messages.record(cycle_id, _record(item, Route.SMTP, message_id, None, to, cc,
                                                recorded_at(where.today)),
                              pending.letter.reference)
    except QauditError as exc:
        raise StorageError(
            f"{pending.letter.about} went to {', '.join(accepted.accepted)} but could"
            f" not be recorded ({exc}); a rerun would send it again. Free the disk"
            " or share, then check with the recipients before running it again."
        ) from exc
    return outcome(item, "sent", message_id=message_id, refused=accepted.refused,
                   error="the relay refused some recipients" if accepted.refused else "")


@contextmanager
def _interrupt_held() -> Iterator[None]:
    """Ctrl-C held back while a message is handed to the relay and recorded (stopped
    between the two, the message would have gone unrecorded, and gone again on the rerun),
    or while a batch of drafts is recorded and committed. The run stops once it is
    recorded; a second Ctrl-C stops it at once. (Only the main thread receives signals;
    elsewhere nothing is held.)"""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    pressed: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt
