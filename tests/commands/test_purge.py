"""`qaudit purge`: retention. A year's record (three regular cycles, a deep dive, a
workshop, a round of re-audits) in which the cycles that ended before August lose their
personal data, on the record and on disk, for good (nothing left links a purged audit to
anyone, not even with the workspace's key and a case export), while every published
report, the year's figures, the moderation agreement and the re-audit figures stay as
they were."""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fill_forms
import fill_workshop
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    Result,
    copy_workspace,
    edit_settings,
    init_workspace,
    qaudit_ok,
    raw_database,
    record_bytes,
    record_state,
)
from qaudit import commands
from qaudit.commands import common, people
from qaudit.commands import purge as purge_command
from qaudit.errors import CycleError, QauditError
from qaudit.jobs.purge import KEPT_DETAIL, Redactor
from qaudit.jobs.purged import (
    check_not_purged,
    check_recheck,
    check_workshop_not_purged,
    purged_cycle_of,
    purged_history,
)
from qaudit.workspace import Workspace, open_workspace

C1, C2, C3 = "2026-27 C1", "2026-27 C2", "2026-27 C3"
WINDOWS = {C1: ("01/06/2026", "30/06/2026", "31/07/2026"),
           C2: ("01/07/2026", "31/07/2026", "31/08/2026"),
           C3: ("01/08/2026", "31/08/2026", "30/09/2026")}
DEEP_DIVE = "2026-27 DD1"
ROUND = f"{C2} re-audits"  # follows up C1's audit graded Requires improvement
ROUND_WINDOW = ("--from", "21/07/2026", "--to", "30/07/2026", "--due", "31/07/2026")
WORKSHOP = "Q2 2026-27"
TODAY = date(2026, 12, 20)
BEFORE = "01/08/2026"  # C1, C2, the deep dive and the round ended before it; C3 did not
LATER = ("--from", "01/09/2026", "--to", "31/10/2026", "--due", "30/11/2026")
#: Invented practitioners: name, worker id.
WORKERS = [(f"{first} {last}", f"W{n:03d}") for n, (first, last) in enumerate(zip(
    ("Anjali", "Bartholomew", "Cerys", "Desmond", "Efua", "Fintan", "Gwenllian", "Hamish"),
    ("Okonkwo", "Quist", "Llewellyn", "Achterberg", "Mensah-Vale", "Roarty", "Pryce",
     "Drummond"), strict=True), start=501)]
STRENGTH = "{name} listened closely to Mrs Ferris and recorded her wishes in her words."
ESCALATION_NOTE = "Follow-up visit agreed with Ysolde Tregarthen."
PARTICIPANTS = "Ottilie Brannagh, Tobias Wexcombe"


def write_export(path: Path) -> Path:
    """Eight South practitioners in two teams, one case every five days from June to
    October 2026: odd ones Care Act reviews, even ones MCA assessments (invented)."""
    rows = []
    n = 0
    for w, (name, worker) in enumerate(WORKERS, start=1):
        day = date(2026, 6, 1) + timedelta(days=w % 5)
        email = name.lower().replace(" ", ".") + "@example.org"
        while day <= date(2026, 10, 31):
            n += 1
            rows.append([f"R{n:05d}", f"P{n:05d}",
                         "Care Act Review" if w % 2 else "MCA Assessment",
                         f"{day:%d/%m/%Y}", worker, name, email,
                         "Wrenbridge Team" if w <= 4 else "Foxley Team", "Oonagh Delacroix",
                         "oonagh.delacroix@example.org", "South"])
            day += timedelta(days=5)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Workflow Step ID", "Person ID", "Step Type", "Completed Date",
                         "Worker ID", "Worker Name", "Worker Email", "Team", "Service Manager",
                         "Service Manager Email", "Quadrant"])
        writer.writerows(rows)
    return path


def fixed_today(mp: pytest.MonkeyPatch) -> None:
    """Every command asks the clock for the same day."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"qaudit.commands.{info.name}")
        if hasattr(module, "today"):
            mp.setattr(module, "today", lambda: TODAY)


def allocations(root: Path, cycle: str) -> list[dict[str, Any]]:
    with open_workspace(root).store() as store:
        return [{"reference": a.reference, "worker_id": a.worker_id,
                 "worker_name": a.worker_name, "audit_type": a.audit_type,
                 "person_id": a.person_id, "record_id": a.record_id}
                for a in store.draws.allocations(cycle)]


def fill_cycle(root: Path, cycle: str, out: Path,
               special: dict[str, dict[str, Any]] | None = None, ingest: bool = True) -> None:
    """Every audit form of the cycle filled (Good unless ``special`` says), every
    self-reflection too, and (unless not to ``ingest``) all of it ingested."""
    ws = open_workspace(root)
    rng = random.Random(3)
    for form in sorted((ws.cycle_dir(cycle) / "audit-forms").glob("*-audit.xlsx")):
        reference = form.name.removesuffix("-audit.xlsx")
        given = dict((special or {}).get(reference, {}))
        fill_forms.fill_audit(form, out / form.name, rng, grade=given.pop("grade", "Good"),
                              escalate=given.pop("escalate", False),
                              when=date(2026, 11, 20), overrides=given)
    for form in sorted((ws.cycle_dir(cycle) / "self-reflection").glob("*.xlsx")):
        fill_forms.fill_reflection(form, out / form.name, rng)
    if ingest:
        qaudit_ok(root, "ingest", out)


def allocate(root: Path, export: Path, cycle: str) -> None:
    first, last, due = WINDOWS[cycle]
    qaudit_ok(root, "allocate", export, "--cycle", cycle, "--from", first, "--to", last,
              "--due", due, "--seed", "11")


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """C1 with everything a cycle gathers (auditors named, forms back with notes and an
    escalation, a shareable strength naming the practitioner, feedback, drafts sent, a
    moderation session, an RI item followed up and closed, reports published and
    internal); C2 and C3 returned; a deep dive in June; a workshop in July from C1; a
    round of re-audits late in July after C2 following up C1's Requires improvement
    audit, returned improved."""
    base = tmp_path_factory.mktemp("purge")
    root = base / "ws"
    with pytest.MonkeyPatch.context() as mp:
        fixed_today(mp)
        init_workspace(root)
        with edit_settings(root) as settings:
            for quadrant, per_type in settings["quotas"].items():
                for key in per_type:
                    per_type[key] = {"care_act_review": 2, "mca_assessment": 1}.get(
                        key, 0) if quadrant == "South" else 0
            settings["sampling"]["worker_cooldown_cycles"] = 1
        export = write_export(base / "export.csv")
        allocate(root, export, C1)
        c1 = allocations(root, C1)
        reviews = [a for a in c1 if a["audit_type"] == "care_act_review"]
        ri, shared = reviews[0]["reference"], reviews[1]
        other = next(a["reference"] for a in c1 if a["audit_type"] == "mca_assessment")
        fill_forms.fill_managers(open_workspace(root).cycle_dir(C1), base / "managers", 4)
        qaudit_ok(root, "ingest", base / "managers")
        fill_cycle(root, C1, base / "c1", {
            ri: {"grade": "Requires improvement",
                 "ans_V1": "No", "ans_V2": "No", "ans_V3": "No"},
            shared["reference"]: {"share_good_practice": "Yes", "strengths": STRENGTH.format(
                name=shared["worker_name"])},
            other: {"escalate": True, "esc_note": ESCALATION_NOTE}})
        # Feedback follows the return, which is stamped with the real time.
        mp.setattr(people, "today", date.today)
        qaudit_ok(root, "feedback", "record", shared["reference"], "--on",
                  f"{date.today():%d/%m/%Y}", "--note",
                  f"Talked it through with {shared['worker_name']}.")
        fixed_today(mp)
        qaudit_ok(root, "send", "allocations", "--cycle", C1)
        qaudit_ok(root, "ri", "record", ri, "--step", "corrective-action", "--on", "20/07/2026",
                  "--note", "Supervision with Oonagh Delacroix.")
        qaudit_ok(root, "escalations", "close", other, "--outcome",
                  "Ysolde Tregarthen visited; plan revised.")
        for cycle in (C2, C3):
            allocate(root, export, cycle)
            fill_cycle(root, cycle, base / cycle[-2:])
        qaudit_ok(root, "deep-dive", "new", DEEP_DIVE, export, "--terms",
                  write_terms(base / "terms.toml"), "--question-set",
                  "deep_dive_safeguarding_voice", "--n", "2", "--from", "01/06/2026", "--to",
                  "30/06/2026", "--due", "31/07/2026", "--seed", "5")
        fill_cycle(root, DEEP_DIVE, base / "dd")
        qaudit_ok(root, "workshop", "make", WORKSHOP, "--cases", "3", "--participants",
                  PARTICIPANTS, "--from-cycle", C1, "--held", "15/07/2026",
                  "--seed", "1")
        graded = fill_workshop.fill_workshop(root / "workshops" / "Q2-2026-27",
                                             base / "graded", 2)
        qaudit_ok(root, "workshop", "ingest", *graded)
        qaudit_ok(root, "reaudit", "select", export, "--after", C2, "--min-cycles", "1",
                  *ROUND_WINDOW, "--seed", "7")
        fill_cycle(root, ROUND, base / "round", {
            a["reference"]: {"ans_V1": "Yes", "ans_V2": "Yes", "ans_V3": "Yes"}
            for a in allocations(root, ROUND)})
        qaudit_ok(root, "moderate", "select", "--cycle", C1, "--rate", "1", "--seed", "2")
        book = root / "cycles" / "2026-27-C1" / "moderation" / "2026-27-C1-moderation.xlsx"
        fill_forms.fill_moderation(book, base / "moderated.xlsx", random.Random(9))
        qaudit_ok(root, "moderate", "ingest", base / "moderated.xlsx")
        with open_workspace(root).store() as store:
            still_open = [i.reference for i in store.returns.ri_items(C1)
                          if i.status == "open"]
        for reference in still_open:
            qaudit_ok(root, "ri", "close", reference, "--force", "--reason",
                      "Re-audit drawn; Oonagh Delacroix informed.")
        for cycle in (C1, C2):
            qaudit_ok(root, "report", "--cycle", cycle)
            qaudit_ok(root, "report", "--cycle", cycle, "--internal")
        qaudit_ok(root, "report", "--deep-dive", DEEP_DIVE, "--internal")
        qaudit_ok(root, "report", "--kind", "year", "--year", "2026-27", "--internal")
    yield root


def write_terms(path: Path) -> Path:
    path.write_text(
        'title = "Recording the person\'s voice"\n'
        'purpose = "The Wrenbridge Team asked for a closer look."\n'
        'understand = "Whether the person\'s wishes are recorded."\n'
        'method = "A random sample of June\'s work."\n'
        'directed_by = "PGB, chaired by Councillor Amberley Frost"\n', encoding="utf-8")
    return path


def copied(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A test's own copy of a module's workspace, on the module's day."""
    copy_workspace(root, tmp_path / "ws")
    fixed_today(monkeypatch)
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def ws(year: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return copied(year, tmp_path, monkeypatch)


def qaudit(run: Callable[..., Result], ws: Workspace, *args: Any) -> Result:
    return run("-w", ws.root, *map(str, args))


def tree(ws: Workspace) -> dict[str, bytes]:
    """Every file of the workspace and its bytes (the database too)."""
    return {str(p.relative_to(ws.root)): p.read_bytes()
            for p in sorted(ws.root.rglob("*")) if p.is_file()}


# --- the dry run ---------------------------------------------------------------------------


def test_dry_run_lists_each_cycle_and_changes_nothing(run: Callable[..., Result],
                                                      ws: Workspace) -> None:
    before = tree(ws)
    shown = qaudit(run, ws, "purge", "--before", BEFORE, "--dry-run")
    assert shown.code == 0, shown.stderr
    assert "Would purge the personal data of what ended before 01/08/2026" in shown.stdout
    for name in (C1, C2, DEEP_DIVE, ROUND, WORKSHOP):
        assert name in shown.stdout
    assert C3 not in shown.stdout
    assert "Nothing was changed" in shown.stdout
    data = json.loads(qaudit(run, ws, "purge", "--before", BEFORE, "--dry-run", "--json").stdout)
    by_name = {p["name"]: p for p in data["purged"]}
    assert set(by_name) == {C1, C2, DEEP_DIVE, ROUND, WORKSHOP}
    c1 = by_name[C1]
    assert c1["kind"] == "regular cycle" and c1["rows"]["allocations"] == 3
    assert c1["rows"]["returned forms"] == 6 and c1["rows"]["escalations"] == 1
    assert c1["rows"]["moderation outcomes"] == 3 and c1["rows"]["messages"] >= 1
    assert c1["files"] > 8 and c1["bytes"] > 0
    assert by_name[WORKSHOP]["rows"]["participants"] == 2
    assert tree(ws) == before  # the database's bytes and every file, unchanged


# --- the purge -----------------------------------------------------------------------------


def published(ws: Workspace, folder: Path) -> dict[str, bytes]:
    """Every published report of the purged cycles, the deep dive's and the year's,
    rendered on one day."""
    from qaudit.jobs.deepdive import render_report
    from qaudit.jobs.report import render_all, render_year
    from qaudit.reports import ReportKind

    with ws.store() as store:
        for cycle in (C1, C2):
            render_all(ws, store, cycle, ReportKind.ALL.kinds(), folder / cycle[-2:],
                       {"md", "html"}, internal=False, message="", today=TODAY)
        render_report(ws, store, DEEP_DIVE, folder / "dd", {"md", "html"}, internal=False,
                      today=TODAY)
        render_year(ws, store, "2026-27", folder / "year", {"md", "html"}, internal=False,
                    today=TODAY)
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def figures(run: Callable[..., Result], ws: Workspace) -> dict[str, Any]:
    """The year to date, the moderation agreement and the re-audits' figures (each
    auditor's and each pair's figures, without the names and references the purge turns
    into tokens and pseudonyms)."""
    stats = json.loads(qaudit(run, ws, "reaudit", "stats", "--json").stdout)
    for pair in stats["pairs"]:
        pair.pop("first_reference"), pair.pop("reference")
    moderation = json.loads(qaudit(run, ws, "moderate", "stats", "--all", "--json").stdout)
    moderation["leniency"] = sorted((e["n"], e["mean_difference"])
                                    for e in moderation["leniency"])
    return {"year": json.loads(qaudit(run, ws, "status", "--year", "2026-27", "--json").stdout),
            "moderation": moderation,
            "reaudits": stats,
            "cycles": json.loads(qaudit(run, ws, "cycle", "list", "--json").stdout)}


def personal(ws: Workspace) -> list[str]:
    """What the record holds of the people of C1, C2, the deep dive and the round alone
    (not also of C3, which keeps theirs): ids, names, email addresses, and what was
    written about them."""
    def values(cycles: tuple[str, ...]) -> set[str]:
        with ws.store() as store:
            return {v for c in cycles for a in store.draws.allocations(c)
                    for v in (a.reference, a.person_id, a.record_id, a.worker_id,
                              a.worker_name, a.worker_email, a.follows_up) if v}

    return [*sorted(values((C1, C2, DEEP_DIVE, ROUND)) - values((C3,))),
            "Ysolde", "Amberley", "Ottilie Brannagh", "Supervision with", "Talked it through",
            "Mrs Ferris", "recorded her wishes in her words"]


def test_purge_keeps_every_figure_and_removes_every_person(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    reports_before = published(ws, tmp_path / "before")
    figures_before = figures(run, ws)
    secrets = personal(ws)
    db = record_bytes(ws)
    assert [s for s in secrets if s.encode() not in db] == []

    done = qaudit(run, ws, "purge", "--before", BEFORE, "--yes")
    assert done.code == 0, done.stderr
    assert "Purged the personal data of what ended before 01/08/2026" in done.stdout

    # Every figure, and every published report byte for byte but the highlights: their
    # quotes (shareable strengths) are gone with every other free text.
    reports_after = published(ws, tmp_path / "after")
    highlights = {name for name in reports_before if "-highlights." in name}
    assert {"C1/2026-27-C1-highlights.md", "C2/2026-27-C2-highlights.html"} <= highlights
    assert ({k: v for k, v in reports_after.items() if k not in highlights}
            == {k: v for k, v in reports_before.items() if k not in highlights})
    quote = b"recorded her wishes in her words"
    assert quote in reports_before["C1/2026-27-C1-highlights.md"]
    assert not any(quote in reports_after[name] for name in highlights)
    assert figures(run, ws) == figures_before
    assert figures_before["reaudits"]["pairs"]  # the round's pair, purged with its audit
    # Nothing of the people is left, in any row or in the file's free pages.
    db = record_bytes(ws)
    assert [s for s in secrets if s and s.encode() in db] == []
    # The files that held them are gone; the published reports stay.
    c1 = ws.cycle_dir(C1)
    assert not (c1 / "register.xlsx").exists() and not (c1 / "audit-forms").exists()
    assert not (c1 / "outbox").exists() and not (c1 / "moderation").exists()
    kept = sorted(p.name for p in (c1 / "reports").iterdir())
    assert kept and all("-internal" not in name for name in kept)
    assert "2026-27-C1-summary.md" in kept
    assert not list((ws.root / "reports").glob("*-internal*"))
    assert not (ws.root / "workshops" / "Q2-2026-27").exists()
    assert (ws.cycle_dir(C3) / "register.xlsx").exists()  # not before the date
    # The history says who purged what and when, and holds no person (nor a seed).
    log = json.loads(qaudit(run, ws, "log", "--cycle", C1, "--json").stdout)
    (entry,) = [e for e in log if e["kind"] == "purged"]
    assert entry["detail"]["before"] == "2026-08-01" and entry["detail"]["allocations"] == 3
    assert entry["detail"]["files"] > 0
    text = json.dumps(log)
    assert [s for s in secrets if s and s in text] == []
    assert all(e["detail"].get("seed") is None for e in log)


def case_export_pseudonyms(ws: Workspace, export: Path) -> set[str]:
    """Everything a person holding the workspace (its key too) and a case export can make
    of the export's ids and names: each as it is, its keyed pseudonym as the anonymised
    export makes it, and its name's '#' pseudonym as an earlier purge made it."""
    from qaudit.privacy import pseudonymiser
    from qaudit.values import person_key

    key = ws.pseudonym_key()
    made: set[str] = set()
    with export.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            for kind, column in (("REC", "Workflow Step ID"), ("PER", "Person ID"),
                                 ("WKR", "Worker ID")):
                made |= {row[column], pseudonymiser(key)(kind, row[column]),
                         pseudonymiser(key, 12)(kind, row[column])}
            for kind in ("SM", "AUD", "MGR"):
                for name in (row["Worker Name"], row["Service Manager"]):
                    for digits in (10, 12):
                        digest = pseudonymiser(key, digits)(kind, person_key(name))
                        number = int(digest.rsplit("-", 1)[-1], 16) % 10**digits
                        made.add(f"#{number:0{digits}d}")
    return made


def test_a_purged_audit_cannot_be_matched_to_anyone_even_with_the_key_and_a_case_export(
        run: Callable[..., Result], year: Path, ws: Workspace) -> None:
    from qaudit.privacy import is_token

    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    made = case_export_pseudonyms(ws, year.parent / "export.csv")
    with ws.store() as store:
        purged = [a for c in (C1, C2, DEEP_DIVE, ROUND) for a in store.draws.allocations(c)]
        live = store.draws.allocations(C3)
        auditors = {n for (n,) in store.conn.execute(
            "SELECT s.auditor_name FROM auditor_assignments s JOIN allocations a"
            " ON a.id = s.allocation_id JOIN draws d ON d.id = a.draw_id"
            " WHERE d.cycle_id IN (SELECT cycle_id FROM purged_cycles)")}
    assert len(purged) == 9 and live and auditors
    for a in purged:
        ids = {"REC": a.record_id, "PER": a.person_id, "WKR": a.worker_id}
        assert all(is_token(value, kind) for kind, value in ids.items()), a
        assert is_token(a.service_manager, "SM") and a.worker_name == ""
        assert not ({*ids.values(), a.service_manager} & made), a
    assert all(is_token(n, "AUD") for n in auditors) and not auditors & made
    # The live cycle's own ids are untouched, and match the export as they should.
    assert {a.worker_id for a in live} <= made


def test_a_round_purged_with_the_audit_it_follows_up_keeps_its_pair(
        run: Callable[..., Result], ws: Workspace) -> None:
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    stats = json.loads(qaudit(run, ws, "reaudit", "stats", "--json").stdout)
    assert (stats["drawn"], stats["returned"]) == (1, 1)
    (pair,) = stats["pairs"]
    assert pair["first_reference"].startswith("REF-") and pair["change"] == "improved"


def test_commands_that_need_the_people_say_the_cycle_was_purged(
        run: Callable[..., Result], ws: Workspace) -> None:
    c1 = allocations(ws.root, C1)
    with ws.store() as store:
        workshop = store.workshops.require(WORKSHOP).id
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    with ws.store() as store:
        with pytest.raises(CycleError, match="cycle '2026-27 C1' was purged on"):
            check_not_purged(store, "2026-27 c1", "send its forms")
        check_not_purged(store, C3, "send its forms")
        assert purged_cycle_of(store, c1[0]["reference"]) == C1
        assert purged_cycle_of(store, f" {c1[0]['reference'].lower()} ") == C1
        assert purged_cycle_of(store, "2026-27-C3-001") is None
        # The whole reference has the shape <cycle>-<number>: the round after C2 is not C2.
        assert purged_cycle_of(store, "2026-27-C2-re-audits-001") == ROUND
        for other in ("2026-27-C1-re-audits-001", "2026-27-C1-001a", "2026-27-C1-",
                      "2026-27-C1-deep-dive-002"):
            assert purged_cycle_of(store, other) is None, other
        with pytest.raises(QauditError, match="the workshop 'Q2 2026-27' was purged"):
            check_workshop_not_purged(store, workshop, "take in grades")
        history = purged_history(ws, store)
    with raw_database(ws) as conn:
        left = conn.execute("SELECT count(*) FROM allocations WHERE record_id = ?"
                            " OR person_id = ?", (c1[0]["record_id"], c1[0]["person_id"]))
        assert left.fetchone()[0] == 0  # the raw ids are gone from the record
    # ... yet a later draw can still tell the case was audited (through the pseudonym).
    assert history.audited(c1[0]["person_id"], "R99999")
    assert history.audited("P99999", c1[0]["record_id"])
    assert not history.audited("P99999", "R99999")


# --- refused, and nothing changed ----------------------------------------------------------


def reopen(ws: Workspace, run: Callable[..., Result], what: str) -> None:
    """Something of C1 open again: an RI item, an escalation, a moderation outcome."""
    with ws.store() as store:
        ri = next(i.reference for i in store.returns.ri_items(C1))
    if what == "ri":
        assert qaudit(run, ws, "ri", "reopen", ri, "--reason", "Action not taken").code == 0
    with raw_database(ws) as conn:
        if what == "escalation":
            conn.execute("UPDATE escalations SET closed_at = NULL")
        if what == "moderation":
            conn.execute("DELETE FROM moderation_outcomes WHERE id ="
                         " (SELECT min(id) FROM moderation_outcomes)")


@pytest.mark.parametrize(("what", "before", "day", "said"), [
    ("ri", BEFORE, TODAY, "2026-27 C1 (regular cycle): 1 open RI item(s)"),
    ("escalation", BEFORE, TODAY, "2026-27 C1 (regular cycle): 1 open escalation(s)"),
    ("moderation", BEFORE, TODAY,
     "2026-27 C1 (regular cycle): 1 audit(s) in its moderation sample with no outcome yet"),
    ("", "01/09/2026", TODAY, "2026-27 C3 (regular cycle): it is one of the 1 latest regular"),
    ("", "01/09/2026", date(2026, 9, 15),
     "2026-27 C3 (regular cycle): its returns are due by 30/09/2026"),
    # A round not purged with the cycle whose audit it follows up: it would follow up an
    # audit no longer on record, and its worker would say whose audit that was.
    ("", "01/07/2026", TODAY,
     "2026-27 C1 (regular cycle): its audits are followed up by the re-audit round"
     " 2026-27 C2 re-audits, which is not purged with it; purge the round with it"
     " (--before a date after 30/07/2026), or wait"),
    # A draw still running whose re-check reads the cycle's workers (its cool-down).
    ("", "01/07/2026", date(2026, 8, 20),
     "2026-27 C1 (regular cycle): a re-check of the draw of 2026-27 C2, still running"
     " (returns due by 31/08/2026), would change: its cool-down read this cycle's workers"
     " (sampling.worker_cooldown_cycles); purge it after 31/08/2026"),
    # ... or was drawn before the cycle: a re-check would now leave its persons out.
    ("", "01/07/2026", date(2026, 9, 15),
     "2026-27 DD1 (deep dive): a re-check of the draw of 2026-27 C3, still running (returns"
     " due by 30/09/2026), would change: it was drawn before this cycle, whose persons and"
     " records it would now leave out; purge it after 30/09/2026"),
])
def test_a_cycle_with_something_open_is_refused_and_nothing_changes(
        run: Callable[..., Result], ws: Workspace, monkeypatch: pytest.MonkeyPatch,
        what: str, before: str, day: date, said: str) -> None:
    reopen(ws, run, what)
    monkeypatch.setattr(purge_command, "today", lambda: day)
    unchanged = tree(ws)
    for dry in (("--yes",), ("--dry-run",)):
        refused = qaudit(run, ws, "purge", "--before", before, *dry)
        assert refused.code == 1 and refused.stderr.startswith("Error: nothing was purged")
        assert said in " ".join(refused.stderr.split())
    assert tree(ws) == unchanged


@pytest.mark.parametrize(("before", "said"), [
    ("20/12/2026", "is not before today"), ("01/01/2031", "is not before today"),
    ("31/13/2026", "is not a date"), ("soon", "is not a date"), ("=1+1", "is not a date"),
])
def test_a_date_that_is_not_past_is_refused(run: Callable[..., Result], ws: Workspace,
                                            before: str, said: str) -> None:
    unchanged = tree(ws)
    refused = qaudit(run, ws, "purge", "--before", before)
    assert refused.code == 1 and refused.stderr.startswith("Error:")
    assert said in refused.stderr
    assert tree(ws) == unchanged


def test_a_failure_midway_leaves_the_record_whole(
        run: Callable[..., Result], ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from qaudit.db import purge as purge_db

    unchanged = tree(ws)

    def fail(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(purge_db, "selection_changes", fail)
    failed = qaudit(run, ws, "purge", "--before", BEFORE, "--yes")
    assert failed.code == 1 and "No space left on device" in failed.stderr
    # No row changed, no file removed (the workspace's pseudonym key, made on first use,
    # is kept: it is the one every later purge and anonymised export uses).
    assert {k: v for k, v in tree(ws).items()
            if k != "pseudonym.key" and not k.startswith("backups/")} == unchanged


# --- again ---------------------------------------------------------------------------------


def test_purging_again_does_nothing_but_remove_what_was_left(
        run: Callable[..., Result], ws: Workspace) -> None:
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    record = record_state(ws)
    again = qaudit(run, ws, "purge", "--before", BEFORE, "--yes")
    assert again.code == 0
    assert "Nothing to purge before 01/08/2026. Purged already: 2026-27 C1" in again.stdout
    assert record_state(ws) == record
    said = json.loads(qaudit(run, ws, "purge", "--before", BEFORE, "--yes", "--json").stdout)
    assert said["purged"] == said["purged_again"] == [] and said["leftover_files"] == 0
    assert said["already_purged"] == [C1, DEEP_DIVE, ROUND, C2, WORKSHOP]
    # A file left behind (open at the time, or an internal report made since) goes next run.
    stray = ws.cycle_dir(C1) / "reports" / "2026-27-C1-summary-internal.md"
    stray.write_text("internal")
    dry = qaudit(run, ws, "purge", "--before", BEFORE, "--dry-run")
    assert "Would remove 1 file(s)" in dry.stdout and stray.exists()
    swept = qaudit(run, ws, "purge", "--before", BEFORE, "--yes")
    assert "Removed 1 file(s) (8 bytes)" in swept.stdout and not stray.exists()


def written_since(ws: Workspace) -> None:
    """Personal data written into purged C1 after its purge, the way no command may any
    more: a note, a name, an id, an auditor, a history entry."""
    with raw_database(ws) as conn:
        allocation, = conn.execute(
            "SELECT a.id FROM allocations a JOIN draws d ON d.id = a.draw_id JOIN cycles c"
            " ON c.id = d.cycle_id WHERE c.name = ? ORDER BY a.id LIMIT 1", (C1,)).fetchone()
        conn.execute("UPDATE allocations SET worker_id = 'W999', worker_name = ?"
                     " WHERE id = ?", ("Zebedee Marchbank", allocation))
        conn.execute("INSERT INTO feedback (allocation_id, held_on, note, recorded_at, actor)"
                     " VALUES (?, '2026-12-19', ?, '2026-12-19T10:00:00+00:00', 'qa')",
                     (allocation, "Talked with Philomena Haverstock-Quayle."))
        conn.execute("UPDATE auditor_assignments SET auditor_name = 'Ignatius Fairweather'"
                     " WHERE allocation_id = ?", (allocation,))
        conn.execute("INSERT INTO events (at, cycle_id, kind, detail_json, actor)"
                     " SELECT '2026-12-19T10:00:00+00:00', id, 'feedback', ?, 'qa'"
                     " FROM cycles WHERE name = ?",
                     (json.dumps({"note": "Mrs Haverstock-Quayle was upset."}), C1))


def test_purging_again_takes_out_what_was_written_into_a_purged_cycle_since(
        run: Callable[..., Result], ws: Workspace) -> None:
    from qaudit.privacy import is_token

    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    written_since(ws)
    unchanged = tree(ws)
    dry = qaudit(run, ws, "purge", "--before", "01/05/2026", "--dry-run")
    assert dry.code == 0 and tree(ws) == unchanged
    shown = " ".join(dry.stdout.split())
    assert "Would take out the personal data written since into what was purged before" in shown
    assert "2026-27 C1" in shown and "2026-27 C2" not in shown
    assert ("1 allocations, 1 auditors named, 1 feedback conversations, 1 history entries"
            in shown)
    done = qaudit(run, ws, "purge", "--before", "01/05/2026", "--yes", "--json")
    assert done.code == 0, done.stderr
    (again,) = json.loads(done.stdout)["purged_again"]
    assert again["name"] == C1 and again["rows"]["feedback conversations"] == 1
    db = record_bytes(ws)
    for gone in (b"Marchbank", b"Haverstock", b"Fairweather", b"W999"):
        assert gone not in db, gone
    with ws.store() as store:
        assert all(is_token(a.worker_id, "WKR") for a in store.draws.allocations(C1))
    log = json.loads(qaudit(run, ws, "log", "--cycle", C1, "--json").stdout)
    (entry,) = [e for e in log if e["kind"] == "purged_again"]
    assert entry["detail"]["feedback conversations"] == 1
    # Once taken out, there is nothing to take out again: the file is left as it is.
    record = record_state(ws)
    assert "Nothing to purge" in qaudit(run, ws, "purge", "--before", BEFORE, "--yes").stdout
    assert record_state(ws) == record


def test_a_purge_another_run_overtook_stores_nothing(run: Callable[..., Result],
                                                      ws: Workspace) -> None:
    from qaudit.db.purge import Purges

    with ws.store() as store:
        c1 = store.draws.require_cycle(C1)
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    record = record_state(ws)
    with ws.store() as store, pytest.raises(CycleError, match="purged some of these meanwhile"):
        Purges(store).purge([c1], [], before=date(2026, 8, 1), today=TODAY, cooldown=1,
                            redaction=Redactor(pseudonym, pseudonym), logged={})
    assert record_state(ws) == record


# --- the rules, on any input ---------------------------------------------------------------

TEXT = st.text(max_size=30)


def pseudonym(kind: str, value: str) -> str:
    return f"{kind}-00000000ff" if value else ""


def token(kind: str, value: str) -> str:
    return f"{kind}-0000000000ff" if value else ""


PROPERTIES = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@given(st.dictionaries(st.sampled_from(["grade", "rationale", "strengths", "auditor_name",
                                        "share_good_practice", "esc_note", "ri_by",
                                        "sr_went_well", "unknown_field", "auditor_date"]),
                       st.one_of(TEXT, st.none()), max_size=10))
@PROPERTIES
def test_a_purged_form_keeps_only_choices_dates_and_tokens(fields: dict[str, Any]) -> None:
    kept = Redactor(pseudonym, pseudonym, lambda text: "published").fields(fields)
    assert set(kept) == set(fields)
    for key, value in kept.items():
        if key in {"grade", "share_good_practice", "auditor_date"}:
            assert value == fields[key]
        elif key in {"auditor_name", "ri_by"} and (fields[key] or "").strip():
            assert value == "#000000000255"  # a name's token: no letters
        else:  # a shareable strength too: a name the scrubber does not know could be in it
            assert value in ("", None)


@given(st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.booleans(), st.none(),
                                       st.lists(TEXT, max_size=3)), max_size=8))
@PROPERTIES
def test_a_purged_history_entry_keeps_no_free_text_nor_seed(detail: dict[str, Any]) -> None:
    kept = Redactor(pseudonym, pseudonym).detail({**detail, "seed": 11}, lambda ref: "REF-x")
    assert set(kept) == {*detail, "seed"} and kept["seed"] is None
    for key, value in kept.items():
        if isinstance(detail.get(key), str) and key not in KEPT_DETAIL | {"seed"}:
            assert value == ""
        if key == "cases" and isinstance(detail[key], list):
            assert value == ["REF-x"] * len(detail[key])


def test_a_rounds_record_of_a_purged_cycles_audits_is_pseudonymised() -> None:
    audit = {"reference": "2026-27-C1-001", "cycle": C1, "worker_id": "W501",
             "team": "Wrenbridge Team", "completed_date": "2026-06-17", "grade": "x",
             "followed_up_by": ""}
    live = {**audit, "cycle": C3, "reference": "2026-27-C3-002"}
    selection = {"after": C3, "due": [audit, live],
                 "not_due": [{"audit": audit, "reason": "2026-27-C1-001 waits"}]}
    kept = Redactor(token, pseudonym).selection(selection, False, frozenset({C1}))
    assert kept["due"][0]["reference"] == "REF-00000000ff"  # the workspace's pseudonym
    assert kept["due"][0]["worker_id"] == "WKR-0000000000ff"  # the run's token
    assert kept["due"][0]["completed_date"] == "2026-06-01"
    assert kept["due"][1] == live
    assert kept["not_due"] == [{"audit": kept["due"][0], "reason": ""}]
    answered = Redactor(token, pseudonym).selection({"answered": {"V4:No": ["W501"]}}, True,
                                                    frozenset())
    assert answered == {"answered": {"V4:No": ["WKR-0000000000ff"]}}


# --- every command knows a purged cycle ----------------------------------------------------


@pytest.fixture(scope="module")
def purged_year(year: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The year purged before August: C1, C2, the deep dive, the round and the
    workshop."""
    root = tmp_path_factory.mktemp("purged") / "ws"
    copy_workspace(year, root)
    with pytest.MonkeyPatch.context() as mp:
        fixed_today(mp)
        qaudit_ok(root, "purge", "--before", BEFORE, "--yes")
    return root


@pytest.fixture
def purged(purged_year: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return copied(purged_year, tmp_path, monkeypatch)


def refused(run: Callable[..., Result], ws: Workspace, *args: Any) -> str:
    """A command refused: exit 1, one message, nothing changed; the message, on one line."""
    unchanged = tree(ws)
    result = qaudit(run, ws, *args)
    assert result.code == 1 and result.stderr.startswith("Error:"), result
    assert "Traceback" not in result.stderr
    assert tree(ws) == unchanged
    return " ".join(result.stderr.split())


@pytest.mark.parametrize("kind", ["allocations", "forms", "reminders", "feedback", "reports"])
def test_nothing_is_sent_for_a_purged_cycle(run: Callable[..., Result], purged: Workspace,
                                            kind: str) -> None:
    said = refused(run, purged, "send", kind, "--cycle", C1)
    assert f"cannot send its {kind}: cycle '2026-27 C1' was purged on" in said
    assert "(retention, `qaudit purge --before 01/08/2026`)" in said


def test_forms_of_a_purged_cycle_are_refused_as_purged_and_nothing_stored(
        run: Callable[..., Result], year: Path, purged: Workspace) -> None:
    c1 = sorted((year.parent / "c1").glob("*-audit.xlsx"))
    (manager,) = sorted((year.parent / "managers").glob("*.xlsx"))
    unchanged = tree(purged)
    result = qaudit(run, purged, "ingest", c1[0], manager, "--json")
    assert result.code == 1
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert tree(purged) == unchanged
    form, book = files[c1[0].name], files[manager.name]
    assert form["status"] == book["status"] == "refused"
    assert [f["code"] for f in form["findings"]] == ["purged-cycle"]
    reference = c1[0].name.removesuffix("-audit.xlsx")
    assert form["findings"][0]["message"] == (
        f"{reference} belongs to cycle '2026-27 C1', purged (retention); its forms can no"
        " longer be taken in")
    assert [f["code"] for f in book["findings"]] == ["purged-cycle"]
    assert "this Service Manager workbook belongs to cycle '2026-27 C1', purged" in (
        book["findings"][0]["message"])
    shown = qaudit(run, purged, "ingest", c1[0])
    assert shown.code == 1 and "purged (retention)" in " ".join(shown.stdout.split())


def test_a_purged_cycle_is_not_moderated(run: Callable[..., Result], year: Path,
                                         purged: Workspace) -> None:
    said = refused(run, purged, "moderate", "select", "--cycle", C1, "--rate", "1")
    assert "cannot draw its moderation sample: cycle '2026-27 C1' was purged" in said
    unchanged = tree(purged)
    taken = qaudit(run, purged, "moderate", "ingest", year.parent / "moderated.xlsx", "--json")
    assert taken.code == 1 and tree(purged) == unchanged
    outcome = json.loads(taken.stdout)
    assert outcome["status"] == "refused" and outcome["cycle"] == C1
    (finding,) = outcome["findings"]
    assert finding["code"] == "purged-cycle"
    assert "cannot take in this moderation workbook: cycle '2026-27 C1' was purged" in (
        finding["message"])


def test_no_reaudit_is_drawn_after_or_for_a_purged_cycle(
        run: Callable[..., Result], year: Path, purged: Workspace) -> None:
    export = year.parent / "export.csv"
    said = refused(run, purged, "reaudit", "select", export, "--after", C1, *LATER, "--seed",
                   "7")
    assert "cannot draw re-audits after it: cycle '2026-27 C1' was purged" in said
    # C1's audit graded Requires improvement was followed up by the round purged with it.
    listed = json.loads(qaudit(run, purged, "reaudit", "list", "--after", C3, "--json").stdout)
    (audit,) = [a for a in listed if a["cycle"] == C1]
    assert audit["reference"].startswith("REF-")
    assert re.fullmatch(r"REF-[0-9a-f]{10}, graded Good", audit["detail"]), audit
    assert audit["state"] == "returned"
    said = refused(run, purged, "reaudit", "select", export, "--after", C3, "--cycle",
                   "2026-27 R2", *LATER, "--seed", "7")
    assert "no audit is due a re-audit after '2026-27 C3' (1 already followed up)" in said


def test_a_purged_workshop_takes_no_grades_and_a_new_one_no_purged_case(
        run: Callable[..., Result], year: Path, purged: Workspace) -> None:
    unchanged = tree(purged)
    taken = qaudit(run, purged, "workshop", "ingest", year.parent / "graded", "--json")
    assert taken.code == 1 and tree(purged) == unchanged
    files = json.loads(taken.stdout)
    assert files and all(f["status"] == "refused" for f in files)
    assert {f["code"] for f in files for f in f["findings"]} == {"purged-workshop"}
    assert "cannot take in its grades: the workshop 'Q2 2026-27' was purged" in (
        files[0]["findings"][0]["message"])
    said = refused(run, purged, "workshop", "make", "Q3 2026-27", "--cases", "2",
                   "--participants", "2", "--from-cycle", C1, "--held", "15/12/2026")
    assert "cannot make a workshop of its audits: cycle '2026-27 C1' was purged" in said
    # The record holds 11 returned audits; only C3's 3 were not purged.
    said = refused(run, purged, "workshop", "make", "Q3 2026-27", "--cases", "4",
                   "--participants", "2", "--held", "15/12/2026")
    assert "the record holds 3 returned audit(s), fewer than the 4 cases" in said
    made = qaudit(run, purged, "workshop", "make", "Q3 2026-27", "--cases", "3",
                  "--participants", "2", "--held", "15/12/2026", "--seed", "1", "--json")
    assert made.code == 0, made.stderr
    cases = json.loads(made.stdout)["cases"]
    assert len(cases) == 3 and all(c["reference"].startswith("2026-27-C3-") for c in cases)


def drawn(run: Callable[..., Result], ws: Workspace, export: Path) -> dict[str, Any]:
    """A dry run of a cycle from June to October: what it would draw, and leave out."""
    result = qaudit(run, ws, "allocate", export, "--cycle", "2026-27 C9", "--from",
                    "01/06/2026", "--to", "31/10/2026", "--due", "31/12/2026", "--seed", "3",
                    "--dry-run", "--json")
    assert result.code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_a_record_audited_in_a_purged_cycle_is_not_drawn_again(
        run: Callable[..., Result], year: Path, ws: Workspace) -> None:
    from qaudit.sampling import PERSON_AUDITED, RECORD_AUDITED

    export = year.parent / "export.csv"
    c1 = {a["record_id"] for a in allocations(ws.root, C1)}
    before = drawn(run, ws, export)
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    after = drawn(run, ws, export)
    # Every record and person audited before is still left out, the purged ones too ...
    assert before["excluded"][RECORD_AUDITED] >= 8  # C1, C2 and the deep dive: 8 records
    for reason in (RECORD_AUDITED, PERSON_AUDITED):
        assert after["excluded"].get(reason) == before["excluded"].get(reason)
    assert after["allocations"] == before["allocations"]
    assert not c1 & {a["record_id"] for a in after["allocations"]}
    # ... and the purged cycle itself is neither drawn again nor re-checked.
    said = refused(run, ws, "allocate", export, "--cycle", C1, "--redraw")
    assert "cannot draw it again or re-check its draw: cycle '2026-27 C1' was purged" in said
    said = refused(run, ws, "allocate", export, "--cycle", C1, "--dry-run")
    assert "cycle '2026-27 C1' was purged" in said


def test_a_purged_cycle_is_not_cancelled(run: Callable[..., Result],
                                         purged: Workspace) -> None:
    said = refused(run, purged, "cycle", "cancel", C1, "--reason", "Drawn in error", "--force")
    assert "cannot cancel it: cycle '2026-27 C1' was purged" in said


def csv_column(folder: Path, table: str, column: str) -> list[str]:
    with (folder / f"{table}.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    at = next(n for n, row in enumerate(rows) if column in row)
    return [row[rows[at].index(column)] for row in rows[at + 1:] if row]


def test_the_anonymised_export_cannot_match_a_purged_audit_to_its_case(
        run: Callable[..., Result], year: Path, ws: Workspace, tmp_path: Path) -> None:
    from qaudit.privacy import is_token

    def exported(folder: Path) -> dict[str, list[tuple[str, ...]]]:
        """Each cycle's rows of the allocations: reference, record, person, worker."""
        done = qaudit(run, ws, "export", "--anonymise", "--format", "csv", "--out", folder)
        assert done.code == 0, done.stderr
        rows: dict[str, list[tuple[str, ...]]] = {}
        for cycle, *ids in zip(*(csv_column(folder, "allocations", column) for column in (
                "Cycle", "Reference", "Record ID", "Person ID", "Worker ID")), strict=True):
            rows.setdefault(cycle, []).append(tuple(ids))
        return rows

    before = exported(tmp_path / "before")
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    after = exported(tmp_path / "after")
    made = case_export_pseudonyms(ws, year.parent / "export.csv")
    # Before the purge an export joins the council's case export by every id; after it, a
    # purged audit joins nothing: its ids are tokens of that purge alone, shown as they
    # are. Only its reference (qaudit's own) is the one exports before the purge gave.
    assert all(set(ids[1:]) <= made for rows in before.values() for ids in rows)
    purged = [ids for cycle in (C1, C2, DEEP_DIVE, ROUND) for ids in after[cycle]]
    assert len(purged) == 9
    for _, *ids in purged:
        assert not set(ids) & made
        assert all(is_token(i, kind) for i, kind in zip(ids, ("REC", "PER", "WKR"),
                                                        strict=True))
    assert sorted(r[0] for c in (C1, C2) for r in after[c]) == sorted(
        r[0] for c in (C1, C2) for r in before[c])
    assert after[C3] == before[C3]  # the live cycle's, as before
    auditors = csv_column(tmp_path / "after", "audits", "Auditor")
    assert any(re.fullmatch(r"#\d{12}", a) for a in auditors)  # a purged name, as it is
    assert all(re.fullmatch(r"#\d{12}|AUD-[0-9a-f]{10}|", a) for a in auditors), auditors


@given(st.sampled_from(["REF", "REC", "PER", "WKR", "AUD", "MGR", "SM"]), TEXT)
@PROPERTIES
def test_a_token_or_pseudonym_is_never_made_one_again(kind: str, value: str) -> None:
    from qaudit.jobs.purge import run_tokens
    from qaudit.privacy import is_pseudonym, is_token, pseudonymiser

    redactor = Redactor(run_tokens(), pseudonymiser(b"k" * 32))
    ids = kind in {"REF", "REC", "PER", "WKR"}
    made = redactor.pseudonym(kind, value) if ids else redactor.name(kind, value)
    if made:
        assert is_pseudonym(made, kind)
        assert is_token(made, kind) == (kind != "REF")  # only a reference is keyed for good
        again = redactor.pseudonym(kind, made) if ids else redactor.name(kind, made)
        assert again == made
    if value and not is_pseudonym(value, kind):
        assert made != value  # anything else is never kept as it is


def test_the_tokens_of_two_runs_never_match() -> None:
    from qaudit.jobs.purge import run_tokens
    from qaudit.privacy import pseudonymiser

    first, second = (Redactor(run_tokens(), pseudonymiser(b"k" * 32)) for _ in range(2))
    for kind in ("REC", "PER", "WKR"):
        assert first.pseudonym(kind, "W501") == first.pseudonym(kind, "W501")
        assert first.pseudonym(kind, "W501") != second.pseudonym(kind, "W501")
    assert first.name("AUD", "Cerys  LLEWELLYN") == first.name("AUD", "cerys llewellyn")
    assert first.name("AUD", "Cerys Llewellyn") != second.name("AUD", "Cerys Llewellyn")
    assert first.pseudonym("REF", "2026-27-C1-001") == second.pseudonym("REF", "2026-27-C1-001")


def test_a_workshop_made_under_its_old_folder_name_is_purged_too(
        run: Callable[..., Result], ws: Workspace) -> None:
    from qaudit import layout

    name = "Atelier d'écoute de l'été: Wrenbridge et Foxley 2026-27"
    made = qaudit(run, ws, "workshop", "make", name, "--cases", "2", "--participants", "2",
                  "--from-cycle", C2, "--held", "20/07/2026", "--seed", "1")
    assert made.code == 0, made.stderr
    base = ws.root / layout.WORKSHOPS
    # As qaudit named it before names were folded and cut to 40 characters:
    old = base / "Atelier-d-coute-de-l-t-Wrenbridge-et-Foxley-2026-27"
    layout.workshop_folder(base, name).rename(old)
    assert len(list(old.iterdir())) >= 3
    dry = json.loads(qaudit(run, ws, "purge", "--before", BEFORE, "--dry-run", "--json").stdout)
    (found,) = [p for p in dry["purged"] if p["name"] == name]
    assert found["files"] == 4  # the pack, two grading workbooks and the folder's marker
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    assert not old.exists() and not (base / "Q2-2026-27").exists()
    assert base.is_dir()


def test_what_a_purge_did_reads_at_80_columns(run: Callable[..., Result], ws: Workspace,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from qaudit import cli

    monkeypatch.setattr(cli.out, "_width", 80)
    shown = qaudit(run, ws, "purge", "--before", BEFORE, "--dry-run")
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), shown.stdout
    assert "…" not in shown.stdout
    for whole in ("2026-27 C1", "regular cycle", "2026-27 DD1", "deep dive", "01/06/2026 to",
                  "30/06/2026", "15/07/2026", "3 allocations, 6 returned", "Files", "Bytes"):
        assert any(whole in line for line in lines), (whole, shown.stdout)


# --- asked first -----------------------------------------------------------------------------


def test_a_purge_without_yes_and_no_terminal_is_refused_and_nothing_changes(
        run: Callable[..., Result], ws: Workspace) -> None:
    said = refused(run, ws, "purge", "--before", BEFORE)
    assert ("nothing was purged: a purge (the personal data of 4 cycle(s) and 1 workshop(s)"
            " that ended before 01/08/2026) cannot be undone, and there is no terminal to ask"
            " on. See what it would do with --dry-run, then run it again with --yes.") in said
    # With nothing to do, nothing is asked, and nothing refused.
    nothing = qaudit(run, ws, "purge", "--before", "01/05/2026")
    assert nothing.code == 0 and "Nothing to purge before 01/05/2026" in nothing.stdout


@pytest.mark.parametrize(("answer", "purged"), [("y", True), ("YES ", True), ("n", False),
                                                 ("", False), ("\x1b[2J", False)])
def test_a_purge_on_a_terminal_asks_first(run: Callable[..., Result], ws: Workspace,
                                          monkeypatch: pytest.MonkeyPatch, answer: str,
                                          purged: bool) -> None:
    asked: list[str] = []
    monkeypatch.setattr(common, "on_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda *prompt: asked.append("asked") or answer)
    unchanged = tree(ws)
    done = qaudit(run, ws, "purge", "--before", BEFORE)
    assert asked == ["asked"]
    assert ("Purge the personal data of 4 cycle(s) and 1 workshop(s) that ended before"
            " 01/08/2026? It cannot be undone. [y/N]") in " ".join(done.stderr.split())
    if purged:
        assert done.code == 0 and "Purged the personal data" in done.stdout
    else:
        assert done.code == 1 and "nothing was purged (not confirmed)" in done.stderr
        assert tree(ws) == unchanged


# --- which files go ------------------------------------------------------------------------


def test_a_cycle_named_internal_keeps_its_published_reports(ws: Workspace) -> None:
    from qaudit.jobs.purge_files import cycle_folder_files

    name = "2026-27 internal moves"
    reports = ws.cycle_dir(name) / "reports"
    reports.mkdir(parents=True)
    published = ["2026-27-internal-moves-deep-dive.md", "2026-27-internal-moves-summary.html",
                 "2026-27-internal-moves-summary-grades.svg", "2026-27-internal-moves.md",
                 "2026-27-internal-moves-quadrant-south.pdf"]
    internal = ["2026-27-internal-moves-deep-dive-internal.md",
                "2026-27-internal-moves-summary-internal-trend.svg",
                "2026-27-internal-moves-highlights-internal.docx",
                "2026-27-internal-moves-quadrant-south-internal.html"]
    for file_name in (*published, *internal):
        (reports / file_name).write_text("x")
    assert sorted(p.name for p in cycle_folder_files(ws, name)) == sorted(internal)


# --- what a later draw still knows ---------------------------------------------------------


def test_a_deep_dive_that_did_not_block_later_draws_leaves_its_cases_free(
        run: Callable[..., Result], ws: Workspace) -> None:
    dive, c1 = allocations(ws.root, DEEP_DIVE), allocations(ws.root, C1)
    with raw_database(ws) as conn:
        conn.execute("UPDATE deep_dives SET blocks_later_draws = 0")
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    with ws.store() as store:
        history = purged_history(ws, store)
    assert all(history.audited(a["person_id"], a["record_id"]) for a in c1)
    assert not any(history.audited(a["person_id"]) or history.audited(record_id=a["record_id"])
                   for a in dive)
    with raw_database(ws) as conn:  # one row a person or record, and nothing else
        columns = [d[0] for d in conn.execute("SELECT * FROM purged_audited").description]
        kinds = dict(conn.execute("SELECT kind, count(*) FROM purged_audited GROUP BY kind"))
    assert columns == ["kind", "pseudonym"] and kinds == {"person": 7, "record": 7}


def test_a_draw_that_read_a_purged_cycle_is_not_rechecked(
        run: Callable[..., Result], year: Path, ws: Workspace) -> None:
    assert qaudit(run, ws, "purge", "--before", BEFORE, "--yes").code == 0
    assert qaudit(run, ws, "allocate", year.parent / "export.csv", "--cycle", "2026-27 C4",
                  "--from", "01/09/2026", "--to", "30/09/2026", "--due", "31/10/2026",
                  "--seed", "11").code == 0
    with ws.store() as store:
        # C3's cool-down read C2's workers; the deep dive and the round were drawn after it.
        with pytest.raises(CycleError) as refusal:
            check_recheck(store, C3, 1)
        assert str(refusal.value).startswith(
            "cannot re-check the draw of '2026-27 C3': it read who was drawn in cycles purged"
            " since for retention ('2026-27 C2' (on ")
        assert "'2026-27 DD1'" in str(refusal.value) and f"'{ROUND}'" in str(refusal.value)
        check_recheck(store, "2026-27 C4", 1)  # drawn after the purge: reads none of them
        check_recheck(store, "2026-27 C9", 1)  # no such cycle: nothing to re-check
    # ... and allocate --dry-run says so, rather than call a sound draw unsound
    result = qaudit(run, ws, "allocate", year.parent / "export.csv", "--cycle", C3,
                    "--dry-run")
    assert result.code == 1 and "cannot re-check the draw of '2026-27 C3'" in " ".join(
        result.stderr.split())


@pytest.mark.sqlite_only  # made with SQLite's own tools
def test_a_workspace_purged_by_an_earlier_qaudit_is_upgraded(
        run: Callable[..., Result], purged: Workspace) -> None:
    """A purge of an earlier qaudit left ids as the workspace key's pseudonyms: migration 16
    lists its persons and records, and the next purge makes its ids tokens."""
    from qaudit.privacy import is_token, pseudonymiser

    key = pseudonymiser(purged.pseudonym_key())
    with raw_database(purged) as conn:
        conn.execute("DROP TABLE purged_audited")
        conn.execute("DELETE FROM schema_migrations WHERE version = 16")
        rows = conn.execute(
            "SELECT a.id FROM allocations a JOIN draws d ON d.id = a.draw_id"
            " JOIN cycles c ON c.id = d.cycle_id WHERE c.name = ?", (C1,)).fetchall()
        for (allocation,) in rows:  # as the earlier purge left them: W501 -> WKR-....
            conn.execute("UPDATE allocations SET person_id = ?, record_id = ?, worker_id = ?,"
                         " service_manager = '#0123456789' WHERE id = ?",
                         (key("PER", f"P{allocation}"), key("REC", f"R{allocation}"),
                          key("WKR", "W501"), allocation))
    with purged.store() as store:
        history = purged_history(purged, store)
    assert history.audited(f"P{rows[0][0]}") and history.audited(record_id=f"R{rows[0][0]}")
    done = qaudit(run, purged, "purge", "--before", "01/05/2026", "--yes", "--json")
    assert done.code == 0, done.stderr
    assert [a["name"] for a in json.loads(done.stdout)["purged_again"]] == [C1]
    for a in allocations(purged.root, C1):
        assert all(is_token(a[k], kind) for k, kind in (("person_id", "PER"),
                                                        ("record_id", "REC"),
                                                        ("worker_id", "WKR")))
    with purged.store() as store:
        assert purged_history(purged, store).audited(f"P{rows[0][0]}")
