"""Opening a returned form safely and reading its named cells and hidden meta sheet.

A returned workbook is untrusted input. Before any XML is parsed the archive is checked
(size, number of entries, how far it would expand). Then only what the answers need is
parsed (``workbooks.xlsx``): the defined names, the sheets they point to and the hidden
sheet, each cell read as openpyxl reads it. No part may declare a document type, so no
entity trick gets in. Cells are read by their defined names, so a user who inserted rows
above the questions moves nothing that matters.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl.utils.cell import column_index_from_string
from openpyxl.workbook.defined_name import DefinedName

from qaudit.errors import FormFileError
from qaudit.workbooks import sheet_cells, xlsx
from qaudit.workbooks.cells import META_SHEET, read_text

MAX_FILE_BYTES = 20 * 1024**2
MAX_ENTRIES = 400
MAX_EXPANDED_BYTES = 100 * 1024**2
MAX_EXPANSION_RATIO = 150
MAX_META_ROWS = 100
MAX_ROW = 1_048_576
_CELL = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")
#: The usual definition of a name, ``'Audit'!$C$5``: read directly (openpyxl's tokenizer
#: takes a quarter of a millisecond a name), with the sheet as openpyxl gives it (quoted
#: as written, a doubled apostrophe left doubled).
_PLAIN_DEFINITION = re.compile(r"(?:'((?:[^']|'')+)'|([A-Za-z0-9_.]+))!(\$?[A-Z]{1,3}\$?[0-9]+)")
#: The hidden sheet's keys and values: columns A and B of its first rows.
_META_KEYS = frozenset(f"A{row}" for row in range(1, MAX_META_ROWS + 1))
_META_REFS = _META_KEYS | {f"B{row}" for row in range(1, MAX_META_ROWS + 1)}


@dataclass(frozen=True)
class NamedCell:
    """One input cell found by its defined name, with what it holds."""

    name: str
    sheet: str
    ref: str
    value: Any
    data_type: str  # openpyxl: n, s, d, b, f (formula), e (error)


@dataclass
class RawForm:
    path: Path
    sha256: str
    meta: dict[str, str]
    cells: dict[str, NamedCell] = field(default_factory=dict)


_NOT_A_FORM = ("open it in Excel and check it is the audit or self-reflection form that was"
               " issued; if it is, save it again as an Excel workbook (.xlsx) and ingest it again")


def _check_archive(data: bytes) -> zipfile.ZipFile:
    """The file as bytes, before any XML is parsed: a workbook of a sane size and shape.
    Returns the archive, open on those bytes."""
    size = len(data)
    if size == 0:
        raise FormFileError("the file is empty (0 bytes): it is not a filled form; ask for"
                            " the form itself", "empty-file")
    if size > MAX_FILE_BYTES:
        raise FormFileError(
            f"the file is {size / 1024**2:.0f} MB, far larger than an audit form; ask for the"
            " form itself, without pasted pictures or extra sheets", "too-large"
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FormFileError(
            "the workbook is password-protected (or an old .xls file); remove the password"
            " in Excel (File > Info > Protect Workbook), save it as .xlsx and ingest it again",
            "password-protected"
        )
    if not data.startswith(b"PK\x03\x04"):
        raise FormFileError(f"the file is not an Excel workbook; {_NOT_A_FORM}",
                            "not-a-workbook")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise FormFileError(f"the workbook is damaged (its zip structure is broken);"
                            f" {_NOT_A_FORM}", "damaged") from exc
    if len(entries) > MAX_ENTRIES:
        raise FormFileError(
            f"the workbook holds {len(entries)} parts, far more than an audit form; refused"
            " as unsafe", "unsafe"
        )
    expanded = sum(e.file_size for e in entries)
    if expanded > MAX_EXPANDED_BYTES or expanded > MAX_EXPANSION_RATIO * max(size, 1):
        raise FormFileError(
            f"the workbook would expand to {expanded / 1024**2:.0f} MB from"
            f" {size / 1024:.0f} KB on disk; refused as unsafe", "unsafe"
        )
    return archive


def read_form(path: Path) -> RawForm:
    """Read a returned form's meta sheet and every defined-name cell, or raise FormFileError."""
    return parse_form(path, form_bytes(path))


def form_bytes(path: Path) -> bytes:
    """The file as bytes, read once (at most one byte more than a form may hold): what is
    checked is what is parsed, so a file swapped on disk meanwhile changes nothing."""
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FormFileError(f"the file cannot be read ({exc.strerror}); check it is not open"
                            " elsewhere or locked, and ingest it again", "unreadable") from exc


def parse_form(path: Path, data: bytes, sha256: str = "") -> RawForm:
    """The form in ``data`` (the bytes of ``path``, whose SHA-256 is ``sha256`` if the
    caller has it already): checked as an archive, then read."""
    archive = _check_archive(data)
    digest = sha256 or hashlib.sha256(data).hexdigest()
    try:
        with archive:
            return _read(xlsx.open_book(archive), path, digest)
    except FormFileError:
        raise
    except Exception as exc:  # damaged parts, document types, cells openpyxl cannot read
        raise FormFileError(f"the workbook's content cannot be read (damaged, or not made by"
                            f" Excel or LibreOffice); {_NOT_A_FORM}", "damaged") from exc


def _read(book: xlsx.Book, path: Path, digest: str) -> RawForm:
    if META_SHEET not in book.sheets:
        raise FormFileError(
            "this is not a qaudit form (its hidden identification sheet is missing); use"
            " the form that was issued for the case", "not-a-form"
        )
    targets = {name: found for name, text in book.names.items()
               if (found := next((d for d in _destinations(text) if d[0] in book.sheets),
                                 None)) is not None}
    wanted: dict[str, set[str]] = {META_SHEET: set(_META_REFS)}
    for sheet, ref in targets.values():
        wanted.setdefault(sheet, set()).add(ref)
    cells = _cells(book, wanted)
    meta: dict[str, str] = {}
    for row in sorted(int(ref[1:]) for sheet, ref in cells if sheet == META_SHEET
                      and ref in _META_KEYS):  # in order: a key given twice, the last counts
        key = cells[META_SHEET, f"A{row}"].value
        if isinstance(key, str):
            value = cells.get((META_SHEET, f"B{row}"), sheet_cells.EMPTY).value
            meta[key] = "" if value is None else read_text(str(value))
    named = {}
    for name, (sheet, ref) in targets.items():
        cell = cells.get((sheet, ref), sheet_cells.EMPTY)
        value = read_text(cell.value) if isinstance(cell.value, str) else cell.value
        named[name] = NamedCell(name, sheet, ref, value, cell.data_type)
    return RawForm(path, digest, meta, named)


@lru_cache(maxsize=4096)
def _destinations(definition: str | None) -> tuple[tuple[str, str], ...]:
    """The cells a defined name points to, as (sheet, plain reference), in order; the
    first on a sheet the workbook has is the named cell. A name pointing at #REF! (its row
    deleted), a range, or a cell beyond any worksheet's bounds points nowhere a form's
    answer can be; a missing name is a finding later. Forms made from one template share
    their definitions, hence the cache."""
    plain = _PLAIN_DEFINITION.fullmatch(definition) if definition else None
    try:
        destinations = ([(plain[1] or plain[2], plain[3])] if plain else
                        list(DefinedName("name", attr_text=definition).destinations))
    except Exception:  # a malformed definition (#REF!, a formula) has no destination
        return ()
    cells = []
    for sheet, ref in destinations:
        found = _CELL.match(ref.replace("$", ""))
        if found and int(found[2]) <= MAX_ROW and (found[1] <= "XFD" or len(found[1]) < 3):
            cells.append((sheet, found[0]))
    return tuple(cells)


def _cells(book: xlsx.Book, wanted: dict[str, set[str]]) -> dict[tuple[str, str], sheet_cells.Cell]:
    """The wanted cells that hold something, by (sheet, reference): what openpyxl would
    read. A cell not among them is empty."""
    scans = {sheet: sheet_cells.scan_sheet(book, sheet, frozenset(refs))
             for sheet, refs in wanted.items()}
    strings = xlsx.read_strings(book, (
        index for scan in scans.values() for cell in scan.cells.values()
        if (index := sheet_cells.shared_string_index(cell)) is not None))
    found: dict[tuple[str, str], sheet_cells.Cell] = {}
    for sheet, scan in scans.items():
        merged = (sheet_cells.covered(scan, {ref: _place(ref) for ref in scan.cells})
                  if scan.merged else set())
        for ref in scan.cells:
            if ref not in merged:
                found[sheet, ref] = sheet_cells.cell_value(book, scan, ref, strings)
    return found


@lru_cache(maxsize=4096)
def _place(ref: str) -> tuple[int, int]:
    """A plain reference's row and column (``C5`` is row 5, column 3)."""
    column, row = _CELL.match(ref).groups()  # type: ignore[union-attr]
    return int(row), column_index_from_string(column)
