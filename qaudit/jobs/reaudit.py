"""Re-audits: a later piece of work of each practitioner (or team) whose audit was graded
Requires improvement, drawn once its corrective action is recorded and enough regular
cycles have passed; and what the linked pairs show.

The rules of who is due are ``qaudit.reaudits.due_for_reaudit``; the draw is
``ReauditSelection`` (the ``Selection`` protocol of ``jobs.allocate``), so a round of
re-audits is a cycle of kind ``reaudit`` with the same export read, recorded seed,
why-not-drawn accounting, forms, register and single transaction as a regular cycle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qaudit.config import Settings
from qaudit.db import Cycle, Store
from qaudit.db.draws import REAUDIT, describe_kind
from qaudit.errors import CycleError, QauditError
from qaudit.grading import GRADE_KEYS, LABEL, REQUIRES_IMPROVEMENT
from qaudit.jobs.allocate import AllocationPlan, AllocationRequest, plan_allocation
from qaudit.jobs.purged import check_not_purged, purged_cycle_names
from qaudit.questions import QuestionSet
from qaudit.reaudits import (
    CORRECTIVE_ACTION,
    AuditOnRecord,
    By,
    NotDue,
    ReauditDue,
    ReauditOutcomes,
    ReauditPair,
    corrective_action_step,
    due_for_reaudit,
    outcomes,
)
from qaudit.sampling import Draw, DrawRules, History, StratumResult
from qaudit.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NOT_DUE = "not the work of anyone due a re-audit"
PURGED = ("its cycle {cycle} was purged (retention): who did the work is no longer on"
          " record, so no later work of theirs can be drawn")
BEFORE_AUDITED = "completed on or before the audited work or its corrective action"


def no_later_work(audit: AuditOnRecord, action_step: str) -> str:
    """Why none was drawn for an audit with no eligible later work, with the day after
    which its later work had to be completed."""
    action = audit.done_on(action_step) if audit.grade == REQUIRES_IMPROVEMENT else None
    since = (f"after the audited work ({audit.completed_date:%d/%m/%Y}) and its corrective"
             f" action ({action:%d/%m/%Y})" if action else
             f"after the audited work ({audit.completed_date:%d/%m/%Y})")
    return (f"no later work of theirs is eligible: none completed {since} and inside the"
            " window, of a person and record not audited before")


TERMS = (("Re-audit", "This re-audit follows up an audit graded Requires improvement, to see"
          " whether changes have been implemented and improvements made. Audit this later"
          " piece of work as any other, on its own evidence."),)


def default_round_name(after: str) -> str:
    return f"{after} re-audits"


def parse_grades(text: str) -> tuple[str, ...]:
    """``--grades``: grade keys separated by commas ('requires_improvement,adequate')."""
    keys = tuple(dict.fromkeys(k.strip().lower().replace(" ", "_") for k in text.split(",")
                               if k.strip()))
    unknown = [k for k in keys if k not in GRADE_KEYS]
    if unknown or not keys:
        raise QauditError(f"--grades {text!r}: {', '.join(unknown) or 'no grade'} is not a"
                          f" grade; give one or more of {', '.join(GRADE_KEYS)}, separated by"
                          " commas.")
    return keys


@dataclass(frozen=True)
class DueQuery:
    after: str
    grades: tuple[str, ...] = (REQUIRES_IMPROVEMENT,)
    min_cycles: int | None = None  # None: [reaudits] min_cycles


def due(store: Store, settings: Settings, query: DueQuery,
        except_cycle: str | None = None) -> ReauditDue:
    """The audits a round of re-audits after ``query.after`` follows up, and why each other
    audit in the grades asked for is not followed up now."""
    after = store.draws.require_cycle(query.after)
    if not after.regular:
        raise CycleError(f"--after {after.name!r} is a {after.kind.replace('_', ' ')} round;"
                         " give the regular cycle the re-audits come after.")
    cycles = store.reaudits.regular_cycles()
    if after.name not in cycles:
        raise CycleError(f"--after {after.name!r} has no current draw; give a drawn regular"
                         " cycle (`qaudit cycle list`).")
    min_cycles = settings.reaudits.min_cycles if query.min_cycles is None else query.min_cycles
    if min_cycles < 0:
        raise QauditError(f"--min-cycles {min_cycles} is below 0; give 0 or more.")
    audits = store.reaudits.audits_on_record(except_cycle)
    purged = purged_cycle_names(store)
    found = due_for_reaudit(
        [a for a in audits if a.cycle not in purged], cycles=cycles, after=after.name,
        grades=query.grades, min_cycles=min_cycles, by=settings.reaudits.by,
        action_step=corrective_action_step(settings.ri.steps),
    )
    gone = [NotDue(a, _purged(a)) for a in audits if a.cycle in purged and a.grade in query.grades]
    return ReauditDue(found.due, tuple(sorted((*found.not_due, *gone),
                                              key=lambda n: n.audit.reference)))


def _purged(audit: AuditOnRecord) -> str:
    """Why an audit of a purged cycle is not due: its practitioner is no longer on record
    (only a pseudonym), so no later work of theirs can be found."""
    if audit.followed_up_by:
        return (f"already followed up by the re-audit {audit.followed_up_by}; its cycle"
                f" {audit.cycle} was purged since")
    return PURGED.format(cycle=audit.cycle)


@dataclass(frozen=True)
class Drawn:
    """What became of one audit due a re-audit in a round."""

    audit: AuditOnRecord
    reference: str | None  # the re-audit's allocation reference, if one was drawn
    record_id: str | None
    drawn_because: str
    reason: str  # why none was drawn

    def to_json(self) -> dict[str, Any]:
        return {"follows_up": self.audit.reference, "cycle": self.audit.cycle,
                "grade": self.audit.grade, "reference": self.reference,
                "record_id": self.record_id, "drawn_because": self.drawn_because,
                "not_drawn_because": self.reason or None}


class ReauditSelection:
    """A round of re-audits: for each audit due, one later piece of work of the same
    practitioner (or team), at random. The cool-down is waived for those workers only
    (and recorded in ``drawn_because``); the person and record rules hold. Later work of
    the audit's own type is preferred, so the same questions are asked again; else any
    type of theirs. The later work is completed after the audited work and after the
    corrective action (``AuditOnRecord.work_after``)."""

    kind = REAUDIT

    def __init__(self, due: Sequence[AuditOnRecord], by: By, after: str,
                 action_step: str = CORRECTIVE_ACTION,
                 not_due: Sequence[NotDue] = ()) -> None:
        self.due = tuple(due)
        self.by: By = by
        self.after = after
        self.action_step = action_step
        self.not_due = tuple(not_due)  # recorded with the draw, for its re-check
        self.cooldown: frozenset[str] = frozenset()
        self.results: dict[str, Drawn] = {}

    @classmethod
    def from_recorded(cls, recorded: Mapping[str, Any]) -> ReauditSelection:
        """The selection a round's draw recorded (``recorded``): who was due then."""
        return cls(
            [AuditOnRecord.from_record(a) for a in recorded["due"]],
            "team" if recorded.get("by") == "team" else "practitioner",
            str(recorded["after"]), str(recorded.get("action_step", CORRECTIVE_ACTION)),
            [NotDue(AuditOnRecord.from_record(n["audit"]), str(n["reason"]))
             for n in recorded.get("not_due", ())])

    def question_sets(self, regular: dict[str, QuestionSet]) -> dict[str, QuestionSet]:
        return regular

    def history(self, history: History) -> History:
        # The draw applies the cool-down itself: waived for the workers due a re-audit.
        self.cooldown = history.cooldown_workers
        return replace(history, cooldown_workers=frozenset())

    def _member(self, audit: AuditOnRecord, frame: pd.DataFrame) -> Any:
        if self.by == "practitioner":
            return frame["worker_id"].astype(str) == audit.worker_id
        teams = frame["team"].astype(str).map(lambda t: " ".join(t.split()).casefold())
        return teams == audit.group("team")

    def draw(self, eligible: pd.DataFrame, excluded: dict[str, int], rules: DrawRules,
             rng: np.random.Generator) -> Draw:
        import numpy as np

        frame = eligible.sort_values("record_id", kind="stable").reset_index(drop=True)
        keys = rng.random(len(frame))
        completed = frame["completed_date"].to_numpy(dtype="datetime64[D]")
        in_group = np.zeros(len(frame), dtype=bool)
        later_any = np.zeros(len(frame), dtype=bool)
        members = {}
        for audit in self.due:
            member = self._member(audit, frame).to_numpy(dtype=bool)
            members[audit.reference] = member
            in_group |= member
            later_any |= member & (completed > self._after(audit))
        counts: Counter[str] = Counter()
        counts[NOT_DUE] = int((~in_group).sum())
        counts[BEFORE_AUDITED] = int((in_group & ~later_any).sum())
        for reason, n in counts.items():
            if n:
                excluded[reason] = excluded.get(reason, 0) + n

        taken_persons: set[str] = set()
        taken_records: set[str] = set()
        taken_workers: set[str] = set()
        rows: list[int] = []
        annotations: list[tuple[str, str, str]] = []  # follows_up, drawn_because, stratum
        strata: dict[tuple[str, str], StratumResult] = {}
        order = sorted(range(len(frame)), key=lambda i: keys[i])
        for audit in self.due:  # by reference
            stratum = (audit.quadrant, audit.audit_type)
            result = strata.setdefault(stratum, StratumResult(*stratum, quota=0, eligible=0))
            result.quota += 1
            later = members[audit.reference] & (completed > self._after(audit))
            pool = [i for i in order if later[i]]
            if pool:
                result.eligible += 1
            same_type = [i for i in pool if frame.at[i, "audit_type"] == audit.audit_type]
            pick = None
            for i in (*same_type, *pool):
                person, record = str(frame.at[i, "person_id"]), str(frame.at[i, "record_id"])
                worker = str(frame.at[i, "worker_id"])
                if (person in taken_persons or record in taken_records
                        or worker in taken_workers):
                    continue
                pick = i
                break
            if pick is None:
                reason = no_later_work(audit, self.action_step) if not pool else (
                    "their later work's persons, records or workers are already drawn in"
                    " this round")
                self.results[audit.reference] = Drawn(audit, None, None, "", reason)
                continue
            worker = str(frame.at[pick, "worker_id"])
            taken_persons.add(str(frame.at[pick, "person_id"]))
            taken_records.add(str(frame.at[pick, "record_id"]))
            taken_workers.add(worker)
            drawn_type = str(frame.at[pick, "audit_type"])
            if drawn_type == audit.audit_type:
                result.drawn += 1
            else:
                result.topped_up_from[drawn_type] += 1
            because = (f"cool-down waived: re-audit of {audit.reference}"
                       if worker in self.cooldown else "")
            rows.append(pick)
            annotations.append((audit.reference, because, audit.audit_type))
            self.results[audit.reference] = Drawn(
                audit, None, str(frame.at[pick, "record_id"]), because, "")
        allocations = frame.iloc[rows].reset_index(drop=True)
        allocations["follows_up"] = [a[0] for a in annotations]
        allocations["drawn_because"] = [a[1] for a in annotations]
        allocations["stratum_type"] = [a[2] for a in annotations]
        allocations["topped_up"] = allocations["stratum_type"] != allocations["audit_type"]
        ordered = [strata[s] for s in rules.quotas if s in strata]
        ordered += [r for s, r in strata.items() if s not in rules.quotas]
        return Draw(allocations, ordered)

    def _after(self, audit: AuditOnRecord) -> Any:
        import numpy as np

        return np.datetime64(audit.work_after(self.action_step), "D")

    def annotate(self, case: Mapping[Any, Any]) -> dict[str, str]:
        return {"follows_up": str(case["follows_up"]),
                "drawn_because": str(case["drawn_because"])}

    def terms(self) -> tuple[tuple[str, str], ...]:
        return TERMS

    def check_with(self, plan: AllocationPlan) -> str:
        return (f"qaudit reaudit select EXPORT --after '{self.after}' --cycle"
                f" '{plan.request.cycle}' --from {plan.date_from:%d/%m/%Y} --to"
                f" {plan.date_to:%d/%m/%Y} --seed {plan.seed} --dry-run (the same export"
                " and record give the same cases)")

    def saved(self, store: Store, cycle: Cycle, plan: AllocationPlan) -> None:
        store.reaudits.link(cycle.name, {a.reference: a.allocation_id for a in self.due})

    def recorded(self) -> dict[str, Any]:
        """Who was due when the round was drawn, and how: a ``--dry-run`` re-check of the
        round draws for the same audits, whatever has been recorded since."""
        return {"after": self.after, "by": self.by, "action_step": self.action_step,
                "due": [a.to_record() for a in self.due],
                "not_due": [{"audit": n.audit.to_record(), "reason": n.reason}
                            for n in self.not_due]}


@dataclass(frozen=True)
class SelectRequest:
    export: Path
    after: str
    date_from: date
    date_to: date
    today: date
    grades: tuple[str, ...] = (REQUIRES_IMPROVEMENT,)
    min_cycles: int | None = None
    cycle: str | None = None  # default: "<after> re-audits"
    due: date | None = None
    seed: int | None = None
    sheet: str | None = None
    out: Path | None = None
    dry_run: bool = False


@dataclass
class ReauditRound:
    """A round of re-audits, planned (and, unless a dry run, drawn and stored)."""

    plan: AllocationPlan
    due: ReauditDue
    drawn: list[Drawn] = field(default_factory=list)

    @property
    def not_drawn(self) -> list[Drawn]:
        return [d for d in self.drawn if d.reference is None]

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "after": self.due_after,
                "reaudits": [d.to_json() for d in self.drawn],
                "waiting": [{"reference": n.audit.reference, "cycle": n.audit.cycle,
                             "grade": n.audit.grade, "reason": n.reason}
                            for n in self.due.not_due]}

    @property
    def due_after(self) -> str:
        selection = self.plan.request.selection
        return selection.after if isinstance(selection, ReauditSelection) else ""


def plan_round(ws: Workspace, store: Store, request: SelectRequest,
               progress: Any = None) -> ReauditRound:
    """Who is due, then the draw (nothing written): refused early when no one is due.

    A ``--dry-run`` of a round already drawn re-checks that draw: it draws for the audits
    that were due when the round was drawn (recorded with the draw, ``recorded``), not for
    those due on today's record, so a grade corrected or a step recorded since changes
    nothing."""
    settings = ws.settings
    after = store.draws.require_cycle(request.after).name
    check_not_purged(store, after, "draw re-audits after it")
    name = (request.cycle or default_round_name(after)).strip()
    existing = store.draws.cycle(name)
    drawn_now = existing is not None and store.draws.current_draw_id(existing.name) is not None
    if existing is not None and drawn_now and not request.dry_run:
        if existing.kind != REAUDIT:
            raise CycleError(f"{existing.name!r} is a {describe_kind(existing.kind)}; give"
                             " the round a name of its own with --cycle NAME.")
        raise CycleError(
            f"the re-audit round {existing.name!r} is already drawn, and a round is final once"
            f" written. To draw it again, cancel it first (`qaudit cycle cancel"
            f" '{existing.name}' --reason ...`, with --force once forms are back), then run"
            " `qaudit reaudit select` again; or give a new round a name of its own with"
            " --cycle NAME.")
    recorded = store.draws.selection_of(name) if (
        existing is not None and existing.kind == REAUDIT and drawn_now
        and request.dry_run) else {}
    if "due" in recorded:  # re-checking a round drawn: who was due then
        selection = ReauditSelection.from_recorded(recorded)
        if store.draws.stored_name(selection.after) != after:
            raise CycleError(f"the round {store.draws.stored_name(name)!r} was drawn after"
                             f" {selection.after!r}; re-check it with --after"
                             f" '{selection.after}'.")
        found = ReauditDue(selection.due, selection.not_due)
    else:
        found = due(store, settings, DueQuery(after, request.grades, request.min_cycles),
                    except_cycle=name if existing is not None and request.dry_run else None)
        selection = ReauditSelection(found.due, settings.reaudits.by, after,
                                     corrective_action_step(settings.ri.steps), found.not_due)
    if not found.due:
        waiting = Counter(_reason_kind(n) for n in found.not_due)
        why = "; ".join(f"{n} {k}" for k, n in waiting.items()) or (
            "no audit graded " + " or ".join(LABEL[g] for g in request.grades))
        raise CycleError(f"no audit is due a re-audit after {after!r} ({why}); `qaudit"
                         f" reaudit list --after '{after}'` says why for each.")
    if not request.dry_run:
        store.reaudits.check_not_followed_up(
            {a.reference: a.allocation_id for a in found.due}, name)
    if request.cycle is None and len(name) > 40:
        raise CycleError(f"the default name {name!r} is over 40 characters; give the round"
                         " a name with --cycle NAME.")
    plan = plan_allocation(ws, store, AllocationRequest(
        export=request.export, cycle=name, date_from=request.date_from,
        date_to=request.date_to, today=request.today, due=request.due, seed=request.seed,
        out=request.out, sheet=request.sheet, dry_run=request.dry_run, selection=selection,
    ), progress)
    by_record = {a.follows_up: a.reference for a in plan.allocations}
    drawn = [replace(selection.results[a.reference], reference=by_record.get(a.reference))
             if a.reference in selection.results
             else Drawn(a, None, None, "", no_later_work(a, selection.action_step))
             for a in found.due]
    return ReauditRound(plan, found, drawn)


def _reason_kind(n: NotDue) -> str:
    r = n.reason
    if r.startswith("already followed up"):
        return "already followed up"
    if r.startswith("corrective action"):
        return "waiting for the corrective action"
    if "regular cycle(s)" in r:
        return "waiting for more cycles"
    if "same" in r:
        return "waiting for a later round"
    if "was purged" in r:
        return "of a purged cycle"
    return "after --after"


# --- list and stats -----------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """One audit in the grades asked for: waiting (why), due, drawn or returned."""

    audit: AuditOnRecord
    state: str  # waiting, due, drawn, returned
    detail: str
    pair: ReauditPair | None

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.audit.reference, "cycle": self.audit.cycle,
                "team": self.audit.team, "grade": self.audit.grade, "state": self.state,
                "detail": self.detail,
                "reaudit": self.pair.to_json() if self.pair else None}


def standings(store: Store, settings: Settings, query: DueQuery | None) -> list[Standing]:
    """Every audit in the grades asked for, with its re-audit state; ``query.after`` None:
    after the latest drawn regular cycle."""
    cycles = store.reaudits.regular_cycles()
    if not cycles:
        return []
    query = query or DueQuery(cycles[-1])
    found = due(store, settings, query)
    pairs = {p.first_reference: p for p in store.reaudits.pairs()}
    rows = [Standing(a, "due", f"due after {store.draws.stored_name(query.after)}", None)
            for a in found.due]
    for n in found.not_due:
        pair = pairs.get(n.audit.reference)
        if pair is None:
            rows.append(Standing(n.audit, "waiting", n.reason, None))
        elif pair.returned:
            rows.append(Standing(n.audit, "returned", pair.outcome(), pair))
        else:
            rows.append(Standing(n.audit, "drawn", pair.outcome(), pair))
    return sorted(rows, key=lambda s: s.audit.reference)


@dataclass(frozen=True)
class ReauditStats:
    pairs: list[ReauditPair]
    outcomes: ReauditOutcomes

    def to_json(self) -> dict[str, Any]:
        return {"pairs": [p.to_json() for p in self.pairs], **self.outcomes.to_json()}


def stats(store: Store) -> ReauditStats:
    pairs = store.reaudits.pairs()
    return ReauditStats(pairs, outcomes(pairs))
