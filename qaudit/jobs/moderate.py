"""The moderation jobs: draw the sample and write its workbook, take outcomes back,
measure agreement, and gather the learning (identifiable and anonymised)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from qaudit import layout
from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import ModeratedPair, Store
from qaudit.db.files import MODERATION_WORKBOOK
from qaudit.errors import CycleError, Finding, FormFileError, QauditError, Status
from qaudit.files import atomic_path
from qaudit.grading import GRADE_LABELS, LABEL, RANK
from qaudit.jobs.people import scrub_for_publication
from qaudit.jobs.purged import check_not_purged, purge_of, refusal
from qaudit.jobs.shared_files import record_file, taken_back
from qaudit.moderation import (
    Agreement,
    Candidate,
    Leniency,
    agreement,
    leniency,
    moderation_sample,
    sample_size,
)
from qaudit.questions import QuestionSet
from qaudit.randomness import generator, seed_or_new
from qaudit.rendering import md_text
from qaudit.validation import check_moderation, identify
from qaudit.values import person_key
from qaudit.workbooks.moderation import (
    MODERATION_FORM,
    SampleSheet,
    write_moderation_workbook,
)
from qaudit.workbooks.reader import read_form
from qaudit.workspace import Workspace


@dataclass
class Selection:
    """One round of the moderation sample: what it added, and where the sample stands."""

    cycle: str
    round: int
    seed: int
    rate: float
    returned: int
    target: int  # ceil(rate x returned audits)
    references: list[str]  # this round's new picks
    in_sample: int  # every round's picks together
    auditors: int
    auditors_covered: int
    grades: int
    grades_covered: int
    workbook: Path | None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"workbook": str(self.workbook) if self.workbook else None}


def select(
    ws: Workspace, store: Store, cycle: str, *, today: date, rate: float | None = None,
    seed: int | None = None, redraw: bool = False, blind: bool = False,
    out: Path | None = None, dry_run: bool = False,
) -> Selection:
    """Draw the cycle's moderation sample, or top it up to ceil(rate x audits returned now).

    A top-up keeps every earlier pick and outcome, and is recorded as a new round with its
    own workbook; only ``redraw`` (before any outcome) replaces the sample.
    """
    rate = ws.settings.moderation.rate if rate is None else rate
    if not 0 < rate <= 1:
        raise CycleError(f"--rate {rate} is not a share of audits; give a number above 0 and"
                         " at most 1, e.g. 0.2 for 20%.")
    found = store.draws.require_cycle(cycle)
    cycle = found.name
    check_not_purged(store, cycle, "draw its moderation sample")
    audits = store.moderation.returned_audits(cycle)
    if not audits:
        raise CycleError(f"cycle {cycle!r} has no returned audits yet; run `qaudit ingest`"
                         " first.")
    current = (store.moderation.check_can_redraw(cycle) if redraw
               else store.moderation.current_sample(cycle))
    top_up = current is not None and not redraw
    if top_up:
        assert current is not None
        seed = current.seed if seed is None else seed_or_new(seed)
        taken = frozenset(i.audit.return_id for i in current.items)
        blind = blind or current.blind
        number = current.rounds + 1
    else:
        seed = seed_or_new(seed)
        taken = frozenset()
        number = 1
    candidates = [Candidate(a.return_id, a.reference, person_key(a.auditor), RANK[a.grade])
                  for a in audits]
    chosen = moderation_sample(candidates, rate, generator(seed), taken)
    sample = [c for c in candidates if c.return_id in taken] + chosen
    selection = Selection(
        cycle=cycle, round=number, seed=seed, rate=rate, returned=len(audits),
        target=sample_size(len(audits), rate), references=[c.reference for c in chosen],
        in_sample=len(sample), auditors=len({c.auditor for c in candidates}),
        auditors_covered=len({c.auditor for c in sample}),
        grades=len({c.grade for c in candidates}),
        grades_covered=len({c.grade for c in sample}), workbook=None,
    )
    if today <= found.due_date:
        selection.warnings.append(
            f"returns for {cycle} are due by {found.due_date:%d/%m/%Y} and may still be coming"
            " in: once they are, run `qaudit moderate select` again to top the sample up to"
            f" {rate:.0%} of all returned audits.")
    if dry_run or not chosen:
        return selection
    folder = out or layout.moderation_folder(ws.cycle_dir(cycle))
    path = layout.moderation_workbook(folder, cycle, number)
    ids = [c.return_id for c in chosen]
    # The workbook carries the sample's id and round, so it is written inside the
    # transaction that stores them; both succeed or neither does.
    with atomic_path(path) as draft:
        with store.transaction():
            if top_up:
                assert current is not None
                store.moderation.add_round(cycle, current, seed, rate, len(audits), ids)
                sample_id = current.id
            else:
                sample_id = store.moderation.save_sample(cycle, seed, rate, blind, ids, redraw,
                                                         len(audits))
            write_moderation_workbook(draft, _sample_sheet(ws, store, cycle, number))
            record_file(ws.root, store, draft, path, MODERATION_WORKBOOK, cycle_id=found.id)
        if path.exists():
            path.rename(path.with_name(f"{path.stem}.replaced-{sample_id}.xlsx"))
    selection.workbook = path
    return selection


def _sample_sheet(ws: Workspace, store: Store, cycle: str, number: int) -> SampleSheet:
    sample = store.moderation.current_sample(cycle)
    assert sample is not None
    items = sample.round_items(number)
    question_sets: dict[str, QuestionSet] = {}
    for item in items:
        a = item.audit
        issued = store.draws.issued(a.reference)
        if a.audit_type not in question_sets and issued is not None:
            question_sets[a.audit_type] = store.draws.issued_question_set(
                issued.row.question_set_hash)
    return SampleSheet(
        workspace_id=store.workspace_id(), cycle=cycle, sample_id=sample.id, round=number,
        blind=sample.blind, items=items, type_names=ws.settings.type_names(),
        question_sets=question_sets,
        answers={i.audit.return_id: store.moderation.answers_of(i.audit.return_id)
                 for i in items},
        marking=ws.settings.marking,
    )


@dataclass
class ModerationIngest:
    path: Path
    status: Status
    cycle: str = ""
    items: int = 0
    changed_grades: int = 0
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "status": str(self.status), "cycle": self.cycle,
                "items": self.items, "grades_changed": self.changed_grades,
                "findings": [asdict(f) for f in self.findings]}


def ingest_outcomes(store: Store, path: Path, *, today: date,
                    replace: bool = False) -> ModerationIngest:
    """Take a filled moderation workbook back: all of it or nothing, idempotent. A workbook
    no check foresaw is one clean refusal, never an unexpected failure."""
    try:
        return _ingest_outcomes(store, path, today, replace)
    except QauditError:
        raise
    except Exception:
        return ModerationIngest(path, Status.REFUSED, findings=[Finding(
            "unreadable", path.name, "", "",
            "this file could not be read as a moderation workbook: it is damaged, or was not"
            " made from the workbook `qaudit moderate select` wrote. Copy the outcomes into"
            " that workbook and ingest it.")])


def _ingest_outcomes(store: Store, path: Path, today: date,
                     replace: bool) -> ModerationIngest:
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        return ModerationIngest(path, Status.REFUSED, findings=[Finding(
            "no-such-file", path.name, "", "",
            f"{path} {what}; give the filled moderation workbook (.xlsx)")])
    try:
        raw = read_form(path)
    except FormFileError as exc:
        return ModerationIngest(path, Status.REFUSED,
                                findings=[Finding(exc.code, path.name, "", "", str(exc))])
    cycle = raw.meta.get("cycle", "")
    problem = identify(raw, store.workspace_id(), (MODERATION_FORM,))
    if problem is not None:
        return ModerationIngest(path, Status.REFUSED, cycle, findings=[problem])
    purged = purge_of(store, cycle)
    if purged is not None:  # its sample's audits are pseudonyms now: nothing to match
        return ModerationIngest(path, Status.REFUSED, purged.name, findings=[Finding(
            "purged-cycle", path.name, "", "(whole workbook)",
            refusal(purged, "take in this moderation workbook"))])
    sample = store.moderation.current_sample(cycle) if store.draws.cycle(cycle) else None
    parsed, findings = check_moderation(raw, sample, today)
    if parsed is None or sample is None:
        return ModerationIngest(path, Status.REFUSED, cycle, findings=findings)
    by_position = {i.position: i for i in sample.round_items(parsed.round)}
    stored = {item: outcome for item, outcome
              in store.moderation.current_outcomes(parsed.sample_id).items()
              if item in {i.item_id for i in by_position.values()}}
    content = parsed.content_hash
    if stored and all(h == content for _, h in stored.values()) and len(stored) == len(
        by_position
    ):
        taken_back(store, path, raw.sha256)
        return ModerationIngest(path, Status.UNCHANGED, cycle, len(by_position))
    changed = [n for n, o in parsed.outcomes.items()
               if by_position[n].item_id in stored
               and stored[by_position[n].item_id][0] != o]
    if changed and not replace:
        refs = ", ".join(by_position[n].audit.reference for n in changed[:5])
        return ModerationIngest(path, Status.REFUSED, cycle, findings=[Finding(
            "different-outcomes", path.name, "Moderation", "(whole workbook)",
            f"outcomes already recorded for {refs} differ from this workbook; to replace them"
            " (the earlier ones are kept as history) use --replace",
        )])
    with store.transaction():
        store.moderation.save_outcomes(
            [(by_position[n].item_id, o) for n, o in sorted(parsed.outcomes.items())],
            path.name, content,
        )
        taken_back(store, path, raw.sha256)
    grades_changed = sum(1 for n, o in parsed.outcomes.items()
                         if o.moderated_grade != by_position[n].audit.grade)
    return ModerationIngest(path, Status.REPLACED if stored else Status.ACCEPTED, cycle,
                            len(by_position), grades_changed)


# --- agreement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModerationStats:
    """How far auditors and moderators agree, over one cycle or all of them."""

    cycle: str
    pairs: list[ModeratedPair]
    agreement: Agreement
    leniency: list[Leniency]

    @property
    def moderated(self) -> int:
        return self.agreement.n

    @property
    def grades_changed(self) -> int:
        return sum(1 for p in self.pairs if p.auditor_grade != p.moderated_grade)

    @property
    def feedback(self) -> dict[str, int]:
        """How many outcomes found the feedback constructive, naming strengths, learning."""
        return {"constructive": sum(1 for p in self.pairs if p.constructive == "Yes"),
                "names_strengths": sum(1 for p in self.pairs if p.names_strengths == "Yes"),
                "names_learning": sum(1 for p in self.pairs if p.names_learning == "Yes")}

    def to_json(self) -> dict[str, Any]:
        a = self.agreement
        return {
            "cycle": self.cycle,
            "n": a.n,
            "moderated": self.moderated,
            "grades_changed": self.grades_changed,
            "exact_agreement": a.exact,
            "within_one_grade": a.within_one,
            "weighted_kappa": a.kappa,
            "weighted_kappa_95ci": [a.kappa_ci.low, a.kappa_ci.high] if a.kappa_ci else None,
            "gwet_ac2": a.ac2,
            "table": {"rows": "auditor's grade", "columns": "moderated grade",
                      "grades": list(GRADE_LABELS), "counts": a.table},
            "feedback": self.feedback,
            "leniency": [asdict(entry) for entry in self.leniency],
        }


def stats(store: Store, cycle: str | None) -> ModerationStats:
    if cycle is not None:
        cycle = store.draws.require_cycle(cycle).name
    pairs = store.moderation.moderated_pairs(cycle)
    result = agreement([(RANK[p.auditor_grade], RANK[p.moderated_grade]) for p in pairs])
    shown: dict[str, str] = {}  # one display name per auditor, however it was typed
    for p in pairs:
        shown.setdefault(person_key(p.auditor or ""), p.auditor or "(unnamed)")
    lenient = leniency([(shown[person_key(p.auditor or "")], RANK[p.auditor_grade],
                         RANK[p.moderated_grade]) for p in pairs])
    return ModerationStats(cycle or "all cycles", pairs, result, lenient)


# --- learning ----------------------------------------------------------------------------


def learning_markdown(store: Store, cycle: str | None, anonymise: bool,
                      roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES,
                      marking: str = "") -> str:
    """Moderation learning per auditor and per theme; anonymised for audit workshops.
    The protective ``marking`` (``[organisation] protective_marking``), if given, is its first and
    last line."""
    if cycle is not None:
        cycle = store.draws.require_cycle(cycle).name
    pairs = [p for p in store.moderation.moderated_pairs(cycle) if p.learning or p.comments]
    scrub = scrub_for_publication(store, roles) if anonymise else (lambda t: t)
    aliases: dict[str, str] = {}
    shown: dict[str, str] = {}

    def who(name: str) -> str:
        key = person_key(name)
        if not anonymise:
            return shown.setdefault(key, name or "(unnamed auditor)")
        aliases.setdefault(key, f"Auditor {_letters(len(aliases))}")
        return aliases[key]

    title = "Moderation learning" + (f": {cycle}" if cycle else ": all cycles")
    marked = [md_text(marking), ""] if marking.strip() else []
    lines = [*marked, f"# {title}", ""]
    lines.append("*Anonymised for audit workshops: no person, practitioner or auditor is"
                  " named; references and identifiers are removed.*" if anonymise else
                  "*Internal: for the Service Manager for Practice Quality and the Principal"
                  " Social Worker. Identifies auditors.*")
    lines += ["", "## By theme", ""]
    themes: dict[str, list[ModeratedPair]] = {}
    for p in pairs:
        themes.setdefault(p.theme or "No theme given", []).append(p)
    for theme, items in sorted(themes.items()):
        lines.append(f"### {md_text(theme)}")
        for p in items:
            ref = "" if anonymise else f"{p.reference}: "
            text = scrub(" ".join(t for t in (p.learning, p.comments) if t))
            lines.append(f"- {md_text(ref + text)}")
        lines.append("")
    lines += ["## By auditor", ""]
    by_auditor: dict[str, list[ModeratedPair]] = {}
    for p in pairs:
        by_auditor.setdefault(who(p.auditor or ""), []).append(p)
    for name, items in sorted(by_auditor.items()):
        lines.append(f"### {md_text(name)}")
        for p in items:
            change = (f"{LABEL[p.auditor_grade]} → {LABEL[p.moderated_grade]}"
                      if p.auditor_grade != p.moderated_grade else "grade agreed")
            text = scrub(p.learning or p.comments)
            lines.append(f"- ({change}) {md_text(text)}")
        lines.append("")
    return "\n".join([*lines, *marked[:1]])


def _letters(n: int) -> str:
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out
