"""The Board summary of a cycle, as data ready to render: every count already suppressed.

Pure: takes what the database holds (lists and dicts) and returns a nested dict of
display strings. Published figures pass through ``qaudit.disclosure``: a count from 1 to
threshold-1 shows as ``*``, and so does a second cell wherever one hidden cell could be
worked out from a total. Percentages of hidden counts are hidden too. Free text is
scrubbed by the caller-supplied function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from qaudit.disclosure import suppress_counts, suppress_table, wilson_interval
from qaudit.grading import GRADES

HIDDEN = "*"
GRADE_KEYS = [g.key for g in GRADES]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _row(label: str, counts: Sequence[int], hidden: Sequence[bool]) -> dict[str, Any]:
    total = sum(counts)
    return {
        "label": label,
        "cells": [HIDDEN if h else str(c) for c, h in zip(counts, hidden, strict=True)],
        "percents": [HIDDEN if h else _pct(c, total) for c, h in zip(counts, hidden, strict=True)],
        "total": str(total),
    }


def grade_table(groups: Sequence[str], audits: Sequence[dict[str, Any]], key: str,
                threshold: int, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Grades (of record) by group, with row and column suppression."""
    table = [[sum(1 for a in audits if a[key] == g and a["grade"] == k) for k in GRADE_KEYS]
             for g in groups]
    hidden = suppress_table(table, threshold)
    rows = [_row((names or {}).get(g, g), counts, h)
            for g, counts, h in zip(groups, table, hidden, strict=True)]
    for row, counts in zip(rows, table, strict=True):
        if 0 < sum(counts) < threshold:
            row["total"] = HIDDEN
    return rows


def good_or_better(audits: Sequence[dict[str, Any]], threshold: int) -> dict[str, str]:
    n = len(audits)
    good = sum(1 for a in audits if a["grade"] in ("good", "outstanding"))
    hidden = suppress_counts([good, n - good], threshold)
    interval = wilson_interval(good, n)
    if any(hidden) or interval is None:
        return {"count": HIDDEN, "percent": HIDDEN, "interval": HIDDEN, "n": str(n)}
    return {"count": str(good), "percent": _pct(good, n),
            "interval": f"{100 * interval[0]:.0f}%–{100 * interval[1]:.0f}%", "n": str(n)}


def compliance(answers: Sequence[tuple[str, str, str, str, int]],
               questions: dict[tuple[str, str], str], type_names: dict[str, str],
               threshold: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Per question (of each audit type) and per aspect: Yes among Yes+No (N/A left out),
    lowest first. A base smaller than the threshold is not shown."""
    yes: Counter[tuple[str, str, str]] = Counter()
    base: Counter[tuple[str, str, str]] = Counter()
    for audit_type, aspect, question, answer, count in answers:
        if answer in ("Yes", "No"):
            base[(audit_type, aspect, question)] += count
            yes[(audit_type, aspect, question)] += count if answer == "Yes" else 0
    per_question = []
    for key, n in base.items():
        audit_type, aspect, question = key
        rate = yes[key] / n
        per_question.append((rate if n >= threshold else 2.0, {
            "question": f"{type_names.get(audit_type, audit_type)} {question}",
            "aspect": aspect, "text": questions.get((audit_type, question), ""),
            "n": str(n) if n >= threshold else HIDDEN,
            "percent": _pct(yes[key], n) if n >= threshold else HIDDEN,
        }))
    per_question.sort(key=lambda x: (x[0], x[1]["question"]))
    aspects: Counter[str] = Counter()
    aspect_yes: Counter[str] = Counter()
    for key, n in base.items():
        aspects[key[1]] += n
        aspect_yes[key[1]] += yes[key]
    per_aspect = [{"aspect": a, "n": str(n) if n >= threshold else HIDDEN,
                   "percent": _pct(aspect_yes[a], n) if n >= threshold else HIDDEN}
                  for a, n in aspects.items()]
    return [q for _, q in per_question], per_aspect


def hidden_across(groups: dict[str, tuple[int, int]], threshold: int) -> set[str]:
    """Groups whose (count, rest) must be hidden in their own report, so that the county
    figure minus the other groups' figures cannot reveal it (suppression across reports)."""
    names = list(groups)
    mask = suppress_table([list(groups[g]) for g in names], threshold)
    return {g for g, row in zip(names, mask, strict=True) if any(row)}


def shown_count(n: int, threshold: int) -> str:
    return HIDDEN if 0 < n < threshold else str(n)


def build_summary(
    *,
    cycle: str,
    generated: date,
    scope: str,
    quadrants: Sequence[str],
    type_names: dict[str, str],
    aspect_titles: dict[str, str],
    target: int,
    progress: Sequence[dict[str, Any]],
    audits: Sequence[dict[str, Any]],
    answers: Sequence[tuple[str, str, str, str, int]],
    questions: dict[tuple[str, str], str],
    trend: Sequence[tuple[str, list[dict[str, Any]]]],
    ri_items: Sequence[dict[str, Any]],
    escalations: int,
    moderation: dict[str, Any],
    message: str,
    resources: Sequence[tuple[str, str]],
    threshold: int,
    scrub: Callable[[str], str],
    internal: bool,
    county: dict[str, str] | None = None,
) -> dict[str, Any]:
    allocated = len(progress)
    returned = sum(1 for p in progress if p["audit_back"])
    overdue = sum(1 for p in progress
                  if not p["audit_back"] and generated > date.fromisoformat(p["due"]))
    per_question, per_aspect = compliance(answers, questions, type_names, threshold)
    for a in per_aspect:
        a["title"] = aspect_titles.get(a["aspect"], a["aspect"])
    ri_status = Counter(i["status"] for i in ri_items)
    themes = Counter(p["theme"] for p in moderation.get("pairs", []) if p["theme"])
    return {
        "cycle": cycle,
        "scope": scope,
        "generated": generated.strftime("%d/%m/%Y"),
        "internal": internal,
        "threshold": threshold,
        "headline": {
            "target": str(target), "allocated": str(allocated),
            "returned": shown_count(returned, threshold),
            "completion": _pct(returned, allocated) if returned >= threshold else HIDDEN,
            "overdue": shown_count(overdue, threshold),
        },
        "grades": [{"label": g.label} for g in GRADES],
        "overall": grade_table(["All"], [dict(a, all="All") for a in audits], "all",
                               threshold),
        "by_quadrant": grade_table(quadrants, audits, "quadrant", threshold),
        "by_type": grade_table(list(type_names), audits, "audit_type", threshold, type_names),
        "good_or_better": good_or_better(audits, threshold),
        "trend": [{"cycle": name, **good_or_better(items, threshold)} for name, items in trend],
        "compliance": per_question,
        "aspects": per_aspect,
        "ri": {"count": shown_count(len(ri_items), threshold),
               "open": shown_count(ri_status["open"], threshold),
               "closed": shown_count(ri_status["closed"], threshold)},
        "escalations": shown_count(escalations, threshold),
        "moderation": {
            "moderated": shown_count(moderation.get("moderated", 0), threshold),
            "exact": _pct(round(moderation.get("exact_agreement", 0) * 100), 100)
            if moderation.get("moderated", 0) >= threshold else HIDDEN,
            "changed": shown_count(moderation.get("grades_changed", 0), threshold),
        },
        "themes": [{"theme": t, "count": shown_count(n, threshold)}
                   for t, n in themes.most_common()],
        "message": scrub(message),
        "resources": [{"title": t, "url": u} for t, u in resources],
        "county": county,
        # Only the QA team's internal version lists cases by reference.
        "internal_ri": [{"reference": i["reference"], "quadrant": i["quadrant"],
                         "status": i["status"]} for i in ri_items] if internal else [],
    }


def build_highlights(
    *, cycle: str, generated: date, audits: Sequence[dict[str, Any]],
    themes: Sequence[str], resources: Sequence[tuple[str, str]], threshold: int,
    scrub: Callable[[str], str], internal: bool, type_names: dict[str, str],
) -> dict[str, Any]:
    """Themes, good practice excerpts (only from audits the auditor marked shareable, with
    every known name and id scrubbed), resources: for the Senior Practitioners' Network."""
    counts = Counter(t for t in themes if t)
    excerpts = [
        {"type": type_names.get(a["audit_type"], a["audit_type"]),
         "text": scrub(a["fields"].get("strengths", ""))}
        for a in audits
        if a["fields"].get("share_good_practice") == "Yes" and a["fields"].get("strengths")
    ]
    return {
        "cycle": cycle, "generated": generated.strftime("%d/%m/%Y"), "internal": internal,
        "threshold": threshold,
        "themes": [{"theme": t, "count": shown_count(n, threshold)}
                   for t, n in counts.most_common()],
        "excerpts": excerpts,
        "resources": [{"title": t, "url": u} for t, u in resources],
    }
