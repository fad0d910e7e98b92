"""Opening a returned form safely and reading its named cells and hidden meta sheet.

A returned workbook is untrusted input. Before any XML is parsed the archive is checked
(size, number of entries, how far it would expand); openpyxl then parses with
defusedxml, which refuses entity tricks. Cells are read by their defined names, so a
user who inserted rows above the questions moves nothing that matters.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from qaudit.errors import FormFileError, QauditError
from qaudit.workbooks.cells import META_SHEET, read_text

MAX_FILE_BYTES = 20 * 1024**2
MAX_ENTRIES = 400
MAX_EXPANDED_BYTES = 100 * 1024**2
MAX_EXPANSION_RATIO = 150
MAX_META_ROWS = 100
MAX_ROW = 1_048_576
_CELL = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")

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


def _check_archive(data: bytes) -> None:
    """The file as bytes, before any XML is parsed: a workbook of a sane size and shape."""
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
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
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


def read_form(path: Path) -> RawForm:
    """Read a returned form's meta sheet and every defined-name cell, or raise FormFileError.

    The file is read into memory once; those same bytes are checked and parsed, so a file
    swapped on disk between the check and the parse changes nothing.
    """
    if not openpyxl.DEFUSEDXML:
        raise QauditError(
            "safe XML parsing is off (defusedxml missing or OPENPYXL_DEFUSEDXML set);"
            " reinstall qaudit and unset OPENPYXL_DEFUSEDXML"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FormFileError(f"the file cannot be read ({exc.strerror}); check it is not open"
                            " elsewhere or locked, and ingest it again", "unreadable") from exc
    _check_archive(data)
    digest = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about features it drops
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=False, keep_links=False)
    except Exception as exc:  # damaged parts, forbidden XML entities, unknown content
        raise FormFileError(f"the workbook's content cannot be read (damaged, or not made by"
                            f" Excel or LibreOffice); {_NOT_A_FORM}", "damaged") from exc
    try:
        return _read(wb, path, digest)
    finally:
        wb.close()


def _read(wb: Any, path: Path, digest: str) -> RawForm:
    if META_SHEET not in wb.sheetnames:
        raise FormFileError(
            "this is not a qaudit form (its hidden identification sheet is missing); use"
            " the form that was issued for the case", "not-a-form"
        )
    meta: dict[str, str] = {}
    for row in wb[META_SHEET].iter_rows(max_col=2, max_row=MAX_META_ROWS, values_only=True):
        key, value = (*row, None, None)[:2]
        if isinstance(key, str):
            meta[key] = "" if value is None else read_text(str(value))
    cells: dict[str, NamedCell] = {}
    for name, definition in wb.defined_names.items():
        found = _named_cell(wb, name, definition)
        if found is not None:
            cells[name] = found
    return RawForm(path, digest, meta, cells)


def _named_cell(wb: Any, name: str, definition: Any) -> NamedCell | None:
    """The one cell a defined name points to, or None (a missing name is a finding later):
    a name pointing at #REF! (its row deleted), a range, a sheet that is gone, or a cell
    beyond any worksheet's bounds points nowhere a form's answer can be."""
    try:
        destinations = list(definition.destinations)
    except Exception:  # a malformed definition (#REF!, a formula) has no destination
        return None
    for sheet, ref in destinations:
        plain = ref.replace("$", "")
        if sheet not in wb.sheetnames or not _CELL.match(plain):
            continue
        column, row = _CELL.match(plain).groups()  # type: ignore[union-attr]
        if len(column) > 3 or int(row) > MAX_ROW or (column > "XFD" and len(column) == 3):
            continue
        cell = wb[sheet][plain]
        value = read_text(cell.value) if isinstance(cell.value, str) else cell.value
        return NamedCell(name, sheet, plain, value, cell.data_type)
    return None
