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

Speed matters (exports run to a million rows): each column is factorised first and
only its distinct values are normalised in Python, so the cost is one pass of hashing
per column rather than Python work per cell.

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
import gc
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
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

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
# python-calamine trusts a workbook. It inflates every part it reads, however large, and
# it holds a sheet as one dense block from its first to its last cell: one stray cell at
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


def _read_xlsx(
    path: Path, aliases: dict[str, list[str]], sheet: str | None, progress: Progress | None
) -> tuple[_Header, list[list[Any]], int]:
    from python_calamine import CalamineSheet, CalamineWorkbook

    _check_workbook(path)
    with _calamine_errors(path):
        book = CalamineWorkbook.from_path(str(path))
    try:
        with _calamine_errors(path):
            every = list(book.sheet_names)
            names = [
                m.name for m in book.sheets_metadata if str(m.typ).endswith("WorkSheet")
            ] or every
        if sheet is not None:
            if sheet not in every:
                raise ExportError(
                    f"{path} has no sheet {sheet!r}; its sheets are {', '.join(every)}."
                )
            names = [sheet]
        # One sheet held at a time besides the best so far: each may be large.
        best: _Header | None = None
        chosen: CalamineSheet | None = None
        for name in names:
            with _calamine_errors(path):
                loaded = book.get_sheet_by_name(name)
                head = loaded.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
            found = _best_header([(name, head)], aliases)
            if found is not None and (best is None or len(found.mapping) > len(best.mapping)):
                best, chosen = found, loaded
        header = _require_columns(best, path, f" (sheet {sheet!r})" if sheet else "", aliases)
        if chosen is None:  # pragma: no cover - a header is found on a loaded sheet
            raise ExportError(f"{path}: no sheet holds the header row.")
        # Read from cell A1, as the header scan did: iter_rows() would start at the first
        # used column and shift every field of an export whose column A is empty.
        with _calamine_errors(path):
            rows: list[list[Any]] = chosen.to_python(skip_empty_area=False)
    finally:
        with contextlib.suppress(Exception):
            book.close()
    del rows[: header.index + 1]
    if progress is not None:
        progress(len(rows), len(rows))
    return header, rows, header.index + 2


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


def _read_csv(
    path: Path, aliases: dict[str, list[str]], progress: Progress | None
) -> tuple[_Header, list[list[Any]], int]:
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
        return header, [], header.index + 2
    except MemoryError as exc:
        raise ExportError(
            f"{path} is too large to read in the memory this computer has free. Close other"
            " programs and try again, or export a shorter date range."
        ) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise _parse_error(path, exc) from exc
    rows = frame.to_numpy(dtype=object, na_value="").tolist()
    if progress is not None:
        progress(len(rows), len(rows))
    return header, rows, header.index + 2


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
    raw: dict[str, np.ndarray], usable: np.ndarray, source_row: np.ndarray
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The usable rows' addresses of each email column the export has ('' where none), and a
    warning for each column some of whose values are not an address (left out, row kept)."""
    found: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    rows = source_row[usable]
    for name in EXPORT_EMAIL_FIELDS:
        if name not in raw:
            continue
        values = raw[name][usable]
        checked = _by_unique(values, _email)
        bad = checked == None  # noqa: E711
        if bad.any():
            checked[bad] = ""
            where = np.flatnonzero(bad)
            named = "; ".join(f"row {rows[i]}: {_shown(values[i])}" for i in where[:_EXAMPLES])
            more = f"; and {len(where) - _EXAMPLES:,} more" if len(where) > _EXAMPLES else ""
            rows_give = "1 row gives" if len(where) == 1 else f"{len(where):,} rows give"
            warnings.append(
                f"{rows_give} a {_EMAIL_LABELS[name]} that is not an email address ({named}"
                f"{more}). Each such row is kept, and may be drawn, without it: messages"
                " about it need the staff list's address (`qaudit staff import`). Correct"
                " the export if that address is needed."
            )
        found[name] = checked
    return found, warnings


# --- normalisation -------------------------------------------------------------------


def _grid(rows: list[list[Any]]) -> np.ndarray:
    """Rows as one 2-D object array, short rows padded: columns are then slices."""
    width = max((len(r) for r in rows), default=0)
    if any(len(r) != width for r in rows):
        rows = [[*r, *[""] * (width - len(r))] for r in rows]
    grid = np.empty((len(rows), width), dtype=object)
    grid[:] = rows
    return grid


def _column(grid: np.ndarray, index: int | None) -> np.ndarray:
    if index is None or index >= grid.shape[1]:  # rows may stop short of the header's end
        return np.full(grid.shape[0], "", dtype=object)
    return grid[:, index]


def _by_unique(values: np.ndarray, fn: Callable[[Any], Any], fill: Any = "") -> np.ndarray:
    """Apply ``fn`` once per distinct value: exports repeat values heavily."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques]
    mapped[-1] = fill
    return mapped[codes]  # code -1 (missing) takes the last slot


def read_export(
    path: Path, settings: Settings, sheet: str | None = None, progress: Progress | None = None
) -> CaseExport:
    """Read a case export and split it into usable cases and unusable rows (with reasons)."""
    kind = _file_kind(path)
    aliases = settings.columns
    # Millions of short-lived cell objects make the cyclic collector run again and again
    # for nothing: none of them form cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if kind == "xlsx":
            header, rows, first_row = _read_xlsx(path, aliases, sheet, progress)
        else:
            header, rows, first_row = _read_csv(path, aliases, progress)
        if not rows:
            raise ExportError(
                f"{path} has a header row but no data under it. Export it again."
            )
        grid = _grid(rows)
        del rows
    finally:
        if collecting:
            gc.enable()

    m = header.mapping
    raw = {
        f: _column(grid, m.get(f))
        for f in CANONICAL_FIELDS if f in m or f not in EXPORT_EMAIL_FIELDS
    }
    del grid
    type_lookup = settings.audit_type_lookup()
    quadrant_lookup = settings.quadrant_lookup()

    ids = {f: _by_unique(raw[f], normalise_id) for f in ("record_id", "person_id", "worker_id")}
    text = {
        f: _by_unique(raw[f], normalise_id)
        for f in ("worker_name", "team", "service_manager", "audit_type", "quadrant")
    }
    dates = _by_unique(raw["completed_date"], parse_date, fill=None)
    type_keys = _by_unique(text["audit_type"], lambda t: type_lookup.get(normalise_label(t), ""))
    quadrants = _by_unique(
        text["quadrant"], lambda t: quadrant_lookup.get(normalise_label(t), "")
    )
    date_text = _by_unique(raw["completed_date"], normalise_id)

    n = len(dates)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, why: str, what: np.ndarray | None = None) -> None:
        fresh = mask & (reason == "")
        reason[fresh] = why
        if what is not None:
            detail[fresh] = what[fresh]

    empty = {f: (ids | text)[f] == "" for f in (*ids, *text)}
    blank = np.logical_and.reduce([*empty.values(), dates == None])  # noqa: E711
    mark(blank, BLANK)
    first_cell = _by_unique(
        raw["record_id"],
        lambda v: isinstance(v, str) and v.strip().lower().startswith(_TOTAL_WORDS),
    ).astype(bool)
    mark(first_cell | (empty["record_id"] & empty["person_id"] & ~blank), TOTAL)
    mark(empty["record_id"], NO_RECORD)
    mark(empty["person_id"], NO_PERSON)
    mark(date_text == "", NO_DATE)
    mark(dates == None, BAD_DATE, date_text)  # noqa: E711
    mark(type_keys == "", BAD_TYPE, text["audit_type"])
    mark(quadrants == "", BAD_QUADRANT, text["quadrant"])
    mark(empty["worker_id"], NO_WORKER)
    mark(empty["service_manager"], NO_MANAGER)
    source_row = np.arange(first_row, first_row + n)
    usable_so_far = reason == ""
    dup = np.zeros(n, dtype=bool)
    dup[usable_so_far] = pd.Series(ids["record_id"][usable_so_far]).duplicated(keep="first")
    if dup.any():
        first_seen: dict[str, int] = {}
        pairs = zip(ids["record_id"][usable_so_far], source_row[usable_so_far], strict=True)
        for rid, row in pairs:
            first_seen.setdefault(rid, int(row))
        detail[dup] = [f"first seen on row {first_seen[r]}" for r in ids["record_id"][dup]]
    mark(dup, DUPLICATE)

    usable = reason == ""
    emails, warnings = _emails(raw, usable, source_row)
    completed = pd.to_datetime(pd.Series(dates[usable], dtype=object)).to_numpy(
        dtype="datetime64[D]"
    ) if usable.any() else np.array([], dtype="datetime64[D]")
    cases = pd.DataFrame(
        {
            "record_id": ids["record_id"][usable],
            "person_id": ids["person_id"][usable],
            "audit_type": type_keys[usable],
            "completed_date": completed,
            "worker_id": ids["worker_id"][usable],
            "worker_name": text["worker_name"][usable],
            "team": text["team"][usable],
            "service_manager": text["service_manager"][usable],
            "quadrant": quadrants[usable],
            "work_type": text["audit_type"][usable],  # as the case record calls it
            "source_row": source_row[usable],
            # '' where the export has no such column: one value, not a column of them
            **{f: emails.get(f, "") for f in EXPORT_EMAIL_FIELDS},
        }
    )
    listed = ~usable & (reason != BLANK)
    unusable = pd.DataFrame(
        {
            "source_row": source_row[listed],
            "reason": reason[listed],
            "detail": detail[listed],
            **{f: (ids | text)[f][listed] for f in ("record_id", "person_id")},
            "audit_type": text["audit_type"][listed],
            "completed_date": date_text[listed],
            **{f: (ids | text)[f][listed] for f in ("worker_id", "team", "quadrant")},
        }
    )
    counts = pd.Series(reason[~usable]).value_counts()
    unusable_counts = {r: int(counts[r]) for r in UNUSABLE_REASONS if r in counts.index}
    return CaseExport(
        path=path,
        sha256=_sha256(path),
        sheet=header.sheet,
        header_row=header.index + 1,
        columns={f: header.cells[i] for f, i in m.items()},
        cases=cases,
        unusable=unusable,
        rows_read=n,
        unusable_counts=unusable_counts,
        warnings=warnings,
    )
