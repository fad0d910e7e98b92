"""Rendering reports and messages: Jinja templates to Markdown, plain text and
self-contained HTML, charts as SVG.

Templates live in ``templates/reports/`` and ``templates/messages/`` (a workspace's own
``templates/reports/`` or ``templates/messages/`` wins), and every one is rendered in the
same immutable sandbox, bounded, with links out of a workspace's folder refused
(``Templates``), each compiled once a process. HTML autoescapes everything, whatever a
template's file name, and reads a report's hidden-figure mark out as "hidden"; a report's
Markdown escapes every value so that it reads as its text wherever it is printed (``md_text``:
no table broken, no HTML, emphasis, list or code block made). Charts are drawn
by matplotlib as SVG (inline in the HTML, files beside the Markdown), with fixed ids and no
timestamp, each an image described in words (``chart_texts``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, Literal

import jinja2
from jinja2.bccache import Bucket
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from qaudit.errors import BrokenTemplateError
from qaudit.files import write_text
from qaudit.layout import chart_file
from qaudit.reports import HIDDEN
from qaudit.resources import package_templates

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: What Markdown reads inside a line: emphasis, code, links, HTML and entities, a table's
#: cell, a heading, GFM's struck-through text (``~`` also opens a code block).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#&~])")
#: What makes a line a block when the text starts it: a bullet (``-`` or ``+`` and a
#: space), a numbered item (``1.`` or ``1)`` and a space), a rule or a heading's underline
#: (``---``, ``===``). Its last character is the one escaped.
_MD_LINE_START = re.compile(r"(?:\d{1,9}[.)]|[-+])(?=[ \t]|$)|[-=](?=[-= \t]*$)")


def md_text(text: str) -> str:
    """Text safe in Markdown wherever a template prints it, in a table cell or at a line's
    start (a message's paragraph, a theme): one line without the spaces at its ends (the
    start's would make a code block; a viewer shows neither), no HTML, no stray emphasis,
    no list, rule or heading."""
    line = _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()).strip(" \t"))
    marker = _MD_LINE_START.match(line)
    return line if marker is None else f"{line[:marker.end() - 1]}\\{line[marker.end() - 1:]}"


_CSS_PLAIN = frozenset(" -_.,:;()")


def css_string(text: str) -> Markup:
    """Text as a quoted CSS string, safe inside an HTML ``<style>``: every character but a
    letter, digit, space or plain punctuation is a hex escape, so no text (a protective
    marking is the council's own) can end the string, the rule or the style element. A
    ``<style>`` is raw text, where HTML's escapes would be printed as they are."""
    return Markup('"' + "".join(
        c if c.isascii() and (c.isalnum() or c in _CSS_PLAIN) else f"\\{ord(c):x} "
        for c in text) + '"')


def md_escape(value: Any) -> Any:
    """Jinja's finalize for Markdown: every string printed goes through ``md_text``, the
    hidden-figure mark too (``\\*``, shown as ``*``): a bare one would pair with the next
    on its line as emphasis, and a viewer would show neither."""
    return md_text(value) if isinstance(value, str) and not isinstance(value, Markup) else value


@jinja2.pass_context
def html_hidden(context: jinja2.runtime.Context, value: Any) -> Any:
    """Jinja's finalize for a report's HTML: the hidden-figure mark ``*`` is read out as
    "hidden" (visually hidden text) and says why when pointed at (its ``title``);
    everything else is printed as it is, escaped."""
    if isinstance(value, str) and not isinstance(value, Markup) and value == HIDDEN:
        threshold = context.get("threshold")
        why = (f"fewer than {threshold}, or a figure that would let one be worked out"
               if isinstance(threshold, int) else "to protect small numbers")
        return Markup('<abbr class="hidden-figure" title="Hidden: {}"><span aria-hidden="true">'
                      '*</span><span class="visually-hidden">hidden</span></abbr>').format(why)
    return value


#: How every chart looks: text stays text in the SVG (searchable, read aloud), naming one
#: font (no list); ids are fixed and there is no timestamp, so the same figures give the
#: same bytes.
CHART_STYLE: dict[RcKeyType, Any] = {"svg.hashsalt": "qaudit", "font.size": 11,
                                     "svg.fonttype": "none",
                                     "font.sans-serif": ["DejaVu Sans"]}
_BLUE = "#1f4e79"


@dataclass(frozen=True)
class ChartText:
    """A chart in words, for a reader who cannot see it (an SVG's ``<title>`` and
    ``<desc>``, a Word image's alternative text): the figures it draws, as its table shows
    them; a hidden figure is said to be hidden, never given."""

    title: str
    description: str


def chart_texts(data: dict[str, Any]) -> dict[str, ChartText]:
    """What each chart (``grades``, ``trend``) shows, in words."""
    grades = ", ".join(f"{g['label']} {_said(p)}" for g, p in
                       zip(data["grades"], data["overall"][0]["percents"], strict=True))
    trend = ", ".join(f"{t['cycle']} {_said(t['percent'])}" for t in data["trend"])
    return {"grades": ChartText("Grades of the audits returned",
                                f"Share of the audits returned with each grade: {grades}."),
            "trend": ChartText("Good or better, cycle by cycle",
                               f"Share of each cycle's audits graded Good or better: {trend}.")}


def _said(figure: str) -> str:
    """A figure of a chart as its description reads it."""
    return {HIDDEN: "hidden", "–": "no audits"}.get(figure, figure)


def charts(data: dict[str, Any]) -> dict[str, str]:
    """Grade distribution and the trend of 'Good or better': hidden figures are not drawn.
    Each SVG is an image named by its ``<title>`` and described by its ``<desc>``
    (``chart_texts``), its ids its own (``grades-...``), so two charts on one page share
    none.

    Drawn on matplotlib's own ``Figure``, never ``pyplot`` (its backend, figure manager
    and global figures are more to import and nothing a file needs), in ``CHART_STYLE``
    for these charts only: nothing else the process draws is changed."""
    texts = chart_texts(data)
    return {f"{name}_svg": _labelled(image.decode(), name, texts[name])
            for name, image in _drawn(data, "svg").items()}


def chart_pngs(data: dict[str, Any]) -> dict[str, bytes]:
    """The same charts as PNG images (``grades``, ``trend``), for a Word document; their
    alternative text is ``chart_texts``."""
    return _drawn(data, "png")


_SVG_ID = re.compile(r'(\bid="|href="#|url\(#)')


def _labelled(svg: str, name: str, text: ChartText) -> str:
    """The SVG with every id prefixed by the chart's name, made an image
    (``role="img"``) labelled by a ``<title>`` and ``<desc>`` put first inside it."""
    svg = _SVG_ID.sub(rf"\1{name}-", svg)
    start = svg.index("<svg")
    end = svg.index(">", start) + 1
    return (f'{svg[:start]}<svg role="img" aria-labelledby="{name}-title {name}-desc"'
            f'{svg[start + 4:end]}\n<title id="{name}-title">{escape(text.title)}</title>'
            f'\n<desc id="{name}-desc">{escape(text.description)}</desc>{svg[end:]}')


def _drawn(data: dict[str, Any], fmt: Literal["svg", "png"]) -> dict[str, bytes]:
    import matplotlib

    with matplotlib.rc_context(CHART_STYLE):
        return {"grades": _image(*_grades_chart(data), "% of audits", fmt),
                "trend": _image(*_trend_chart(data), "% good or better", fmt)}


def _grades_chart(data: dict[str, Any]) -> tuple[Any, Any]:
    overall = data["overall"][0]
    labels = [g["label"] for g in data["grades"]]
    values = [float(p.rstrip("%")) if p not in (HIDDEN, "–") else 0.0
              for p in overall["percents"]]
    fig, ax = _chart()
    bars = ax.bar(labels, values, color=_BLUE)
    for bar, shown in zip(bars, overall["percents"], strict=True):
        ax.annotate(shown, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom")
    return fig, ax


def _trend_chart(data: dict[str, Any]) -> tuple[Any, Any]:
    trend = [t for t in data["trend"] if t["percent"] not in (HIDDEN, "–")]
    fig, ax = _chart()
    if trend:
        ax.plot([t["cycle"] for t in trend], [float(t["percent"].rstrip("%")) for t in trend],
                marker="o", color=_BLUE)
    else:  # every point hidden (too few audits): say so, rather than draw empty axes
        ax.set_xticks([])
        ax.text(0.5, 0.5, "Too few audits in any cycle to show a trend", ha="center",
                va="center", transform=ax.transAxes)
    return fig, ax


def _chart() -> tuple[Any, Any]:
    """A new chart's figure and its one axes, the size of every chart."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.8))
    return fig, fig.subplots()


def _image(figure: Any, ax: Any, ylabel: str, fmt: Literal["svg", "png"]) -> bytes:
    """The chart as SVG or PNG, its axes finished alike: a percentage from 0 to 100 up the
    side, no box. A PNG is drawn at 200 dpi, sharp when printed."""
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else {},
                   bbox_inches="tight", dpi=200 if fmt == "png" else None)
    return buffer.getvalue()


#: A template may loop, but not for ever: the numbers ``range`` hands out over one report
#: (or over one batch of messages) are capped, and so is the output.
MAX_RANGE = 100_000
MAX_OUTPUT = 20 * 1024 * 1024


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no attribute tricks, no mutation of the data), with
    ``range`` bounded: a workspace's own template is text from a shared folder, and must
    never run code, read files or hang a report."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.range_left = MAX_RANGE
        self.globals["range"] = self._bounded_range

    def _bounded_range(self, *args: int) -> range:
        numbers = range(*args)
        self.range_left -= len(numbers)
        if self.range_left < 0:
            raise SecurityError(f"loops over more than {MAX_RANGE:,} numbers in all")
        return numbers


#: The folders of templates under ``templates/`` (qaudit's, and a workspace's own).
Folder = Literal["reports", "messages"]


@dataclass(frozen=True)
class _Family:
    """How the templates of one folder are rendered and named in an error."""

    noun: str  # "report template ..."
    shows: str  # what its templates may show
    text_finalize: Callable[[Any], Any] | None  # for what is not HTML
    html_finalize: Callable[..., Any] | None
    # A report's HTML ends without its template's last newline, as it always has (golden
    # files); a message's attachment keeps it: its content hash covers the bytes, and a
    # changed byte would send every feedback pack again.
    html_keeps_last_newline: bool


_FAMILIES: dict[Folder, _Family] = {
    "reports": _Family("report", "the report's figures", md_escape, html_hidden, False),
    "messages": _Family("message", "the message's facts", None, None, True),
}


class _Compiled(jinja2.BytecodeCache):
    """Each template compiled once a process: Jinja's parse and compile cost more than
    rendering, and every report (and every ``Templates``) has an environment of its own,
    for its own bounds. Kept by the template's name, file and source (a template edited
    since is compiled again), one cache for each way of compiling (``_COMPILED``)."""

    def __init__(self) -> None:
        self._code: dict[tuple[str, str], CodeType] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        bucket.code = self._code.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self._code[bucket.key, bucket.checksum] = bucket.code


#: The compiled templates of each folder, HTML or not (the options differ, so the code).
_COMPILED: dict[tuple[Folder, bool], _Compiled] = {}


class _OwnFiles(jinja2.FileSystemLoader):
    """Templates from one folder, refusing links that lead out of it."""

    def __init__(self, folder: Path, noun: str) -> None:
        super().__init__(str(folder))
        self.noun = noun

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        root = Path(self.searchpath[0]).resolve()
        if not Path(filename).resolve().is_relative_to(root):
            raise TemplateError(f"{filename} links outside {root}; a {self.noun} template must"
                                " be a file in the templates folder itself")
        return source, filename, uptodate


def environment(workspace_templates: Path, html: bool, folder: Folder = "reports"
                ) -> jinja2.Environment:
    """The sandbox for one folder's templates: the workspace's own
    (``<workspace>/templates/<folder>/``) first, then qaudit's. HTML autoescapes; a
    report's other templates are Markdown (every string escaped for it), a message's are
    plain text."""
    family = _FAMILIES[folder]
    loader = jinja2.ChoiceLoader([
        _OwnFiles(workspace_templates / folder, family.noun),
        jinja2.FileSystemLoader(str(package_templates() / folder)),
    ])
    compiled = _COMPILED.setdefault((folder, html), _Compiled())
    if html:
        sandbox = _Sandbox(loader=loader, autoescape=True, finalize=family.html_finalize,
                           undefined=jinja2.StrictUndefined,
                           keep_trailing_newline=family.html_keeps_last_newline,
                           bytecode_cache=compiled)
        sandbox.filters["css_string"] = css_string
        return sandbox
    return _Sandbox(loader=loader, autoescape=False, finalize=family.text_finalize,
                    undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                    bytecode_cache=compiled)


class Templates:
    """One folder's templates (``reports`` or ``messages``), rendered in the sandbox.

    The bounds hold over everything one ``Templates`` renders: a template named
    ``*.html.j2`` is rendered as HTML, any other as the folder's text."""

    def __init__(self, workspace_templates: Path, folder: Folder) -> None:
        self.workspace_templates = workspace_templates
        self.folder: Folder = folder
        self._environments: dict[bool, jinja2.Environment] = {}

    def render(self, name: str, data: Mapping[str, Any]) -> str:
        """Render one template; a broken or unsafe one is a ``BrokenTemplateError`` naming
        its file and line, never a traceback or half a text."""
        noun = _FAMILIES[self.folder].noun
        try:
            template = self._environment(name.endswith(".html.j2")).get_template(name)
            parts = []
            size = 0
            for chunk in template.generate(**data):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise SecurityError(f"the {noun} would be over {MAX_OUTPUT // 2**20} MB")
                parts.append(chunk)
            return "".join(parts)
        except jinja2.TemplateSyntaxError as exc:
            raise BrokenTemplateError(
                f"{noun} template {exc.filename or name}, line {exc.lineno}: {exc.message}."
                " Fix it, or remove it to use qaudit's own.") from exc
        except (SecurityError, jinja2.TemplateError) as exc:
            raise BrokenTemplateError(
                f"{noun} template {_template_line(exc, name)}: {str(exc).rstrip('.')}."
                f" Templates may only show {_FAMILIES[self.folder].shows}; fix it, or remove"
                " it to use qaudit's own.") from exc

    def _environment(self, html: bool) -> jinja2.Environment:
        if html not in self._environments:
            self._environments[html] = environment(self.workspace_templates, html, self.folder)
        return self._environments[html]


def render_template(workspace_templates: Path, folder: Folder, name: str,
                    data: Mapping[str, Any]) -> str:
    """One template of ``folder`` rendered on its own (its own bounds): see ``Templates``."""
    return Templates(workspace_templates, folder).render(name, data)


def _template_line(exc: BaseException, name: str) -> str:
    """The template file and line an error happened on, from its traceback."""
    tb = exc.__traceback__
    where = name
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def render(workspace_templates: Path, template: str, stem: str, data: dict[str, Any], out: Path,
           formats: set[str], with_charts: bool = True) -> list[Path]:
    """Write one report as Markdown (charts beside it) and/or one self-contained HTML file,
    named ``stem`` (``qaudit.layout``'s report stems)."""
    out.mkdir(parents=True, exist_ok=True)
    drawn = charts(data) if with_charts else {}
    written: list[Path] = []
    if "md" in formats:
        files = {k.removesuffix("_svg"): chart_file(stem, k.removesuffix("_svg"))
                 for k in drawn}
        for key, name in files.items():
            write_text(out / name, drawn[f"{key}_svg"])
            written.append(out / name)
        text = render_template(workspace_templates, "reports", f"{template}.md.j2",
                               {**data, "charts": files})
        write_text(out / f"{stem}.md", text)
        written.append(out / f"{stem}.md")
    if "html" in formats:
        svg = {k: Markup(_strip_xml_header(v)) for k, v in drawn.items()}
        text = render_template(workspace_templates, "reports", f"{template}.html.j2",
                               {**data, "charts": svg})
        write_text(out / f"{stem}.html", text)
        written.append(out / f"{stem}.html")
    return written


def _strip_xml_header(svg: str) -> str:
    return svg[svg.index("<svg"):]
