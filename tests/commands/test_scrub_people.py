"""People qaudit learns from the staff list and the Service Managers' workbooks are never
published: a line manager named only in the staff list, an auditor typed only in a Service
Manager's workbook, and any email address, written into a practice message, a strength or
a moderation learning note, are scrubbed from the published reports, `moderate learning
--anonymise` and `export --anonymise` as the people of the case export already are.

All names, ids and addresses are invented.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import pytest
from openpyxl import load_workbook

from conftest import (
    EXAMPLES,
    Result,
    copy_workspace,
    edit_settings,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit.jobs.people import known_identifiers
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
#: Named only in the staff list: a line manager, with her email address.
LINE_MANAGER = "Ophelia Quarrington"
LINE_MANAGER_EMAIL = "o.quarrington@example.org"
#: Typed only in a Service Manager's returned workbook.
AUDITOR = "Ignatius Pellegrino"
AUDITOR_EMAIL = "ignatius.pellegrino@example.org"
#: Known nowhere: an address is removed all the same.
STRAY_EMAIL = "dana.mills@example.net"
WORDS = ("Ophelia", "Quarrington", "Ignatius", "Pellegrino")
EMAIL = re.compile(r"[\w.+'-]+\s*@\s*[\w-]+(?:\.[\w-]+)+")

STRENGTHS = (f"{LINE_MANAGER} and {AUDITOR} ({AUDITOR_EMAIL}) supported the practitioner;"
             f" Quarrington's supervision notes were clear. Copy to {STRAY_EMAIL}.")
LEARNING = (f"Pellegrino, Ignatius graded generously; discuss with Ms Quarrington"
            f" ({LINE_MANAGER_EMAIL}).")
MESSAGE = (f"Thank you to {LINE_MANAGER} and Ignatius Pellegrino for their support this"
           f" cycle. Questions to {STRAY_EMAIL}.")


def _staff_list(path: Path) -> Path:
    """The example staff list, its first worker's line manager named nowhere else."""
    with (EXAMPLES / "staff.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, first = rows[0], rows[1]
    first[header.index("Line Manager")] = LINE_MANAGER
    first[header.index("Line Manager Email")] = LINE_MANAGER_EMAIL
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 allocations (one per quadrant x type), the staff list imported, one Service
    Manager's workbook back naming the auditor, and every audit back as Good, shareable,
    its strengths and learning naming them both and email addresses."""
    root = tmp_path_factory.mktemp("people") / "ws"
    small_workspace(root, 1)
    with edit_settings(root) as settings:
        settings["reporting"]["suppression_threshold"] = 1  # every excerpt is shown
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              (date.today() + timedelta(days=20)).strftime("%d/%m/%Y"))
    qaudit_ok(root, "staff", "import", _staff_list(root.parent / "staff.csv"))
    ws = open_workspace(root)
    back = root.parent / "back"
    book = sorted((ws.cycle_dir(CYCLE) / "service-managers").glob("*.xlsx"))[0]
    fill_forms.fill_manager(book, back / book.name, random.Random(3), pool=[AUDITOR])
    rng = random.Random(5)
    for form in sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx")):
        fill_forms.fill_audit(form, back / form.name, rng, grade="Good", overrides={
            "strengths": STRENGTHS, "learning": LEARNING, "share_good_practice": "Yes"})
    qaudit_ok(root, "ingest", back)
    return root


@pytest.fixture
def ws(returned: Path, tmp_path: Path) -> Workspace:
    copy_workspace(returned, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def assert_nobody_named(text: str, where: str) -> None:
    for word in WORDS:
        assert not re.search(rf"(?<!\w){word}(?!\w)", text, re.IGNORECASE), (where, word)
    assert EMAIL.findall(text) == [], where


def test_the_staff_list_and_the_service_managers_choices_are_known(ws: Workspace) -> None:
    with ws.store() as store:
        assert {a.auditor_name for a in store.assignments.for_cycle(CYCLE)} == {AUDITOR}
        known = set(known_identifiers(store))
    assert {LINE_MANAGER, "Quarrington", "Ophelia", AUDITOR, "Pellegrino", "Ignatius",
            LINE_MANAGER_EMAIL, AUDITOR_EMAIL} <= known
    # The staff list's people, worker ids and teams, though none of them was drawn.
    assert {"Sienna Underwood", "Underwood", "W10056", "Mid Adult Social Care",
            "sienna.underwood@example.org"} <= known


def test_an_auditor_whose_choice_was_replaced_stays_known(ws: Workspace) -> None:
    with raw_database(ws) as conn:
        allocation = conn.execute("SELECT allocation_id FROM auditor_assignments").fetchone()[0]
        conn.execute(
            "INSERT INTO auditor_assignments (allocation_id, auditor_name, auditor_email,"
            " auditor_role, file_name, file_sha256, received_at, replaced_at) VALUES"
            " (?, 'Cosmo Wetherall', 'c.wetherall@example.org', 'Practice Lead', 'old.xlsx',"
            " '0', '2026-11-01T09:00:00+00:00', '2026-11-02T09:00:00+00:00')", (allocation,))
    with ws.store() as store:
        known = set(known_identifiers(store))
    assert {"Cosmo Wetherall", "Wetherall", "Cosmo", "c.wetherall@example.org"} <= known


def test_every_email_address_the_case_export_gave_is_known(ws: Workspace) -> None:
    """Whatever email columns the allocations have (the practitioner's and the Service
    Manager's, from the case export), each address is scrubbed like a name."""
    with raw_database(ws) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(allocations)")
                   if r[1].endswith("_email")]
        for column in columns:
            conn.execute(f"UPDATE allocations SET {column} = 'x.' || id || '.{column}"
                         f"@example.org'")
    with ws.store() as store:
        known = set(known_identifiers(store))
    assert {f"x.1.{column}@example.org" for column in columns} <= known


def test_published_reports_name_nobody_from_the_staff_list_or_the_workbooks(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    message = tmp_path / "message.txt"
    message.write_text(MESSAGE, encoding="utf-8")
    published, internal = tmp_path / "published", tmp_path / "internal"
    for out, extra in ((published, ()), (internal, ("--internal",))):
        result = run("-w", ws.root, "report", "--cycle", CYCLE, "--format", "md",
                     "--message", message, "--out", out, *extra)
        assert result.code == 0, result.stderr
    highlights = (internal / "2026-27-C3-highlights-internal.md").read_text()
    assert LINE_MANAGER in highlights and AUDITOR_EMAIL in highlights  # what is at stake
    pages = sorted(published.glob("*.md"))
    assert len(pages) >= 3
    for page in pages:
        assert_nobody_named(page.read_text(), page.name)
    summary = (published / "2026-27-C3-summary.md").read_text()
    assert "Thank you to (removed) and (removed) for their support" in summary
    assert "Questions to (removed)." in summary
    shown = (published / "2026-27-C3-highlights.md").read_text()
    assert ("(removed) and (removed) ((removed)) supported the practitioner; (removed)'s"
            " supervision notes were clear. Copy to (removed).") in shown


def test_moderation_learning_for_workshops_names_nobody(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert run("-w", ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", "4").code == 0
    session = ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation.xlsx"
    note = f"Spoke to {LINE_MANAGER} and Pellegrino; write to {AUDITOR_EMAIL}."
    fill_forms.fill_moderation(session, tmp_path / "m.xlsx", random.Random(7),
                               overrides={"mod_1_learning": note})
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx").code == 0
    internal = run("-w", ws.root, "moderate", "learning", "--cycle", CYCLE).stdout
    assert "Quarrington" in internal and "Pellegrino" in internal
    public = tmp_path / "workshop.md"
    result = run("-w", ws.root, "moderate", "learning", "--cycle", CYCLE, "--anonymise",
                 "--out", public)
    assert result.code == 0, result.stderr
    text = public.read_text()
    assert_nobody_named(text, public.name)
    assert "Spoke to (removed) and (removed); write to (removed)." in text


def cells(path: Path) -> dict[str, list[dict[str, object]]]:
    wb = load_workbook(path)
    out: dict[str, list[dict[str, object]]] = {}
    for sheet in wb.worksheets:
        header, *rows = list(sheet.iter_rows(values_only=True))
        out[sheet.title] = [dict(zip(header, row, strict=True)) for row in rows]
    return out


def test_the_anonymised_export_names_nobody_and_holds_no_email_address(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    for name, extra in (("full.xlsx", ()), ("a.xlsx", ("--anonymise",))):
        result = run("-w", ws.root, "export", *extra, "--out", tmp_path / name)
        assert result.code == 0, result.stderr
    full = cells(tmp_path / "full.xlsx")
    assert STRENGTHS in {r["Strengths"] for r in full["Audits"]}  # what is at stake
    data = cells(tmp_path / "a.xlsx")
    # The staff list, the auditors named, messages and feedback are not exported at all.
    assert set(data) == set(full) | {"About this export"}
    about = {str(r["Topic"]): str(r["What was done"]) for r in data["About this export"]}
    assert "staff list" in about["Not exported"] and "email" in about["Free text"]
    text = "\n".join(str(v) for rows in data.values() for row in rows for v in row.values()
                     if v is not None)
    assert_nobody_named(text, "export --anonymise")
    with (EXAMPLES / "staff.csv").open(encoding="utf-8") as f:
        staff = {r[c].lstrip("+") for r in csv.DictReader(f) for c in (
            "Name", "Line Manager", "Service Manager")} - {""}
    identified = "\n".join(str(v) for rows in full.values() for row in rows
                           for v in row.values() if v is not None)
    assert [n for n in staff if n in identified]
    assert [n for n in staff if n in text] == []
    assert {r["Strengths"] for r in data["Audits"]} == {
        "(removed) and (removed) ((removed)) supported the practitioner; (removed)'s"
        " supervision notes were clear. Copy to (removed)."}
    assert {r["Learning"] for r in data["Audits"]} == {
        "(removed) graded generously; discuss with (removed) ((removed))."}
