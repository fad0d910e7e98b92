"""`qaudit export` as an analyst in Excel, Power BI or R meets it (issue 14): the framework's
labels, real dates, the RI follow-up, a data dictionary, and `--format csv`.

One small cycle (20 allocations from the example export), eight audits back: three graded
Requires improvement (one escalated, one with its corrective action recorded and a note, one
closed with steps missing), and text in six places that Excel would take for a formula.
Each of the four versions (workbook or CSV, identified or anonymised) is written once. All
data is synthetic.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import fill_forms
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import EXAMPLES, Result, qaudit_ok, raw_database, small_workspace
from qaudit.jobs.people import known_identifiers
from qaudit.workbooks import dataset
from qaudit.workbooks.cells import read_text
from qaudit.workbooks.dataset_columns import ABOUT, DATE, DICTIONARY, MARKING_ROW, SHEETS, Table
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
DONE = date(2026, 11, 20)
GRADE_LABELS = {"Requires improvement", "Adequate", "Good", "Outstanding"}
TYPE_LABELS = {"Care Act assessment", "Care Act review", "Mental Capacity Act assessment",
               "Safeguarding concern / s42 enquiry"}
ASPECT_TITLES = {"The person's participation and voice", "Quality of practice",
                 "Impact of practice", "Quality of recording"}
CODES = {"requires_improvement", "adequate", "good", "outstanding", "care_act_assessment",
         "care_act_review", "mca_assessment", "safeguarding_s42", "regular", "deep_dive",
         "reaudit", "open", "closed", "withdrawn", "corrective-action", "psw-meeting",
         "esca-referral", "voice", "practice", "impact", "recording"}
STEPS = {"corrective-action": "Corrective action by the team manager",
         "psw-meeting": "Discussed at the six-weekly PQT/PSW meeting (risk, legal compliance,"
                        " any injustice to the person addressed)",
         "esca-referral": "Discussed with ESCA (training completed, support offered)"}
#: Text Excel would run: where each is put (sheet, column) and what it is.
HOSTILE = {
    ("Audits", "Rationale"): "=cmd|' /C calc'!A0",
    ("Audits", "Strengths"): "+1+1",
    ("Audits", "Learning"): "-2+3 is not a grade",
    ("Answers", "Comment"): "@SUM(1,1)",
    ("RI follow-up", "Corrective action"): "\t=1+1",
    ("RI steps", "Step note"): "\r=HYPERLINK(\"http://example.org\",\"x\")",
}
FORMULA_START = tuple("=+-@\t\r")

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cycle of the module docstring, and its four exports beside the workspace."""
    root = tmp_path_factory.mktemp("formats") / "ws"
    ws = small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due", "11/12/2026")
    rng = random.Random(5)
    back = root.parent / "back"
    forms = sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))[:8]
    for i, form in enumerate(forms):
        fill_forms.fill_audit(form, back / form.name, rng, escalate=i == 0, when=DONE,
                              grade="Requires improvement" if i < 3 else "Good")
    for form in sorted((ws.cycle_dir(CYCLE) / "self-reflection").glob("*.xlsx"))[:2]:
        fill_forms.fill_reflection(form, back / form.name, rng)
    qaudit_ok(root, "ingest", back)
    first, second = (f.name.removesuffix("-audit.xlsx") for f in forms[1:3])
    qaudit_ok(root, "ri", "record", first, "--step", "corrective-action", "--on",
              "25/11/2026", "--note", "Reviewed with the practitioner.")
    qaudit_ok(root, "ri", "close", second, "--force", "--reason", "Practitioner left.")
    hostile_text(ws, first)
    for name, args in (("data.xlsx", ()), ("data", ("--format", "csv")),
                       ("anonymised.xlsx", ("--anonymise",)),
                       ("anonymised", ("--anonymise", "--format", "csv"))):
        qaudit_ok(root, "export", *args, "--out", root.parent / name)
    return root


def hostile_text(ws: Workspace, reference: str) -> None:
    """The text of HOSTILE, as if typed so into the forms (their cells take any text) and
    into `ri record --note`: on the RI audit ``reference``."""
    fields = {"rationale": ("Audits", "Rationale"), "strengths": ("Audits", "Strengths"),
              "learning": ("Audits", "Learning"),
              "ri_action": ("RI follow-up", "Corrective action")}
    with raw_database(ws) as conn:
        (allocation,) = conn.execute("SELECT id FROM allocations WHERE reference = ?",
                                     (reference,)).fetchone()
        (return_id, stored), = conn.execute(
            "SELECT id, fields_json FROM returns WHERE allocation_id = ? AND kind = 'audit'"
            " AND replaced_at IS NULL", (allocation,)).fetchall()
        hostile = {**json.loads(stored), **{f: HOSTILE[w] for f, w in fields.items()}}
        conn.execute("UPDATE returns SET fields_json = ? WHERE id = ?",
                     (json.dumps(hostile), return_id))
        conn.execute("UPDATE answers SET comment = ? WHERE return_id = ? AND question_id ="
                     " (SELECT min(question_id) FROM answers WHERE return_id = ?)",
                     (HOSTILE[("Answers", "Comment")], return_id, return_id))
        conn.execute("UPDATE ri_steps SET note = ?", (HOSTILE[("RI steps", "Step note")],))


def workbook_rows(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet's rows as read back (text as typed), the marking cell aside."""
    out = {}
    for sheet in load_workbook(path).worksheets:
        rows = [[read_text(v) if isinstance(v, str) else v for v in row]
                for row in sheet.iter_rows(values_only=True)]
        width = len([h for h in rows[0] if h is not None and not str(h).startswith("OFFICIAL")])
        out[sheet.title] = [row[:width] for row in rows]
    return out


def records(rows: list[list[Any]]) -> Rows:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def plain(made: Path) -> dict[str, Rows]:
    return {name: records(rows) for name, rows in workbook_rows(made.parent / "data.xlsx").items()}


def test_grades_types_kinds_aspects_and_statuses_are_the_frameworks_labels(
        plain: dict[str, Rows]) -> None:
    allocations, audits = plain["Allocations"], plain["Audits"]
    assert {r["Kind"] for r in allocations} == {"Regular cycle"}
    assert {r["Audit type"] for r in allocations} == TYPE_LABELS
    assert {r["Drawn for"] for r in allocations} <= TYPE_LABELS
    assert {r["Grade of record"] for r in audits} == {"Requires improvement", "Good"}
    assert {r["Auditor's grade"] for r in audits} <= GRADE_LABELS
    assert {r["Own grade"] for r in plain["Self-reflections"]} - {None} <= GRADE_LABELS
    assert {r["Aspect"] for r in plain["Answers"]} == ASPECT_TITLES
    assert {r["Answer"] for r in plain["Answers"]} <= {"Yes", "No", "N/A"}
    assert {r["Status"] for r in plain["RI follow-up"]} == {"Open", "Closed"}
    assert {r["Step"] for r in plain["RI steps"]} == {STEPS["corrective-action"]}
    # the question's stable key beside its text, as the form asked it
    v1 = next(r for r in plain["Answers"] if r["Question ID"] == "V1")
    assert v1["Question"].startswith("Was the person involved")
    # no code anywhere but the question set's id (its own key)
    codes = [(sheet, column, value) for sheet, rows in plain.items() for r in rows
             for column, value in r.items() if value in CODES and column != "Question set"]
    assert codes == []


def test_every_date_is_a_date_cell_shown_dd_mm_yyyy(made: Path, plain: dict[str, Rows]) -> None:
    book = load_workbook(made.parent / "data.xlsx")
    dates = {(s.title, c.header) for s in SHEETS for c in s.columns
             if c.kind == DATE}
    seen = 0
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for column, cell in zip(header, row, strict=False):
                if (sheet.title, column) in dates and cell.value is not None:
                    assert isinstance(cell.value, datetime), (sheet.title, column, cell.value)
                    assert cell.number_format == "dd/mm/yyyy", (sheet.title, column)
                    seen += 1
    assert seen > 40
    assert {r["Completed"] for r in plain["Audits"]} == {datetime(2026, 11, 20)}
    assert {r["Done on"] for r in plain["RI steps"]} == {datetime(2026, 11, 25)}
    assert {r["On"] for r in plain["Escalations"]} == {datetime(2026, 11, 20)}


def test_ri_follow_up_shows_the_action_its_owner_due_date_and_steps(
        made: Path, plain: dict[str, Rows]) -> None:
    items = {r["Reference"]: r for r in plain["RI follow-up"]}
    assert len(items) == 3
    assert {r["Action by"] for r in items.values()} == {"Team manager"}
    assert {r["Action due"] for r in items.values()} == {datetime(2026, 12, 18)}  # DONE + 28
    assert {r["Opened"].date() for r in items.values()} == {date.today()}
    assert sum(r["Corrective action"] == HOSTILE[("RI follow-up", "Corrective action")]
               for r in items.values()) == 1
    recorded, = plain["RI steps"]
    stepped = items[recorded["Reference"]]
    assert stepped["Status"] == "Open" and stepped["Closed"] is None
    assert stepped["Steps outstanding"] == f"{STEPS['psw-meeting']}; {STEPS['esca-referral']}"
    closed = next(r for r in items.values() if r["Status"] == "Closed")
    assert closed["Closed"].date() == date.today() and "Practitioner left." in closed["Note"]
    assert closed["Steps outstanding"] == "; ".join(STEPS.values())  # closed with none done

    anonymised = {name: records(rows) for name, rows in
                  workbook_rows(made.parent / "anonymised.xlsx").items()}
    hidden = anonymised["RI follow-up"]
    assert {r["Action by"] for r in hidden} == {next(iter({r["Action by"] for r in hidden}))}
    assert str(hidden[0]["Action by"]).startswith("MGR-")
    assert {r["Action due"] for r in hidden} == {"2026-12"}
    assert {r["Done on"] for r in anonymised["RI steps"]} == {"2026-11"}
    assert {r["Reference"] for r in anonymised["RI steps"]} <= {r["Reference"] for r in hidden}


@pytest.mark.parametrize("version", ["data", "anonymised"])
def test_the_dictionary_lists_exactly_the_columns_of_every_sheet_and_file(
        made: Path, version: str) -> None:
    book = workbook_rows(made.parent / f"{version}.xlsx")
    described = records(book["Data dictionary"])
    marking, *columns = described
    assert (marking["Sheet"], marking["Column"]) == (MARKING_ROW, "Protective marking")
    assert "OFFICIAL-SENSITIVE" in marking["Meaning"]
    by_sheet: dict[str, list[str]] = {}
    for row in columns:
        by_sheet.setdefault(row["Sheet"], []).append(row["Column"])
        assert row["Meaning"] and row["Type"] and row["When anonymised"], row
    assert by_sheet == {title: rows[0] for title, rows in book.items()}
    folder = made.parent / version
    by_file: dict[str, list[str]] = {}
    for row in csv_rows(folder / "data-dictionary.csv")[2:]:
        by_file.setdefault(row[1], []).append(row[2])
    assert by_file == {p.name: csv_rows(p)[0] for p in folder.glob("*.csv")}
    grades = {r["Allowed values"] for r in columns if r["Column"] == "Grade of record"}
    assert grades == {"Requires improvement; Adequate; Good; Outstanding"}


def csv_cell(value: Any) -> str:
    """A workbook cell as its CSV file must hold it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return str(value)


@pytest.mark.parametrize("version", ["data", "anonymised"])
def test_csv_has_one_file_a_table_with_the_workbooks_rows(made: Path, version: str) -> None:
    book = workbook_rows(made.parent / f"{version}.xlsx")
    folder = made.parent / version
    names = {s.title: s.file_name for s in (*SHEETS, ABOUT, DICTIONARY)}
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [*(names[title] for title in book), "README.txt"])
    for title, rows in book.items():
        path = folder / names[title]
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
        parsed = csv_rows(path)
        assert parsed == [[csv_cell(v) for v in row] for row in rows], title
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        assert [list(frame.columns), *frame.to_numpy().tolist()] == parsed, title


@pytest.mark.parametrize("version", ["data", "anonymised"])
def test_no_csv_value_starts_as_a_formula(made: Path, version: str) -> None:
    values = [v for p in (made.parent / version).glob("*.csv") for row in csv_rows(p)
              for v in row]
    assert not [v for v in values if v.startswith(FORMULA_START)]


def test_hostile_text_is_text_in_the_workbook_and_defused_in_the_csv(made: Path) -> None:
    book = load_workbook(made.parent / "data.xlsx")
    folder = made.parent / "data"
    for (title, column), text in HOSTILE.items():
        sheet = book[title]
        at = [c.value for c in sheet[1]].index(column)
        cells = [row[at] for row in sheet.iter_rows(min_row=2)]
        (cell,) = [c for c in cells if isinstance(c.value, str) and read_text(c.value) == text]
        assert cell.data_type == "s", (title, column)
        file_rows = csv_rows(folder / next(s.file_name for s in SHEETS
                                           if s.title == title))
        assert "'" + text in [row[at] for row in file_rows], (title, column)


def test_the_anonymised_csv_shows_no_id_name_or_email(made: Path) -> None:
    folder = made.parent / "anonymised"
    text = "\n".join(p.read_text(encoding="utf-8-sig") for p in sorted(folder.iterdir())
                     if p.is_file() and not p.name.startswith("."))
    with open_workspace(made).store() as store:
        secrets = known_identifiers(store)
        allocations = store.draws.allocations(CYCLE)
    assert secrets and allocations
    for secret in secrets:
        assert not re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", text, re.I), secret
    for a in allocations:
        for value in (a.person_id, a.worker_id, a.record_id, a.reference, a.team):
            assert value not in text, value
    assert not re.findall(r"[\w.+'-]+\s*@\s*[\w-]+(?:\.[\w-]+)+", text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # months only
    about = {row[0]: row[1] for row in csv_rows(folder / "about-this-export.csv")[1:]}
    assert about["k required"] == "5" and "Action by" in about["Identifiers"]


def test_readme_carries_the_marking_and_names_every_file(made: Path) -> None:
    for version in ("data", "anonymised"):
        folder = made.parent / version
        lines = (folder / "README.txt").read_text(encoding="utf-8-sig").splitlines()
        assert lines[0] == lines[-1] == "OFFICIAL-SENSITIVE"
        assert all(len(line) <= 80 for line in lines)
        for path in folder.glob("*.csv"):
            assert any(line.split()[:1] == [path.name] for line in lines), path.name
    assert "pseudonyms" in (made.parent / "anonymised" / "README.txt").read_text()


def test_each_sheet_prints_landscape_one_page_wide_with_its_header_on_every_page(
        made: Path) -> None:
    for version in ("data.xlsx", "anonymised.xlsx"):
        for sheet in load_workbook(made.parent / version).worksheets:
            assert sheet.page_setup.orientation == "landscape", sheet.title
            assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
            assert sheet.sheet_properties.pageSetUpPr.fitToPage
            assert sheet.print_title_rows == "$1:$1", sheet.title


def test_a_second_csv_export_replaces_the_first_whole(made: Path, tmp_path: Path) -> None:
    out = tmp_path / "qa-data [1]"  # a name that is also a glob pattern
    qaudit_ok(made, "export", "--format", "csv", "--out", out)
    (out / "allocations.csv").write_text("stale", encoding="utf-8")
    qaudit_ok(made, "export", "--format", "csv", "--out", out)
    assert (out / "allocations.csv").read_bytes() == (made.parent / "data" /
                                                      "allocations.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no copy kept


@pytest.mark.parametrize(("args", "message"), [
    (("--out", "{tmp}/data.csv"), "must end in .xlsx"),
    (("--format", "csv", "--out", "{tmp}/data.xlsx"), "give --out a folder's name"),
    (("--format", "csv", "--out", "{tmp}/theirs"), "holds other files"),
    (("--format", "csv", "--out", "{tmp}/blocker"), "is a file"),
    (("--out", "{tmp}/blocker/data.xlsx"), "could not write"),
    (("--format", "csv", "--out", "{tmp}/blocker/data"), "could not write"),
])
def test_an_out_that_cannot_be_written_is_refused_and_nothing_is_left(
        run: Callable[..., Result], made: Path, tmp_path: Path, args: tuple[str, ...],
        message: str) -> None:
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    result = run("-w", made, "export", *(a.format(tmp=tmp_path) for a in args))
    assert result.code == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_a_csv_export_never_replaces_another_qaudit_folder(run: Callable[..., Result],
                                                            made: Path) -> None:
    cycle = open_workspace(made).cycle_dir(CYCLE)
    before = sorted(cycle.rglob("*"))
    result = run("-w", made, "export", "--format", "csv", "--out", cycle)
    assert result.code == 1 and "holds other files" in result.stderr
    assert sorted(cycle.rglob("*")) == before


def test_files_added_to_an_earlier_csv_export_stop_a_new_one_and_are_kept(
        run: Callable[..., Result], made: Path, tmp_path: Path) -> None:
    """A new export replaces its folder whole: an analyst's own files put in an earlier
    export (a script, a dashboard, a folder of notes) are named, and nothing is touched."""
    out = tmp_path / "analysis"
    qaudit_ok(made, "export", "--format", "csv", "--out", out)
    (out / "model.R").write_text("# three weeks of work\n", encoding="utf-8")
    (out / "board-dashboard.pbix").write_bytes(b"PBIX")
    (out / "mine").mkdir()
    (out / "mine" / "notes.txt").write_text("my notes\n", encoding="utf-8")
    (out / "zz-later.txt").write_text("and more\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run("-w", made, "export", "--format", "csv", "--out", out)
    assert result.code == 1 and "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "holds other files (board-dashboard.pbix, mine, model.R and 1 more)" in said
    assert "move those files out" in said
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_what_the_system_leaves_in_an_export_folder_does_not_stop_a_new_export(
        made: Path, tmp_path: Path) -> None:
    out = tmp_path / "analysis"
    qaudit_ok(made, "export", "--format", "csv", "--out", out)
    for name in (".DS_Store", "Thumbs.db", "desktop.ini"):
        (out / name).write_bytes(b"")
    qaudit_ok(made, "export", "--format", "csv", "--out", out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in (made.parent / "data").iterdir())


def test_an_export_folders_own_file_names_do_not_make_another_folder_qaudits(
        tmp_path: Path) -> None:
    """CSV files named as the export's are the analyst's own in a folder qaudit did not
    make (no marker): refused, and named."""
    (tmp_path / "allocations.csv").write_text("mine", encoding="utf-8")
    (tmp_path / "README.txt").write_text("mine", encoding="utf-8")
    problem = dataset.check_csv_folder(tmp_path)
    assert problem is not None and "(README.txt, allocations.csv)" in problem


def test_an_empty_folder_takes_a_csv_export(made: Path, tmp_path: Path) -> None:
    (tmp_path / "qa-data").mkdir()
    qaudit_ok(made, "export", "--format", "csv", "--out", tmp_path / "qa-data")
    assert (tmp_path / "qa-data" / "data-dictionary.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa-data"]


def test_a_failure_while_writing_csv_leaves_nothing(run: Callable[..., Result], made: Path,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    real = dataset.csv_text

    def fail_on_the_third(table: Table) -> str:
        written.append(table.sheet.key)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        return real(table)

    monkeypatch.setattr(dataset, "csv_text", fail_on_the_third)
    result = run("-w", made, "export", "--format", "csv", "--out", tmp_path / "qa-data")
    assert result.code == 1 and "No space left on device" in result.stderr
    assert "nothing was written" in result.stderr
    assert list(tmp_path.iterdir()) == []


@given(st.lists(st.text(max_size=12), min_size=1, max_size=4))
def test_any_text_reads_back_from_csv_and_never_starts_as_a_formula(values: list[str]) -> None:
    table = Table(ABOUT, ABOUT.columns, [
        (v, v[::-1]) for v in values])
    text = dataset.csv_text(table)
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert header == ["Topic", "What was done"]
    assert rows == [[dataset.csv_value(v), dataset.csv_value(v[::-1])] for v in values]
    for row in rows:
        for value in row:
            assert not value.startswith(FORMULA_START)
            original = value[1:] if value.startswith("'") and value[1:].startswith(
                FORMULA_START) else value
            assert original in values or original[::-1] in values


def test_a_help_example_shows_the_csv_format(run: Callable[..., Result]) -> None:
    help_text = " ".join(run("export", "--help").stdout.split())
    assert "--format" in help_text and "qaudit export --format csv --out qa-data" in help_text

