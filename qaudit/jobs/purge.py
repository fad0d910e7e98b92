"""The purge job (retention): the personal data of the cycles whose window ended before a
date, and of the workshops held before it, taken out of the record and off the disk,
keeping every figure.

The record is changed in place (``db.purge``): ids and names become tokens keyed by a key
made for the run and never stored (a reference, the workspace's pseudonym), free text
goes, so every report of a purged cycle, the year report, ``status --year``, the
moderation agreement and the re-audit figures read as before, and nothing left links a
purged audit to anyone. The files go after the record's transaction commits: a cycle's
workbooks (register, forms, self-reflections, Service Managers' workbooks, moderation
workbooks), its outbox of drafts, its feedback packs, its internal reports (and the
internal year report of its year), and a workshop's folder. Its published reports stay.
Every run applies the purge again to what was purged before: a file that could not be
removed then (open in Excel, say) is removed, and personal data written into a purged
cycle since is taken out; otherwise purging again is a no-op that says so. The database
file is then rewritten without its free pages (VACUUM), so no purged name is left in its
bytes.

Other commands ask ``jobs.purged`` before working on a cycle. A value a purge made a
token or pseudonym is never made one again (``privacy.is_pseudonym``): not by a later
purge, nor by the anonymised export.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from qaudit.db import Cycle, Store, backup
from qaudit.db.draws import DEEP_DIVE, describe_kind
from qaudit.db.purge import Purged, Purges
from qaudit.db.purge_rows import WorkshopHeld
from qaudit.errors import QauditError
from qaudit.jobs.purge_files import (
    cycle_files,
    cycle_folder_files,
    files_left,
    remove_files,
    size,
    workshop_files,
)
from qaudit.privacy import TOKEN_DIGITS, is_pseudonym, is_token, pseudonymiser
from qaudit.values import cycle_key, person_key
from qaudit.workspace import Workspace


@dataclass(frozen=True)
class Removal:
    """What a purge takes out for one cycle or workshop: rows of each kind, and files."""

    key: tuple[str, int]  # ("cycle", id) or ("workshop", id)
    name: str
    kind: str  # "regular cycle", "deep dive", "re-audit round", "workshop"
    when: str  # its window, the day a workshop was held, or (purged before) when purged
    rows: dict[str, int]
    files: tuple[Path, ...] = ()
    size: int = 0  # bytes

    def logged(self) -> dict[str, Any]:
        """What its history entry keeps: counts only."""
        return {**{k: n for k, n in self.rows.items() if n}, "files": len(self.files),
                "bytes": self.size}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "when": self.when, "rows": self.rows,
                "files": len(self.files), "bytes": self.size}


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did, or (``dry_run``) would do."""

    before: date
    dry_run: bool
    removals: tuple[Removal, ...]
    #: purged before: their names, the files of theirs left then, removed now, and the
    #: personal data written into them since, taken out now
    already: tuple[str, ...] = ()
    leftovers: tuple[Path, ...] = ()
    leftover_size: int = 0  # bytes, before they went
    again: tuple[Removal, ...] = ()

    @property
    def nothing(self) -> bool:
        return not self.removals and not self.leftovers and not self.again

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.isoformat(), "dry_run": self.dry_run,
                "purged": [r.to_json() for r in self.removals],
                "already_purged": list(self.already),
                "leftover_files": len(self.leftovers), "leftover_bytes": self.leftover_size,
                "purged_again": [{k: v for k, v in r.to_json().items()
                                  if k not in ("files", "bytes")} for r in self.again]}


#: A returned form's fields kept as they are: choices and dates, none about a person.
KEPT_FIELDS = frozenset({
    "grade", "share_good_practice", "esc_raised", "esc_to", "esc_date", "ri_due",
    "auditor_role", "auditor_date", "sr_grade", "sr_date",
})
#: Fields naming a person, kept as a name's token (of the same kind as the auditors the
#: Service Managers named, so an auditor's return and their choice still match).
PSEUDONYM_FIELDS = {"auditor_name": "AUD", "esc_name": "MGR", "ri_by": "MGR"}
#: The history's detail values kept as text: what was done, never what was written.
KEPT_DETAIL = frozenset({
    "kind", "step", "done_on", "held_on", "question_set", "role", "export_sha256",
    "was_cancelled", "message_id", "workshop", "participant", "missing", "filters",
})
#: The history's numbers forgotten: a draw's seed, which with its export draws the same
#: cases again.
FORGOTTEN_DETAIL = frozenset({"seed"})


def run_tokens() -> Callable[[str, str], str]:
    """The tokens of one purge run: keyed (HMAC-SHA256) by a key made now and never
    stored, so within the run one value keeps one token, and nothing, not even the
    workspace's key, links a token to its value or to another run's."""
    return pseudonymiser(secrets.token_bytes(32), TOKEN_DIGITS)


@dataclass(frozen=True)
class Redactor:
    """What each purged value becomes (``db.purge_rows.Redaction``). ``tokens`` gives an
    id's token (``run_tokens``: ``WKR-3fdd09a1b2c4``); ``ids`` a reference's keyed
    pseudonym under the workspace's key (``privacy.pseudonymiser``: ``REF-3fdd09a1b2``),
    and the pseudonyms of the persons and records audited; ``publish`` is the publication
    scrubber as it stood before the purge."""

    tokens: Callable[[str, str], str]
    ids: Callable[[str, str], str]
    publish: Callable[[str], str] = str

    def pseudonym(self, kind: str, value: str) -> str:
        """An id's token; a reference's pseudonym. One already stays as it is (an audit of
        a cycle purged before, in the record of a round purged now), so the link to it
        holds; a pseudonym an earlier qaudit's purge left in place of an id becomes a
        token."""
        if kind == "REF":
            return value if is_pseudonym(value, kind) else self.ids(kind, value)
        return value if is_token(value, kind) else self.tokens(kind, value)

    def name(self, kind: str, name: str) -> str:
        """A person's name as a token: '#' and twelve digits, from the name however it was
        typed (``values.person_key``: one auditor typed two ways is still one, so the
        figures per auditor hold). No letters: the publication scrubber takes every name
        the record holds, and would take the letters of a token ("AUD-3fdd09...": "fdd")
        for a name to remove from whatever is published. One already stays."""
        if is_token(name, kind):
            return name
        key = person_key(name)
        digest = self.tokens(kind, key).rsplit("-", 1)[-1]
        return f"#{int(digest, 16) % 10**TOKEN_DIGITS:0{TOKEN_DIGITS}d}" if key else ""

    def audited(self, kind: str, value: str) -> str:
        """A purged audit's person or record as the list of those audited keeps it."""
        return self.ids(kind, value)

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A returned form's fields once purged: every field still there (blank where it
        held something personal), so whatever reads a field finds one; a name the figures
        group by as its token. A strength marked shareable goes too: a name the scrubber
        does not know (a relative's, a carer's) could be in it."""
        kept: dict[str, Any] = {}
        for key, value in fields.items():
            if key in KEPT_FIELDS or value is None:
                kept[key] = value
            elif key in PSEUDONYM_FIELDS and isinstance(value, str):
                kept[key] = self.name(PSEUDONYM_FIELDS[key], value)
            else:
                kept[key] = ""
        return kept

    def detail(self, detail: Mapping[str, Any],
               references: Callable[[str], str]) -> dict[str, Any]:
        """A history entry's detail once purged: numbers, flags and what was done kept;
        every other text blanked, a seed forgotten; the references of its cases
        (``cases``) as ``references`` gives them."""
        kept: dict[str, Any] = {}
        for key, value in detail.items():
            if key in FORGOTTEN_DETAIL:
                kept[key] = None
            elif key == "cases" and isinstance(value, list):
                kept[key] = [references(str(v)) for v in value]
            elif value is None or isinstance(value, bool | int | float) or key in KEPT_DETAIL:
                kept[key] = value
            else:
                kept[key] = type(value)()
        return kept

    def audit(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """An audit as a re-audit round's draw recorded it (``AuditOnRecord.to_record``),
        its ids made tokens as its allocation's are, its day of completion its month."""
        done = str(record.get("completed_date", ""))
        return {**record,
                "reference": self.pseudonym("REF", str(record.get("reference", ""))),
                "worker_id": self.pseudonym("WKR", str(record.get("worker_id", ""))),
                "followed_up_by": self.pseudonym("REF", str(record.get("followed_up_by", ""))),
                "completed_date": f"{done[:8]}01" if len(done) == 10 else done}

    def selection(self, selection: Mapping[str, Any], own: bool,
                  cycles: frozenset[str]) -> dict[str, Any]:
        """What a draw's selection recorded (``Selection.recorded``), without the people
        of the purged ``cycles``: a re-audit round's audits of those cycles as tokens
        (with no reason, which names references); a purged (``own``) deep dive's workers
        who answered a question as tokens."""
        def gone(audit: Mapping[str, Any]) -> bool:
            return own or audit.get("cycle") in cycles

        kept = dict(selection)
        if isinstance(selection.get("due"), list):
            kept["due"] = [self.audit(a) if gone(a) else a for a in selection["due"]]
        if isinstance(selection.get("not_due"), list):
            kept["not_due"] = [{"audit": self.audit(n["audit"]), "reason": ""}
                               if gone(n["audit"]) else n for n in selection["not_due"]]
        if own and isinstance(selection.get("answered"), dict):
            kept["answered"] = {value: sorted(self.pseudonym("WKR", str(w)) for w in workers)
                                for value, workers in selection["answered"].items()}
        return kept

    def published(self, text: str) -> str:
        return self.publish(text)


def purge(ws: Workspace, store: Store, before: date, today: date,
          dry_run: bool = False) -> PurgeReport:
    """Purge the cycles whose window ended before ``before`` (any kind, cancelled ones
    too) and the workshops held before it, and apply the purge again to what was purged
    before; refused, with nothing changed, while any of those cycles has something open
    or a draw still running read it (``Purges.check_can_purge``)."""
    if before >= today:
        raise QauditError(
            f"--before {before:%d/%m/%Y} is not before today ({today:%d/%m/%Y}): only cycles"
            " that ended before a day already past can be purged. Give an earlier date.")
    purges = Purges(store)
    done = purges.purged_cycles()
    cycles = [c for c in store.draws.cycles() if c.date_to < before and c.id not in done]
    cooldown = ws.settings.sampling.worker_cooldown_cycles
    purges.check_can_purge(cycles, today, cooldown)
    done_workshops = purges.purged_workshops()
    workshops = [w for w in purges.workshops_held_before(before) if w.id not in done_workshops]
    folders = frozenset(cycle_key(w.name) for w in store.workshops.summaries())
    files_of = partial(workshop_files, folders=folders)
    leftovers = tuple(sorted({*files_left(ws, done.values(), cycle_folder_files),
                              *files_left(ws, done_workshops.values(), files_of)}))
    # What the purge would take out again: which values change does not hang on the keys.
    again = purges.again(Redactor(run_tokens(), run_tokens()))
    report = PurgeReport(
        before, dry_run, (*(_cycle_removal(ws, purges, c) for c in cycles),
                          *(_workshop_removal(purges, w, files_of(ws, w.name))
                            for w in workshops)),
        already=tuple(p.name for p in (*done.values(), *done_workshops.values())),
        leftovers=leftovers, leftover_size=size(leftovers),
        again=_again(store, {**{("cycle", i): p for i, p in done.items()},
                             **{("workshop", i): p for i, p in done_workshops.items()}},
                     again))
    if dry_run:
        return report
    if report.removals or report.again:
        backup.before(store.conn, store.path, "purge")
        _purge_record(ws, store, purges, report, cycles, workshops, today)
    keep = {ws.cycle_dir(c.name) for c in store.draws.cycles()}
    failed = remove_files([*(p for r in report.removals for p in r.files),
                           *report.leftovers], ws, keep)
    purges.compact(always=bool(report.removals or report.again))
    if failed:
        raise QauditError(
            f"the record is purged, but {len(failed)} file(s) could not be removed (first:"
            f" {failed[0]}); close them wherever they are open and run the same purge again"
            " to remove them.")
    return report


def _again(store: Store, done: Mapping[tuple[str, int], Purged],
           again: Mapping[tuple[str, int], dict[str, int]]) -> tuple[Removal, ...]:
    """What applying the purge again takes out of each cycle and workshop purged before."""
    kinds = {("cycle", c.id): describe_kind(c.kind) for c in store.draws.cycles()}
    return tuple(
        Removal(key, done[key].name, kinds.get(key, "workshop"),
                f"purged {date.fromisoformat(done[key].purged_at[:10]):%d/%m/%Y}", rows)
        for key, rows in again.items())


def _purge_record(ws: Workspace, store: Store, purges: Purges, report: PurgeReport,
                  cycles: list[Cycle], workshops: list[WorkshopHeld], today: date) -> None:
    """The record's part, in one transaction, with the record of the purged cycles' and
    workshops' files (their paths hold references). A deep dive's terms are kept as
    published: scrubbed with everyone the record knows before the purge."""
    from qaudit.jobs.people import scrub_for_publication

    publish = scrub_for_publication(store, tuple(ws.settings.auditor_roles)) if any(
        c.kind == DEEP_DIVE for c in cycles) else str
    with store.transaction():  # the files' rows go with the rows they belong to
        purges.purge(
            cycles, workshops, before=report.before, today=today,
            cooldown=ws.settings.sampling.worker_cooldown_cycles,
            redaction=Redactor(run_tokens(), pseudonymiser(ws.pseudonym_key()), publish),
            logged={r.key: r.logged() for r in report.removals})
        store.files.forget_purged()


def _cycle_removal(ws: Workspace, purges: Purges, cycle: Cycle) -> Removal:
    files = cycle_files(ws, cycle.name)
    return Removal(("cycle", cycle.id), cycle.name, describe_kind(cycle.kind),
                   f"{cycle.date_from:%d/%m/%Y} to {cycle.date_to:%d/%m/%Y}",
                   purges.counts(cycle.id), files, size(files))


def _workshop_removal(purges: Purges, workshop: WorkshopHeld,
                      files: tuple[Path, ...]) -> Removal:
    return Removal(("workshop", workshop.id), workshop.name, "workshop",
                   f"held {workshop.held_on:%d/%m/%Y}", purges.workshop_counts(workshop),
                   files, size(files))
