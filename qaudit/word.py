"""A report as a Word document (python-docx), for Board papers assembled in Word.

The document is made from the report's own Markdown, rendered from the same data and
template as the published Markdown and HTML: the same sections, figures and hidden marks,
so a Word copy can never show what the other formats hide, and a workspace's own template
is followed too. The Markdown is read as a Markdown viewer reads it
(``qaudit.report_markdown``: CommonMark and GFM tables, by markdown-it-py), so Word shows
the emphasis, escapes and hidden-figure marks the published ``.md`` shows. Every piece of
user text was escaped by the template sandbox, and all text here is a plain text run: no
field code, hyperlink or markup comes from what a person typed.

Word's own structure is used throughout: Heading 1-3 styles (the navigation pane and a
table of contents work), tables whose header row repeats on each page, the charts as PNG
pictures with their description as alternative text, the protective marking in every
page's header and footer with "Page N of M" (PAGE and NUMPAGES fields), and the core
properties naming the QA team, never a person. The same report gives the same bytes: the
properties' dates are the report's own date and the package's entries carry a fixed time.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

from qaudit.report_markdown import Block, Run, blocks
from qaudit.values import HIDDEN_IN_TEXT

#: What lxml (and so python-docx) refuses in XML text, beyond the hidden characters
#: ``values.HIDDEN_IN_TEXT`` names: surrogates and the two non-characters.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
#: The banner of the QA team's identifiable version, in every page's header.
INTERNAL = "INTERNAL: do not publish"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_RED = RGBColor(0xC0, 0x00, 0x00)
_BLUE = RGBColor(0x1F, 0x4E, 0x79)


@dataclass(frozen=True)
class Chart:
    """A chart as Word shows it: the PNG, its title, and the words that describe it to
    someone who cannot see it (the HTML's title and description of the same chart)."""

    png: bytes
    title: str
    description: str


@dataclass(frozen=True)
class Page:
    """What every page of the document carries, and whose document it is."""

    marking: str
    internal: bool
    team: str
    generated: date


def clean(text: str) -> str:
    """Text as Word may hold it: hidden and control characters removed (python-docx and
    lxml refuse most of them, and the rest would hide or reorder what a reader sees), a tab
    as a space."""
    return _NOT_XML.sub("", HIDDEN_IN_TEXT.sub("", text.replace("\t", " ")))


def document(markdown: str, charts: Mapping[str, Chart], page: Page) -> bytes:
    """The report's Markdown as a Word document; ``charts`` by the name its images give
    (``![Grades](grades)``)."""
    doc: Any = Document()
    _page_setup(doc, page)
    title = ""
    body = _without_marking(list(blocks(markdown)), page.marking)
    for block in body:
        if block.kind == "heading" and block.level == 1 and not title:
            title = clean("".join(r.text for r in block.runs))
        _add(doc, block, charts)
    _properties(doc, title, page)
    buffer = io.BytesIO()
    doc.save(buffer)
    return _fixed_time(buffer.getvalue())


def _without_marking(body: list[Block], marking: str) -> list[Block]:
    """The body without the marking the Markdown prints first and last: in Word it is in
    every page's header and footer instead."""
    def is_marking(block: Block) -> bool:
        return (bool(marking) and block.kind == "paragraph"
                and "".join(r.text for r in block.runs).strip() == marking.strip())

    if body and is_marking(body[0]):
        body = body[1:]
    if body and is_marking(body[-1]):
        body = body[:-1]
    return body


def _add(doc: Any, block: Block, charts: Mapping[str, Chart]) -> None:
    if block.kind == "heading":
        doc.add_heading(clean("".join(r.text for r in block.runs)), level=min(block.level, 3))
    elif block.kind == "table":
        _table(doc, block)
    elif block.kind == "image":
        _picture(doc, block, charts)
    elif block.kind == "banner":  # the internal version's warning, in red as in the HTML
        paragraph = doc.add_paragraph(style="Intense Quote")
        _runs(paragraph, block.runs, bold=True)
        for run in paragraph.runs:
            run.font.color.rgb = _RED
    else:
        paragraph = doc.add_paragraph(style=_list_style(block))
        _runs(paragraph, block.runs)


def _list_style(block: Block) -> str | None:
    """A list item's style: Word's bullets for a bullet, an indent alone for a numbered
    item (its number is in its text: Word's own numbering would run on across lists),
    deeper for a nested list (Word's styles go three deep); none for a paragraph."""
    if block.kind not in ("bullet", "numbered"):
        return None
    name = "List Bullet" if block.kind == "bullet" else "List"
    return name if block.level <= 1 else f"{name} {min(block.level, 3)}"


def _runs(paragraph: Any, runs: Iterable[Run], bold: bool = False,
          size: float | None = None) -> None:
    for run in runs:
        added = paragraph.add_run(clean(run.text))
        added.bold = run.bold or bold or None
        added.italic = run.italic or None
        if size is not None:
            added.font.size = Pt(size)


def _table(doc: Any, block: Block) -> None:
    """A real table: its header row marked to repeat on every page (``tblHeader``) and in
    bold, no row split across pages, numbers right-aligned as the Markdown aligns them,
    each column wide enough for its longest word (``column_widths``)."""
    rows: Sequence[Sequence[Sequence[Run]]] = [block.header, *block.rows]
    texts = [[clean("".join(r.text for r in cell)) for cell in row] for row in rows]
    widths, size = column_widths(texts, len(block.header), TEXT_WIDTH_MM)
    table = doc.add_table(rows=len(rows), cols=len(block.header), style="Table Grid")
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Mm(width)
    for i, row in enumerate(rows):
        _keep_row(table.rows[i], header=i == 0)
        for j, cell in enumerate(table.rows[i].cells):
            cell.width = Mm(widths[j])
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_after = 0
            _runs(paragraph, row[j] if j < len(row) else [], bold=i == 0, size=size)
            if j < len(block.right) and block.right[j]:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT


#: The page (A4) and its side margins; the width between them that a table fills.
A4_MM, SIDE_MARGIN_MM = (210, 297), 18
TEXT_WIDTH_MM = A4_MM[0] - 2 * SIDE_MARGIN_MM
#: The sizes a table's text is set in: the largest that lets every column hold its
#: longest word. A character's width in mm for each point of size (generous: Arial, and
#: the wider fonts that stand in for it), a bold one's, and a cell's padding.
TABLE_SIZES = (10.0, 9.0, 8.0)
_CHAR_MM_PER_PT, _BOLD, _PADDING_MM = 0.22, 1.1, 4.5
#: Past this many characters a cell's text may wrap: wider asks for no more room.
_LONGEST_LINE = 40


def column_widths(rows: Sequence[Sequence[str]], columns: int, total: float
                  ) -> tuple[list[float], float]:
    """Each column's width in mm (``total`` in all) and the table's text size: first each
    column as wide as its longest word (the header's in bold), so no word breaks mid-way
    ("Outstandin/g"), in the largest of ``TABLE_SIZES`` that allows it; then the room left
    shared by how much more each column's longest text would take. If even the smallest
    size is too wide, every column is narrowed alike."""
    for size in TABLE_SIZES:
        least, wish = _needs(rows, columns, size * _CHAR_MM_PER_PT)
        if sum(least) <= total:
            break
    spare = total - sum(least)
    if spare <= 0:
        return [w * total / sum(least) for w in least], size
    more = [w - m for w, m in zip(wish, least, strict=True)]
    share = min(1.0, spare / sum(more)) if sum(more) else 0.0
    widths = [m + x * share for m, x in zip(least, more, strict=True)]
    left = total - sum(widths)  # every wish met: the rest shared alike
    return [w + left / columns for w in widths], size


def _needs(rows: Sequence[Sequence[str]], columns: int, char_mm: float
           ) -> tuple[list[float], list[float]]:
    """Each column's least width (its longest word) and the width its longest line
    wants (never less)."""
    least = [_PADDING_MM] * columns
    wish = [_PADDING_MM] * columns
    for i, row in enumerate(rows):
        scale = char_mm * (_BOLD if i == 0 else 1.0)
        for j, text in enumerate(row[:columns]):
            word = max((len(w) for w in text.split()), default=0) * scale + _PADDING_MM
            least[j] = max(least[j], word)
            wish[j] = max(wish[j], word, min(len(text), _LONGEST_LINE) * scale + _PADDING_MM)
    return least, wish


def _keep_row(row: Any, header: bool) -> None:
    properties = row._tr.get_or_add_trPr()
    for tag in ("w:cantSplit", *(("w:tblHeader",) if header else ())):
        element = OxmlElement(tag)
        element.set(qn("w:val"), "true")
        properties.append(element)


def _picture(doc: Any, block: Block, charts: Mapping[str, Chart]) -> None:
    """The chart the image names, as a picture whose alternative text (``descr``) is the
    chart's description; an image naming no chart is its alternative text."""
    chart = charts.get(block.target)
    paragraph = doc.add_paragraph()
    if chart is None:
        paragraph.add_run(clean(block.alt))
        return
    shape = paragraph.add_run().add_picture(io.BytesIO(chart.png), width=Mm(165))
    doc_pr = shape._inline.docPr
    doc_pr.set("descr", clean(chart.description))
    doc_pr.set("title", clean(chart.title))


def _page_setup(doc: Any, page: Page) -> None:
    """A4, the document's language British English, and the marking (with the internal
    version's warning) in the header and footer of every section, "Page N of M" below."""
    _styles(doc)
    top = " · ".join(t for t in (clean(page.marking), INTERNAL if page.internal else "") if t)
    for section in doc.sections:
        section.page_width, section.page_height = Mm(A4_MM[0]), Mm(A4_MM[1])
        section.left_margin = section.right_margin = Mm(SIDE_MARGIN_MM)
        section.top_margin = section.bottom_margin = Mm(20)
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        header.add_run(top).bold = True
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if page.marking:
            footer.add_run(clean(page.marking)).bold = True
            footer.add_run("  ·  ")
        footer.add_run("Page ")
        _field(footer, "PAGE")
        footer.add_run(" of ")
        _field(footer, "NUMPAGES")


def _styles(doc: Any) -> None:
    """Arial throughout (on every council's computers, and what the HTML prints its
    margins in), in British English; headings in the reports' dark blue, which has the
    contrast small bold text needs (the template's lighter blues do not)."""
    styles = doc.styles.element
    run_defaults = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(
        qn("w:rPr"))
    _child(run_defaults, "w:lang").set(qn("w:val"), "en-GB")
    _child(run_defaults, "w:rFonts")
    for fonts in styles.iter(qn("w:rFonts")):
        for name in [a for a in fonts.attrib if a.lower().endswith("theme")]:
            del fonts.attrib[name]
        for name in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
            fonts.set(qn(name), "Arial")
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        doc.styles[name].font.color.rgb = _BLUE


def _field(paragraph: Any, code: Literal["PAGE", "NUMPAGES"]) -> None:
    """A field Word works out as it lays out the page, showing 1 until then: the only
    field code in the document, and never from text."""
    paragraph._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" {code} ">'
                                  "<w:r><w:t>1</w:t></w:r></w:fldSimple>"))


def _properties(doc: Any, title: str, page: Page) -> None:
    """The title, and the team as author: never the person who ran qaudit. Dated the
    report's date (midnight UTC), so the same report gives the same document."""
    props = doc.core_properties
    when = datetime(page.generated.year, page.generated.month, page.generated.day, tzinfo=UTC)
    props.title = title[:255]  # the most a core property holds
    props.author = props.last_modified_by = clean(page.team)
    props.comments = props.keywords = props.subject = ""
    props.content_status = clean(page.marking)
    props.language = "en-GB"
    props.created = props.modified = when
    props.revision = 1


def _child(parent: Any, tag: str) -> Any:
    found = parent.find(qn(tag))
    if found is None:
        found = OxmlElement(tag)
        parent.append(found)
    return found


def _fixed_time(package: bytes) -> bytes:
    """The package with every entry dated 1980-01-01, in the same order: python-docx
    stamps each with the time it was written."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
