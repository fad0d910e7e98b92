"""Tables that read at 80 columns: every table a command prints is made and shown here.

Each column is one of three kinds. Fixed (``fixed``): references, dates, short states,
file names; never wrapped, so never broken mid-word. Figures (``numbers``): right-aligned.
Words (``text``): names, teams, notes; wrapped at spaces, never narrower than the
header's longest word, the column's own floor (a note's is ``NOTE_WIDTH``: a few words a
line, never one) or its longest word (up to ``LONG_WORD``). ``show`` narrows the word
columns, widest first, until the table fits the terminal (``fit``). Rows about files put
each file's name on a line of its own (``by_file``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from itertools import groupby

from rich import box
from rich.console import Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from qaudit.commands.common import escape, out
from qaudit.errors import Finding
from qaudit.values import HIDDEN_IN_TEXT


def table() -> Table:
    """A table without side edges, two spaces between columns, the header underlined."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))


def fixed(rows: Table, *headers: str, right: bool = False) -> None:
    """Columns never wrapped: references, dates, short states, file names."""
    for header in headers:
        rows.add_column(header, no_wrap=True, justify="right" if right else "left")


def numbers(rows: Table, *headers: str) -> None:
    """Columns of figures, right-aligned; the header may wrap at its spaces."""
    for header in headers:
        rows.add_column(header, justify="right", overflow="fold",
                         min_width=max([0, *map(len, header.split())]))


NOTE_WIDTH = 24


def text(rows: Table, *headers: str, min_width: int = 0) -> None:
    """Columns of words (names, teams, notes): wrapped at spaces, at least as wide as the
    header's longest word and ``min_width``; a single word longer than that is folded
    rather than cut (an email address, a long team name)."""
    for header in headers:
        rows.add_column(header, overflow="fold",
                         min_width=max([min_width, *map(len, header.split())]))


def show(rows: Table | Group, title: str | None = None) -> None:
    """Print a table (or a ``by_file`` group of them) fitted to the terminal (``fit``),
    after a blank line, its title (markup, already escaped) on a line of its own above it:
    Rich would wrap a table's own title to the table's width, over several lines."""
    out.print()
    if title is not None:
        out.print(Text.from_markup(title, style="table.title"))
    for part in rows.renderables if isinstance(rows, Group) else (rows,):
        if isinstance(part, Table):
            fit(part, out.width)
    out.print(rows)


#: No column is narrowed below its longest word, up to this long: a name or a team is never
#: broken, an email address or a path longer than this may be folded.
LONG_WORD = 18


def fit(rows: Table, width: int) -> None:
    """Narrow the wrapping columns of ``rows`` until it fits ``width``: the one with the most
    room first, none below its ``min_width`` nor its longest word (up to ``LONG_WORD``). Rich's own
    fitting ignores those floors, so a header would be cut ('Alloca…') or a note set one
    word a line, and a table too wide for its floors would lose its last columns."""
    options = out.options.update_width(width)
    floors: list[int] = []
    widths: list[int] = []
    for column in rows.columns:
        sizes = [Measurement.get(out, options, cell) for cell in (column.header, *column.cells)]
        widest = max(s.maximum for s in sizes)
        word = min(LONG_WORD, max(s.minimum for s in sizes))
        floors.append(widest if column.no_wrap else min(widest, max(column.min_width or 0,
                                                                    word)))
        widths.append(widest)
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    # Where the floors leave it too wide, words are folded rather than columns cut off.
    last_resort = [w if c.no_wrap else 1 for c, w in zip(rows.columns, floors, strict=True)]
    for limits in (floors, last_resort):
        while excess > 0:
            room = [n for n, w in enumerate(widths) if w > limits[n]]
            if not room:
                break
            # the column with the most room above its floor gives first
            widths[max(room, key=lambda n: widths[n] - limits[n])] -= 1
            excess -= 1
    for column, w in zip(rows.columns, widths, strict=True):
        if not column.no_wrap:
            column.width = w


#: The narrowest column of ``window_and_due``: 'due 18/10/2026' on a line.
WINDOW_WIDTH = 14


def window_and_due(first: date, last: date, due: date) -> str:
    """A window, and beneath it the day its returns are due; ``WINDOW_WIDTH`` wide at
    the narrowest: '10/08/2026 to' / '20/09/2026' / 'due 18/10/2026'."""
    return f"{first:%d/%m/%Y} to {last:%d/%m/%Y}\ndue {due:%d/%m/%Y}"


def by_file(title: str, rows: Iterable[tuple[str, tuple[str, ...]]],
            columns: Callable[[Table], None]) -> Group:
    """Rows about files, by file: each file's name on a line of its own (whole, however
    long, where the terminal is wide enough; never squeezed into a column nor broken
    mid-word), then a table of its rows, laid out by ``columns``."""
    parts: list[Text | Table] = [Text(title, style="table.title")]
    for n, (file, group) in enumerate(groupby(rows, key=lambda row: row[0])):
        if file:
            parts += [Text("")] * (n > 0) + [Text(HIDDEN_IN_TEXT.sub("\ufffd", file),
                                                 style="bold", overflow="fold")]
        rows_of_file = table()
        columns(rows_of_file)
        for _, cells in group:
            rows_of_file.add_row(*(escape(c) for c in cells))
        parts.append(rows_of_file)
    return Group(*parts)


def findings_table(title: str, findings: Sequence[Finding], with_file: bool = True) -> Group:
    """Findings by file (``by_file``): the sheet, cell, value found and problem of each."""
    def columns(rows: Table) -> None:
        fixed(rows, "Sheet", "Cell")
        text(rows, "Value found", min_width=12)
        text(rows, "Problem", min_width=NOTE_WIDTH)

    return by_file(title, ((f.file if with_file else "", (f.sheet, f.cell, f.value, f.message))
                           for f in findings), columns)
