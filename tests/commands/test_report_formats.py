"""`qaudit report --format pdf|docx`: Board papers printed by a browser and written for Word,
showing what the published Markdown and HTML show and nothing they hide."""

from __future__ import annotations

import hashlib
import html
import os
import random
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fill_forms
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from realclients import needs_chromium, needs_writer, pdf_pages, soffice_pdf

from conftest import EXAMPLES, GOLDEN, Result, qaudit_ok, small_workspace
from qaudit import printing
from qaudit.commands import common
from qaudit.errors import QauditError
from qaudit.jobs.people import known_identifiers
from qaudit.jobs.report import decisions
from qaudit.rendering import md_escape, md_text
from qaudit.report_markdown import Block, Run, blocks
from qaudit.reports import HIDDEN
from qaudit.word import TABLE_SIZES, Page, clean, column_widths, document
from qaudit.workspace import open_workspace

CYCLE = "2026-27 C3"
TITLE = f"Case audit summary: {CYCLE}"
MARKING = "OFFICIAL-SENSITIVE"
STEM = "2026-27-C3-summary"
#: A message a person might paste: a spreadsheet formula, HTML, template code, Markdown,
#: a link and a control character (the bell), which must all arrive as plain text.
HOSTILE = ('=HYPERLINK("http://evil.example","click") <script>alert(1)</script>'
           ' {{ 7*7 }} {% raw %} [link](http://evil.example) **bold** | pipe \x07bell')
HOSTILE_SHOWN = HOSTILE.replace("\x07", "")


@dataclass(frozen=True)
class Reported:
    root: Path
    published: Path  # the summary as md, html and docx
    internal: Path  # the QA team's version as md and docx
    victim: str  # a practitioner's name the message gives


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Reported:
    """A cycle drawn, returned (one RI with an escalation) and moderated; its summary
    written as Markdown, HTML and Word, published and internal, with a message naming a
    practitioner among hostile text. No real client here."""
    base = tmp_path_factory.mktemp("formats")
    root = base / "ws"
    ws = small_workspace(root, 2)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due", "11/12/2026")
    rng = random.Random(4)
    for i, form in enumerate(sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))):
        fill_forms.fill_audit(form, base / "back" / form.name, rng, escalate=i == 0,
                              grade="Requires improvement" if i == 0 else None,
                              when=date(2026, 11, 20))
    qaudit_ok(root, "ingest", base / "back")
    qaudit_ok(root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    book = ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation.xlsx"
    fill_forms.fill_moderation(book, base / "mod.xlsx", random.Random(1))
    qaudit_ok(root, "moderate", "ingest", base / "mod.xlsx")
    with ws.store() as store:
        victim = store.draws.allocations(CYCLE)[0].worker_name
    message = base / "message.txt"
    message.write_text(f"Thanks to {victim} for a fine assessment.\n\n{HOSTILE}\n",
                       encoding="utf-8")
    for out, extra in ((base / "published", ()), (base / "internal", ("--internal",))):
        qaudit_ok(root, "report", "--cycle", CYCLE, "--kind", "summary", "--message", message,
                  "--format", "both", "--format", "docx", "--out", out, *extra)
    return Reported(root, base / "published", base / "internal", victim)


@pytest.fixture(scope="module")
def printed(reported: Reported, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published summary printed to PDF by the browser qaudit finds (Chromium here)."""
    out = tmp_path_factory.mktemp("printed")
    qaudit_ok(reported.root, "report", "--cycle", CYCLE, "--kind", "summary", "--format",
              "pdf", "--out", out)
    return out


def _docx(path: Path) -> Any:
    import docx

    return docx.Document(str(path))


def _flat(text: str) -> str:
    return " ".join(text.split())


def _md_rows(markdown: str) -> list[list[str]]:
    """Every row of every table of a Markdown report, cells unescaped (not the delimiter
    rows): read here independently of qaudit's own reader."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            rows.append([re.sub(r"\\(.)", r"\1", c).strip() for c in cells])
    return rows


def _docx_rows(document: Any) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for table in document.tables
            for row in table.rows]


# --- PDF ------------------------------------------------------------------------------------


@needs_chromium
def test_pdf_has_the_title_and_on_every_page_the_marking_and_its_number(
        printed: Path) -> None:
    assert sorted(p.name for p in printed.iterdir()) == [f"{STEM}.pdf"]  # no HTML left
    pages = pdf_pages(printed / f"{STEM}.pdf")
    assert len(pages) > 1
    assert TITLE in pages[0]
    for number, text in enumerate(pages, start=1):
        assert MARKING in text, number
        assert f"Page {number} of {len(pages)}" in text


@needs_chromium
def test_pdf_shows_each_table_row_as_published_never_a_hidden_figure(
        reported: Reported, printed: Path) -> None:
    """Every row of the grade tables reads in the PDF as in the published Markdown, with
    its '*' marks; the internal version's figures for those cells are not there."""
    text = _flat(" ".join(pdf_pages(printed / f"{STEM}.pdf")))
    published = _md_rows((reported.published / f"{STEM}.md").read_text(encoding="utf-8"))
    internal = _md_rows((reported.internal / f"{STEM}-internal.md").read_text(
        encoding="utf-8"))
    hidden_rows = [(row, exact) for row, exact in zip(published, internal, strict=False)
                   if "*" in row[1:] and row[0] == exact[0] and row != exact]
    assert hidden_rows, "the small cycle has hidden figures"
    for row, exact in hidden_rows:
        assert _flat(" ".join(row)) in text
        assert _flat(" ".join(exact)) not in text


def test_no_browser_is_one_clear_error_and_nothing_is_written(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for name in (printing.ENV_VAR, "ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(printing, "MAC_APPS", ())
    result = run("-w", reported.root, "report", "--cycle", CYCLE, "--format", "pdf",
                 "--format", "html", "--out", tmp_path / "out")
    assert result.code == 1
    assert "none was found" in result.stderr and printing.ENV_VAR in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def _fake_browser(folder: Path, body: str) -> Path:
    """A program that takes Chromium's arguments and does ``body`` (POSIX shell)."""
    script = folder / "fake-browser"
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(0o755)
    return script


_HALF_PDF = ('for a in "$@"; do case "$a" in --print-to-pdf=*)'
             ' printf "%%PDF-1.7 half a page" > "${a#--print-to-pdf=}";; esac; done')


@pytest.mark.skipif(os.name != "posix", reason="the fake browsers are shell scripts")
@pytest.mark.parametrize(("body", "said"), [
    ("echo 'GPU process crashed' >&2; exit 1", "exit status 1 (GPU process crashed)"),
    ("exit 0", "it made no PDF"),
    (_HALF_PDF, "it made no PDF"),
    ("sleep 30 & sleep 30", "had not finished after 1 seconds"),
], ids=["crashes", "writes-nothing", "writes-half", "hangs"])
def test_a_browser_that_fails_is_a_clear_error_and_leaves_nothing(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, body: str, said: str) -> None:
    """Whatever the browser does wrong, the report is named, and nothing of the run is
    left: no PDF, half or whole, and none of the Markdown or HTML asked for with it."""
    monkeypatch.setenv(printing.ENV_VAR, str(_fake_browser(tmp_path, body)))
    monkeypatch.setattr(printing, "TIMEOUT_SECONDS", 1)
    out = tmp_path / "out"
    result = run("-w", reported.root, "report", "--cycle", CYCLE, "--kind", "summary",
                 "--format", "both", "--format", "pdf", "--out", out)
    assert result.code == 1
    assert f"could not print the report {STEM} to PDF" in _flat(result.stderr)
    assert said in _flat(result.stderr) and "Nothing was written" in _flat(result.stderr)
    assert not out.exists()


def test_an_unknown_browser_setting_is_named(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(printing.ENV_VAR, str(tmp_path / "no-such-browser"))
    result = run("-w", reported.root, "report", "--cycle", CYCLE, "--format", "pdf",
                 "--out", tmp_path / "out")
    assert result.code == 1
    assert "QAUDIT_BROWSER is set to" in result.stderr and "not a program here" in result.stderr
    assert not (tmp_path / "out").exists()


def test_windows_edge_is_found_where_windows_installs_it(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printing, "MAC_APPS", ())
    edge = tmp_path / "Program Files (x86)" / "Microsoft" / "Edge" / "Application" / "msedge.exe"
    edge.parent.mkdir(parents=True)
    edge.write_bytes(b"")
    environ = {"PATH": str(tmp_path / "nothing"), "ProgramFiles(x86)": str(edge.parents[3])}
    assert printing.find_browser(environ) == edge
    with pytest.raises(QauditError, match="none was found"):
        printing.find_browser({"PATH": str(tmp_path / "nothing")})


# --- Word -----------------------------------------------------------------------------------


def test_word_document_has_headings_tables_pictures_and_the_marking(
        reported: Reported) -> None:
    from docx.oxml.ns import qn

    document = _docx(reported.published / f"{STEM}.docx")
    headings: dict[str, list[str]] = defaultdict(list)
    for p in document.paragraphs:
        headings[p.style.name].append(p.text)
    assert headings["Heading 1"] == [TITLE]
    assert {"The cycle", "Grades", "Against previous cycles"} <= set(headings["Heading 2"])
    assert document.tables
    for table in document.tables:
        header = table.rows[0]._tr.trPr
        assert header is not None and header.find(qn("w:tblHeader")) is not None
        assert all(r.bold for c in table.rows[0].cells for r in c.paragraphs[0].runs)
    page = (reported.published / f"{STEM}.html").read_text(encoding="utf-8")
    described = [html.unescape(d) for d in re.findall(r'<desc id="[a-z]+-desc">(.*?)</desc>',
                                                       page, flags=re.S)]
    pictures = [shape._inline.docPr.get("descr") for shape in document.inline_shapes]
    assert len(pictures) == 2 and pictures == described
    for section in document.sections:
        assert MARKING in section.header.paragraphs[0].text
        footer = section.footer.paragraphs[0]
        assert MARKING in footer.text and "Page  of " in footer.text  # fields between
        assert re.findall(r'w:instr=" (\w+) "', footer._p.xml) == ["PAGE", "NUMPAGES"]
    properties = document.core_properties
    assert properties.title == TITLE and properties.author == "Practice Quality Team"
    assert properties.last_modified_by == "Practice Quality Team"


def test_word_shows_the_figures_the_markdown_shows(reported: Reported) -> None:
    """Table by table, row by row, cell by cell; and each list item."""
    markdown = (reported.published / f"{STEM}.md").read_text(encoding="utf-8")
    document = _docx(reported.published / f"{STEM}.docx")
    assert _docx_rows(document) == _md_rows(markdown)
    bullets = [re.sub(r"\\(.)", r"\1", line[2:]) for line in markdown.splitlines()
               if line.startswith("- ")]
    assert [p.text for p in document.paragraphs if p.style.name == "List Bullet"] == bullets
    assert "*" in {c for row in _docx_rows(document) for c in row}


@pytest.mark.parametrize(("args", "stem", "title"), [
    (("--cycle", CYCLE, "--kind", "highlights"), "2026-27-C3-highlights",
     f"Case audit highlights: {CYCLE}"),
    (("--kind", "year", "--year", "2026-27"), "2026-27-year", "Case audit year: 2026-27"),
], ids=["highlights", "year"])
def test_every_kind_of_report_is_a_word_document_of_its_markdown(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        args: tuple[str, ...], stem: str, title: str) -> None:
    result = run("-w", reported.root, "report", *args, "--format", "md", "--format", "docx",
                 "--out", tmp_path)
    assert result.code == 0, result.stderr
    document = _docx(tmp_path / f"{stem}.docx")
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == [title]
    assert _docx_rows(document) == _md_rows((tmp_path / f"{stem}.md").read_text("utf-8"))


def test_hostile_text_is_plain_text_in_word(reported: Reported) -> None:
    """A formula, HTML, template code, Markdown and a link arrive as the words typed; the
    control character is dropped; nothing becomes a link or a field."""
    path = reported.published / f"{STEM}.docx"
    texts = [p.text for p in _docx(path).paragraphs]
    assert HOSTILE_SHOWN in texts
    with zipfile.ZipFile(path) as package:
        body = package.read("word/document.xml").decode("utf-8")
        footers = [package.read(n).decode() for n in package.namelist() if "footer" in n]
    assert "hyperlink" not in body and "instrText" not in body and "fldSimple" not in body
    assert "\x07" not in body
    assert all(set(re.findall(r'w:instr=" (\w+) "', f)) <= {"PAGE", "NUMPAGES"}
               for f in footers)


def test_published_word_names_nobody_the_internal_one_names(reported: Reported) -> None:
    ws = open_workspace(reported.root)
    with ws.store() as store:
        identifiers = [*known_identifiers(store),
                       *(a.reference for a in store.draws.allocations(CYCLE))]

    def named(path: Path) -> set[str]:
        document = _docx(path)
        text = "\n".join([p.text for p in document.paragraphs]
                         + [" ".join(r) for r in _docx_rows(document)])
        return {i for i in identifiers
                if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text)}

    internal = named(reported.internal / f"{STEM}-internal.docx")
    assert reported.victim in internal and len(internal) > 1  # the name, the RI references
    assert named(reported.published / f"{STEM}.docx") == set()
    marked = _docx(reported.internal / f"{STEM}-internal.docx").sections[0].header
    assert "INTERNAL" in marked.paragraphs[0].text


def test_the_same_report_gives_the_same_word_document(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the file changes with the time it was written (its properties are dated
    the report's day), and it is all that --format docx writes."""
    monkeypatch.setattr("qaudit.commands.report.today", lambda: date(2026, 12, 20))
    made = []
    for out in (tmp_path / "a", tmp_path / "b"):
        result = run("-w", reported.root, "report", "--cycle", CYCLE, "--kind", "summary",
                     "--format", "docx", "--out", out)
        assert result.code == 0 and result.stderr == ""  # no progress bar when piped
        assert sorted(p.name for p in out.iterdir()) == [f"{STEM}.docx"]
        made.append((out / f"{STEM}.docx").read_bytes())
    assert made[0] == made[1]
    assert _docx(tmp_path / "a" / f"{STEM}.docx").core_properties.created == datetime(
        2026, 12, 20, tzinfo=UTC)


def test_a_progress_bar_shows_on_a_terminal(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common.err, "_force_terminal", True)  # as if stderr were a terminal
    monkeypatch.setattr(common.err, "is_interactive", True)
    result = run("-w", reported.root, "report", "--cycle", CYCLE, "--kind", "highlights",
                 "--format", "docx", "--out", tmp_path)
    assert result.code == 0
    assert "Writing reports" in result.stderr


@needs_writer
def test_libreoffice_opens_the_word_document_and_prints_its_headings(
        reported: Reported, tmp_path: Path) -> None:
    (pdf,) = soffice_pdf([reported.published / f"{STEM}.docx"], tmp_path)
    pages = pdf_pages(pdf)
    text = _flat(" ".join(pages))
    for heading in (TITLE, "The cycle", "Grades", "Against previous cycles"):
        assert heading in text
    assert all(MARKING in page for page in pages)
    assert f"Page 1 of {len(pages)}" in _flat(pages[0])


def test_help_shows_the_formats_and_an_example(run: Callable[..., Result]) -> None:
    result = run("report", "--help")
    assert result.code == 0
    text = _flat(result.stdout)
    assert "pdf" in text and "docx" in text and "--format pdf --format docx" in text


# --- reading qaudit's Markdown, laying out a table (pure) -----------------------------------


def _runs_text(runs: tuple[Run, ...]) -> str:
    return "".join(r.text for r in runs)


def _text(block: Block) -> str:
    return _runs_text(block.runs)


def _looks(block: Block) -> list[tuple[str, bool, bool]]:
    return [(r.text, r.bold, r.italic) for r in block.runs]


def test_a_hidden_figure_is_never_read_as_emphasis() -> None:
    """The lone '*' the reports print for a hidden figure, wherever a Markdown viewer shows
    it as itself (beside a space, in brackets, before a comma), is the same '*' in Word."""
    lines = ["Moderated: * of 8 returned audits (*); exact agreement *; grades changed 0",
             "Requires improvement: 0 of * returned audits (*, 95% interval *)",
             "Good or better: * of 8 audits (95% interval *).", "Person's voice: *",
             "Moderated: 0; grades changed: 0; exact agreement: *", "3 * of 12 (*)"]
    for line in lines:
        (block,) = blocks(line)
        assert _looks(block) == [(line, False, False)]
    (note,) = blocks("*Counts from 1 to 4 are shown as `*`, and so on.*")
    assert _looks(note) == [("Counts from 1 to 4 are shown as *, and so on.", False, True)]
    (table,) = blocks("| | Good | Total |\n|---|---:|---:|\n| * | * (*) | 3 * |\n")
    assert [[_runs_text(c) for c in row] for row in table.rows] == [["*", "* (*)", "3 *"]]
    assert not any(r.italic for row in table.rows for cell in row for r in cell)


def test_emphasis_is_what_commonmark_makes_it() -> None:
    """Two marks that may both open and close, as in '(*) ... (*)', are emphasis to a
    Markdown viewer and so in Word too; escaped, they are two marks."""
    (paired,) = blocks("Moderated: * of * (*); the 20% target (*) is *")
    assert _looks(paired) == [("Moderated: * of * (", False, False),
                              ("); the 20% target (", False, True), (") is *", False, False)]
    (escaped,) = blocks(r"Moderated: \* of \* (\*); the 20% target (\*) is \*")
    assert _looks(escaped) == [("Moderated: * of * (*); the 20% target (*) is *", False, False)]
    (mixed,) = blocks("**Purpose.** a *b **c** d* e_f_ g __h__ 2*3*4 snake_case_name")
    assert _looks(mixed) == [("Purpose.", True, False), (" a ", False, False),
                             ("b ", False, True), ("c", True, True), (" d", False, True),
                             (" e_f_ g ", False, False), ("h", True, False),
                             (" 2", False, False), ("3", False, True),
                             ("4 snake_case_name", False, False)]


def test_the_golden_reports_read_as_a_viewer_shows_them() -> None:
    """Real report Markdown (every kind, published and internal): every table cell as
    written (a hidden figure's '*' too), every line with a hidden figure word for word and
    upright, every heading at its level, and the italic lines italic."""
    hidden_lines = 0
    for path in sorted(GOLDEN.glob("*.md")):
        markdown = path.read_text(encoding="utf-8")
        read = list(blocks(markdown))
        tables = [b for b in read if b.kind == "table"]
        assert [[_runs_text(c) for c in row] for t in tables
                for row in (t.header, *t.rows)] == _md_rows(markdown), path.name
        texts = {_text(b): b for b in read if b.kind != "table"}
        for line in markdown.splitlines():
            if r"\*" in line and not line.startswith(("|", "*", "- *", ">", "**")):
                block = texts[re.sub(r"\\(.)", r"\1", line.removeprefix("- "))]
                assert not any(r.italic or r.bold for r in block.runs), line
                hidden_lines += 1
            elif line.startswith("*") and line.endswith("*") and not line.startswith("**"):
                assert all(r.italic for r in texts[line[1:-1].replace("`", "")].runs), line
        headings = [(len(h), t) for h, t in re.findall(r"^(#+) (.*)$", markdown, flags=re.M)]
        assert [(b.level, _text(b)) for b in read if b.kind == "heading"] == headings
    assert hidden_lines >= 5, "the golden reports have hidden figures outside tables"


def test_escaped_text_stays_text_and_links_keep_their_address() -> None:
    (line,) = blocks(r"\[x\](http://e) \*\*no\*\* \| [Guide](https://example.org/a\_b)")
    assert "".join(r.text for r in line.runs) == (
        "[x](http://e) **no** | Guide (https://example.org/a_b)")
    (table,) = blocks("| a \\| b | c |\n|---|---:|\n| 1 | * |\n")
    assert table.kind == "table" and table.right == (False, True)
    assert [["".join(r.text for r in c) for c in row] for row in table.rows] == [["1", "*"]]


def test_escapes_links_images_lists_and_quotes_read_as_a_viewer_shows_them() -> None:
    markdown = "\n\n".join([
        "> **INTERNAL: identifiable.**",
        r"\[x\](http://e) \*\*no\*\* \| \_a\_ \\ \` \# [Guide](https://example.org/a\_b)",
        "See the [appendix](#appendix) and <https://example.org/caf%C3%A9> or <a@b.example>.",
        "![Grades](grades)",
        "Inline ![a *chart*](trend) here.",
        "- one\n  - two\n    - three\n      - four\n- five",
        "3. third\n4. fourth",
        "<b>bold?</b> &amp; &copy; a  \nb",
        "    code *not* emphasis",
        "---",
        "| a \\| b | c |\n|---|:---:|\n| 1 | * |\n| 2 |\n| 3 | 4 | 5 |",
    ])
    read = list(blocks(markdown))
    assert [(b.kind, b.level, _text(b)) for b in read if b.kind != "table"] == [
        ("banner", 0, "INTERNAL: identifiable."),
        ("paragraph", 0, "[x](http://e) **no** | _a_ \\ ` # Guide (https://example.org/a_b)"),
        ("paragraph", 0, "See the appendix and https://example.org/café or a@b.example."),
        ("image", 0, ""),
        ("paragraph", 0, "Inline a chart here."),
        ("bullet", 1, "one"), ("bullet", 2, "two"), ("bullet", 3, "three"),
        ("bullet", 4, "four"), ("bullet", 1, "five"),
        ("numbered", 1, "3. third"), ("numbered", 1, "4. fourth"),
        ("paragraph", 0, "<b>bold?</b> & © a\nb"),
        ("paragraph", 0, "code *not* emphasis"),
    ]
    assert all(r.bold for r in read[0].runs)
    image = read[3]
    assert (image.alt, image.target) == ("Grades", "grades")
    (table,) = (b for b in read if b.kind == "table")
    assert [_runs_text(c) for c in table.header] == ["a | b", "c"]
    assert table.right == (False, False)  # centred is not right-aligned
    assert [[_runs_text(c) for c in row] for row in table.rows] == [
        ["1", "*"], ["2", ""], ["3", "4"]]


def test_lists_line_breaks_and_code_are_word_paragraphs() -> None:
    """Nested bullets in Word's deeper list styles, a numbered item with its own number
    (Word's numbering would run on from list to list), a hard line break and a code
    block's lines as line breaks."""
    import io

    import docx

    made = document("- one\n  - two\n\n1. first\n2. second\n\nend of  \nline\n\n"
                    "```\nx = 1\ny = 2\n```\n", {},
                    Page(marking="", internal=False, team="QA", generated=date(2026, 12, 20)))
    paragraphs = docx.Document(io.BytesIO(made)).paragraphs
    assert [(p.style.name, p.text) for p in paragraphs] == [
        ("List Bullet", "one"), ("List Bullet 2", "two"), ("List", "1. first"),
        ("List", "2. second"), ("Normal", "end of\nline"), ("Normal", "x = 1\ny = 2")]


@pytest.fixture(scope="module")
def summary(reported: Reported) -> Callable[..., str]:
    """The published summary's Markdown as its template writes it, with changes to its
    data (the figures a smaller cycle would hide, a message)."""
    from qaudit.jobs.report import build_reports
    from qaudit.rendering import render_template

    ws = open_workspace(reported.root)
    with ws.store() as store:
        data = build_reports(ws, store, CYCLE, internal=False, message="",
                             today=date(2026, 12, 20)).summary

    def markdown(**changes: Any) -> str:
        return render_template(ws.templates, "reports", "summary.md.j2", {
            **data, "charts": {"grades": "grades", "trend": "trend"}, **changes})

    return markdown


def test_hidden_moderation_figures_are_marks_in_word_as_in_the_markdown(
        summary: Callable[..., str]) -> None:
    """A cycle with too few audits back hides its moderation figures, the target among
    them: every '*' of that line is shown, upright."""
    markdown = summary(moderation={
        "moderated": "*", "share": "*", "rate": "20%", "target": "*", "met": "*",
        "exact": "*", "changed": "*"})
    (line,) = (x for x in markdown.splitlines() if x.startswith("- Moderated:"))
    (block,) = (b for b in blocks(markdown) if _text(b).startswith("Moderated:"))
    assert _looks(block) == [(re.sub(r"\\(.)", r"\1", line[2:]), False, False)]


#: Paragraphs a person might type that Markdown would read as something else: an entity, a
#: fence, a rule, a bullet, a numbered item, a heading's underline, an indented code block.
_MESSAGES = ["Fish &amp; chips &copy; 2026", "~~~ and then", "---", "- one point", "+ two",
             "1. first", "12) twelfth", "===", "    indented, not code",
             "Thanks, all (*see below*) & 20% more"]


@pytest.mark.parametrize("typed", _MESSAGES)
def test_a_message_paragraph_is_shown_as_typed(summary: Callable[..., str], typed: str
                                               ) -> None:
    """What a person typed as a paragraph of the message reads the same in Word (and to
    a Markdown viewer) as in the HTML: no entity, list, rule or code block made of it (the
    spaces before it, which no viewer shows, aside)."""
    markdown = summary(message=[typed, "After."])
    read = [(b.kind, _text(b)) for b in blocks(markdown)]
    assert ("paragraph", typed.strip()) in read and ("paragraph", "After.") in read


@given(st.lists(st.lists(st.text(alphabet="ab %()*", max_size=30), min_size=1, max_size=9),
                min_size=1, max_size=20))
def test_columns_fill_the_width_and_hold_their_longest_word_when_they_can(
        cells: list[list[str]]) -> None:
    columns = max(len(row) for row in cells)
    widths, size = column_widths(cells, columns, 174.0)
    assert len(widths) == columns and abs(sum(widths) - 174.0) < 1e-6
    assert all(w > 0 for w in widths) and size in TABLE_SIZES
    longest = [max((len(w) for row in cells[1:] if j < len(row) for w in row[j].split()),
                   default=0) for j in range(columns)]
    if size == TABLE_SIZES[0] and sum(longest) * 0.22 * 10 + 4.5 * columns < 150:
        assert all(w >= n * 0.22 * 10 for w, n in zip(widths, longest, strict=True))


#: Markdown as a viewer reads it (raw HTML and GFM's struck-through text too), here
#: independently of ``qaudit.report_markdown``: what escaped text may become.
_VIEWER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_AS_TEXT = {"paragraph_open", "paragraph_close", "inline", "text", "softbreak", "table_open",
            "thead_open", "tbody_open", "tr_open", "th_open", "td_open", "table_close",
            "thead_close", "tbody_close", "tr_close", "th_close", "td_close"}
#: Text of anything, and text made of what Markdown reads at a line's start and inside it.
_TYPED = st.one_of(st.text(max_size=60), st.text(
    alphabet=" \t\n-+=*_~`#>|<&;.)(![]:\\1a", max_size=30))


def _folded(text: str) -> str:
    """Text as the Markdown holds it: one line, without the spaces at its ends."""
    return " ".join(text.splitlines()).strip(" \t")


def _words(text: str) -> list[str]:
    """Text as a reader sees its words: one line, as Word holds it (``clean``), split at
    white space."""
    return clean(_folded(text)).split()


@given(_TYPED)
def test_any_text_the_templates_escape_reads_back_as_itself(text: str) -> None:
    """Whatever a person typed, once the report's Markdown has escaped it, is read back as
    the same words wherever a template prints it: inside a paragraph, in a table cell, at
    the start of a paragraph and on a paragraph's next line; never emphasis, a link, HTML,
    a heading, a list, a rule or a code block."""
    escaped = md_text(text)
    assert "\n" not in escaped and escaped == escaped.strip(" \t")
    places = {"inside": f"x {escaped} y", "cell": f"| a | b |\n|---|---|\n| {escaped} | * |",
              "start": f"{escaped}\n\nAfter.", "next line": f"Before.\n{escaped}"}
    for where, markdown in places.items():
        tokens = _VIEWER.parse(markdown)
        made = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or ()}
        assert made <= _AS_TEXT, (where, markdown, made - _AS_TEXT)
    (inside,) = blocks(places["inside"])
    assert (inside.kind, _words(_text(inside))) == ("paragraph", ["x", *_words(text), "y"])
    assert not any(r.bold or r.italic for r in inside.runs)
    (table,) = blocks(places["cell"])
    assert [_words(_runs_text(cell)) for cell in table.rows[0]] == [_words(text), ["*"]]
    *first, after = blocks(places["start"])
    assert [b.kind for b in first] in ([], ["paragraph"]) and _text(after) == "After."
    assert [w for b in first for w in _words(_text(b))] == _words(text)
    (joined,) = blocks(places["next line"])
    assert (joined.kind, _words(_text(joined))) == ("paragraph", ["Before.", *_words(text)])


def test_a_hidden_figure_is_printed_escaped_and_shown_as_a_mark() -> None:
    """The hidden-figure mark is printed '\\*' in a report's Markdown, so two on a line are
    two marks, never emphasis; what is not text (a number) is printed as it is."""
    mark = md_escape(HIDDEN)
    assert mark == r"\*" and md_escape(3) == 3
    (line,) = blocks(f"Moderated: {mark} ({mark}); the target ({mark}) is {mark}")
    assert _looks(line) == [("Moderated: * (*); the target (*) is *", False, False)]


@pytest.mark.parametrize(("typed", "printed"), [
    ("-3 points", "-3 points"), ("+5", "+5"), ("1.5%", "1.5%"), ("2026-27 C3", "2026-27 C3"),
    ("- one", r"\- one"), ("---", r"\---"), ("=", r"\="), ("1. first", r"1\. first"),
    ("12) twelfth", r"12\) twelfth"), ("  tea & ~cake~  ", r"tea \& \~cake\~"),
])
def test_a_line_start_is_escaped_only_where_markdown_would_read_it(typed: str,
                                                                   printed: str) -> None:
    """A figure such as '-3 points' is printed as it is; only what would start a list, a
    rule or a heading's underline gets its backslash."""
    assert md_text(typed) == printed


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=40))
def test_any_text_makes_a_word_document_without_what_word_refuses(text: str) -> None:
    """Control characters, surrogates and the rest: dropped, never a crash."""
    import io

    import docx

    shown = _folded(text)
    made = document(f"# Title {md_text(text)}\n\nSaid: {md_text(text)}\n", {},
                    Page(marking="OFFICIAL", internal=False, team=f"Team {text}",
                         generated=date(2026, 12, 20)))
    package = docx.Document(io.BytesIO(made))
    assert [p.text.strip() for p in package.paragraphs] == [
        clean(f"Title {shown}").strip(), clean(f"Said: {shown}").strip()]
    assert package.core_properties.author == clean(f"Team {text}")


# --- names kept -----------------------------------------------------------------------------


def test_a_kept_decision_is_found_again_under_the_name_it_was_kept_by(tmp_path: Path) -> None:
    """A decision on what to hide is kept as ``.cache/disclosure/<its model's hash>.json``
    in the workspace: renamed, every decision kept before would be lost, and a later report
    could hide otherwise. A key that is not a hash names no file."""
    ws = small_workspace(tmp_path / "ws", 2)
    key = hashlib.sha256(b"a cycle's model").hexdigest()
    hidden = frozenset({("grade", "North", "good"), ("percent", "All", "outstanding")})
    decisions(ws).put(key, hidden)
    kept = [p.relative_to(ws.root).as_posix() for p in (ws.root / ".cache").rglob("*")
            if p.is_file()]
    assert kept == [f".cache/disclosure/{key}.json"]
    assert decisions(ws).get(key) == hidden
    assert decisions(ws).get(f"../{key}") is None and decisions(ws).get(key.upper()) is None


# --- a run's files replace the old ones together, or not at all ------------------------------


def _report_texts(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md"))
            if p.is_file()}


def test_a_report_that_cannot_be_replaced_leaves_every_report_as_it_was(
        run: Callable[..., Result], reported: Reported, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows a report open in Word cannot be replaced: the run's other reports must
    not be left new beside it (found by the review of issue 14: the summary new, the
    quadrant reports old)."""
    out = tmp_path / "out"
    old = tmp_path / "old.txt"
    old.write_text("The OLD practice message.\n", encoding="utf-8")
    assert run("-w", reported.root, "report", "--cycle", CYCLE, "--message", old,
               "--format", "md", "--out", out).code == 0
    before = _report_texts(out)
    assert len(before) > 2 and "OLD" in before[f"{STEM}.md"]
    real_replace = Path.replace
    locked = next(name for name in sorted(before) if "quadrant" in name)

    def replace(self: Path, target: Any) -> Path:
        if out / locked in (self, Path(target)):  # open in Word: Windows will not move it
            raise PermissionError(13, "The process cannot access the file", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    new = tmp_path / "new.txt"
    new.write_text("The NEW practice message.\n", encoding="utf-8")
    result = run("-w", reported.root, "report", "--cycle", CYCLE, "--message", new,
                 "--format", "md", "--out", out)
    assert result.code == 1
    assert f"could not put {locked} in place" in _flat(result.stderr)
    assert "as they were" in _flat(result.stderr)
    assert _report_texts(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_folder_where_a_report_goes_is_named_and_nothing_moves(
        run: Callable[..., Result], reported: Reported, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("-w", reported.root, "report", "--cycle", CYCLE, "--kind", "summary",
               "--format", "md", "--out", out).code == 0
    before = _report_texts(out)
    (out / f"{STEM}.md").unlink()
    (out / f"{STEM}.md").mkdir()
    result = run("-w", reported.root, "report", "--cycle", CYCLE, "--kind", "summary",
                 "--format", "md", "--out", out)
    assert result.code == 1 and f"a folder named '{STEM}.md'" in _flat(result.stderr)
    assert (out / f"{STEM}.md").is_dir()
    assert _report_texts(out) == {k: v for k, v in before.items() if k != f"{STEM}.md"}


def test_reports_inside_the_workspace_are_made_in_a_scratch_folder_at_its_top(
        run: Callable[..., Result], reported: Reported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that long cycle and quadrant names stay within Windows' 260 characters while a
    file is written (tests/core/test_windows_paths.py counts that path)."""
    seen: list[Path] = []
    real_replace = Path.replace

    def replace(self: Path, target: Any) -> Path:
        seen.append(self)
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    assert run("-w", reported.root, "report", "--cycle", CYCLE, "--kind", "summary",
               "--format", "md").code == 0
    made = [p for p in seen if p.suffix == ".md" and p.parent.name.startswith(".qaudit-")]
    assert made and all(p.parent.parent == reported.root for p in made)
