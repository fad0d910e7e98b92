"""How far down and right the cells of a workbook's part reach, as calamine would place them.

calamine holds a sheet as one dense block from its first to its last cell, so one stray
cell far out asks for gigabytes and can abort the process (see "workbook safety" in
``sheet_safety``, which streams every part of a workbook through ``Cells`` before calamine
opens it). The check is one regular expression per chunk that passes a plainly written
cell inside the bounds found so far without stopping; only what it stops at (a cell further
out, or written unusually) is looked at in Python. A clean export costs one inflate and one
scan, not a second parse.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

MAX_ROWS = 1_048_576  # Excel's last row
MAX_COLUMNS = 256  # column IV; a case export has a few dozen
MAX_CELLS = 50_000_000  # rows times columns, from A1 to the last cell, of one sheet

_NARROW = 26  # columns A-Z: taken for granted until a cell lies further right
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


class Unsafe(Exception):
    """The archive or a part of it is not what a spreadsheet program writes (says what)."""


class Stretched(Exception):
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


def column_letters(col: int) -> str:
    """The letters of a column counted from A = 1, as Excel names it ("AB" for 28)."""
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
    letters = column_letters(n)
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


def tag_attributes(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
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
    for name, value in tag_attributes(raw):
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


class Cells:
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
                ref = f"{column_letters(self.max_col)}{self.max_row}"
                raise Stretched(ref, self.max_row, self.max_col) from None

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
                raise Unsafe("holds a tag longer than any spreadsheet program writes")
            if stop is not None and offset > stop:
                return
        if pending:
            step(pending, 0, len(pending), offset, True)

    def _head(self, buf: bytes) -> None:
        if _DOCTYPE.search(buf, 0, 1 << 16):
            raise Unsafe(
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
        refs = [v for k, v in tag_attributes(attributes.removesuffix(b"/")) if k == b"r"]
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
            raise Stretched(text, row, col)
        if col > self.cols:
            self.cols = col
            rows = min(MAX_ROWS, MAX_CELLS // col)
            if rows < self.rows:
                self.rows, self.narrowed_at = rows, where
        if row > self.rows:
            raise Stretched(text, row, self.cols)

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
            raise Unsafe(
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
            ref = next((v for k, v in tag_attributes(attributes.removesuffix(b"/")) if k == b"r"),
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
                for key, value in tag_attributes(attributes.removesuffix(b"/")):
                    if key == b"r" and (place := _position(value)):
                        self._reach(*place)

    def _reach(self, row: int, col: int) -> None:
        if col > MAX_COLUMNS or row > MAX_ROWS:
            raise Stretched(f"{column_letters(col)}{row}", row, col)
        self.max_row, self.max_col = max(self.max_row, row), max(self.max_col, col)
