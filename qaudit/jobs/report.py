"""`qaudit report`: gather a cycle's figures, build the summary, render Markdown and HTML.

Templates live in ``templates/reports/`` (a workspace's own ``templates/reports/`` wins).
HTML autoescapes everything, whatever a template's file name; Markdown escapes the
characters that would break a table or become HTML. Charts are drawn by matplotlib as
SVG (inline in the HTML, files beside the Markdown), with fixed ids and no timestamp.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from qaudit.db import Store
from qaudit.jobs.moderate import stats
from qaudit.privacy import scrubber
from qaudit.questions import ASPECTS, package_templates
from qaudit.summary import HIDDEN, build_highlights, build_summary, hidden_across
from qaudit.workspace import Workspace, cycle_slug


@dataclass
class CycleFigures:
    """Everything the reports of one cycle draw on, read from the database once."""

    cycle: str
    progress: list[dict[str, Any]]
    audits: list[dict[str, Any]]
    answers: list[tuple[str, str, str, str, str, int]]
    questions: dict[tuple[str, str], str]
    trend: list[tuple[str, list[dict[str, Any]]]]
    ri_items: list[dict[str, Any]]
    escalations: list[dict[str, Any]]
    moderation: dict[str, Any]
    scrub: Callable[[str], str]


def cycle_figures(store: Store, cycle: str, internal: bool) -> CycleFigures:
    store.require_cycle(cycle)
    questions: dict[tuple[str, str], str] = {}
    for allocation in store.allocations(cycle):
        if all(k[0] != allocation.audit_type for k in questions):
            qs = store.issued_question_set(allocation.question_set_hash)
            questions.update({(allocation.audit_type, q.id): q.text for q in qs.questions})
    moderation = stats(store, cycle)
    moderation["pairs"] = store.moderated_pairs(cycle)
    return CycleFigures(
        cycle=cycle, progress=store.allocation_progress(cycle),
        audits=store.graded_audits(cycle), answers=store.answer_counts(cycle),
        questions=questions,
        trend=[(name, store.graded_audits(name)) for name in store.cycles_up_to(cycle)],
        ri_items=store.ri_list(cycle), escalations=store.escalation_list(cycle),
        moderation=moderation,
        scrub=(lambda t: t) if internal else scrubber(store.known_identifiers()),
    )


def summary_data(ws: Workspace, figures: CycleFigures, *, internal: bool, message: str,
                 today: date, quadrant: str | None = None) -> dict[str, Any]:
    """The Board summary, for the county or (with ``quadrant``) one quadrant beside it."""
    settings = ws.settings
    f = figures

    def mine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if quadrant is None or r["quadrant"] == quadrant]

    county = None
    if quadrant is not None:
        whole = summary_data(ws, figures, internal=internal, message="", today=today)
        county = {"completion": whole["headline"]["completion"],
                  "returned": whole["headline"]["returned"],
                  "good_or_better": whole["good_or_better"]["percent"],
                  "interval": whole["good_or_better"]["interval"],
                  "n": whole["good_or_better"]["n"], "ri": whole["ri"]["count"],
                  "aspects": {a["aspect"]: a["percent"] for a in whole["aspects"]}}
    quotas = settings.quotas if quadrant is None else {quadrant: settings.quotas[quadrant]}
    moderation = dict(f.moderation)
    if quadrant is not None:
        pairs = mine(f.moderation["pairs"])
        moderation = {"moderated": len(pairs), "pairs": pairs,
                      "grades_changed": sum(1 for p in pairs
                                            if p["auditor_grade"] != p["moderated_grade"]),
                      "exact_agreement": (sum(1 for p in pairs
                                              if p["auditor_grade"] == p["moderated_grade"])
                                          / len(pairs)) if pairs else 0.0}
    data = build_summary(
        cycle=f.cycle, generated=today,
        scope=quadrant or "All quadrants and countywide services",
        quadrants=[] if quadrant else settings.quadrants,  # one quadrant: its own row is "All"
        type_names={k: v.name for k, v in settings.audit_types.items()},
        aspect_titles=ASPECTS,
        target=sum(n for per in quotas.values() for n in per.values()),
        progress=mine(f.progress), audits=mine(f.audits),
        answers=[a[1:] for a in f.answers if quadrant is None or a[0] == quadrant],
        questions=f.questions,
        trend=[(name, mine(items)) for name, items in f.trend],
        ri_items=mine(f.ri_items), escalations=len(mine(f.escalations)),
        moderation=moderation, message=f.scrub(message) if message else "",
        resources=[(r.title, r.url) for r in settings.reporting.resources],
        threshold=settings.reporting.suppression_threshold, scrub=f.scrub, internal=internal,
        county=county,
    )
    if quadrant is not None:
        _hide_across_quadrants(data, f, quadrant, settings.quadrants,
                               settings.reporting.suppression_threshold)
    return data


def _hide_across_quadrants(data: dict[str, Any], f: CycleFigures, quadrant: str,
                           quadrants: list[str], threshold: int) -> None:
    """A quadrant's figure is hidden where, with the county's and the other quadrants'
    reports in hand, a small count could be worked out by subtraction."""
    good = {q: sum(1 for a in f.audits if a["quadrant"] == q
                   and a["grade"] in ("good", "outstanding")) for q in quadrants}
    n = {q: sum(1 for a in f.audits if a["quadrant"] == q) for q in quadrants}
    if quadrant in hidden_across({q: (good[q], n[q] - good[q]) for q in quadrants}, threshold):
        data["good_or_better"].update(count=HIDDEN, percent=HIDDEN, interval=HIDDEN)
    ri = {q: sum(1 for i in f.ri_items if i["quadrant"] == q) for q in quadrants}
    if quadrant in hidden_across({q: (ri[q], n[q] - ri[q]) for q in quadrants}, threshold):
        data["ri"] = {"count": HIDDEN, "open": HIDDEN, "closed": HIDDEN}


def highlights_data(ws: Workspace, figures: CycleFigures, *, internal: bool,
                    today: date) -> dict[str, Any]:
    settings = ws.settings
    return build_highlights(
        cycle=figures.cycle, generated=today, audits=figures.audits,
        themes=[p["theme"] for p in figures.moderation["pairs"]],
        resources=[(r.title, r.url) for r in settings.reporting.resources],
        threshold=settings.reporting.suppression_threshold, scrub=figures.scrub,
        internal=internal, type_names={k: v.name for k, v in settings.audit_types.items()},
    )


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def charts(data: dict[str, Any]) -> dict[str, str]:
    """Grade distribution and the trend of 'Good or better': hidden figures are not drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "qaudit"
    plt.rcParams["font.size"] = 11
    overall = data["overall"][0]
    labels = [g["label"] for g in data["grades"]]
    values = [float(p.rstrip("%")) if p not in (HIDDEN, "–") else 0.0
              for p in overall["percents"]]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    bars = ax.bar(labels, values, color="#1f4e79")
    for bar, shown in zip(bars, overall["percents"], strict=True):
        ax.annotate(shown, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom")
    ax.set_ylabel("% of audits")
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    grades_svg = _svg(fig)
    plt.close(fig)
    trend = [t for t in data["trend"] if t["percent"] != HIDDEN]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.plot([t["cycle"] for t in trend], [float(t["percent"].rstrip("%")) for t in trend],
            marker="o", color="#1f4e79")
    ax.set_ylabel("% good or better")
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    trend_svg = _svg(fig)
    plt.close(fig)
    return {"grades_svg": grades_svg, "trend_svg": trend_svg}


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def md_escape(value: Any) -> Any:
    """Text safe in a Markdown table cell: no column breaks, no HTML, no stray emphasis."""
    if isinstance(value, str) and not isinstance(value, Markup):
        if value == HIDDEN:
            return value
        return _MD_SPECIAL.sub(r"\\\1", " ".join(value.splitlines()))
    return value


def environment(ws: Workspace, html: bool) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(str(ws.templates / "reports")),
        jinja2.FileSystemLoader(str(package_templates() / "reports")),
    ])
    if html:
        return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    return jinja2.Environment(loader=loader, autoescape=False, finalize=md_escape,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(ws: Workspace, template: str, stem: str, data: dict[str, Any], out: Path,
           formats: set[str], with_charts: bool = True) -> list[Path]:
    """Write one report as Markdown (charts beside it) and/or one self-contained HTML file."""
    out.mkdir(parents=True, exist_ok=True)
    stem += "-internal" if data["internal"] else ""
    drawn = charts(data) if with_charts else {}
    written: list[Path] = []
    if "md" in formats:
        files = {k.removesuffix("_svg"): f"{stem}-{k.removesuffix('_svg')}.svg" for k in drawn}
        for key, name in files.items():
            (out / name).write_text(drawn[f"{key}_svg"], encoding="utf-8")
            written.append(out / name)
        text = environment(ws, html=False).get_template(f"{template}.md.j2").render(
            **data, charts=files)
        (out / f"{stem}.md").write_text(text, encoding="utf-8")
        written.append(out / f"{stem}.md")
    if "html" in formats:
        svg = {k: Markup(_strip_xml_header(v)) for k, v in drawn.items()}
        text = environment(ws, html=True).get_template(f"{template}.html.j2").render(
            **data, charts=svg)
        (out / f"{stem}.html").write_text(text, encoding="utf-8")
        written.append(out / f"{stem}.html")
    return written


def render_summary(ws: Workspace, data: dict[str, Any], out: Path,
                   formats: set[str]) -> list[Path]:
    return render(ws, "summary", f"{cycle_slug(data['cycle'])}-summary", data, out, formats)


def render_all(ws: Workspace, store: Store, cycle: str, kinds: set[str], out: Path,
               formats: set[str], *, internal: bool, message: str, today: date) -> list[Path]:
    """Every report asked for: the summary, the highlights, one outcome per quadrant."""
    figures = cycle_figures(store, cycle, internal)
    slug = cycle_slug(cycle)
    written: list[Path] = []
    if "summary" in kinds:
        data = summary_data(ws, figures, internal=internal, message=message, today=today)
        written += render(ws, "summary", f"{slug}-summary", data, out, formats)
    if "highlights" in kinds:
        data = highlights_data(ws, figures, internal=internal, today=today)
        written += render(ws, "highlights", f"{slug}-highlights", data, out, formats,
                          with_charts=False)
    if "quadrant" in kinds:
        for quadrant in ws.settings.quadrants:
            data = summary_data(ws, figures, internal=internal, message=message, today=today,
                                quadrant=quadrant)
            written += render(ws, "summary", f"{slug}-quadrant-{cycle_slug(quadrant).lower()}",
                              data, out, formats)
    return written


def _strip_xml_header(svg: str) -> str:
    return svg[svg.index("<svg"):]
