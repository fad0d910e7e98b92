"""`qaudit feedback record` and `qaudit feedback year`: the reflective conversation with the
practitioner, only after the audit came back; the year's "observation and feedback" view;
and the feedback figure of the published summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from core.test_reports import as_shown

from commands.test_status_people import AUDITS_BACK, CYCLE, build_people_cycle, reference
from conftest import Result, copy_workspace
from qaudit.jobs.feedback import financial_year
from qaudit.jobs.report import render_all
from qaudit.workspace import Workspace, open_workspace

TODAY = date.today()


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_people_cycle(tmp_path_factory.mktemp("feedback") / "ws")


@pytest.fixture
def ws(cycle: Path, tmp_path: Path) -> Workspace:
    copy_workspace(cycle, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def record(run: Callable[..., Result], ws: Workspace, ref: str, on: date | str,
           *extra: str) -> Result:
    day = on if isinstance(on, str) else on.strftime("%d/%m/%Y")
    return run("-w", ws.root, "feedback", "record", ref, "--on", day, *extra)


def conversations(ws: Workspace) -> dict[str, int]:
    with ws.store() as store:
        return {h.reference: h.feedback_times for h in store.people.case_holdings(CYCLE)
                if h.feedback_times}


def logged(ws: Workspace) -> list[Any]:
    with ws.store() as store:
        return [e for e in store.events(None, None) if e.kind == "feedback_recorded"]


def test_feedback_on_a_returned_audit_is_recorded_and_logged(
    run: Callable[..., Result], ws: Workspace,
) -> None:
    done = record(run, ws, reference(1), TODAY, "--note", "Talked through the rationale.")
    assert done.code == 0, done.stderr
    assert f"Recorded for {reference(1)} ({CYCLE}): feedback shared on {TODAY:%d/%m/%Y}." \
        in done.stdout
    again = record(run, ws, reference(1), TODAY)
    assert "(conversation 2 for this audit)" in again.stdout
    assert conversations(ws) == {reference(1): 2}
    events = logged(ws)
    assert [(e.reference, e.detail["times"]) for e in events] == [(reference(1), 1),
                                                                   (reference(1), 2)]
    assert events[0].detail["note"] == "Talked through the rationale."
    with ws.store() as store:
        assert store.people.fed_references(CYCLE) == {reference(1)}


@pytest.mark.parametrize(("ref", "on", "extra", "says"), [
    ("2026-27-C3-999", TODAY, (), "no allocation '2026-27-C3-999' in any cycle"),
    (reference(AUDITS_BACK + 1), TODAY, (), "has not come back yet"),
    (reference(1), TODAY + timedelta(days=1), (), "is in the future"),
    (reference(1), date(2026, 11, 1), (), f"before the audit of {reference(1)} came back"),
    (reference(1), "31/02/2027", (), "is not a date"),
    (reference(1), TODAY, ("--note", "x" * 2_001), "keep it to 2,000"),
    (reference(1), TODAY, ("--note", "Agreed \u202edaolnwod"), "hidden character (U+202E)"),
    (reference(1), TODAY, ("--note", "Agreed\u200b next steps"), "(U+200B)"),
    (reference(1), TODAY, ("--note", "Agreed\U000e0041\U000e0042"), "(U+E0041)"),
    (reference(1), TODAY, ("--note", "Agreed \x1b[2J"), "(U+001B)"),
])
def test_feedback_that_cannot_have_happened_is_refused_and_nothing_stored(
    run: Callable[..., Result], ws: Workspace, ref: str, on: date | str,
    extra: tuple[str, ...], says: str,
) -> None:
    result = record(run, ws, ref, on, *extra)
    assert result.code == 1 and result.stderr.startswith("Error:")
    assert says in " ".join(result.stderr.split())
    assert conversations(ws) == {} and logged(ws) == []


def test_a_reference_is_found_whatever_its_case_or_spaces_and_a_note_keeps_its_lines(
    run: Callable[..., Result], ws: Workspace,
) -> None:
    """As `send --resend` finds one: a reference typed in lower case is the same allocation
    (references are unique whatever their case, as cycle names are)."""
    done = record(run, ws, f"  {reference(1).lower()} ", TODAY, "--note",
                  "Talked it through.\r\n\tNext: the rationale.")
    assert done.code == 0, done.stderr
    assert f"Recorded for {reference(1)} ({CYCLE})" in done.stdout
    assert conversations(ws) == {reference(1): 1}
    (event,) = logged(ws)
    assert event.reference == reference(1)
    assert event.detail["note"] == "Talked it through.\n\tNext: the rationale."


def year(run: Callable[..., Result], ws: Workspace, *args: str) -> Any:
    result = run("-w", ws.root, "feedback", "year", *args, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_year_view_flags_every_practitioner_without_feedback_audited_first(
    run: Callable[..., Result], ws: Workspace,
) -> None:
    assert record(run, ws, reference(1), TODAY).code == 0
    with ws.store() as store:
        cases = {a.reference: a for a in store.draws.allocations(CYCLE)}
        on_list = len(store.people.staff())
    fy = financial_year(TODAY)
    data = year(run, ws, "--year", fy.label)
    assert (data["period"], data["from"], data["to"]) == (
        fy.label, fy.start.isoformat(), fy.end.isoformat())
    people = {p["worker_id"]: p for p in data["practitioners"]}
    assert len(people) == on_list and data["without_feedback"] == on_list - 1
    fed = people[cases[reference(1)].worker_id]
    assert (fed["audits_returned"], fed["conversations"], fed["none_this_year"]) == (1, 1, False)
    assert fed["last_conversation"] == TODAY.isoformat()
    waiting = people[cases[reference(2)].worker_id]
    assert (waiting["audits_returned"], waiting["none_this_year"]) == (1, True)
    order = [p["worker_id"] for p in data["practitioners"]]
    audited_unfed = {cases[reference(n)].worker_id for n in range(2, AUDITS_BACK + 1)}
    assert set(order[:len(audited_unfed)]) == audited_unfed  # the ones to follow up, first
    assert order[-1] == fed["worker_id"]
    shown = run("-w", ws.root, "feedback", "year", "--year", fy.label).stdout
    assert "none this year" in shown
    assert f"{on_list - 1} of {on_list} have had no audited case feedback" in shown


def test_the_year_before_has_no_audits_and_a_period_can_be_given_by_dates(
    run: Callable[..., Result], ws: Workspace,
) -> None:
    before = financial_year(financial_year(TODAY).start - timedelta(days=1))
    data = year(run, ws, "--year", before.label)
    assert all(p["audits_returned"] == 0 for p in data["practitioners"])
    since = year(run, ws, "--from", (TODAY - timedelta(days=7)).strftime("%d/%m/%Y"),
                 "--to", TODAY.strftime("%d/%m/%Y"))
    assert sum(p["audits_returned"] for p in since["practitioners"]) == AUDITS_BACK


@pytest.mark.parametrize(("args", "says"), [
    (("--year", "2026-28"), "is not a year such as 2026-27"),
    (("--year", "2026-27", "--from", "01/04/2026"), "not both"),
    (("--from", "01/04/2026"), "give both --from and --to"),
    (("--from", "01/04/2026", "--to", "01/03/2026"), "is before --from"),
])
def test_a_wrong_period_is_one_clear_error(run: Callable[..., Result], ws: Workspace,
                                           args: tuple[str, ...], says: str) -> None:
    result = run("-w", ws.root, "feedback", "year", *args)
    assert result.code == 1 and says in result.stderr


def test_the_published_summary_counts_feedback_shared_and_hides_a_small_count(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path,
) -> None:
    for n in (1, 2):
        assert record(run, ws, reference(n), TODAY).code == 0
    published, internal = tmp_path / "published", tmp_path / "internal"
    with ws.store() as store:
        for out, secret in ((published, False), (internal, True)):
            render_all(ws, store, CYCLE, {"summary"}, out, {"md", "html"}, internal=secret,
                       message="", today=TODAY)
    name = "2026-27-C3-summary"
    assert (f"- Feedback shared with practitioners: 2 of {AUDITS_BACK} returned audits"
            f" ({100 * 2 / AUDITS_BACK:.0f}%)") in (internal / f"{name}-internal.md").read_text()
    md = as_shown((published / f"{name}.md").read_text())
    assert "- Feedback shared with practitioners: * of " in md and " (*)" in md
    assert ('<li>Feedback shared with practitioners: <abbr class="hidden-figure"'
            in (published / f"{name}.html").read_text())  # a * read out as "hidden"
