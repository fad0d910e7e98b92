"""The moderation jobs: draw the sample and write its workbook, take outcomes back,
measure agreement, and gather the learning (identifiable and anonymised)."""

from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.db import Store
from qaudit.errors import CycleError, Finding
from qaudit.grading import GRADES
from qaudit.jobs.allocate import MAX_SEED
from qaudit.jobs.ingest import ACCEPTED, REFUSED, REPLACED, UNCHANGED
from qaudit.moderation import Candidate, agreement, leniency, moderation_sample, sample_size
from qaudit.privacy import scrubber
from qaudit.questions import QuestionSet
from qaudit.workbooks.moderation import SampleSheet, read_moderation, write_moderation_workbook
from qaudit.workbooks.reader import FormFileError, read_form
from qaudit.workspace import Workspace, cycle_slug

RANK = {g.key: g.rank for g in GRADES}
LABEL = {g.key: g.label for g in GRADES}


def auditor_key(name: str) -> str:
    return " ".join(name.casefold().split())


@dataclass
class Selection:
    cycle: str
    seed: int
    rate: float
    returned: int
    references: list[str]
    auditors: int
    auditors_covered: int
    grades: int
    grades_covered: int
    workbook: Path | None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "workbook": str(self.workbook) if self.workbook else None}


def select(
    ws: Workspace, store: Store, cycle: str, *, rate: float | None = None,
    seed: int | None = None, redraw: bool = False, blind: bool = False,
    out: Path | None = None, dry_run: bool = False,
) -> Selection:
    rate = ws.settings.moderation.rate if rate is None else rate
    if not 0 < rate <= 1:
        raise CycleError(f"--rate {rate} is not a share of audits; give a number above 0 and"
                         " at most 1, e.g. 0.2 for 20%.")
    if seed is not None and not 0 <= seed < MAX_SEED:
        raise CycleError(f"--seed must be a whole number from 0 to {MAX_SEED - 1}.")
    store.require_cycle(cycle)
    audits = store.returned_audits(cycle)
    if not audits:
        raise CycleError(f"cycle {cycle!r} has no returned audits yet; run `qaudit ingest`"
                         " first.")
    current = store.current_sample(cycle)
    if current is not None and not redraw:
        raise CycleError(f"the moderation sample of {cycle!r} is already drawn; use --redraw"
                         " to draw it again (only before any outcome is recorded).")
    if current is not None and store.has_outcomes(current[0]):
        raise CycleError(f"moderation outcomes of {cycle!r} are already recorded, so its"
                         " sample can no longer be redrawn.")
    seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    candidates = [Candidate(a.return_id, a.reference, auditor_key(a.auditor), RANK[a.grade])
                  for a in audits]
    chosen = moderation_sample(candidates, rate, np.random.default_rng(seed))
    selection = Selection(
        cycle=cycle, seed=seed, rate=rate, returned=len(audits),
        references=[c.reference for c in chosen],
        auditors=len({c.auditor for c in candidates}),
        auditors_covered=len({c.auditor for c in chosen}),
        grades=len({c.grade for c in candidates}),
        grades_covered=len({c.grade for c in chosen}), workbook=None,
    )
    assert len(chosen) == sample_size(len(audits), rate)
    if dry_run:
        return selection
    target = out or ws.cycle_dir(cycle) / "moderation"
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{cycle_slug(cycle)}-moderation.xlsx"
    with tempfile.TemporaryDirectory(dir=target, prefix=".qaudit-") as scratch:
        sample_id, replaced = store.save_sample(
            cycle, seed, rate, blind, [c.return_id for c in chosen], redraw
        )
        try:
            sheet = _sample_sheet(ws, store, cycle)
            draft = Path(scratch) / path.name
            write_moderation_workbook(draft, sheet)
        except BaseException:
            store.discard_sample(sample_id, replaced)
            raise
        if path.exists():
            path.rename(path.with_name(f"{path.stem}.replaced-{sample_id}.xlsx"))
        draft.rename(path)
    selection.workbook = path
    return selection


def _sample_sheet(ws: Workspace, store: Store, cycle: str) -> SampleSheet:
    current = store.current_sample(cycle)
    assert current is not None
    sample_id, _, blind, items = current
    question_sets: dict[str, QuestionSet] = {}
    for item in items:
        a = item.audit
        issued = store.issued(a.reference)
        if a.audit_type not in question_sets and issued is not None:
            question_sets[a.audit_type] = store.issued_question_set(issued.row.question_set_hash)
    return SampleSheet(
        workspace_id=store.workspace_id(), cycle=cycle, sample_id=sample_id, blind=blind,
        items=items, type_names={k: v.name for k, v in ws.settings.audit_types.items()},
        question_sets=question_sets,
        answers={i.audit.return_id: store.answers_of(i.audit.return_id) for i in items},
    )


@dataclass
class ModerationIngest:
    path: Path
    status: str
    cycle: str = ""
    items: int = 0
    changed_grades: int = 0
    findings: list[Finding] | None = None


def ingest_outcomes(store: Store, path: Path, *, replace: bool = False,
                    today: date | None = None) -> ModerationIngest:
    """Take a filled moderation workbook back: all of it or nothing, idempotent."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        return ModerationIngest(path, REFUSED, findings=[Finding(
            path.name, "", "", f"{path} {what}; give the filled moderation workbook (.xlsx)")])
    try:
        raw = read_form(path)
    except FormFileError as exc:
        return ModerationIngest(path, REFUSED, findings=[Finding(path.name, "", "", str(exc))])
    cycle = raw.meta.get("cycle", "")
    current = store.current_sample(cycle) if store.cycle(cycle) else None
    samples = {cycle: current[0]} if current else {}
    positions = [i.position for i in current[3]] if current else []
    parsed, findings = read_moderation(raw, store.workspace_id(), samples, positions,
                                       today or date.today())
    if parsed is None or current is None:
        return ModerationIngest(path, REFUSED, cycle, findings=findings)
    by_position = {i.position: i for i in current[3]}
    stored = store.current_outcomes(parsed.sample_id)
    content = parsed.content_hash
    if stored and all(h == content for _, h in stored.values()) and len(stored) == len(
        by_position
    ):
        return ModerationIngest(path, UNCHANGED, cycle, len(by_position))
    changed = [n for n, o in parsed.outcomes.items()
               if by_position[n].item_id in stored
               and stored[by_position[n].item_id][0] != o]
    if changed and not replace:
        refs = ", ".join(by_position[n].audit.reference for n in changed[:5])
        return ModerationIngest(path, REFUSED, cycle, findings=[Finding(
            path.name, "Moderation", "(whole workbook)",
            f"outcomes already recorded for {refs} differ from this workbook; to replace them"
            " (the earlier ones are kept as history) use --replace",
        )])
    store.save_outcomes(
        [(by_position[n].item_id, o) for n, o in sorted(parsed.outcomes.items())],
        path.name, content,
    )
    grades_changed = sum(1 for n, o in parsed.outcomes.items()
                         if o.moderated_grade != by_position[n].audit.grade)
    return ModerationIngest(path, REPLACED if stored else ACCEPTED, cycle, len(by_position),
                            grades_changed)


def stats(store: Store, cycle: str | None) -> dict[str, Any]:
    if cycle is not None:
        store.require_cycle(cycle)
    pairs = store.moderated_pairs(cycle)
    result = agreement([(RANK[p["auditor_grade"]], RANK[p["moderated_grade"]]) for p in pairs])
    shown: dict[str, str] = {}  # one display name per auditor, however it was typed
    for p in pairs:
        shown.setdefault(auditor_key(p["auditor"] or ""), p["auditor"] or "(unnamed)")
    lenient = leniency([(shown[auditor_key(p["auditor"] or "")], RANK[p["auditor_grade"]],
                         RANK[p["moderated_grade"]]) for p in pairs])
    yes = {k: sum(1 for p in pairs if p[k] == "Yes")
           for k in ("constructive", "names_strengths", "names_learning")}
    return {
        "cycle": cycle or "all cycles",
        "moderated": result.n,
        "grades_changed": sum(1 for p in pairs if p["auditor_grade"] != p["moderated_grade"]),
        "exact_agreement": result.exact,
        "within_one_grade": result.within_one,
        "weighted_kappa": result.kappa,
        "weighted_kappa_95ci": [result.kappa_ci.low, result.kappa_ci.high]
        if result.kappa_ci else None,
        "gwet_ac2": result.ac2,
        "table": {"rows": "auditor's grade", "columns": "moderated grade",
                  "grades": [g.label for g in GRADES], "counts": result.table},
        "feedback": yes,
        "leniency": [entry.__dict__ for entry in lenient],
    }


def learning_markdown(store: Store, cycle: str | None, anonymise: bool) -> str:
    """Moderation learning per auditor and per theme; anonymised for audit workshops."""
    if cycle is not None:
        store.require_cycle(cycle)
    pairs = [p for p in store.moderated_pairs(cycle) if p["learning"] or p["comments"]]
    scrub = scrubber(store.known_identifiers()) if anonymise else (lambda t: t)
    aliases: dict[str, str] = {}

    shown: dict[str, str] = {}

    def who(name: str) -> str:
        key = auditor_key(name)
        if not anonymise:
            return shown.setdefault(key, name or "(unnamed auditor)")
        aliases.setdefault(key, f"Auditor {_letters(len(aliases))}")
        return aliases[key]

    title = "Moderation learning" + (f": {cycle}" if cycle else ": all cycles")
    lines = [f"# {title}", ""]
    lines.append("*Anonymised for audit workshops: no person, practitioner or auditor is"
                  " named; references and identifiers are removed.*" if anonymise else
                  "*Internal: for the Service Manager for Practice Quality and the Principal"
                  " Social Worker. Identifies auditors.*")
    lines += ["", "## By theme", ""]
    themes: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        themes.setdefault(p["theme"] or "No theme given", []).append(p)
    for theme, items in sorted(themes.items()):
        lines.append(f"### {_md(theme)}")
        for p in items:
            ref = "" if anonymise else f"{p['reference']}: "
            text = scrub(" ".join(t for t in (p["learning"], p["comments"]) if t))
            lines.append(f"- {_md(ref + text)}")
        lines.append("")
    lines += ["## By auditor", ""]
    by_auditor: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        by_auditor.setdefault(who(p["auditor"]), []).append(p)
    for name, items in sorted(by_auditor.items()):
        lines.append(f"### {_md(name)}")
        for p in items:
            change = (f"{LABEL[p['auditor_grade']]} → {LABEL[p['moderated_grade']]}"
                      if p["auditor_grade"] != p["moderated_grade"] else "grade agreed")
            text = scrub(p["learning"] or p["comments"])
            lines.append(f"- ({change}) {_md(text)}")
        lines.append("")
    return "\n".join(lines)


def _letters(n: int) -> str:
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _md(text: str) -> str:
    """Markdown-safe text: no HTML, no table or emphasis surprises."""
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", text.replace("\n", " "))
