"""A report's Markdown read as blocks of styled text, for the Word document (``qaudit.word``).

It is read by markdown-it-py as CommonMark with GFM tables: the rules a Markdown viewer
applies to the published ``.md``. So what is italic, what an escape (``\\*``, ``\\|``)
stands for, and whether a ``*`` is the hidden-figure mark or emphasis are decided in Word
exactly as on screen, never by a reader of our own. Raw HTML is not read as HTML: a tag in
a workspace's own template is the text it is.

Pure: text in, blocks out. Links are text (an address within the report as its words, a
web address after them), never a hyperlink; an image is named by its target, for the
writer to find the chart it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

#: CommonMark and GFM's tables, with raw HTML read as text.
_PARSER = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass(frozen=True)
class Run:
    """A piece of text in one look."""

    text: str
    bold: bool = False
    italic: bool = False


Cells = tuple[tuple[Run, ...], ...]
Kind = Literal["heading", "paragraph", "bullet", "numbered", "banner", "table", "image"]


@dataclass(frozen=True)
class Block:
    """One block of a report: a heading (``level`` 1-6), a paragraph, a list item
    (``bullet``, or ``numbered`` with its number first in its text; ``level`` 1 for the
    outermost list), a quote (the internal version's banner), a table (``header``,
    ``rows``, which columns are ``right``-aligned) or an image alone in its paragraph
    (``alt``, ``target``)."""

    kind: Kind
    runs: tuple[Run, ...] = ()
    level: int = 0
    header: Cells = ()
    rows: tuple[Cells, ...] = ()
    right: tuple[bool, ...] = ()
    alt: str = ""
    target: str = ""


def blocks(markdown: str) -> Iterator[Block]:
    """The report's blocks in order. NUL, which CommonMark reads as U+FFFD, is dropped
    first, as every control character Word cannot hold is; a thematic break is no block."""
    tokens = _PARSER.parse(markdown.replace("\0", ""))
    where = _Where()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "table_open":
            end = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
            yield _table(tokens[i:end])
            i = end
        elif token.type == "inline":
            yield _block(tokens[i - 1], token, where)
        elif token.type in ("fence", "code_block"):
            yield Block("paragraph", _merged([Run(token.content.rstrip("\n"))]))
        else:
            where.enter(token)
        i += 1


@dataclass
class _Where:
    """Where in the document the next text is: inside how many quotes, which lists (each
    ``bullet`` or ``numbered``), and the marker of a list item whose first paragraph has
    not come yet (its number, or empty for a bullet)."""

    quotes: int = 0
    lists: list[Kind] = field(default_factory=list)
    item: str | None = None

    def enter(self, token: Token) -> None:
        kind = token.type
        if kind.startswith("blockquote_"):
            self.quotes += 1 if kind.endswith("_open") else -1
        elif kind in ("bullet_list_open", "ordered_list_open"):
            self.lists.append("bullet" if kind == "bullet_list_open" else "numbered")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
        elif kind == "list_item_open":
            self.item = f"{token.info}{token.markup} " if self.lists[-1] == "numbered" else ""
        elif kind == "list_item_close":
            self.item = None


def _block(opening: Token, inline: Token, where: _Where) -> Block:
    """The block of one piece of inline text, by what opened it: a heading or a
    paragraph (an image alone, a list item's first paragraph, or a quote's)."""
    runs = _runs(inline.children or ())
    if opening.type == "heading_open":
        return Block("heading", runs, level=int(opening.tag[1:]))
    item, where.item = where.item, None
    shown = [c for c in inline.children or () if c.type != "text" or c.content.strip()]
    if len(shown) == 1 and shown[0].type == "image":
        image = shown[0]
        return Block("image", alt=_plain(image.children or ()),
                     target=str(image.attrGet("src") or ""))
    if item is not None:
        return Block(where.lists[-1], _merged([Run(item), *runs]), level=len(where.lists))
    return Block("banner" if where.quotes else "paragraph", runs)


def _table(tokens: Sequence[Token]) -> Block:
    """A table from its tokens: the header row, the body rows (as many cells as the
    header: GFM fills a short row and cuts a long one), and which columns are aligned
    right (``---:``)."""
    rows: list[Cells] = []
    right: list[bool] = []
    cells: list[tuple[Run, ...]] = []
    for i, token in enumerate(tokens):
        if token.type == "th_open":
            right.append(token.attrGet("style") == "text-align:right")
        elif token.type == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            cells.append(_runs(token.children or ()))
        elif token.type == "tr_close":
            rows.append(tuple(cells))
            cells = []
    return Block("table", header=rows[0], rows=tuple(rows[1:]), right=tuple(right))


def _runs(children: Iterable[Token]) -> tuple[Run, ...]:
    """Inline text as runs: bold and italic as the emphasis CommonMark finds, code and
    escapes as their text, a link as its words then, for a web address, the address in
    brackets (a printed Board paper keeps it)."""
    runs: list[Run] = []
    bold = italic = 0
    after: list[str] = []  # for each link open, what follows its words
    for child in children:
        kind = child.type
        if kind in ("strong_open", "strong_close"):
            bold += 1 if kind == "strong_open" else -1
        elif kind in ("em_open", "em_close"):
            italic += 1 if kind == "em_open" else -1
        elif kind == "link_open":
            after.append(_address(child))
        elif kind == "link_close":
            runs.append(Run(after.pop(), bold > 0, italic > 0))
        else:
            runs.append(Run(_text(child), bold > 0, italic > 0))
    return _merged(runs)


def _address(link: Token) -> str:
    """What follows a link's words: nothing for a place in the report (``#...``) or an
    autolink (its words are the address), else the address as a person would type it."""
    href = str(link.attrGet("href") or "")
    if link.markup == "autolink" or href.startswith("#") or not href:
        return ""
    return f" ({_PARSER.normalizeLinkText(href)})"


def _text(token: Token) -> str:
    """An inline token's text: a soft line break is a space, as a viewer shows it; a
    hard one a line break; an image its alternative text."""
    if token.type == "softbreak":
        return " "
    if token.type == "hardbreak":
        return "\n"
    if token.type == "image":
        return _plain(token.children or ())
    return token.content


def _plain(children: Iterable[Token]) -> str:
    return "".join(_text(child) for child in children)


def _merged(runs: Iterable[Run]) -> tuple[Run, ...]:
    """Runs without empty ones, each neighbour in the same look joined to it."""
    merged: list[Run] = []
    for run in runs:
        if not run.text:
            continue
        if merged and (merged[-1].bold, merged[-1].italic) == (run.bold, run.italic):
            run = Run(merged.pop().text + run.text, run.bold, run.italic)
        merged.append(run)
    return tuple(merged)
