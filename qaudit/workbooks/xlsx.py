"""The few parts of an xlsx package a returned form's answers live in, read as openpyxl does.

``openpyxl.load_workbook`` builds every cell, style, drawing and validation of a workbook;
a returned form needs about 60 cells and its hidden sheet. This module reads the content
types (where the workbook and its shared strings are), the workbook (its sheets, defined
names and date system) and its relationships (each sheet's part), the cell styles'
number formats (which numbers are dates), and the shared strings the cells read use, up
to the last one needed; ``sheet_cells`` reads the cells themselves. Where openpyxl would
fail on what is read here (a part missing or malformed, a sheet title Excel forbids) this
fails too; ``tests/workbooks/test_form_reader.py`` reads every workbook the tests make both
ways and compares.

Parts are parsed by the C ElementTree; a part beyond a few megabytes (a sheet or the
shared strings) is streamed and freed as it goes. Every part is decoded as UTF-8, whatever
it declares (Excel and LibreOffice write nothing else), and refused if it holds a document
type declaration: entities can only be declared there, so there is no entity expansion and
no external entity.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast
from xml.etree.ElementTree import Element, XMLPullParser, fromstring

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH
from openpyxl.workbook.child import INVALID_TITLE_REGEX, avoid_duplicate_name
from openpyxl.xml.constants import SHARED_STRINGS, XLSM, XLSX, XLTM, XLTX

#: The SpreadsheetML namespace, as ElementTree prefixes its tags.
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_STRING = f"{MAIN}si"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CONTENT_TYPES = "[Content_Types].xml"
_STYLES = "xl/styles.xml"
_WORKBOOK_TYPES = (XLTM, XLTX, XLSM, XLSX)  # the order openpyxl looks for them in
#: Names openpyxl leaves out of the workbook's defined names.
_PRINT_NAMES = frozenset({"_xlnm.Print_Titles", "_xlnm.Print_Area", "_xlnm._FilterDatabase"})
#: A part small in any real form (workbook, relationships, content types, styles) is
#: parsed whole; above this it is refused rather than built into a tree.
MAX_SMALL_PART = 8 * 1024**2
#: A part up to this size (a form's sheet is about 25,000 characters) is parsed whole, in
#: C; a larger one is streamed, in Python, so that it never becomes a tree in memory.
_WHOLE = 4 * 1024**2
_CHUNK = 1 << 16


class UnsafePart(ValueError):
    """A part that declares a document type, or is far too large to be a form's."""


@dataclass(frozen=True)
class Sheet:
    """A sheet of the workbook: the part it is in, and whether it is a chart sheet."""

    part: str
    chart: bool


@dataclass(frozen=True)
class Styles:
    """What the cell styles say about numbers: which are dates (or durations)."""

    count: int
    dates: frozenset[int]
    durations: frozenset[int]

    def check(self, style: Any) -> None:
        """Fail, as openpyxl's lookup of a cell's style fails, on a style that is not one."""
        if not isinstance(style, int) or not -self.count <= style < self.count:
            raise ValueError(f"cell style {style!r} does not exist")


@dataclass(frozen=True)
class Book:
    """The workbook's sheets (by title, as openpyxl titles them), its workbook-level
    defined names (name -> what it refers to), its date system and number styles."""

    archive: zipfile.ZipFile
    sheets: dict[str, Sheet]
    names: dict[str, str | None]
    strings_part: str | None
    epoch: datetime
    styles: Styles


# --- the package --------------------------------------------------------------------------


def part_text(archive: zipfile.ZipFile, name: str) -> str:
    """A part's XML as text: UTF-8 (a part in any other encoding fails to decode) and
    without a document type declaration, the only place an entity can be declared.
    Parsing text (not bytes) makes expat read it as UTF-8 whatever its declaration says,
    so the check above is the whole story."""
    text = archive.read(name).decode("utf-8")
    if "<!DOCTYPE" in text:
        raise UnsafePart(f"{name} declares a document type")
    return text


def _small_part(archive: zipfile.ZipFile, name: str) -> str:
    """A part that is small in any real form; one far larger is refused, not parsed."""
    if archive.getinfo(name).file_size > MAX_SMALL_PART:
        raise UnsafePart(f"{name} is far larger than any form's")
    return part_text(archive, name)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def children(node: Element, name: str) -> list[Element]:
    """Child elements by local name, as openpyxl's object model matches them."""
    return [child for child in node if _local(child.tag) == name]


def _last(node: Element, name: str) -> Element | None:
    """The last child of that name: openpyxl keeps the last of a repeated element."""
    found = children(node, name)
    return found[-1] if found else None


def _listed(node: Element, name: str, item: str) -> list[Element]:
    """The items of a list element (``<sheets><sheet/>...``), by local names."""
    found = _last(node, name)
    return [] if found is None else children(found, item)


def open_book(archive: zipfile.ZipFile) -> Book:
    """The workbook's sheets, names, date system and number styles, or an exception (a
    part missing or malformed) where openpyxl's ``load_workbook`` would raise one.

    The parts read here are the same in every form made from one template, so each is
    parsed once per process and looked up by its text after that.
    """
    part, strings = _package(_small_part(archive, _CONTENT_TYPES))
    sheets, names, date1904 = _workbook(_small_part(archive, part))
    folder, base = posixpath.split(part)
    rels = _relationships(_small_part(archive, posixpath.join(folder, "_rels", f"{base}.rels")),
                          folder)
    try:
        styles = _styles(_small_part(archive, _STYLES))
    except KeyError:  # no styles at all: openpyxl keeps its own, one style and no dates
        styles = Styles(1, frozenset(), frozenset())
    return Book(archive, _titled(archive, sheets, rels), dict(names), strings,
                CALENDAR_MAC_1904 if date1904 else WINDOWS_EPOCH, styles)


@lru_cache(maxsize=16)
def _package(text: str) -> tuple[str, str | None]:
    """The workbook part and the shared strings part, found by content type as openpyxl
    finds them (the first part of a type counts)."""
    types = fromstring(text)
    overrides: dict[str | None, str] = {}
    for override in reversed(children(types, "Override")):
        overrides[override.get("ContentType")] = str(override.get("PartName"))[1:]
    part = next((overrides[t] for t in _WORKBOOK_TYPES if t in overrides), None)
    if part is None:
        defaults = {d.get("ContentType") for d in children(types, "Default")}
        if not defaults & set(_WORKBOOK_TYPES):
            raise ValueError("the package holds no workbook part")
        part = "xl/workbook.xml"
    return part, overrides.get(SHARED_STRINGS)


@lru_cache(maxsize=16)
def _workbook(text: str) -> tuple[tuple[tuple[str | None, str | None, bool], ...],
                                  tuple[tuple[str, str | None], ...], bool]:
    """The sheets listed (name, relationship id, whether openpyxl skips it), the
    workbook-level defined names (a name scoped to one sheet is not among them), and
    whether dates count from 1904."""
    workbook = fromstring(text)
    sheets = tuple((s.get("name"), s.get(_REL_ID, s.get("id")), not s.get(_REL_ID, s.get("id")))
                   for s in _listed(workbook, "sheets", "sheet"))
    names: dict[str, str | None] = {}
    for defined in _listed(workbook, "definedNames", "definedName"):
        name, scope = defined.get("name"), defined.get("localSheetId")
        if scope is not None:
            int(scope)  # openpyxl reads it as a number, and fails on anything else
        elif name is not None and name not in _PRINT_NAMES:
            names[name] = defined.text or None
    properties = _last(workbook, "workbookPr")
    date1904 = None if properties is None else properties.get("date1904")
    return sheets, tuple(names.items()), bool(date1904) and date1904 not in ("false", "f", "0")


@lru_cache(maxsize=16)
def _relationships(text: str, folder: str) -> dict[str | None, tuple[str, str]]:
    """Relationship id -> (type, target part): a target is absolute, or relative to the
    ``folder`` of the part whose relationships these are (openpyxl's reading)."""
    found = {}
    for rel in children(fromstring(text), "Relationship"):
        target = str(rel.get("Target"))
        if rel.get("TargetMode") != "External":
            target = (target[1:] if target.startswith("/")
                      else posixpath.normpath(posixpath.join(folder, target)))
        found[rel.get("Id")] = (str(rel.get("Type")), target)
    return found


def _titled(archive: zipfile.ZipFile, listed: Iterable[tuple[str | None, str | None, bool]],
            rels: dict[str | None, tuple[str, str]]) -> dict[str, Sheet]:
    """Every sheet whose part is in the package, titled as openpyxl titles it (a title
    used twice, in any case, is numbered; a forbidden character fails)."""
    present = set(archive.namelist())
    sheets: dict[str, Sheet] = {}
    for name, rel_id, skipped in listed:
        if skipped:
            continue
        rel_type, target = rels[rel_id]
        if target not in present:
            continue
        chart = "chartsheet" in rel_type
        title = name or ("" if chart else "Sheet")
        if not title or INVALID_TITLE_REGEX.search(title):
            raise ValueError(f"sheet title {title!r} is not allowed")
        sheets[avoid_duplicate_name(list(sheets), title)] = Sheet(target, chart)
    return sheets


@lru_cache(maxsize=16)
def _styles(text: str) -> Styles:
    """Which cell styles format numbers as dates or durations (openpyxl's rule: a built-in
    date format, or a custom one with a day, month, year, hour or second code)."""
    sheet = fromstring(text)
    styles = _listed(sheet, "cellXfs", "xf")
    if not styles:  # openpyxl keeps its own: one style, no dates
        return Styles(1, frozenset(), frozenset())
    custom = {int(f.get("numFmtId", "")): f.get("formatCode")
              for f in _listed(sheet, "numFmts", "numFmt")}
    formats = []
    for xf in styles:
        number = int(xf.get("numFmtId", 0))
        formats.append(custom[number] if number in custom else BUILTIN_FORMATS.get(number))
    return Styles(
        len(formats),
        frozenset(i for i, f in enumerate(formats) if is_date_format(f)),
        frozenset(i for i, f in enumerate(formats) if is_timedelta_format(f)),
    )


# --- streaming a part ---------------------------------------------------------------------


def elements(text: str, tags: tuple[str, ...]) -> Iterator[Element]:
    """Every element with one of ``tags``, whole: all of the first tag in document order,
    then all of the next (a part beyond ``_WHOLE`` characters: in document order, streamed)."""
    if len(text) > _WHOLE:
        yield from _streamed(text, frozenset(tags))
        return
    root = fromstring(text)
    for tag in tags:
        yield from root.iter(tag)


def _streamed(text: str, tags: frozenset[str]) -> Iterator[Element]:
    """Each element with one of ``tags`` as its end is read. Whatever lies outside them is
    dropped as soon as it ends, and each of them once handled, so a part of any size is
    read in the memory of one of them."""
    ancestors: list[Element] = []
    inside = 0
    for event, elem in _events(text):
        if event == "start":
            ancestors.append(elem)
            inside += elem.tag in tags
            continue
        ancestors.pop()
        wanted = elem.tag in tags
        if wanted:
            inside -= 1
            yield elem
        if (wanted or not inside) and ancestors:
            ancestors[-1].remove(elem)


def _events(text: str) -> Iterator[tuple[str, Element]]:
    """Each element's start and end, as the text is fed to the parser a chunk at a time."""
    parser: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
    for at in range(0, len(text), _CHUNK):
        parser.feed(text[at:at + _CHUNK])
        yield from cast(Iterator[tuple[str, Element]], parser.read_events())
    parser.close()  # a truncated part fails here, as it fails in openpyxl
    yield from cast(Iterator[tuple[str, Element]], parser.read_events())


def read_strings(book: Book, needed: Iterable[int]) -> list[str]:
    """The shared strings up to the last one ``needed`` (all of them if one counts from
    the end), as openpyxl reads them: rich text runs joined, ``x005F_`` removed."""
    needed = set(needed)
    if not needed or book.strings_part is None:
        return []
    last = max(needed) if min(needed) >= 0 else None
    strings: list[str] = []
    for item in elements(part_text(book.archive, book.strings_part), (_STRING,)):
        strings.append(text_content(item).replace("x005F_", ""))
        if last is not None and len(strings) > last:
            break
    return strings


def text_content(node: Element) -> str:
    """A string item's text, as openpyxl's ``Text.content``: its ``t``, then the ``t`` of
    each rich text run (phonetic runs left out)."""
    plain: str | None = None
    runs: list[str] = []
    for child in node:
        tag = _local(child.tag)
        if tag == "t":
            plain = child.text
        elif tag == "r":
            texts = [t.text for t in child if _local(t.tag) == "t"]
            if texts and texts[-1] is not None:
                runs.append(texts[-1])
    return (plain or "") + "".join(runs)
