"""Every HTML page qaudit writes, as a disabled or low-vision reader meets it and as a Board
paper prints it: axe-core finds no WCAG 2.2 A or AA failure in any of them (published and
internal, hidden figures present); each chart is an image described by the figures its
table shows; every table has a caption and scoped headers; a hidden figure is read out as
hidden; and a printed summary is marked and numbered on every page, with the question by
question compliance table last."""

from __future__ import annotations

import random
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import fill_forms
import pytest
from hypothesis import given
from hypothesis import strategies as st
from realclients import CHROMIUM, WCAG_AA, needs_chromium, pdf_pages

from conftest import EXAMPLES, edit_settings, qaudit_ok, small_workspace
from qaudit.rendering import css_string

CYCLE = "2026-27 C1"
DEEP_DIVE = "2026-27 DD1"
#: A marking with characters that would end a CSS string or the <style> were they not
#: escaped: it must print as it is.
MARKING = 'OFFICIAL-SENSITIVE <PERSONAL> "Board"'

#: Every kind of HTML page, published and internal: the file stems the fixture writes.
PAGES = ("2026-27-C1-summary", "2026-27-C1-summary-internal", "2026-27-C1-highlights",
         "2026-27-C1-highlights-internal", "2026-27-C1-quadrant-mid",
         "2026-27-C1-quadrant-mid-internal", "2026-27-year", "2026-27-year-internal",
         "2026-27-DD1-deep-dive", "2026-27-DD1-deep-dive-internal", "feedback-pack")
#: The published pages with figures hidden to protect small numbers.
SUPPRESSED = ("2026-27-C1-summary", "2026-27-C1-quadrant-mid", "2026-27-year",
              "2026-27-DD1-deep-dive")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small workspace taken through a cycle (every audit back, one Requires
    improvement and escalated, moderated, feedback packs drafted) and a deep dive, with
    every report written, published and internal: each page by its file's stem (one
    feedback pack as ``feedback-pack``)."""
    root = tmp_path_factory.mktemp("accessible") / "ws"
    ws = small_workspace(root, 1)
    with edit_settings(root) as settings:
        settings["organisation"]["protective_marking"] = MARKING
    qaudit_ok(root, "staff", "import", EXAMPLES / "staff.csv")
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "30/09/2026", "--seed", "9", "--due", "11/12/2026")
    folder = ws.cycle_dir(CYCLE)
    back = root.parent / "back"
    rng = random.Random(4)
    for i, form in enumerate(sorted((folder / "audit-forms").glob("*.xlsx"))):
        fill_forms.fill_audit(form, back / form.name, rng, escalate=i == 0,
                              grade="Requires improvement" if i == 0 else None,
                              when=date(2026, 11, 20))
    for form in sorted((folder / "self-reflection").glob("*.xlsx")):
        fill_forms.fill_reflection(form, back / form.name, rng)
    qaudit_ok(root, "ingest", back)
    qaudit_ok(root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    fill_forms.fill_moderation(folder / "moderation" / "2026-27-C1-moderation.xlsx",
                               root.parent / "mod.xlsx", random.Random(1))
    qaudit_ok(root, "moderate", "ingest", root.parent / "mod.xlsx")
    qaudit_ok(root, "send", "feedback", "--cycle", CYCLE)
    qaudit_ok(root, "deep-dive", "new", DEEP_DIVE, EXAMPLES / "case-export.xlsx", "--terms",
              EXAMPLES / "deep-dive-terms.toml", "--question-set",
              "deep_dive_safeguarding_voice", "--n", "6", "--from", "01/08/2026", "--to",
              "31/10/2026", "--seed", "11")
    fill_forms.fill_cycle(ws.cycle_dir(DEEP_DIVE), root.parent / "dd-back", 2, None)
    qaudit_ok(root, "ingest", root.parent / "dd-back")
    out = root.parent / "out"
    for internal in ((), ("--internal",)):
        for what in (("--cycle", CYCLE), ("--kind", "year", "--year", "2026-27"),
                     ("--deep-dive", DEEP_DIVE)):
            qaudit_ok(root, "report", *what, "--out", out, *internal)
    pages = {page.stem: page for page in sorted(out.glob("*.html"))}
    pages["feedback-pack"] = min((folder / "feedback").glob("*.html"))
    return pages


# --- what a page is made of, read with the standard library's HTML parser -------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def all(self, *tags: str) -> Iterator[Element]:
        """Every element below this one with one of ``tags`` (any, without), in document
        order."""
        for child in self.children:
            if not tags or child.tag in tags:
                yield child
            yield from child.all(*tags)


_VOID = {"meta", "br", "img", "hr", "input", "link", "path", "use", "stop", "rect", "circle"}


class _Tree(HTMLParser):
    """An HTML page as a tree of ``Element``: each element's text is all the text inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(element)
        if tag not in _VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.open[-1].tag != tag:  # an element left open (none should be)
            self.open.pop()
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data


def parsed(page: Path) -> Element:
    tree = _Tree()
    tree.feed(page.read_text(encoding="utf-8"))
    tree.close()
    return tree.root


def words(text: str) -> str:
    return " ".join(text.split())


# --- axe-core ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_found(written: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """What axe-core finds wrong with each page (WCAG 2.0-2.2 A and AA), every page opened
    in one Chromium: ``realclients.axe_violations`` opens a browser a page."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            for name in PAGES:
                page.goto(written[name].as_uri())
                result = Axe().run(page, options={"runOnly": {"type": "tag",
                                                              "values": WCAG_AA}})
                found[name] = result.response["violations"]
        finally:
            browser.close()
    return found


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_axe_core_finds_no_wcag_failure_on_any_page(axe_found: dict[str, list[dict[str, Any]]],
                                                    name: str) -> None:
    violations = axe_found[name]
    said = "\n".join(f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
                     for v in violations)
    assert not violations, said


@pytest.mark.parametrize("name", SUPPRESSED)
def test_the_published_pages_checked_have_hidden_figures(written: dict[str, Path],
                                                         name: str) -> None:
    """The pages axe-core checks show hidden figures, as most published reports do."""
    assert 'class="hidden-figure"' in written[name].read_text()


# --- structure --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_in_british_english_titled_with_landmarks_and_headings_in_order(
        written: dict[str, Path], name: str) -> None:
    page = parsed(written[name])
    html, = page.all("html")
    assert html.attrs["lang"] == "en-GB"
    title, = next(page.all("head")).all("title")
    subject = {"summary": f"Case audit summary: {CYCLE}", "highlights": "highlights",
               "quadrant": f"Case audit summary: {CYCLE}, Mid", "year": "Case audit year: 2026-27",
               "deep-dive": f"({DEEP_DIVE})", "feedback": "Audit feedback 2026-27-C1-"}
    assert next(s for k, s in subject.items() if k in name) in title.text
    assert ("INTERNAL" in title.text) == ("internal" in name)
    for landmark in ("header", "main", "footer"):
        assert len(list(page.all(landmark))) == 1, landmark
    levels = [int(h.tag[1]) for h in page.all("h1", "h2", "h3", "h4")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in pairwise(levels)), levels
    ids = [e.attrs["id"] for e in page.all() if "id" in e.attrs]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


_FIGURE = re.compile(r"(\d+%?|–|\*|\d+%–\d+%)( \(\d+%\))?")


@pytest.mark.parametrize("name", [p for p in PAGES if p != "feedback-pack"
                                  and "highlights" not in p])
def test_every_table_has_a_caption_scoped_headers_and_numbers_to_the_right(
        written: dict[str, Path], name: str) -> None:
    page = parsed(written[name])
    tables = list(page.all("table"))
    assert tables
    for table in tables:
        assert table.children[0].tag == "caption" and words(table.children[0].text)
        for th in table.all("th"):
            assert th.attrs.get("scope") in ("col", "row"), th
        for td in table.all("td"):  # a figure (a count, a share, a range) is right-aligned
            if _FIGURE.fullmatch(words(td.text).removesuffix("hidden").strip()):
                assert "n" in td.attrs.get("class", "").split(), td


@pytest.mark.parametrize("name", SUPPRESSED)
def test_a_hidden_figure_is_read_out_as_hidden_and_explained(written: dict[str, Path],
                                                             name: str) -> None:
    text = written[name].read_text()
    page = parsed(written[name])
    marks = [a for a in page.all("abbr") if "hidden-figure" in a.attrs.get("class", "")]
    assert marks
    for mark in marks:
        assert mark.attrs["title"].startswith("Hidden: fewer than 5")
        spoken, shown = mark.children
        assert (spoken.attrs, spoken.text) == ({"aria-hidden": "true"}, "*")
        assert (shown.attrs, shown.text) == ({"class": "visually-hidden"}, "hidden")
    # every * outside the marks and the charts is in the legend, which says what it means
    bare = re.sub(r'<abbr class="hidden-figure".*?</abbr>|<svg.*?</svg>', "", text, flags=re.S)
    body = bare.split("<main>")[1]
    assert body.count("*") == 1 and "are hidden, shown as *" in body


# --- charts -----------------------------------------------------------------------------------


def _charts(page: Element) -> dict[str, Element]:
    return {svg.attrs["aria-labelledby"].split("-")[0]: svg for svg in page.all("svg")}


def _table(page: Element, id_: str) -> Element:
    return next(t for t in page.all("table") if t.attrs.get("id") == id_)


@pytest.mark.parametrize("name", ["2026-27-C1-summary", "2026-27-C1-summary-internal",
                                  "2026-27-C1-quadrant-mid"])
def test_each_chart_is_an_image_described_by_the_figures_its_table_shows(
        written: dict[str, Path], name: str) -> None:
    page = parsed(written[name])
    charts = _charts(page)
    assert set(charts) == {"grades", "trend"}
    for svg in charts.values():
        assert svg.attrs["role"] == "img"
        title, desc = svg.children[:2]
        assert svg.attrs["aria-labelledby"] == f"{title.attrs['id']} {desc.attrs['id']}"
        assert (title.tag, desc.tag) == ("title", "desc") and title.text and desc.text
        figure = next(f for f in page.all("figure") if svg in f.children)
        caption = figure.children[0]
        assert caption.tag == "figcaption"
        link, = caption.all("a")
        assert _table(page, link.attrs["href"].removeprefix("#"))  # its table, on the page
    by_quadrant = _table(page, "table-by-quadrant")
    header = [words(th.text) for th in next(by_quadrant.all("thead")).all("th")][1:-1]
    shares = _row_shares(by_quadrant, "All")
    assert words(charts["grades"].children[1].text) == (
        "Share of the audits returned with each grade: "
        + ", ".join(f"{g} {s}" for g, s in zip(header, shares, strict=True)) + ".")
    trend = _table(page, "table-trend")
    points = [(words(cycle.text), words(gob.text).replace("*hidden", "hidden"))
              for cycle, _, gob, _ in (tr.children for tr in next(trend.all("tbody")).all("tr"))]
    assert words(charts["trend"].children[1].text) == (
        "Share of each cycle's audits graded Good or better: "
        + ", ".join(f"{c} {p}" for c, p in points) + ".")


def _row_shares(table: Element, label: str) -> list[str]:
    """The share of each grade in a row of a grades table: the percentage in brackets, or
    "hidden" for a hidden count."""
    for tr in table.all("tr"):
        th, *cells = tr.children
        if th.tag == "th" and words(th.text) == label:
            shares = []
            for cell in cells[:-1]:
                found = re.search(r"\((\d+%)\)", cell.text)
                shares.append(found.group(1) if found else "hidden")
            return shares
    raise AssertionError(f"no row {label}")


def test_a_chart_says_hidden_where_its_table_hides_a_figure(written: dict[str, Path]) -> None:
    """The published chart never gives a figure its table hides: where the published table
    hides a share the internal one shows, the published chart says "hidden"."""
    published = words(_charts(parsed(written["2026-27-C1-summary"]))["grades"].children[1].text)
    internal = words(_charts(parsed(written["2026-27-C1-summary-internal"]))["grades"]
                     .children[1].text)
    assert "hidden" in published and "hidden" not in internal
    assert published != internal


# --- print --------------------------------------------------------------------------------


def printed(html: Path, pdf: Path) -> list[str]:
    """The text of each page of ``html`` printed to PDF by Chromium, with no header or
    footer of Chromium's own: what is on a page comes from the report's print rules."""
    assert CHROMIUM is not None
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", html.as_uri()],
                   check=True, capture_output=True, timeout=180)
    return [words(unicodedata.normalize("NFKC", text)) for text in pdf_pages(pdf)]  # "ﬁ"


@pytest.fixture(scope="module")
def summaries_printed(written: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                      ) -> dict[str, list[str]]:
    """The published and the internal summary printed by Chromium: each page's text."""
    out = tmp_path_factory.mktemp("printed")
    return {name: printed(written[name], out / f"{name}.pdf")
            for name in ("2026-27-C1-summary", "2026-27-C1-summary-internal")}


@needs_chromium
@pytest.mark.parametrize("name", ["2026-27-C1-summary", "2026-27-C1-summary-internal"])
def test_every_printed_page_of_the_summary_is_marked_and_numbered(
        summaries_printed: dict[str, list[str]], name: str) -> None:
    pages = summaries_printed[name]
    assert len(pages) > 1
    for number, text in enumerate(pages, start=1):
        assert text.count(MARKING) >= 2, (number, text[:300])  # top and bottom
        assert f"Page {number} of {len(pages)}" in text, (number, text[-300:])
        assert ("INTERNAL: do not publish" in text) == name.endswith("internal"), number


@needs_chromium
def test_the_printed_summary_ends_with_the_compliance_appendix(
        summaries_printed: dict[str, list[str]]) -> None:
    pages = summaries_printed["2026-27-C1-summary"]
    starts = next(i for i, text in enumerate(pages)
                  if "Appendix: compliance question by question" in text)
    assert starts > 0
    body = " ".join(pages[:starts])
    for section in ("The four quality aspects", "Compliance by quality aspect",
                    "Learning themes", "Requires improvement, escalations, moderation"):
        assert section in body
    appendix = " ".join(pages[starts:])
    assert "Learning themes" not in appendix
    assert "Compliance per question, lowest first" in appendix


def test_the_markdown_summary_ends_with_the_compliance_appendix(
        written: dict[str, Path]) -> None:
    md = written["2026-27-C1-summary"].with_suffix(".md").read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[-1] == "## Appendix: compliance question by question"
    assert "[appendix: compliance question by question]" \
        "(#appendix-compliance-question-by-question)" in md


# --- the protective marking in CSS ------------------------------------------------------------


def _css_unescaped(quoted: str) -> str:
    return re.sub(r"\\([0-9a-f]{1,6}) ", lambda m: chr(int(m.group(1), 16)), quoted[1:-1])


@given(st.text())
def test_any_marking_is_one_css_string_that_reads_back_as_it_is(text: str) -> None:
    """Whatever a council's marking says, it is one quoted CSS string that cannot end the
    string, the rule or the <style> element, and prints exactly as written."""
    quoted = str(css_string(text))
    inside = quoted[1:-1]
    assert quoted[0] == quoted[-1] == '"'
    assert not re.search(r"[\"'<>&\n\r\f{}/*]", inside)
    assert _css_unescaped(quoted) == text


def test_a_marking_with_markup_in_it_is_printed_as_text(written: dict[str, Path]) -> None:
    html = written["2026-27-C1-summary"].read_text()
    assert MARKING not in html.split("</style>")[0]
    assert '"OFFICIAL-SENSITIVE \\3c PERSONAL\\3e  \\22 Board\\22 "' in html
    assert "<p class=\"marking\">OFFICIAL-SENSITIVE &lt;PERSONAL&gt; &#34;Board&#34;</p>" in html
