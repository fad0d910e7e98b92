"""Nothing new goes into a purged cycle: once `qaudit purge` has taken a cycle's people out
of the record, no command writes a note, a name or a new draw into it again. Each refusal
says which cycle was purged and when, exits 1, and leaves the database exactly as it was.

One small workspace (module-scoped): a cycle drawn by mistake and cancelled, then the
cycle proper drawn, returned (one audit Requires improvement, one escalated), moderated,
its RI follow-up and escalation closed, a workshop made of it and graded; then both
cycles and the workshop purged."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import fill_workshop
import pytest

from conftest import (
    Result,
    edit_settings,
    qaudit_ok,
    raw_database,
    record_bytes,
    record_state,
    small_workspace,
)
from qaudit.db.draws import REGULAR, DrawRecord
from qaudit.errors import CycleError
from qaudit.workspace import open_workspace

TODAY = date.today()  # every date is relative to it: the commands read the real clock
CYCLE, MISTAKE, WORKSHOP = "Old cycle", "Old mistake", "Old workshop"
#: cycle -> (first day of its window, last day, returns due)
WINDOWS = {MISTAKE: (TODAY - timedelta(days=200), TODAY - timedelta(days=171),
                     TODAY - timedelta(days=150)),
           CYCLE: (TODAY - timedelta(days=120), TODAY - timedelta(days=91),
                   TODAY - timedelta(days=60))}
BEFORE = TODAY - timedelta(days=30)
MODERATION_BOOK = "Old cycle moderation - notes on Jo Bloggs.xlsx"
NOTE = "Talked it through with Philomena Haverstock-Quayle."
Run = Callable[..., Result]


def _day(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def _write_export(path: Path) -> Path:
    """Six South practitioners, a case each every four days over both windows (invented):
    odd ones Care Act reviews, even ones MCA assessments."""
    header = ["Workflow Step ID", "Person ID", "Step Type", "Completed Date", "Worker ID",
              "Worker Name", "Worker Email", "Team", "Service Manager",
              "Service Manager Email", "Quadrant"]
    rows, n = [], 0
    for w in range(1, 7):
        day = WINDOWS[MISTAKE][0] + timedelta(days=w % 4)
        while day <= WINDOWS[CYCLE][1]:
            n += 1
            rows.append([f"R{n:05d}", f"P{n:05d}",
                         "Care Act Review" if w % 2 else "MCA Assessment", _day(day),
                         f"W{w:03d}", f"Worker Number{w}", f"worker{w}@example.org",
                         "Wrenbridge Team", "Oonagh Delacroix", "oonagh@example.org", "South"])
            day += timedelta(days=4)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _allocate(root: Path, export: Path, cycle: str, *extra: str) -> tuple[str, ...]:
    first, last, due = WINDOWS[cycle]
    return ("allocate", str(export), "--cycle", cycle, "--from", _day(first), "--to",
            _day(last), "--due", _day(due), "--seed", "11", *extra)


def _fill_and_ingest(root: Path, base: Path) -> None:
    """Every form back: the first Care Act review Requires improvement, the MCA
    assessment escalated, the rest Good."""
    ws = open_workspace(root)
    with ws.store() as store:
        drawn = store.draws.allocations(CYCLE)
    ri = next(a.reference for a in drawn if a.audit_type == "care_act_review")
    escalated = next(a.reference for a in drawn if a.audit_type == "mca_assessment")
    rng = random.Random(3)
    returned = base / "returned"
    when = WINDOWS[CYCLE][1] + timedelta(days=5)
    for form in sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*-audit.xlsx")):
        reference = form.name.removesuffix("-audit.xlsx")
        grade = "Requires improvement" if reference == ri else "Good"
        answers = {f"ans_V{n}": "No" for n in (1, 2, 3)} if reference == ri else {}
        fill_forms.fill_audit(form, returned / form.name, rng, grade=grade,
                              escalate=reference == escalated, when=when, overrides=answers)
    qaudit_ok(root, "ingest", returned)


def _close_follow_up(root: Path) -> None:
    """Every RI follow-up and escalation of the cycle closed (moderation first: a grade
    it changes can open an RI item)."""
    with open_workspace(root).store() as store:
        open_ri = [i.reference for i in store.returns.ri_items(CYCLE) if i.status == "open"]
        open_escalations = [e.reference for e in store.returns.escalations(CYCLE)
                            if e.closed_at is None]
    for reference in open_ri:
        qaudit_ok(root, "ri", "close", reference, "--force", "--reason",
                  "Re-audit planned; the team manager informed.")
    for reference in open_escalations:
        qaudit_ok(root, "escalations", "close", reference, "--outcome", "Visit made.")


def _moderate(root: Path, base: Path) -> None:
    qaudit_ok(root, "moderate", "select", "--cycle", CYCLE, "--rate", "1", "--seed", "2")
    book = next((open_workspace(root).cycle_dir(CYCLE) / "moderation").glob("*.xlsx"))
    fill_forms.fill_moderation(book, base / MODERATION_BOOK, random.Random(9))
    qaudit_ok(root, "moderate", "ingest", base / MODERATION_BOOK)


def _workshop(root: Path, base: Path) -> Path:
    """A workshop of the cycle's audits, graded; returns a late copy of one participant's
    grades with a note naming someone, to be given again after the purge."""
    qaudit_ok(root, "workshop", "make", WORKSHOP, "--cases", "2", "--participants",
              "Ottilie Brannagh, Tobias Wexcombe", "--from-cycle", CYCLE, "--held",
              _day(BEFORE - timedelta(days=10)), "--seed", "1")
    folder = next((root / "workshops").iterdir())
    graded = fill_workshop.fill_workshop(folder, base / "graded", 2)
    qaudit_ok(root, "workshop", "ingest", *graded)
    late: Path = base / "late" / graded[0].name
    grades = {n: "Outstanding" for n in (1, 2)}
    fill_workshop.fill_grading(graded[0], late, random.Random(1), {}, grades=grades)
    return late


@pytest.fixture(scope="module")
def purged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The workspace after the purge, the case export, and the late grading workbook."""
    base = tmp_path_factory.mktemp("purged-refusals")
    root = base / "ws"
    small_workspace(root, 1)  # the export's South: a Care Act review, an MCA assessment
    with edit_settings(root) as settings:
        settings["sampling"]["worker_cooldown_cycles"] = 0
    export = _write_export(base / "export.csv")
    qaudit_ok(root, *_allocate(root, export, MISTAKE))
    qaudit_ok(root, "cycle", "cancel", MISTAKE, "--reason", "drawn from the wrong export")
    qaudit_ok(root, *_allocate(root, export, CYCLE))
    _fill_and_ingest(root, base)
    _moderate(root, base)
    _close_follow_up(root)
    late = _workshop(root, base)
    qaudit_ok(root, "purge", "--before", _day(BEFORE), "--yes")
    yield {"root": root, "export": export, "late": late}


def _dump(root: Path) -> object:
    """The whole record: what "nothing stored" compares."""
    return record_state(open_workspace(root))


def _pseudonym(root: Path, audit_type: str) -> str:
    """The reference the purge left for the cycle's audit of this type (as `qaudit ri`
    and `qaudit status` show it)."""
    with open_workspace(root).store() as store:
        return next(a.reference for a in store.draws.allocations(CYCLE)
                    if a.audit_type == audit_type)


def _refused(run: Run, root: Path, *args: str | Path) -> Result:
    """Run a command that must be refused as one of a purged cycle: exit 1, the purge
    named, and the database unchanged."""
    before = _dump(root)
    result = run("-w", root, *args)
    assert result.code == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "was purged on" in message and "Traceback" not in message, message
    assert _dump(root) == before
    return result


# --- a purged cycle is never drawn into again --------------------------------------------


def test_cancelled_purged_cycle_is_not_drawn_again(purged: dict[str, Path], run: Run) -> None:
    root = purged["root"]
    result = _refused(run, root, *_allocate(root, purged["export"], MISTAKE))
    assert f"cycle '{MISTAKE}'" in result.stderr
    assert not list(open_workspace(root).cycle_dir(MISTAKE).rglob("*.xlsx"))


def test_purged_cycle_is_not_redrawn(purged: dict[str, Path], run: Run) -> None:
    root = purged["root"]
    result = _refused(run, root, *_allocate(root, purged["export"], CYCLE, "--redraw"))
    assert f"cycle '{CYCLE}'" in result.stderr


@pytest.mark.parametrize("name", [MISTAKE, CYCLE, "old MISTAKE"])
def test_the_store_never_saves_a_draw_into_a_purged_cycle(purged: dict[str, Path],
                                                          name: str) -> None:
    """The rule holds inside the transaction that stores a draw, whatever the job
    checked before (a purge may have run meanwhile)."""
    root = purged["root"]
    before = _dump(root)
    first, last, due = WINDOWS[MISTAKE if name.casefold() == MISTAKE.casefold() else CYCLE]
    record = DrawRecord(seed=1, export_name="export.csv", export_sha256="0" * 64,
                        export_sheet=None, rows_read=0, settings={}, excluded={},
                        unusable={}, strata=[])
    with open_workspace(root).store() as store:
        with pytest.raises(CycleError, match=r"was purged on .* never be drawn again"):
            store.draws.check_can_draw(name, redraw=True)
        with pytest.raises(CycleError, match=r"was purged on .* never be drawn again"):
            store.draws.save(name, first, last, due, record, [], redraw=True, kind=REGULAR)
    assert _dump(root) == before


# --- no note, name or outcome is written against a purged cycle's audit -------------------


@pytest.mark.parametrize("command", [
    ("ri", "record", "{ri}", "--step", "corrective-action", "--on", "{yesterday}", "--note",
     NOTE),
    ("ri", "close", "{ri}", "--force", "--reason", NOTE),
    ("ri", "reopen", "{ri}", "--reason", NOTE),
    ("escalations", "close", "{escalated}", "--outcome", NOTE),
    ("feedback", "record", "{ri}", "--on", "{yesterday}", "--note", NOTE),
], ids=["ri-record", "ri-close", "ri-reopen", "escalations-close", "feedback-record"])
def test_follow_up_of_a_purged_audit_is_refused(purged: dict[str, Path], run: Run,
                                                command: tuple[str, ...]) -> None:
    """By the pseudonym the purge left (what `qaudit ri` and `qaudit status` show now)."""
    root = purged["root"]
    ri, escalated = _pseudonym(root, "care_act_review"), _pseudonym(root, "mca_assessment")
    args = [a.format(ri=ri, escalated=escalated, yesterday=_day(TODAY - timedelta(days=1)))
            for a in command]
    result = _refused(run, root, *args)
    message = " ".join(result.stderr.split())
    assert f"cycle '{CYCLE}'" in message
    assert re.search(r"cannot .+ REF-[0-9a-f]+: cycle", message), message


def test_feedback_by_the_reference_its_forms_showed_is_refused(purged: dict[str, Path],
                                                               run: Run) -> None:
    """The reference as the register showed it is gone from the record: the purge is
    named, not an unknown reference."""
    root = purged["root"]
    result = _refused(run, root, "feedback", "record", "Old-cycle-001", "--on",
                      _day(TODAY - timedelta(days=1)), "--note", NOTE)
    assert f"cycle '{CYCLE}'" in " ".join(result.stderr.split())


def test_grades_for_a_purged_workshop_are_refused_even_to_replace(
        purged: dict[str, Path], run: Run) -> None:
    root = purged["root"]
    before = _dump(root)
    result = run("-w", root, "workshop", "ingest", purged["late"], "--replace")
    assert result.code == 1, result.stdout + result.stderr
    shown = " ".join((result.stdout + result.stderr).split())
    assert "purged" in shown and WORKSHOP in shown
    assert _dump(root) == before


# --- the history of a purged cycle keeps no file name --------------------------------------


def test_moderation_history_is_the_cycles_and_is_purged_with_it(
        purged: dict[str, Path]) -> None:
    ws = open_workspace(purged["root"])
    with ws.store() as store:
        cycle = store.draws.require_cycle(CYCLE)
    with raw_database(ws) as conn:
        rows = conn.execute("SELECT cycle_id, json_extract(detail_json, '$.file')"
                            " FROM events WHERE kind = 'moderation_outcomes'").fetchall()
    assert [tuple(r) for r in rows] == [(cycle.id, "")]
    assert b"Jo Bloggs" not in record_bytes(ws)
