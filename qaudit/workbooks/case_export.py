"""Reading a case export: find the sheet and header, map columns, normalise every value.

Real exports from the case management system are messy: titles above the header, a
cover sheet, UK dates as text or as dates, ids as numbers or text, blank and total
rows. This module turns one into a clean table of usable cases plus a table of the
rows it could not use and why. It never drops a row without counting it.

An export is also untrusted input, and whatever is wrong with it ends in one
``ExportError`` that says what the file is and what to do: never a crash, never memory
exhausted, never a library's own error text. Workbooks are checked before any parser
sees them (see "workbook safety" below); CSV text is decoded only when its encoding is
certain.

Speed matters (exports run to a million rows). A workbook is parsed once, by fastexcel
(Rust calamine writing Arrow columns), into one Arrow text column per sheet column: never a
Python object per cell. Each column is then normalised whole: reduced to its distinct
values in Arrow, which alone go through the rules in ``values``; a column of values already
in normal form (record ids) costs one regular expression (see "normalisation" below).

An export may also carry the practitioner's and the Service Manager's email addresses
(``EXPORT_EMAIL_FIELDS``): read only when their columns are there, each checked for form
(``email-validator``, never looked up). A value that is not an address costs the row only
that value, never the case: the row is kept without it and listed in ``warnings``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import hashlib
import html
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from qaudit.config import CANONICAL_FIELDS, EXPORT_EMAIL_FIELDS, OPTIONAL_FIELDS, Settings
from qaudit.errors import ExportError
from qaudit.values import normalise_id, normalise_label, parse_date

#: Called with (rows done, rows in total or None) while a large export is read.
Progress = Callable[[int, int | None], None]

HEADER_SCAN_ROWS = 50
_TOTAL_WORDS = ("total", "grand total", "count", "sum")

# Unusable-row reasons, in the order they are checked: a row is listed under the first.
BLANK = "blank row"
TOTAL = "total or summary row"
NO_RECORD = "missing record id"
NO_PERSON = "missing person id"
NO_DATE = "missing completed date"
BAD_DATE = "completed date not understood"
BAD_TYPE = "work type is not an audit type"
BAD_QUADRANT = "quadrant not known"
NO_WORKER = "missing worker id"
NO_MANAGER = "missing service manager"
DUPLICATE = "duplicate record id"
UNUSABLE_REASONS = (
    BLANK, TOTAL, NO_RECORD, NO_PERSON, NO_DATE, BAD_DATE, BAD_TYPE, BAD_QUADRANT,
    NO_WORKER, NO_MANAGER, DUPLICATE,
)

_AGAIN = "Export the report again from the case management system."


@dataclass
class CaseExport:
    """A case export, read and normalised."""

    path: Path
    sha256: str
    sheet: str | None
    header_row: int  # 1-based row (xlsx) or line (csv) of the header
    columns: dict[str, str]  # canonical field -> header as found
    cases: pd.DataFrame  # usable rows: canonical fields + source_row
    unusable: pd.DataFrame  # source_row, reason, detail + canonical fields as text
    rows_read: int
    unusable_counts: dict[str, int] = field(default_factory=dict)
    #: What was left out of usable rows (an email that is not one), as sentences to show.
    warnings: list[str] = field(default_factory=list)


# --- file sniffing -------------------------------------------------------------------

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def _file_kind(path: Path) -> str:
    if not path.exists():
        raise ExportError(f"{path} does not exist. Check the path and try again.")
    if path.is_dir():
        raise ExportError(f"{path} is a folder. Give the export file itself (.xlsx or .csv).")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if not head:
        raise ExportError(f"{path} is empty. {_AGAIN}")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExportError(
            f"{path} is an encrypted (password-protected) or old-style .xls workbook. Open it"
            " in Excel, remove any password (File > Info > Protect Workbook), and save it as"
            " an .xlsx workbook."
        )
    if head.startswith(b"PK\x03\x04"):
        if suffix in _WORKBOOK_SUFFIXES:
            return "xlsx"
        if suffix == ".xls":
            raise ExportError(
                f"{path} is an .xlsx workbook with an .xls name. Rename it to end in .xlsx"
                " and try again."
            )
        if suffix in _TEXT_SUFFIXES:
            raise ExportError(
                f"{path} is a workbook (a zipped file), not CSV text. If it is an Excel"
                " workbook, rename it to end in .xlsx; otherwise export the report again"
                " as .csv."
            )
    if suffix in {*_WORKBOOK_SUFFIXES, ".xls"}:
        raise ExportError(
            f"{path} is not an Excel workbook, whatever its name says. {_AGAIN[:-1]} as"
            " .xlsx or .csv."
        )
    if suffix not in _TEXT_SUFFIXES:
        raise ExportError(
            f"{path} has suffix {suffix or '(none)'!r}; qaudit reads .xlsx, .xlsm and .csv."
            " Save or export the report as one of those."
        )
    return "csv"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _size(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:,.0f} MB" if n >= 10 * 1024**2 else f"{n / 1024**2:.1f} MB"
    return f"{max(n, 1) / 1024:,.0f} KB"


# --- workbook safety -----------------------------------------------------------------
#
# calamine (the parser under fastexcel, and under python-calamine, which lists the sheets)
# trusts a workbook. It inflates every part it reads, however large, and it holds a sheet
# as one dense block from its first to its last cell: one stray cell at
# XFD1048576 asks for 549 GB and aborts the process (a failed Rust allocation cannot be
# caught), one at ZZ200000 takes 5.6 GB. So before calamine opens an .xlsx, the archive
# is checked from its directory, and then every part is inflated once, as a stream, and
# the cell references in it checked. The check is one regular expression per chunk that
# passes a plainly written cell inside the bounds found so far without stopping; only
# what it stops at (a cell further out, or written unusually) is looked at in Python. A
# clean export costs one inflate and one scan, not a second parse.

MAX_PARTS = 2_000  # a case export has about ten
MAX_EXPANDED_BYTES = 4 * 1024**3  # all the parts, inflated
MAX_EXPANSION_RATIO = 100  # a real export inflates about 10 times; a zip bomb 1,000
RATIO_FREE_BYTES = 64 * 1024**2  # inflating to less than this is harmless at any ratio
MAX_ROWS = 1_048_576  # Excel's last row
MAX_COLUMNS = 256  # column IV; a case export has a few dozen
MAX_CELLS = 50_000_000  # rows times columns, from A1 to the last cell, of one sheet

_NARROW = 26  # columns A-Z: taken for granted until a cell lies further right
_CHUNK = 1 << 18  # inflated per step: small enough to reuse memory, large enough to scan
_MAX_TAG = 16 << 20  # a tag this long is not from a spreadsheet program
_SPACE = b" \t\n\r\x0c"  # what calamine skips between attributes
# The attributes a plain cell may have after its reference; anything else (a second r
# above all: calamine takes the last) makes the scan stop and read the tag as calamine would.
_PLAIN_ATTRIBUTES = rb'(?: [stcvp][mh]?="[^"]*+")*+/?>'  # s, t, cm, vm, ph: never r
_TAG_END = re.compile(rb"""(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")
_ROOT = re.compile(rb"<(?![?!])([^\s/<>:]{1,64}:)?[^\s/<>:]")
_DOCTYPE = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_ROW_NAME = re.compile(rb"row(?=[\s/>])")
_ROW_TAG = re.compile(rb"</?(?:[^\s/<>!?:]+:)?")  # what comes before "row" in a row tag
_CELL_TAG = re.compile(rb"<(?:[^\s/<>!?:]+:)?c(?=[\s/>])")
_EMPTY_CELL = re.compile(rb"</(?:[^\s/<>!?:]+:)?c\s*>")
_R_KEY = re.compile(rb"r\s*=")
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s++|<\?.*?\?>|<!--.*?-->)*+", re.DOTALL)
_LT_IN_VALUE = re.compile(rb"""=\s*(?:"[^"]*|'[^']*)<""")
_TAG_NAME = re.compile(rb"/?[^\s/<>!?:]+:c")
_REFERENCE = re.compile(rb"([A-Za-z]*)([0-9]*)")


class _Unsafe(Exception):
    """The archive or a part of it is not what a spreadsheet program writes (says what)."""


class _Stretched(Exception):
    """A cell lies so far out that its sheet would be an absurd block to hold."""

    def __init__(self, ref: str, rows: int, cols: int) -> None:
        super().__init__(ref)
        self.ref, self.rows, self.cols = ref, rows, cols


class _Implicit(Exception):
    """A cell without a written position: only the exact scan can place it."""


def _prolog_end(buf: bytes) -> int:
    """Where the root element starts: after the XML declaration and any comments."""
    m = _PROLOG.match(buf)
    return m.end() if m else 0


def _letters(col: int) -> str:
    text = ""
    while col > 0:
        col, rest = divmod(col - 1, 26)
        text = chr(65 + rest) + text
    return text


def _up_to_number(n: int) -> bytes:
    """A pattern for the decimal numbers 1..n (as written, without leading zeros)."""
    digits = str(n)
    parts = [rf"[1-9]\d{{0,{len(digits) - 2}}}+"] if len(digits) > 1 else []
    for i, ch in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(ch) > low:
            rest = len(digits) - i - 1
            tail = rf"\d{{{rest}}}" if rest else ""
            parts.append(f"{digits[:i]}[{low}-{int(ch) - 1}]{tail}")
    parts.append(digits)
    return ("(?:" + "|".join(parts) + ")").encode()


def _up_to_column(n: int) -> bytes:
    """A pattern for the column letters of columns 1..n."""
    if n == _NARROW:
        return b"[A-Z]"
    letters = _letters(n)
    parts = [f"[A-Z]{{1,{len(letters) - 1}}}"] if len(letters) > 1 else []
    for i, ch in enumerate(letters):
        if ch > "A":
            rest = len(letters) - i - 1
            tail = f"[A-Z]{{{rest}}}" if rest else ""
            parts.append(f"{letters[:i]}[A-{chr(ord(ch) - 1)}]{tail}")
    parts.append(letters)
    return ("(?:" + "|".join(parts) + ")").encode()


@functools.lru_cache(maxsize=256)
def _cell_check(prefix: bytes, cols: int, rows: int) -> re.Pattern[bytes]:
    """Finds every <c> start tag except a plain one inside columns 1..cols, rows 1..rows."""
    plain = rb' r="' + _up_to_column(cols) + _up_to_number(rows) + b'"' + _PLAIN_ATTRIBUTES
    return re.compile(b"<" + re.escape(prefix) + rb"c(?!" + plain + rb"|[\w.:-])")


@functools.lru_cache(maxsize=16)
def _foreign_cells(prefix: bytes) -> re.Pattern[bytes]:
    """Finds cell tags written with another namespace prefix than the part's own."""
    if not prefix:
        return re.compile(rb":c[\s/>]")
    return re.compile(rb"<c[\s/>]|:c[\s/>](?<!<" + re.escape(prefix) + rb"c[\s/>])")


def _attributes(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """A tag's (name, value) pairs as calamine reads them, up to where it would fail."""
    pos, end = 0, len(raw)
    while True:
        while pos < end and raw[pos] in _SPACE:
            pos += 1
        equals = raw.find(b"=", pos)
        if pos >= end or equals < 0:
            return
        name = raw[pos:equals].rstrip(_SPACE)
        pos = equals + 1
        while pos < end and raw[pos] in _SPACE:
            pos += 1
        if pos >= end or raw[pos] not in b"\"'":
            return
        close = raw.find(raw[pos:pos + 1], pos + 1)
        close = end if close < 0 else close
        yield name, raw[pos + 1:close]
        pos = close + 1


def _cell_reference(raw: bytes) -> bytes | None:
    """The r of a <c> tag that calamine uses: the last one read before it has r, s and t."""
    found, ref = 0, None
    for name, value in _attributes(raw):
        if name in (b"r", b"s", b"t"):
            found += 1
            if name == b"r":
                ref = value
            if found == 3:
                break
    return ref


def _position(ref: bytes, column: bool = True) -> tuple[int, int] | None:
    """(row, column), 1-based, of a reference as calamine reads it; None if it cannot.

    A reference far past Excel's limits comes back as just past them: calamine's 32-bit
    arithmetic would wrap it somewhere arbitrary, and no spreadsheet writes one.
    """
    m = _REFERENCE.fullmatch(ref)
    if m is None or not m[2] or (column and not m[1]):
        return None
    col = 0
    for ch in m[1][:4].upper():
        col = col * 26 + ch - 64
    row = int(m[2]) if len(m[2]) <= 9 else MAX_ROWS + 1
    return (row, col) if row else None


class _Cells:
    """How far down and right the cells of one part reach, as calamine would place them.

    The fast scan keeps bounds (every cell so far lies in columns 1..cols, rows 1..rows)
    and its pattern passes whatever is inside them; a cell outside widens the columns and,
    past 47 of them, lowers the rows allowed under MAX_CELLS, after which the part up to
    that point is scanned again. A cell without a written position (legal, rare) needs
    the exact scan, which follows calamine's row and column counters row by row.
    """

    def __init__(self) -> None:
        self.cols = _NARROW
        self.rows = MAX_ROWS
        self.narrowed_at = -1  # where in the part the row bound was last lowered
        self.prefix = b""
        # the exact scan: calamine's counters (0-based) and the furthest cell (1-based)
        self.row_index = self.col_index = self.max_row = self.max_col = 0

    def check(self, open_part: Callable[[], Iterator[bytes]]) -> None:
        try:
            self._scan(open_part(), self._fast, None)
            if self.narrowed_at >= 0:  # rows before that point met a looser bound
                self._scan(open_part(), self._fast, self.narrowed_at)
        except _Implicit:
            self._scan(open_part(), self._exact, None)
            if self.max_row * self.max_col > MAX_CELLS:
                ref = f"{_letters(self.max_col)}{self.max_row}"
                raise _Stretched(ref, self.max_row, self.max_col) from None

    def _scan(
        self, chunks: Iterator[bytes], step: Callable[[bytes, int, int, int, bool], int],
        stop: int | None,
    ) -> None:
        """Feed a part to ``step`` a chunk at a time, never joining whole chunks.

        ``step(buf, start, cut, offset, final)`` checks ``buf[start:cut]`` (buf begins at
        ``offset`` in the part) and returns how far it got: ``cut``, or where a tag that
        runs on past it begins. Such a tag, cut at the end of a chunk, is finished in a
        small buffer with the head of the next chunk, up to that chunk's first '<'.
        """
        pending, offset = b"", 0  # the unchecked end of the last chunk, and where it begins
        for chunk in chunks:
            if offset == 0 and not pending:
                self._head(chunk)
            start = 0
            if pending:
                head = chunk.find(b"<")
                head = len(chunk) if head < 0 else head
                joint = pending + chunk[:head]
                done = step(joint, 0, len(joint), offset, False)
                if done < len(joint):  # a tag longer than that: join them and go on
                    chunk, offset = joint[done:] + chunk[head:], offset + done
                else:
                    start, offset = head, offset + len(pending)
            last = chunk.rfind(b"<", start)
            done = step(chunk, start, len(chunk) if last < 0 else last, offset, False)
            pending, offset = chunk[done:], offset + done
            if len(pending) > _MAX_TAG:
                raise _Unsafe("holds a tag longer than any spreadsheet program writes")
            if stop is not None and offset > stop:
                return
        if pending:
            step(pending, 0, len(pending), offset, True)

    def _head(self, buf: bytes) -> None:
        if _DOCTYPE.search(buf, 0, 1 << 16):
            raise _Unsafe(
                "contains an XML document type declaration (<!DOCTYPE>), which Excel never"
                " writes and which can make a file expand without limit"
            )
        root = _ROOT.search(buf, 0, 1 << 16)
        self.prefix = (root[1] or b"") if root else b""

    def _fast(self, buf: bytes, start: int, cut: int, offset: int, final: bool) -> int:
        pattern = _cell_check(self.prefix, self.cols, self.rows)
        pos = start
        while (m := pattern.search(buf, pos)) is not None and m.start() < cut:
            after = self._stop(buf, m.start(), offset, final)
            if after is None:  # the tag runs on into the next chunk
                cut = m.start()
                break
            pattern = _cell_check(self.prefix, self.cols, self.rows)
            pos = after
        if not self.prefix and buf.find(b":", start, cut) < 0:
            return cut  # no cell tag under a prefix can be here (one byte: a fast search)
        foreign = _foreign_cells(self.prefix)
        pos = start
        while (m := foreign.search(buf, pos, cut)) is not None:
            if m[0].startswith(b"<"):
                raise _Implicit
            opened = buf.rfind(b"<", max(start, m.start() - 256), m.start())
            if opened >= 0 and _TAG_NAME.fullmatch(buf, opened + 1, m.start() + 2):
                raise _Implicit
            pos = m.end()
        return cut

    def _stop(self, buf: bytes, start: int, offset: int, final: bool) -> int | None:
        """Account for the <c...> tag the pattern stopped at; where to go on, or None."""
        at = start + 2 + len(self.prefix)
        if at >= len(buf):
            return len(buf) if final else None
        if buf[at] not in _SPACE + b"/>":
            return at  # another element whose name starts with c
        tag = _TAG_END.match(buf, at)
        if tag is None:
            return len(buf) if final else None
        attributes = buf[at:tag.end() - 1]
        empty = attributes.endswith(b"/") or buf.startswith(b"</" + self.prefix + b"c>",
                                                            tag.end())
        refs = [v for k, v in _attributes(attributes.removesuffix(b"/")) if k == b"r"]
        if not refs:
            raise _Implicit
        if not empty:  # calamine holds no block for a cell with nothing in it
            for ref in refs:
                self._widen(ref, offset + start)
        return tag.end()

    def _widen(self, ref: bytes, where: int) -> None:
        position = _position(ref)
        if position is None:
            return  # calamine stops at a reference it cannot read
        row, col = position
        text = ref[:20].decode("ascii", "replace")
        if col > MAX_COLUMNS or row > MAX_ROWS:
            raise _Stretched(text, row, col)
        if col > self.cols:
            self.cols = col
            rows = min(MAX_ROWS, MAX_CELLS // col)
            if rows < self.rows:
                self.rows, self.narrowed_at = rows, where
        if row > self.rows:
            raise _Stretched(text, row, self.cols)

    def _exact(self, buf: bytes, start: int, cut: int, offset: int, final: bool) -> int:
        """Follow calamine's counters: a row at a time, counting the cells of a row whose
        cells leave out r (C-speed counts, not a parse), tag by tag where any has one.

        Counting is exact only where every '<' starts a real tag, so comments, CDATA,
        processing instructions and a '<' inside an attribute value (all of which calamine
        skips) are refused here: a spreadsheet program never writes them among its cells.
        """
        pos = _prolog_end(buf) if offset == 0 else start
        hidden = buf.find(b"<!", pos) >= 0 or buf.find(b"<?", pos) >= 0
        if hidden or _LT_IN_VALUE.search(buf, pos):
            raise _Unsafe(
                "holds cells without references together with comments or other markup"
                " that qaudit cannot follow safely"
            )
        segment = pos  # where the cells of the current row (so far) begin
        while True:
            m = _ROW_NAME.search(buf, pos, cut)
            if m is None:
                self._row_cells(buf, segment, cut)
                return cut
            opened = buf.rfind(b"<", max(segment, m.start() - 200), m.start())
            if opened < 0 or not _ROW_TAG.fullmatch(buf, opened, m.start()):
                pos = m.end()  # "row" in text, or inside another name
                continue
            self._row_cells(buf, segment, opened)
            if buf[opened + 1] == ord("/"):  # </row>: calamine moves to the next row
                self.row_index, self.col_index = self.row_index + 1, 0
                pos = segment = m.end()
                continue
            tag = _TAG_END.match(buf, m.end())
            if tag is None:  # runs on into the next chunk (or, at the end, cannot be read)
                return cut if final else opened
            attributes = buf[m.end():tag.end() - 1]
            ref = next((v for k, v in _attributes(attributes.removesuffix(b"/")) if k == b"r"),
                       None)
            position = None if ref is None else _position(ref, column=False)
            if position is not None:
                self.row_index = position[0] - 1
            if attributes.endswith(b"/"):  # <row/> is a start and an end
                self.row_index, self.col_index = self.row_index + 1, 0
            pos = segment = tag.end()

    def _row_cells(self, buf: bytes, start: int, end: int) -> None:
        """The cells between two row tags: counted, or read tag by tag if any has an r."""
        if start >= end:
            return
        if _R_KEY.search(buf, start, end) is None:
            cells = len(_CELL_TAG.findall(buf, start, end))
            if cells:  # empty ones too: calamine counts them along the row all the same
                self.col_index += cells
                self._reach(self.row_index + 1, self.col_index)
            return
        for m in _CELL_TAG.finditer(buf, start, end):
            tag = _TAG_END.match(buf, m.end())
            if tag is None:  # calamine cannot read it either
                continue
            attributes = buf[m.end():tag.end() - 1]
            ref = _cell_reference(attributes.removesuffix(b"/"))
            position = None if ref is None else _position(ref)
            row, col = position or (self.row_index + 1, self.col_index + 1)
            self.col_index = col
            empty = attributes.endswith(b"/") or _EMPTY_CELL.match(buf, tag.end())
            if not empty:  # calamine holds nothing for an empty cell
                self._reach(row, col)
                for key, value in _attributes(attributes.removesuffix(b"/")):
                    if key == b"r" and (place := _position(value)):
                        self._reach(*place)

    def _reach(self, row: int, col: int) -> None:
        if col > MAX_COLUMNS or row > MAX_ROWS:
            raise _Stretched(f"{_letters(col)}{row}", row, col)
        self.max_row, self.max_col = max(self.max_row, row), max(self.max_col, col)


def _inflate(fh: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """One part of the archive, inflated a chunk at a time and held to its stated size."""
    fh.seek(info.header_offset)
    local = fh.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise _Unsafe("is damaged (a part of it cannot be found)")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    fh.seek(info.header_offset + 30 + name_length + extra_length)
    inflater = (
        zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED
        else None
    )
    left, produced = info.compress_size, 0
    while left > 0 and not (inflater is not None and inflater.eof):
        data = fh.read(min(left, _CHUNK))
        if not data:
            break
        left -= len(data)
        while data:
            if inflater is None:
                out, data = data, b""
            else:
                try:
                    out = inflater.decompress(data, _CHUNK)
                except zlib.error as exc:
                    raise _Unsafe("is damaged (a part of it is corrupted)") from exc
                data = inflater.unconsumed_tail
            produced += len(out)
            if produced > info.file_size:
                raise _Unsafe(
                    "holds more data than its own directory states, which no spreadsheet"
                    " program writes"
                )
            if out:
                yield out
    if produced != info.file_size or (inflater is not None and not inflater.eof):
        raise _Unsafe("is damaged (a part of it is cut short)")


def _check_archive(path: Path, size: int, infos: list[zipfile.ZipInfo]) -> None:
    names = {info.filename.lower() for info in infos}
    if not any(name.endswith("workbook.xml") for name in names):
        if any(name.endswith("workbook.bin") for name in names):
            what = "a binary Excel workbook (.xlsb). Open it in Excel and save it as .xlsx"
        elif "content.xml" in names:
            what = "an OpenDocument spreadsheet (.ods). Open it and save it as .xlsx"
        else:
            what = f"a zip file but not an Excel workbook. {_AGAIN[:-1]} as .xlsx or .csv"
        raise ExportError(f"{path} is {what}.")
    if len(infos) > MAX_PARTS:
        raise ExportError(
            f"{path} holds {len(infos):,} parts, where a case export has about ten; qaudit"
            f" will not open it. {_AGAIN}"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise ExportError(
                f"{path} is encrypted (password-protected). Open it in Excel, remove the"
                " password (File > Info > Protect Workbook), save it, and try again."
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ExportError(
                f"{path} is compressed in a way Excel never uses, so it is not an export"
                f" qaudit can read. {_AGAIN}"
            )
    expanded = sum(info.file_size for info in infos)
    if expanded > MAX_EXPANDED_BYTES or (
        expanded > RATIO_FREE_BYTES and expanded > MAX_EXPANSION_RATIO * max(size, 1)
    ):
        what, packed, inflated = "", size, expanded
    else:
        bombs = [i for i in infos if i.file_size > RATIO_FREE_BYTES
                 and i.file_size > MAX_EXPANSION_RATIO * max(i.compress_size, 1)]
        if not bombs:
            return
        what = f" (its part {bombs[0].filename})"
        packed, inflated = bombs[0].compress_size, bombs[0].file_size
    raise ExportError(
        f"{path}{what} would expand from {_size(packed)} to {_size(inflated)} when opened,"
        f" {inflated / max(packed, 1):,.0f} times its size. A real case export expands"
        " about ten times, so qaudit will not open this one (it looks like a 'zip bomb')."
        " If it came from the case management system, export the report again; if not,"
        " check where it came from."
    )


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Part name -> sheet name, read from the workbook for messages (best effort)."""

    def small(name: str) -> bytes:
        if archive.getinfo(name).file_size > 8 * 1024**2:
            raise ValueError(name)
        return archive.read(name)

    try:
        relations = small("xl/_rels/workbook.xml.rels")
        book = small("xl/workbook.xml")
    except (KeyError, ValueError, OSError, RuntimeError, zipfile.BadZipFile, zlib.error):
        return {}
    targets: dict[bytes, str] = {}
    for tag in re.findall(rb"<(?:\w+:)?Relationship\b([^>]*)>", relations):
        found = dict(_attributes(tag.removesuffix(b"/")))
        target = html.unescape(found.get(b"Target", b"").decode("utf-8", "replace"))
        part = target[1:] if target.startswith("/") else posixpath.normpath("xl/" + target)
        targets[found.get(b"Id", b"")] = part
    names: dict[str, str] = {}
    for tag in re.findall(rb"<(?:\w+:)?sheet\b([^>]*)>", book):
        found = {k.rpartition(b":")[2]: v for k, v in _attributes(tag.removesuffix(b"/"))}
        if b"id" in found and found[b"id"] in targets:
            sheet = html.unescape(found.get(b"name", b"").decode("utf-8", "replace"))
            names[targets[found[b"id"]]] = sheet
    return names


def _stretched(path: Path, sheet: str | None, exc: _Stretched) -> ExportError:
    named = f"sheet {sheet!r}" if sheet else "one of its sheets"
    where = f"{path}: {named} has a cell at {exc.ref}"
    if exc.rows > MAX_ROWS or exc.cols > 16_384:
        return ExportError(
            f"{where}, beyond the last row or column Excel has, so the file is damaged or was"
            f" not written by a spreadsheet program. {_AGAIN}"
        )
    if exc.cols > MAX_COLUMNS:
        why = (
            f"reaches column {_letters(exc.cols)}, where a case export has no more than"
            f" {MAX_COLUMNS} columns"
        )
    else:
        why = (
            f"makes the sheet {exc.rows:,} rows by {exc.cols:,} columns"
            f" ({exc.rows * exc.cols:,} cells), more than the {MAX_CELLS:,} qaudit reads"
        )
    return ExportError(
        f"{where} that {why}. Something far from the data (a stray value or formatting)"
        " stretches the sheet: in Excel press Ctrl+End to find the last cell, delete the rows"
        " and columns beyond the data, save, and try again; or export the report again."
    )


def _check_workbook(path: Path) -> None:
    """Refuse a workbook calamine could not open safely, before it opens it."""
    damaged = ExportError(
        f"{path} is damaged: it is not a complete Excel workbook (it may have been cut short"
        f" while copying or downloading). {_AGAIN}"
    )
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            _check_archive(path, size, infos)
            with path.open("rb") as fh:
                for info in infos:
                    try:
                        _Cells().check(functools.partial(_inflate, fh, info))
                    except _Stretched as exc:
                        sheet = _sheet_names(archive).get(info.filename)
                        raise _stretched(path, sheet, exc) from None
                    except _Unsafe as exc:
                        raise ExportError(
                            f"{path} {exc} (in its part {info.filename}), so qaudit will not"
                            " open it. Export the report again, or open it in Excel and save"
                            " it as a new .xlsx workbook."
                        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, OSError,
            ValueError, OverflowError, NotImplementedError) as exc:
        raise damaged from exc


@contextlib.contextmanager
def _calamine_errors(path: Path) -> Iterator[None]:
    """Whatever calamine raises, as an ExportError that says what to do (not its own text)."""
    from python_calamine import PasswordError

    try:
        yield
    except MemoryError as exc:
        raise ExportError(
            f"{path} is too large to read in the memory this computer has free. Close other"
            " programs and try again, or export a shorter date range."
        ) from exc
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except PasswordError as exc:
        raise ExportError(
            f"{path} is password-protected. Open it in Excel, remove the password (File >"
            " Info > Protect Workbook), save it, and try again."
        ) from exc
    except BaseException as exc:  # calamine's errors, and a Rust panic (a BaseException)
        raise ExportError(
            f"{path} is damaged or was not written by a spreadsheet program: its contents"
            " cannot be read as a workbook. Open it in Excel and save it again as .xlsx, or"
            " export the report again."
        ) from exc


# --- header detection ----------------------------------------------------------------


@dataclass
class _Header:
    sheet: str | None
    index: int  # 0-based row index in the sheet / line index in the csv
    mapping: dict[str, int]  # canonical field -> column index
    cells: list[str]  # the header row as text

    @property
    def found(self) -> list[str]:
        return [c for c in self.cells if c]


def _label_positions(cells: Sequence[Any]) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        key = normalise_label(cell) if isinstance(cell, str) else ""
        if key:
            positions.setdefault(key, []).append(i)
    return positions


def _match_header(cells: Sequence[Any], aliases: dict[str, list[str]]) -> dict[str, int]:
    positions = _label_positions(cells)
    mapping: dict[str, int] = {}
    for fieldname, names in aliases.items():
        for name in names:  # the first alias present wins, in the order configured
            free = [p for p in positions.get(name, ()) if p not in mapping.values()]
            if free:
                mapping[fieldname] = free[0]
                break
    return mapping


def _normalised(aliases: dict[str, list[str]]) -> dict[str, list[str]]:
    return {f: [normalise_label(name) for name in names] for f, names in aliases.items()}


def _best_header(
    candidates: Iterable[tuple[str | None, list[list[Any]]]], aliases: dict[str, list[str]]
) -> _Header | None:
    keys = _normalised(aliases)
    best: _Header | None = None
    for sheet, rows in candidates:
        for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            mapping = _match_header(row, keys)
            if len(mapping) >= 3 and (best is None or len(mapping) > len(best.mapping)):
                best = _Header(sheet, index, mapping, [str(c).strip() for c in row])
    return best


def _where(header: _Header) -> str:
    sheet = f" of sheet {header.sheet!r}" if header.sheet else ""
    return f"the header row (row {header.index + 1}{sheet})"


def _ambiguities(header: _Header, path: Path, aliases: dict[str, list[str]]) -> None:
    """Refuse a header where two columns could each be one field: never guess between them."""
    positions = _label_positions(header.cells)
    keys = _normalised(aliases)
    used = set(header.mapping.values())
    problems = []
    for fieldname, chosen in header.mapping.items():
        columns = sorted({
            p for key in keys.get(fieldname, ()) for p in positions.get(key, ())
            if p == chosen or p not in used
        })
        if len(columns) < 2:
            continue
        named = [
            f'column {_letters(p + 1) if header.sheet else p + 1} "{header.cells[p]}"'
            for p in columns
        ]
        listed = ", ".join(named[:-1]) + f" and {named[-1]}"
        what = fieldname.replace("_", " ")
        if len({normalise_label(header.cells[p]) for p in columns}) < len(columns):
            fix = (
                "Two of them have the same header, which the [columns] setting cannot tell"
                f" apart: rename or delete the one that is not the {what} in the export"
            )
        else:
            fix = (
                f"Set columns.{fieldname} under [columns] in qaudit.toml to the header of the"
                f' one to use, for example {fieldname} = ["{header.cells[chosen]}"]'
            )
        problems.append(
            f"{listed} could each be the {what}, and qaudit will not guess which. {fix}."
        )
    if problems:
        raise ExportError(f"{path}: in {_where(header)}, " + " Also, ".join(problems))


def _require_columns(
    header: _Header | None, path: Path, where: str, aliases: dict[str, list[str]]
) -> _Header:
    if header is None:
        raise ExportError(
            f"no header row found in {path}{where}: none of the first {HEADER_SCAN_ROWS} rows"
            " names three or more of the expected columns (record id, person id, work type,"
            " completed date, worker, team, service manager, quadrant). Check it is the case"
            " export, or set the header names under [columns] in qaudit.toml."
        )
    missing = [
        f for f in CANONICAL_FIELDS if f not in header.mapping
        and f not in OPTIONAL_FIELDS and f not in EXPORT_EMAIL_FIELDS
    ]
    if missing:
        keys = ", ".join(f"columns.{f}" for f in missing)
        raise ExportError(
            f"{path}: {_where(header)} has no column for"
            f" {', '.join(missing)}. Headers found: {', '.join(header.found)}. Add the header"
            f" that holds it to {keys} in qaudit.toml."
        )
    _ambiguities(header, path, aliases)
    return header


# --- readers -------------------------------------------------------------------------


@dataclass
class _Table:
    """The rows under the header: for each column a field is read from, its cells as Arrow
    text (null where empty). ``rendered``: the text is fastexcel's rendering of whatever each
    cell holds (a workbook, see ``_cell_value``), not text as written (a CSV file)."""

    columns: dict[int, pa.Array]  # by position, counted from column A (or the first field)
    rows: int
    first_row: int  # 1-based row (xlsx) or line (csv) of the first of them
    rendered: bool

    def column(self, index: int | None) -> pa.Array:
        """The column at ``index``; all empty where the rows stop short of it."""
        found = None if index is None else self.columns.get(index)
        return pa.nulls(self.rows, pa.string()) if found is None else found


@dataclass
class _Sheet:
    """A sheet as fastexcel read it: every cell as text, one Arrow column per column from
    the first that holds anything (``first_column``, counted from A = 0) to the last, and
    one row per row from row 1 to the last that holds anything."""

    first_column: int
    batch: pa.RecordBatch

    def _columns(self) -> Iterator[tuple[int, pa.Array]]:
        """Each column with its position counted from column A."""
        for i, column in enumerate(self.batch.columns):
            yield self.first_column + i, column

    def head(self) -> list[list[Any]]:
        """The first rows from cell A1, each cell as python-calamine gives it ('' if empty),
        for the header scan."""
        rows = min(HEADER_SCAN_ROWS, self.batch.num_rows)
        width = self.first_column + self.batch.num_columns
        head: list[list[Any]] = [[""] * width for _ in range(rows)]
        for position, column in self._columns():
            for row, text in enumerate(column.slice(0, rows).to_pylist()):
                if text is not None:
                    head[row][position] = _cell_value(text)
        return head

    def under(self, header: _Header) -> _Table:
        """The rows under the header, in the columns the header maps (the rest let go)."""
        start = header.index + 1
        wanted = set(header.mapping.values())
        columns = {p: column.slice(start) for p, column in self._columns() if p in wanted}
        return _Table(columns, self.batch.num_rows - start, start + 1, rendered=True)


def _load_sheet(reader: Any, name: str) -> _Sheet:
    """Read a sheet into Arrow, every cell as text: the one parse of it.

    From row 1 (``skip_rows=0``; fastexcel would start at the first row used) and with no
    header row, so that the header scan sees the rows as the user does. Text, not types
    guessed from the cells, because a column holds what its cells hold: numbers and the word
    "Total", dates and dates typed as text (``_cell_value`` reads each back).
    """
    positions: list[int] = []

    def note(column: Any) -> bool:  # fastexcel offers each column, with where it is: take all
        positions.append(column.absolute_index)
        return True

    batch = reader.load_sheet(
        name, header_row=None, skip_rows=0, dtypes="string", use_columns=note, eager=True
    )
    return _Sheet(min(positions, default=0), batch)


def _sheet_kinds(path: Path) -> tuple[list[str], list[str]]:
    """Every sheet's name, and the worksheets' (not charts'; all if none is), in order."""
    from python_calamine import CalamineWorkbook

    with _calamine_errors(path), CalamineWorkbook.from_path(str(path)) as book:
        every = list(book.sheet_names)
        sheets = [m.name for m in book.sheets_metadata if str(m.typ).endswith("WorkSheet")]
    return every, sheets or every


def _read_xlsx(
    path: Path, aliases: dict[str, list[str]], sheet: str | None, progress: Progress | None
) -> tuple[_Header, _Table]:
    import fastexcel

    _check_workbook(path)
    every, names = _sheet_kinds(path)
    if sheet is not None:
        if sheet not in every:
            raise ExportError(f"{path} has no sheet {sheet!r}; its sheets are {', '.join(every)}.")
        names = [sheet]
    with _calamine_errors(path):
        reader = fastexcel.read_excel(str(path))
    # One sheet held at a time besides the best so far: each may be large.
    best: _Header | None = None
    chosen: _Sheet | None = None
    for name in names:
        with _calamine_errors(path):
            loaded = _load_sheet(reader, name)
        found = _best_header([(name, loaded.head())], aliases)
        if found is not None and (best is None or len(found.mapping) > len(best.mapping)):
            best, chosen = found, loaded
        del loaded
    header = _require_columns(best, path, f" (sheet {sheet!r})" if sheet else "", aliases)
    if chosen is None:  # pragma: no cover - a header is found on a loaded sheet
        raise ExportError(f"{path}: no sheet holds the header row.")
    table = chosen.under(header)
    if progress is not None:
        progress(table.rows, table.rows)
    return header, table


MAX_CSV_BYTES = 1024**3
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_SAVE_AS_UTF8 = (
    "Open it in Excel and save it as 'CSV UTF-8 (Comma delimited)', or export the report"
    " again."
)


def _utf16_without_mark(sample: bytes) -> str | None:
    """UTF-16 text saved without a byte-order mark shows as every other byte zero."""
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 8:
        return None
    if odd.count(0) > 0.6 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.6 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decode(raw: bytes, path: Path) -> str:
    """The text of a CSV file: UTF-8, UTF-16 (Excel's 'Unicode text') or Windows-1252.

    A file that is partly UTF-8 and partly not (lines pasted in from elsewhere) is refused:
    read either way, some of its names would be silently garbled.
    """
    utf16 = (
        "utf-16" if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        else _utf16_without_mark(raw[:4096])
    )
    if utf16:
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError as exc:
            raise ExportError(
                f"{path} looks like UTF-16 ('Unicode') text but is not valid UTF-16 (it may be"
                f" cut short). {_SAVE_AS_UTF8}"
            ) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _UTF8_SEQUENCE.search(raw):
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ExportError(
                f"{path} mixes text encodings: some lines are UTF-8 and line {line} is not (it"
                " is in another encoding, such as Windows-1252), so names like José would"
                f" come out garbled whichever way it is read. {_SAVE_AS_UTF8}"
                " If lines were added by hand, check the names on them afterwards."
            ) from exc
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_error(path: Path, exc: Exception) -> ExportError:
    """A pandas or csv parsing error, in words: which line, and what to do."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:  # pandas counts the lines of the whole file, skipped ones included
        return ExportError(
            f"{path} is not a well-formed CSV file: line {m[2]} has"
            f" {m[3]} fields where the lines above it have {m[1]} (perhaps a comma inside a"
            f" name that is not in quotes). {_SAVE_AS_UTF8}"
        )
    return ExportError(
        f"{path} is not a well-formed CSV file (a quotation mark may be left open, or a"
        f" field be far too long). {_SAVE_AS_UTF8}"
    )


def _text_column(column: pd.Series) -> pa.Array:
    """A column pandas read as text, as one Arrow text array (null where a row stops short)."""
    found = pa.array(column, pa.string())
    return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found


def _read_csv(
    path: Path, aliases: dict[str, list[str]], progress: Progress | None
) -> tuple[_Header, _Table]:
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise ExportError(
            f"{path} is {_size(size)}, far larger than a case export; qaudit reads CSV files"
            f" of up to {_size(MAX_CSV_BYTES)}. Export a shorter date range."
        )
    text = _decode(path.read_bytes(), path)
    if "\x00" in text[:4096]:
        raise ExportError(f"{path} is not a text CSV file. {_AGAIN[:-1]} as .csv.")
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        head = list(csv.reader(io.StringIO(sample), dialect))[:HEADER_SCAN_ROWS]
    except csv.Error as exc:
        raise _parse_error(path, exc) from exc
    header = _require_columns(_best_header([(None, head)], aliases), path, "", aliases)
    delimiter = getattr(dialect, "delimiter", ",")
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, skiprows=header.index + 1,
            dtype=str, keep_default_na=False, skip_blank_lines=False, engine="c",
        )
    except pd.errors.EmptyDataError:
        return header, _Table({}, 0, header.index + 2, rendered=False)
    except MemoryError as exc:
        raise ExportError(
            f"{path} is too large to read in the memory this computer has free. Close other"
            " programs and try again, or export a shorter date range."
        ) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise _parse_error(path, exc) from exc
    del text
    wanted = set(header.mapping.values())
    columns = {p: _text_column(frame.iloc[:, p]) for p in wanted if p < frame.shape[1]}
    if progress is not None:
        progress(len(frame), len(frame))
    return header, _Table(columns, len(frame), header.index + 2, rendered=False)


# --- email columns -------------------------------------------------------------------

_MAX_EMAIL = 320  # longer than any address can be (RFC 5321 allows 254): not parsed
# One @-sign, a dot after it, no white space: what is worth handing to email-validator.
# A line break (a header injection) or a formula fails here, before any parser sees it.
_EMAIL_SHAPE = re.compile(r"[^@\s=+\-][^@\s]*@[^@\s]+\.[^@\s]+")
_EMAIL_LABELS = {"worker_email": "worker email", "service_manager_email": "Service Manager email"}
_EXAMPLES = 3  # rows named in a warning; the rest are counted
_SHOWN = 60  # characters of a value shown in a warning


def _email(value: Any) -> str | None:
    """The address a cell holds, in its normal form; '' for an empty cell; None for a value
    that is not one address qaudit could send to (checked for form only, never looked up;
    a value starting like a spreadsheet formula is not taken as an address)."""
    text = value.strip() if isinstance(value, str) else normalise_id(value)
    if not text:
        return ""
    if len(text) > _MAX_EMAIL or not _EMAIL_SHAPE.fullmatch(text):
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return str(checked.ascii_email or checked.normalized)


def _shown(value: Any) -> str:
    """A cell's value for a warning: bounded, and every control character written out."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")


def _emails(
    raw: dict[str, pa.Array], usable: np.ndarray, source_row: np.ndarray, rendered: bool
) -> tuple[dict[str, pa.Array], list[str]]:
    """The usable rows' addresses of each email column the export has ('' where none), and a
    warning for each column some of whose values are not an address (left out, row kept)."""
    found: dict[str, pa.Array] = {}
    warnings: list[str] = []
    rows = source_row[usable]
    for name in EXPORT_EMAIL_FIELDS:
        if name not in raw:
            continue
        values, indices = _distinct(raw[name].filter(pa.array(usable)))
        cells = [_read(text, rendered) for text in values.to_pylist()]
        checked = [_email(cell) for cell in cells]
        found[name] = _spread(
            pa.array(["" if c is None else c for c in checked], pa.string()), indices, ""
        )
        bad = _flags([c is None for c in checked], indices)
        if bad.any():
            where = np.flatnonzero(bad)
            which = pc.fill_null(indices, 0).to_numpy()
            named = "; ".join(
                f"row {rows[i]}: {_shown(cells[int(which[i])])}" for i in where[:_EXAMPLES]
            )
            more = f"; and {len(where) - _EXAMPLES:,} more" if len(where) > _EXAMPLES else ""
            rows_give = "1 row gives" if len(where) == 1 else f"{len(where):,} rows give"
            warnings.append(
                f"{rows_give} a {_EMAIL_LABELS[name]} that is not an email address ({named}"
                f"{more}). Each such row is kept, and may be drawn, without it: messages"
                " about it need the staff list's address (`qaudit staff import`). Correct"
                " the export if that address is needed."
            )
    return found, warnings


# --- normalisation -------------------------------------------------------------------
#
# Every column is normalised whole. Exports repeat values heavily (a few hundred workers,
# teams and dates), so each column is first reduced to its distinct values (a hash pass in
# Arrow) and the rules in ``values`` run once per distinct value, not once per cell. Record
# ids are nearly all distinct: a distinct value already in its normal form (most ids, as
# written or as fastexcel renders a whole number) is kept by one regular expression over
# them all, and only the others go through Python.

_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATETIME_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
)
_FIRST_DAY = date(1900, 1, 1)  # serial 1: earlier dates are python-calamine's times of day
# Every character str.split() splits on (those str.isspace() accepts), for Arrow's RE2.
_SPACES = (
    r"\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
# A value normalise_id might change, or _cell_value read as other than text; any other value
# is its own normal form.
_NOT_PLAIN = rf"[{_SPACES}]|\.|^-0$|^(?:true|false)$"
# A value that might start with one of _TOTAL_WORDS, in any case, once stripped.
_MAYBE_TOTAL = rf"^[{_SPACES}]*[CcGgSsTt]"


def _float_text(number: float) -> str:
    """A number as fastexcel writes it: nine decimals at most, trailing zeros dropped."""
    return f"{number:.9f}".rstrip("0").rstrip(".")


def _calamine_time(m: re.Match[str]) -> date | datetime | dt_time:
    """The date, date and time, or time of day python-calamine gives for a rendered date."""
    day = date(int(m[1]), int(m[2]), int(m[3]))
    clock = dt_time(int(m[4]), int(m[5]), int(m[6]), int((m[7] or "").ljust(6, "0")[:6]))
    if day < _FIRST_DAY:  # a serial below 1
        return clock
    return day if clock == dt_time() else datetime.combine(day, clock)


def _cell_value(text: str) -> Any:
    """The value python-calamine gives for a cell fastexcel read as ``text``.

    fastexcel writes every cell as text: a number with at most nine decimals and no trailing
    zeros, a date as "YYYY-MM-DD HH:MM:SS[.fff]", a yes/no as "true" or "false". Read back
    into the float, date, datetime, time or bool they were, every rule in ``values`` sees the
    cell as it always has (numbers as ids or serial dates; "123456" and 123456 one id).

    Where the two readers can differ: a text cell that reads exactly like such a rendering
    is taken as what it looks like ("true", "2026-09-05 00:00:00", "20260905" in a date
    column); a number with more than nine decimals arrives rounded to nine; a duration
    ([h]:mm) is read as the date and time it would show as a date. None is in a case export.
    """
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER_TEXT.fullmatch(text):
        number = float(text)
        # A run of digits no float writes that way (an id typed as text) stays text.
        return number if _float_text(number) == text else text
    if m := _DATETIME_TEXT.fullmatch(text):
        with contextlib.suppress(ValueError):  # not a date after all: text
            return _calamine_time(m)
    return text


def _read(text: str, rendered: bool) -> Any:
    return _cell_value(text) if rendered else text


def _distinct(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The column's distinct values, and each row's index into them (null where empty)."""
    encoded = pc.dictionary_encode(column)
    return encoded.dictionary, encoded.indices


def _spread(per_value: pa.Array, indices: pa.Array, fill: Any) -> pa.Array:
    """Each row's value from its distinct value's; ``fill`` for an empty cell."""
    return pc.fill_null(pc.take(per_value, indices), fill)


def _flags(per_value: list[bool], indices: pa.Array) -> np.ndarray:
    """Each row's flag from its distinct value's; False for an empty cell."""
    flags = np.array([*per_value, False])
    picked: np.ndarray = flags[pc.fill_null(indices, len(per_value)).to_numpy()]
    return picked


def _matching(column: pa.Array, pattern: str) -> pa.Array:
    """Which cells match ``pattern`` (an empty cell does not)."""
    return pc.fill_null(pc.match_substring_regex(column, pattern), False)


def _texts(column: pa.Array, rendered: bool, varied: bool = False) -> pa.Array:
    """Every cell as ``normalise_id`` spells it ('' where empty): ids, names, teams alike.

    The distinct values not already in normal form go through Python, once each. A
    ``varied`` column (record or person ids: nearly every cell different) is first checked
    whole, so that when all of it is in normal form it costs one regular expression, not a
    hash of every cell.
    """
    if varied and not pc.any(_matching(column, _NOT_PLAIN)).as_py():
        return pc.fill_null(column, "")
    values, indices = _distinct(column)
    todo = pc.match_substring_regex(values, _NOT_PLAIN)
    if pc.any(todo).as_py():
        fixed = [normalise_id(_read(text, rendered))
                 for text in pc.filter(values, todo).to_pylist()]
        values = pc.replace_with_mask(values, todo, pa.array(fixed, pa.string()))
    return _spread(values, indices, "")


def _keys(texts: pa.Array, lookup: dict[str, str]) -> pa.Array:
    """The key each normalised label stands for in ``lookup``; '' where none."""
    values, indices = _distinct(texts)
    keys = [lookup.get(normalise_label(text), "") for text in values.to_pylist()]
    return _spread(pa.array(keys, pa.string()), indices, "")


def _dates(column: pa.Array, rendered: bool) -> tuple[np.ndarray, pa.Array]:
    """Each cell's date (NaT where it has none) and its text ('' where empty)."""
    values, indices = _distinct(column)
    cells = [_read(text, rendered) for text in values.to_pylist()]
    days = _spread(pa.array([parse_date(c) for c in cells], pa.date32()), indices, None)
    texts = _spread(pa.array([normalise_id(c) for c in cells], pa.string()), indices, "")
    return days.to_numpy(zero_copy_only=False), texts


def _is_total(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(_TOTAL_WORDS)


def _totals(column: pa.Array, rendered: bool) -> np.ndarray:
    """Whether each cell reads like a total ("Total", "Grand total", "Count: 12")."""
    maybe = _matching(column, _MAYBE_TOTAL)
    totals = np.zeros(len(column), dtype=bool)
    if pc.any(maybe).as_py():
        values, indices = _distinct(column.filter(maybe))
        flags = [_is_total(_read(text, rendered)) for text in values.to_pylist()]
        totals[np.flatnonzero(maybe.to_numpy(zero_copy_only=False))] = _flags(flags, indices)
    return totals


def _empty(texts: pa.Array) -> np.ndarray:
    return np.asarray(pc.equal(texts, "").to_numpy(zero_copy_only=False), dtype=bool)


_ID_FIELDS = ("record_id", "person_id", "worker_id")
_TEXT_FIELDS = ("worker_name", "team", "service_manager", "audit_type", "quadrant")
_VARIED_FIELDS = ("record_id", "person_id")  # nearly every cell a different value


@dataclass
class _Normal:
    """Every row's fields in normal form: what the checks and both tables are made of."""

    text: dict[str, pa.Array]  # each id and text field as normalise_id spells it
    dates: np.ndarray  # datetime64[D]; NaT where there is no date
    date_text: pa.Array  # the completed date as written, for the unusable rows
    audit_types: pa.Array  # the audit type key of the work type; '' if it is none
    quadrants: pa.Array  # the quadrant key; '' if none
    totals: np.ndarray  # the record id cell reads like a total


def _normal(raw: dict[str, pa.Array], settings: Settings, rendered: bool) -> _Normal:
    text = {
        f: _texts(raw[f], rendered, varied=f in _VARIED_FIELDS)
        for f in (*_ID_FIELDS, *_TEXT_FIELDS)
    }
    dates, date_text = _dates(raw["completed_date"], rendered)
    return _Normal(
        text=text,
        dates=dates,
        date_text=date_text,
        audit_types=_keys(text["audit_type"], settings.audit_type_lookup()),
        quadrants=_keys(text["quadrant"], settings.quadrant_lookup()),
        totals=_totals(raw["record_id"], rendered),
    )


# What explains an unusable row in its "detail": nothing, or one of these.
_DATE_TEXT, _WORK_TYPE, _QUADRANT_TEXT, _FIRST_SEEN = 1, 2, 3, 4


@dataclass
class _Verdicts:
    """Why each row cannot be used (an index into UNUSABLE_REASONS; -1: usable)."""

    reason: np.ndarray  # int8
    detail: np.ndarray  # int8: which text explains it (_DATE_TEXT, ...), 0 for none
    first_seen: np.ndarray  # a duplicate's first row with its record id; 0 for the rest

    @property
    def usable(self) -> np.ndarray:
        return self.reason < 0


def _duplicates(
    record_ids: pa.Array, candidates: np.ndarray, source_row: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows whose record id an earlier candidate has, and that earlier row."""
    rows = np.flatnonzero(candidates)
    codes = pc.dictionary_encode(record_ids.take(pa.array(rows))).indices.to_numpy()
    first = np.unique(codes, return_index=True)[1]  # codes count up from 0 as first seen
    later = np.ones(len(rows), dtype=bool)
    later[first] = False
    duplicate = np.zeros(len(candidates), dtype=bool)
    duplicate[rows[later]] = True
    first_seen = np.zeros(len(candidates), dtype=np.int64)
    first_seen[rows[later]] = source_row[rows[first]][codes[later]]
    return duplicate, first_seen


def _verdicts(normal: _Normal, source_row: np.ndarray) -> _Verdicts:
    """Each row checked in the order of UNUSABLE_REASONS: it is listed under the first."""
    n = len(normal.dates)
    reason = np.full(n, -1, np.int8)
    detail = np.zeros(n, np.int8)

    def mark(mask: np.ndarray, why: str, what: int = 0) -> None:
        fresh = mask & (reason < 0)
        reason[fresh] = UNUSABLE_REASONS.index(why)
        detail[fresh] = what

    empty = {f: _empty(normal.text[f]) for f in (*_ID_FIELDS, *_TEXT_FIELDS)}
    no_date = np.isnat(normal.dates)
    blank = np.logical_and.reduce([*empty.values(), no_date])
    mark(blank, BLANK)
    mark(normal.totals | (empty["record_id"] & empty["person_id"] & ~blank), TOTAL)
    mark(empty["record_id"], NO_RECORD)
    mark(empty["person_id"], NO_PERSON)
    mark(_empty(normal.date_text), NO_DATE)
    mark(no_date, BAD_DATE, _DATE_TEXT)
    mark(_empty(normal.audit_types), BAD_TYPE, _WORK_TYPE)
    mark(_empty(normal.quadrants), BAD_QUADRANT, _QUADRANT_TEXT)
    mark(empty["worker_id"], NO_WORKER)
    mark(empty["service_manager"], NO_MANAGER)
    duplicate, first_seen = _duplicates(normal.text["record_id"], reason < 0, source_row)
    mark(duplicate, DUPLICATE, _FIRST_SEEN)
    return _Verdicts(reason, detail, first_seen)


def _column_text(values: pa.Array, rows: pa.Array) -> pd.Series:
    """The given rows of a text column, as pandas' (Arrow-backed) str."""
    return pd.Series(values.take(rows), dtype="str")


def _cases(
    normal: _Normal, usable: np.ndarray, source_row: np.ndarray, emails: dict[str, pa.Array]
) -> pd.DataFrame:
    rows = pa.array(np.flatnonzero(usable))
    text = normal.text
    return pd.DataFrame(
        {
            "record_id": _column_text(text["record_id"], rows),
            "person_id": _column_text(text["person_id"], rows),
            "audit_type": _column_text(normal.audit_types, rows),
            "completed_date": normal.dates[usable],
            "worker_id": _column_text(text["worker_id"], rows),
            "worker_name": _column_text(text["worker_name"], rows),
            "team": _column_text(text["team"], rows),
            "service_manager": _column_text(text["service_manager"], rows),
            "quadrant": _column_text(normal.quadrants, rows),
            "work_type": _column_text(text["audit_type"], rows),  # as the case record calls it
            "source_row": source_row[usable],
            # '' where the export has no such column: one value, not a column of them
            **{f: pd.Series(emails[f], dtype="str") if f in emails else ""
               for f in EXPORT_EMAIL_FIELDS},
        }
    )


def _details(
    normal: _Normal, verdicts: _Verdicts, listed: np.ndarray, rows: pa.Array
) -> pa.Array:
    """What explains each listed row: the date or label as written, or where its record id
    was first seen; '' for the rest."""
    source = verdicts.detail[listed]
    detail = pa.nulls(len(rows), pa.string())
    for what, texts in ((_DATE_TEXT, normal.date_text), (_WORK_TYPE, normal.text["audit_type"]),
                        (_QUADRANT_TEXT, normal.text["quadrant"])):
        detail = pc.if_else(pa.array(source == what), texts.take(rows), detail)
    duplicate = source == _FIRST_SEEN
    seen = [f"first seen on row {row}" for row in verdicts.first_seen[listed][duplicate]]
    detail = pc.replace_with_mask(detail, pa.array(duplicate), pa.array(seen, pa.string()))
    return pc.fill_null(detail, "")


def _unusable(normal: _Normal, verdicts: _Verdicts, source_row: np.ndarray) -> pd.DataFrame:
    """Every unusable row but the blank ones, with its reason and what explains it."""
    listed = ~verdicts.usable & (verdicts.reason != UNUSABLE_REASONS.index(BLANK))
    rows = pa.array(np.flatnonzero(listed))
    reasons = pa.array(UNUSABLE_REASONS, pa.string())
    text = normal.text
    return pd.DataFrame(
        {
            "source_row": source_row[listed],
            "reason": _column_text(reasons, pa.array(verdicts.reason[listed])),
            "detail": pd.Series(_details(normal, verdicts, listed, rows), dtype="str"),
            "record_id": _column_text(text["record_id"], rows),
            "person_id": _column_text(text["person_id"], rows),
            "audit_type": _column_text(text["audit_type"], rows),
            "completed_date": _column_text(normal.date_text, rows),
            "worker_id": _column_text(text["worker_id"], rows),
            "team": _column_text(text["team"], rows),
            "quadrant": _column_text(text["quadrant"], rows),
        }
    )


def read_export(
    path: Path, settings: Settings, sheet: str | None = None, progress: Progress | None = None
) -> CaseExport:
    """Read a case export and split it into usable cases and unusable rows (with reasons)."""
    kind = _file_kind(path)
    if kind == "xlsx":
        header, table = _read_xlsx(path, settings.columns, sheet, progress)
    else:
        header, table = _read_csv(path, settings.columns, progress)
    if not table.rows:
        raise ExportError(f"{path} has a header row but no data under it. Export it again.")
    m = header.mapping
    raw = {
        f: table.column(m.get(f))
        for f in CANONICAL_FIELDS if f in m or f not in EXPORT_EMAIL_FIELDS
    }
    n, rendered = table.rows, table.rendered
    source_row = np.arange(table.first_row, table.first_row + n)
    del table
    normal = _normal(raw, settings, rendered)
    verdicts = _verdicts(normal, source_row)
    usable = verdicts.usable
    emails, warnings = _emails(raw, usable, source_row, rendered)
    del raw
    counts = np.bincount(verdicts.reason[~usable], minlength=len(UNUSABLE_REASONS))
    return CaseExport(
        path=path,
        sha256=_sha256(path),
        sheet=header.sheet,
        header_row=header.index + 1,
        columns={f: header.cells[i] for f, i in m.items()},
        cases=_cases(normal, usable, source_row, emails),
        unusable=_unusable(normal, verdicts, source_row),
        rows_read=n,
        unusable_counts={r: int(c) for r, c in zip(UNUSABLE_REASONS, counts, strict=True) if c},
        warnings=warnings,
    )
