"""`qaudit deep-dive new|list|show`, its report, and `cycle list` marking deep dives: a
themed audit drawn with its own terms of reference and question set goes through the same
forms, ingest and moderation as a cycle."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path

import fill_forms
import pytest
from openpyxl import load_workbook

from conftest import (
    EXAMPLES,
    GOLDEN,
    Result,
    copy_workspace,
    edit_settings,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit.workspace import Workspace, open_workspace

EXPORT = EXAMPLES / "case-export.xlsx"
TERMS = EXAMPLES / "deep-dive-terms.toml"
REGULAR = "2026-27 C1"
NAME = "2026-27 DD1"
SET = "deep_dive_safeguarding_voice"
WINDOW = ("--from", "01/08/2026", "--to", "31/10/2026")


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose regular cycle (one case per quadrant x type) is drawn, its audits
    filled as auditors would and taken in: the record a question filter reads."""
    root = tmp_path_factory.mktemp("audited") / "ws"
    small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXPORT, "--cycle", REGULAR, "--from", "01/09/2026", "--to",
              "30/09/2026", "--seed", "3", "--due", "30/11/2026")
    returned = root.parent / "returned"
    fill_forms.fill_cycle(root / "cycles" / "2026-27-C1", returned, 2, None)
    qaudit_ok(root, "ingest", returned)
    return root


@pytest.fixture
def ws(audited: Path, tmp_path: Path) -> Workspace:
    copy_workspace(audited, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def new(run: Callable[..., Result], ws: Workspace, *args: str | Path, name: str = NAME,
        terms: Path = TERMS, size: str = "6") -> Result:
    return run("-w", ws.root, "deep-dive", "new", name, EXPORT, "--terms", terms,
               "--question-set", SET, "--n", size, *WINDOW, "--seed", "11", *args)


def cycles(run: Callable[..., Result], ws: Workspace) -> list[dict]:
    result = run("-w", ws.root, "cycle", "list", "--json")
    assert result.code == 0, result.stderr
    return list(json.loads(result.stdout))


def test_a_deep_dive_goes_from_its_draw_through_forms_ingest_and_moderation(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    asked = ("V4", "R1", "R2", "I1")
    result = new(run, ws, *(a for q in asked for a in ("--filter", f"question={q}:no")),
                 size="4")
    assert result.code == 0, result.stderr
    assert "Deep dive 2026-27 DD1: The adult's voice in safeguarding enquiries" in result.stdout
    assert "not within the deep dive's filters" in result.stdout
    assert "4 of 4" in result.stdout
    # the cases: of the workers whose earlier audits answered No to one of those questions
    with ws.store() as store:
        drawn = store.draws.allocations(NAME)
        regular = {a.person_id for a in store.draws.allocations(REGULAR)}
        said_no = set().union(*(store.deep_dives.workers_answered(q, "No") for q in asked))
    assert len(drawn) == 4
    assert {a.worker_id for a in drawn} <= said_no
    assert len({a.worker_id for a in drawn}) == 4  # one case a practitioner
    assert {a.question_set for a in drawn} == {SET}
    assert not {a.person_id for a in drawn} & regular  # nobody audited twice
    # every audit form carries the terms of reference on a sheet of its own
    forms = sorted((ws.cycle_dir(NAME) / "audit-forms").glob("*.xlsx"))
    assert len(forms) == 4
    about = load_workbook(forms[0])["About this audit"]
    text = [c for row in about.iter_rows(values_only=True) for c in row if c]
    assert "The adult's voice in safeguarding enquiries" in text
    assert "PGB, 14/10/2026" in text
    # forms filled as auditors would, taken in by ingest, and moderated: a cycle's way
    fill_forms.fill_cycle(ws.cycle_dir(NAME), tmp_path / "returns", 4, None)
    result = run("-w", ws.root, "ingest", tmp_path / "returns")
    assert result.code == 0, result.stderr
    result = run("-w", ws.root, "moderate", "select", "--cycle", NAME)
    assert result.code == 0, result.stderr
    assert (ws.cycle_dir(NAME) / "moderation").is_dir()
    shown = json.loads(run("-w", ws.root, "deep-dive", "show", "2026-27 dd1", "--json").stdout)
    assert shown["drawn"] == 4 and shown["returned"] >= 2
    assert shown["filters"] == {"question": ["I1:No", "R1:No", "R2:No", "V4:No"]}
    assert shown["blocks_later_draws"] is True
    # the report for the Board, published: the golden file
    from qaudit.jobs.deepdive import render_report

    with ws.store() as store:
        written = render_report(ws, store, NAME, tmp_path / "out", {"md", "html"},
                                internal=False, today=date(2026, 11, 26))
        internal = render_report(ws, store, NAME, tmp_path / "out", {"md"}, internal=True,
                                 today=date(2026, 11, 26))[0].read_text()
    assert [p.name for p in written] == ["2026-27-DD1-deep-dive.md",
                                         "2026-27-DD1-deep-dive.html"]
    text = written[0].read_text()
    for name, rendered in (("deep_dive.md", text), ("deep_dive-internal.md", internal)):
        golden = GOLDEN / name
        if request.config.getoption("--regen-golden"):
            golden.write_text(rendered)
        assert rendered == golden.read_text(), "run pytest --regen-golden and review the diff"
    assert "2026-27-DD1-001" in internal or "2026-27-DD1-002" in internal
    for allocation in drawn:  # no case, person, worker or name in the published report
        for secret in (allocation.reference, allocation.person_id, allocation.worker_id,
                       allocation.record_id):
            assert secret not in text and secret not in written[1].read_text()
        if allocation.worker_name:
            assert allocation.worker_name not in text


def test_the_draw_is_recorded_and_a_dry_run_with_its_seed_gives_the_same_cases(
        run: Callable[..., Result], ws: Workspace) -> None:
    filters = ("--filter", "quadrant=Mid", "--filter", "quadrant=ne", "--filter",
               "audit-type=Safeguarding", "--filter", "audit-type=MCA assessment")
    first = new(run, ws, *filters, "--json")
    assert first.code == 0, first.stderr
    drawn = json.loads(first.stdout)
    assert {a["quadrant"] for a in drawn["allocations"]} <= {"Mid", "North East"}
    assert {a["audit_type"] for a in drawn["allocations"]} <= {"safeguarding_s42",
                                                               "mca_assessment"}
    assert drawn["deep_dive"]["size"] == 6 and drawn["deep_dive"]["drawn"] == 6
    again = new(run, ws, *filters, "--dry-run", "--json")
    assert again.code == 0, again.stderr
    assert ([a["record_id"] for a in json.loads(again.stdout)["allocations"]]
            == [a["record_id"] for a in drawn["allocations"]])


def test_a_dry_run_stores_and_writes_nothing(run: Callable[..., Result], ws: Workspace) -> None:
    before = cycles(run, ws)
    result = new(run, ws, "--dry-run")
    assert result.code == 0, result.stderr
    assert "Dry run: nothing was written or stored." in result.stdout
    assert cycles(run, ws) == before
    assert not ws.cycle_dir(NAME).exists()


def test_cycle_list_marks_a_deep_dive_and_deep_dive_list_shows_it(
        run: Callable[..., Result], ws: Workspace) -> None:
    assert new(run, ws).code == 0
    kinds = {c["cycle"]: c["kind"] for c in cycles(run, ws)}
    assert kinds == {REGULAR: "regular", NAME: "deep_dive"}
    table = run("-w", ws.root, "cycle", "list").stdout
    assert "deep dive" in table and "regular" in table
    listed = run("-w", ws.root, "deep-dive", "list")
    assert listed.code == 0
    assert "2026-27 DD1" in listed.stdout and "The adult's voice" in listed.stdout
    shown = run("-w", ws.root, "deep-dive", "show", NAME)
    assert "What it seeks to understand:" in shown.stdout
    assert "N 6: 6 drawn, 0 returned" in shown.stdout


def test_blocking_later_draws_follows_the_setting(run: Callable[..., Result],
                                                  ws: Workspace) -> None:
    with edit_settings(ws.root) as settings:
        settings["deep_dives"]["block_later_draws"] = False
    assert new(run, ws).code == 0
    shown = json.loads(run("-w", ws.root, "deep-dive", "show", NAME, "--json").stdout)
    assert shown["blocks_later_draws"] is False


def bad_terms(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "terms.toml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("args", "says"), [
    (("--filter", "worker=W1"), "unknown key 'worker'"),
    (("--filter", "team"), "is not KEY=VALUE"),
    (("--filter", "quadrant=Atlantis"), "no such quadrant"),
    (("--filter", "question=Z9:No"), "no question set issued so far has a question Z9"),
    (("--filter", "team=Nowhere At All"), "matches none of the"),
    (("--filter", "question=V4:N/A", "--filter", "team=Nowhere"), "matches none"),
    (("--question-set", "no_such_set"), "no question set 'no_such_set'"),
])
def test_mistakes_end_in_one_clear_error_and_store_nothing(
        run: Callable[..., Result], ws: Workspace, args: tuple[str, ...], says: str) -> None:
    before = cycles(run, ws)
    result = new(run, ws, *args)
    assert result.code == 1
    assert result.stderr.startswith("Error: ") and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert cycles(run, ws) == before
    assert not ws.cycle_dir(NAME).exists()


@pytest.mark.parametrize(("data", "says"), [
    (b'title = "Only a title"\n', "lacks purpose, understand, method"),
    ("title = 'Caf\u00e9'".encode("latin-1"), "not UTF-8"),
    (TERMS.read_bytes().replace(b"PGB, 14/10/2026", b"PGB\\u0007"), "control character"),
    (TERMS.read_bytes() + b"#" * 40_000, "fit in 32 KB"),
])
def test_a_bad_terms_file_is_refused(run: Callable[..., Result], ws: Workspace,
                                     tmp_path: Path, data: bytes, says: str) -> None:
    result = new(run, ws, terms=bad_terms(tmp_path, data))
    assert result.code == 1 and says in result.stderr, result.stderr
    assert cycles(run, ws)[-1]["cycle"] == REGULAR


def test_formula_text_in_the_terms_reaches_the_forms_as_text(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    data = TERMS.read_bytes().replace(b'"PGB, 14/10/2026"', b'"=HYPERLINK(\\"http://x\\")"')
    assert new(run, ws, terms=bad_terms(tmp_path, data)).code == 0
    form = sorted((ws.cycle_dir(NAME) / "audit-forms").glob("*.xlsx"))[0]
    cells = [c for row in load_workbook(form)["About this audit"].iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_a_name_is_one_thing_and_a_draw_is_final(run: Callable[..., Result],
                                                 ws: Workspace) -> None:
    result = new(run, ws, name=REGULAR)
    assert result.code == 1 and "is a regular cycle" in result.stderr
    assert new(run, ws).code == 0
    again = new(run, ws)
    assert again.code == 1 and "already drawn, and a draw is final" in again.stderr
    assert run("-w", ws.root, "deep-dive", "show", REGULAR).code == 1
    unknown = run("-w", ws.root, "deep-dive", "show", "Nope")
    assert unknown.code == 1 and "no deep dive 'Nope'" in unknown.stderr


@pytest.mark.parametrize(("size", "says"), [("0", "--n 0"), ("100000", "from 1 to 500")])
def test_the_size_must_be_sensible(run: Callable[..., Result], ws: Workspace, size: str,
                                   says: str) -> None:
    result = new(run, ws, size=size)
    assert result.code == 1 and says in result.stderr


def test_asking_for_more_than_the_filters_hold_warns_and_draws_what_there_is(
        run: Callable[..., Result], ws: Workspace) -> None:
    result = new(run, ws, "--filter", "question=V4:No", size="400")
    assert result.code == 0, result.stderr
    assert "Warning: only" in result.stderr and "of the 400 cases asked for" in result.stderr



ASKED = ("V4", "R1", "R2", "I1")


def retype_returns(ws: Workspace, workers: set[str], folder: Path) -> int:
    """The regular cycle's audits of ``workers`` filled again, each of the questions
    ``ASKED`` it has still answered No, with a typo fixed in the rationale: what `ingest
    --replace` takes as a new return of each. Returns how many."""
    with ws.store() as store:
        references = [a.reference for a in store.draws.allocations(REGULAR)
                      if a.worker_id in workers]
    for reference in references:
        form = ws.cycle_dir(REGULAR) / "audit-forms" / f"{reference}-audit.xlsx"
        names = set(load_workbook(form).defined_names)
        fill_forms.fill_audit(form, folder / form.name, random.Random(reference), grade="Good",
                              overrides={"rationale": "Graded on the evidence in the"
                                         " assessment and the case notes.",
                                         **{f"ans_{q}": "No" for q in ASKED
                                            if f"ans_{q}" in names}})
    return len(references)


def test_a_question_filter_draws_the_same_cases_after_earlier_returns_are_replaced(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    """The workers who answered No are those of the record as it stood at the draw: a
    return replaced since (a typo fixed) must not change what the seed gives."""
    args = (*(a for q in ASKED for a in ("--filter", f"question={q}:No")), "--seed", "5",
            "--json")
    first = new(run, ws, *args, size="4")
    assert first.code == 0, first.stderr
    drawn = json.loads(first.stdout)["allocations"]
    assert len(drawn) == 4
    with ws.store() as store:  # the draw records the workers each filter found
        said_no = {f"{q}:No": store.deep_dives.workers_answered(q, "No") for q in ASKED}
        assert store.draws.selection_of(NAME) == {"answered": {
            k: sorted(v) for k, v in sorted(said_no.items())}}
    everyone = set().union(*said_no.values())
    assert {a["worker_id"] for a in drawn} <= everyone
    retyped = retype_returns(ws, everyone, tmp_path / "again")
    replaced = run("-w", ws.root, "ingest", tmp_path / "again", "--replace", "--json")
    assert replaced.code == 0, replaced.stderr
    assert json.loads(replaced.stdout)["summary"]["replaced"] == retyped >= 4
    again = new(run, ws, *args, "--dry-run", size="4")
    assert again.code == 0, again.stderr
    assert ([a["record_id"] for a in json.loads(again.stdout)["allocations"]]
            == [a["record_id"] for a in drawn])
    # a draw stored before qaudit recorded the workers: the returns of record as they
    # stood when it was drawn (the replaced ones, not their replacements)
    with raw_database(ws) as conn:
        for draw_id, settings in conn.execute("SELECT id, settings_json FROM draws").fetchall():
            settings = json.loads(settings)
            settings.pop("selection", None)
            conn.execute("UPDATE draws SET settings_json = ? WHERE id = ?",
                         (json.dumps(settings), draw_id))
    with ws.store() as store:
        assert store.draws.selection_of(NAME) == {}
        record = store.deep_dives.require(NAME)
        assert {k: store.deep_dives.workers_answered(*k.split(":"), record.created_at)
                for k in said_no} == said_no
    older = new(run, ws, *args, "--dry-run", size="4")
    assert older.code == 0, older.stderr
    assert ([a["record_id"] for a in json.loads(older.stdout)["allocations"]]
            == [a["record_id"] for a in drawn])


@pytest.mark.parametrize("dry_run", [("--dry-run",), ()])
def test_allocate_neither_draws_nor_re_checks_a_deep_dive_as_a_regular_cycle(
        run: Callable[..., Result], ws: Workspace, dry_run: tuple[str, ...]) -> None:
    """A name keeps its kind: `allocate --cycle <deep dive> --dry-run` would quietly show a
    regular draw the deep dive never was; refused, as the draw itself is."""
    assert new(run, ws).code == 0
    with ws.store() as store:
        before = [a.record_id for a in store.draws.allocations(NAME)]
    result = run("-w", ws.root, "allocate", EXPORT, "--cycle", "2026-27 dd1", *WINDOW,
                 "--seed", "11", *dry_run)
    assert result.code == 1
    assert result.stderr.startswith(f"Error: '{NAME}' is a deep dive, not a regular cycle,"
                                    " and a name keeps its kind"), result.stderr
    assert "`qaudit deep-dive new ... --dry-run`" in result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    with ws.store() as store:
        assert [a.record_id for a in store.draws.allocations(NAME)] == before
    assert [c["kind"] for c in cycles(run, ws)] == ["regular", "deep_dive"]


def test_the_published_report_does_not_name_the_team_a_deep_dive_looked_at(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    """Beside the grades of a handful of its cases, a team in the Filters column would
    name its practice: the published report says a team was chosen, not which."""
    team = "Oakhurst Older People Team"
    assert new(run, ws, "--filter", f"team={team.lower()}", "--filter", "quadrant=Mid",
               size="3").code == 0
    from qaudit.jobs.deepdive import render_report

    with ws.store() as store:
        published = render_report(ws, store, NAME, tmp_path / "out", {"md", "html"},
                                  internal=False, today=date(2026, 11, 26))
        internal = render_report(ws, store, NAME, tmp_path / "out", {"md"}, internal=True,
                                 today=date(2026, 11, 26))[0].read_text()
    for path in published:
        text = path.read_text()
        assert "Oakhurst" not in text and "oakhurst" not in text
        assert "team=(removed) and quadrant=Mid" in text
    assert f"team={team.lower()} and quadrant=Mid" in internal


def test_the_help_says_what_the_draw_does_with_the_cool_down(
        run: Callable[..., Result]) -> None:
    """The help and docs/deep-dives.md agree with the draw: the cool-down does not apply."""
    result = run("deep-dive", "new", "--help")
    assert result.code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "The worker cool-down ([sampling] worker_cooldown_cycles) does not apply" in text
    assert "the worker cool-down, one case" not in text
    docs = " ".join((Path(__file__).parents[2] / "docs" / "deep-dives.md").read_text().split())
    assert "the worker cool-down does not apply" in docs
