"""Every name qaudit writes is one Windows accepts, and every path stays well inside 260.

A council's QA team keeps its workspace on a Windows laptop or a OneDrive folder. Windows
refuses a name holding ``: * ? " < > | \\ /`` or a control character, one ending in a dot
or a space, and the device names (CON, NUL, COM1, LPT1..., whatever the extension or case);
Explorer and Excel refuse paths past 260 characters (Excel past 218). The rules here are
written out afresh, from Microsoft's "Naming Files, Paths, and Namespaces", and checked
with ``ntpath`` (the Windows path module, on any OS): not read from qaudit, so a test can
fail where qaudit's own rule is wrong.
"""

from __future__ import annotations

import ntpath
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath

import fill_forms
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import FIXTURES, qaudit_ok, small_workspace
from qaudit import layout
from qaudit.values import cycle_key, cycle_slug

#: Characters Windows never allows in a file or folder name.
FORBIDDEN = set('<>:"/\\|?*') | {chr(n) for n in range(32)}
#: Device names, reserved with any extension and in any case.
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
            *(f"{d}{n}" for d in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³"))}
#: A real council path: a OneDrive folder synced from SharePoint, under the user's profile.
WORKSPACE = r"C:\Users\jo.bloggs\OneDrive - Council\QA\qaudit"
#: A workspace folder as long as qaudit allows for (docs/terminal.md): 60 characters.
LONG_WORKSPACE = ntpath.join(r"C:\Users\first.lastname", "OneDrive - Borough Council", "QA",
                             "qaudit")
MAX_PATH = 260
EXCEL_MAX_PATH = 218
#: What ``files.atomic_path`` and ``files.write_bytes`` add while a file is written:
#: ``.<name>.<8 random>.tmp`` beside it.
TEMPORARY = len("..abcdefgh.tmp")
#: ``files.staged_folder``'s scratch folder in place of a cycle's or workshop's folder.
SCRATCH = ".qaudit-4194304-abcdefgh"


def windows_problem(name: str) -> str | None:
    """Why Windows would refuse ``name`` as a file or folder name, or None."""
    if not name or name in {".", ".."}:
        return "empty"
    if ntpath.basename(name) != name or ntpath.splitdrive(name)[0]:
        return "holds a separator or a drive"
    if bad := sorted(FORBIDDEN & set(name)):
        return f"holds {bad!r}"
    if name[-1] in ". ":
        return "ends in a dot or a space"
    if name.split(".")[0].rstrip(" ").upper() in RESERVED:
        return "a reserved device name"
    if len(name) > 255:
        return "longer than 255"
    return None


def assert_windows_path(relative: PurePath) -> None:
    for part in relative.parts:
        assert windows_problem(part) is None, (relative, part, windows_problem(part))


#: Text as people and case systems type it: any character, with the ones that trouble
#: Windows (and look-alikes of reserved names) far more often than chance would give them.
texts = st.one_of(
    st.text(min_size=1, max_size=120),
    st.text(st.sampled_from(list('<>:"/\\|?*. \t\nCONULPTcomAUX019¹ÎéΩ日-_')), min_size=1,
            max_size=40),
    st.sampled_from(["CON", "con.txt", "Nul", "COM1", "lpt9.xlsx", "AUX ", "com¹", "CONIN$",
                     "2026-27 C3.", " 2026-27 C3 ", "2026/27:C3", "Île-de-France", "ﬁle"]),
)
#: Text with a letter or digit somewhere: what qaudit takes as a name (it refuses the rest).
named = st.builds(lambda before, core, after: before + core + after, texts | st.just(""),
                  st.text("aZ09É", min_size=1, max_size=4), texts | st.just(""))


@given(texts)
def test_a_slug_is_a_windows_name_or_empty(text: str) -> None:
    slug = cycle_slug(text)
    assert slug == "" or windows_problem(slug) is None, (text, slug)
    assert len(slug) <= 40


@given(named, named, st.text(max_size=30))
def test_every_name_layout_makes_from_text_is_a_windows_name(name: str, other: str,
                                                             form: str) -> None:
    """Cycle, quadrant, workshop, year, deep dive and form names of any text."""
    stems = [layout.summary_stem(name), layout.highlights_stem(name, internal=True),
             layout.quadrant_stem(name, other), layout.deep_dive_stem(name),
             layout.year_stem(name, internal=True), layout.quadrant_draft(other)]
    names = [*stems, *(f"{s}.{ext}" for s in stems for ext in ("md", "html", "pdf", "docx")),
             *(layout.chart_file(s, c) for s in stems for c in layout.CHARTS)]
    reference = f"{cycle_slug(name)}-{random.Random(name).randint(1, 9999):03d}"
    paths = [layout.cycle_folder(Path(), name), layout.audit_form(Path(), reference),
             layout.reflection_form(Path(), reference),
             layout.moderation_workbook(Path(), name, 3), layout.workshop_folder(Path(), name),
             layout.workshop_pack(Path(), name), layout.grading_workbook(Path(), name, 60),
             layout.draft(Path(), layout.form_draft(reference, form, "reminder"), 12),
             Path(layout.feedback_pack(reference))]
    for made in names:
        assert windows_problem(made) is None, (name, other, made)
    for path in paths:
        assert_windows_path(path)


@given(st.lists(texts, min_size=1, max_size=30))
def test_service_manager_workbooks_are_numbered_whatever_the_names(managers: list[str]) -> None:
    for file_name in layout.manager_workbooks(managers).values():
        assert windows_problem(file_name) is None


@given(st.datetimes(timezones=st.just(UTC)), st.sampled_from(["replaced", "cancelled"]))
def test_a_folder_set_aside_is_named_without_a_colon(when: datetime, why: str) -> None:
    aside = layout.set_aside(Path("cycles") / "2026-27-C3", why, when)
    assert windows_problem(aside.name) is None
    assert aside.name.startswith("2026-27-C3.") and ":" not in aside.name


@given(st.text(max_size=80))
def test_only_a_hash_names_a_kept_decision(key: str) -> None:
    path = layout.decision_file(Path(".cache"), key)
    assert path is None or windows_problem(path.name) is None
    assert layout.decision_file(Path(".cache"), "ab" * 32) is not None


@given(st.text(alphabet="abcdefghij0123456789 -", min_size=41, max_size=80))
def test_long_names_that_differ_only_at_the_end_keep_two_names(text: str) -> None:
    assume(len(cycle_slug(text)) == 40)
    assert cycle_slug(text + "x") != cycle_slug(text + "y")
    assert cycle_key(text.upper()) == cycle_key(text.lower())


def longest_paths(workspace: str) -> dict[str, str]:
    """Every kind of path qaudit writes under a workspace, each with the longest names
    its inputs allow: a cycle name of 40 characters (allocate's limit), a workshop name of
    80, quadrants of 40, a reference numbered past 999, a set-aside folder, the temporary
    name a file has while it is written, and a scratch folder in place of its own."""
    cycle, workshop, quadrant = "W" * 40, "Q2 " + "w" * 77, "N" * 40
    reference = f"{cycle_slug(cycle)}-1234"
    folder = layout.cycle_folder(Path(), cycle)
    aside = layout.set_aside(folder, "cancelled", datetime(2026, 11, 4, tzinfo=UTC))
    reports = layout.report_folder(folder)
    stem = layout.quadrant_stem(cycle, quadrant, internal=True)
    outbox = layout.outbox(folder, "allocations")
    relative = {
        "register": layout.register(folder),
        "audit form": layout.audit_form(folder, reference),
        "self-reflection form": layout.reflection_form(folder, reference),
        "... of a cancelled cycle": layout.reflection_form(aside, reference),
        "... while written": layout.reflection_form(Path("cycles", SCRATCH), reference),
        "Service Manager workbook": layout.manager_workbook(folder, "service-manager-99.xlsx"),
        "moderation workbook": layout.moderation_workbook(layout.moderation_folder(folder),
                                                          cycle, 12),
        "quadrant report chart": reports / layout.chart_file(stem, "grades"),
        "quadrant report": reports / f"{stem}.docx",
        "... while made": Path(SCRATCH) / f"{stem}.docx",  # jobs/outputs: at the top
        "year report": layout.year_report_folder(Path()) / f"{layout.year_stem('2026-27')}.html",
        "deep dive report": reports / f"{layout.deep_dive_stem(cycle, internal=True)}.pdf",
        "draft": layout.draft(outbox, layout.form_draft(reference, "self-reflection",
                                                        "escalation"), 99),
        "quadrant draft": layout.draft(outbox, layout.quadrant_draft(quadrant), 99),
        "feedback pack": layout.feedback_packs(folder) / layout.feedback_pack(reference),
        "workshop pack": layout.workshop_pack(
            layout.workshop_folder(Path(layout.WORKSHOPS), workshop), workshop),
        "grading workbook": layout.grading_workbook(
            layout.workshop_folder(Path(layout.WORKSHOPS), workshop), workshop, 60),
        "kept decision": layout.decision_file(Path(*layout.DECISION_CACHE), "f" * 64),
    }
    paths = {}
    for what, path in relative.items():
        assert path is not None
        assert_windows_path(path)
        temporary = path.with_name(f".{path.name}.abcdefgh.tmp")
        paths[what] = ntpath.join(workspace, *temporary.parts)
    return paths


@pytest.mark.parametrize("workspace", [WORKSPACE, LONG_WORKSPACE])
def test_every_path_stays_well_inside_windows_limits(workspace: str) -> None:
    assert len(LONG_WORKSPACE) == 60
    for what, path in longest_paths(workspace).items():
        assert len(path) < MAX_PATH - 10, (what, len(path), path)
        final = path.removesuffix(".abcdefgh.tmp").replace(f"{ntpath.sep}.", ntpath.sep, 1)
        # Excel cannot open a workbook past 218: the ones people open, where qaudit left them
        if final.endswith(".xlsx") and not what.startswith("..."):
            assert len(final) <= EXCEL_MAX_PATH, (what, len(final), final)
    assert TEMPORARY == 14


# --- a real cycle: every file written under the workspace ----------------------------------


@pytest.fixture(scope="module")
def cycle_on_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small cycle named 'con' (a device name on Windows): drawn from a fixture export and
    drawn again (its first folder moved aside), its forms returned, moderated, reported and
    its drafts written; and a workshop named with a colon."""
    root = tmp_path_factory.mktemp("windows") / "ws"
    small_workspace(root, 1)
    export = root.parent / "export.xlsx"
    shutil.copy(FIXTURES / "clean.xlsx", export)
    draw = ("allocate", export, "--cycle", "con", "--from", "01/09/2026", "--to", "31/10/2026",
            "--seed", "3", "--due",
            (datetime.now(UTC).date() + timedelta(days=30)).strftime("%d/%m/%Y"))
    qaudit_ok(root, *draw)
    qaudit_ok(root, *draw, "--redraw")
    fill_forms.fill_cycle(layout.cycle_folder(root, "con"), root.parent / "returns", 3, None)
    qaudit_ok(root, "ingest", root.parent / "returns")
    qaudit_ok(root, "moderate", "select", "--cycle", "con", "--seed", "1")
    qaudit_ok(root, "report", "--cycle", "con")
    qaudit_ok(root, "staff", "import", managers_staff_list(root.parent / "staff.csv"))
    qaudit_ok(root, "send", "allocations", "--cycle", "con")
    qaudit_ok(root, "workshop", "make", "Q2: CON <review>?", "--cases", "2", "--participants",
              "2", "--seed", "1")
    return root


def managers_staff_list(path: Path) -> Path:
    """A staff list giving the fixture export's Service Managers an email each."""
    rows = list(load_workbook(FIXTURES / "clean.xlsx", read_only=True)["Report"]
                .iter_rows(values_only=True))
    column = rows[0].index("Service Manager")
    managers = sorted({str(r[column]) for r in rows[1:] if r[column]})
    path.write_text("Worker ID,Name,Email,Team,Role\n" + "".join(
        f"S{n},{m},manager{n}@example.org,Management,Service Manager\n"
        for n, m in enumerate(managers)), encoding="utf-8")
    return path


def test_every_file_a_cycle_writes_has_a_windows_name(cycle_on_disk: Path) -> None:
    written = [p.relative_to(cycle_on_disk) for p in cycle_on_disk.rglob("*")]
    assert len(written) > 40
    for path in written:
        assert_windows_path(path)
    names = {p.name for p in written}
    assert "cycle-con" in names and "con" not in names
    assert "cycle-con-001-audit.xlsx" in names
    assert any(n.startswith("cycle-con.replaced-") for n in names)
    assert "Q2-CON-review-cases.xlsx" in names and any(n.endswith(".eml") for n in names)


def test_a_cycle_written_on_this_machine_fits_a_windows_workspace(cycle_on_disk: Path) -> None:
    for path in cycle_on_disk.rglob("*"):
        relative = path.relative_to(cycle_on_disk)
        assert len(ntpath.join(LONG_WORKSPACE, *relative.parts)) < MAX_PATH - TEMPORARY
