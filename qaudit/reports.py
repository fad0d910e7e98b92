"""Report builders: pure functions from results to the words and rows people read.

This release builds the allocation summary the terminal shows; the cycle reports for the
Board, the Senior Practitioners' Network and the quadrants come with ``qaudit report``.
"""

from __future__ import annotations

from datetime import date
from typing import Any


def shortfall_sentence(
    stratum: dict[str, Any], names: dict[str, str], per_worker: int, top_up: bool
) -> str:
    """Say plainly why a stratum was short and what was done about it."""
    s = stratum
    head = f"{s['quadrant']} · {names[s['audit_type']]}: quota {s['quota']},"
    if s["eligible"] < s["quota"]:
        head += f" only {s['eligible']} eligible"
    else:
        head += (f" {s['eligible']} eligible but only {s['drawn']} could be drawn within"
                 f" {per_worker} case(s) per worker and one per person")
    parts = [head]
    if s["topped_up"]:
        sources = ", ".join(f"{names[k]} ({v})" for k, v in s["topped_up_from"].items())
        parts.append(f"{s['topped_up']} topped up from the quadrant's {sources}")
    if s["shortfall"]:
        why = "" if top_up else " (top-up is off)"
        parts.append(f"{s['shortfall']} short{why}")
    return "; ".join(parts) + "."


def unaudited_types_hint(labels: dict[str, int], most: int = 5) -> str:
    """Which export work types were not recognised, most frequent first."""
    top = sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
    listed = ", ".join(f"{label!r} ({n:,})" for label, n in top)
    return (f"Work types not audited: {listed}. If one should be, add it to the labels of its"
            " type under [audit_types] in qaudit.toml.")


def status_rows(progress: list[dict[str, Any]], by: str, today: date) -> list[dict[str, Any]]:
    """Where a cycle stands, grouped by ``quadrant`` or ``service_manager``, with a total."""
    groups: dict[str, dict[str, Any]] = {}
    for p in progress:
        g = groups.setdefault(p[by], {by: p[by], "allocated": 0, "self_reflections": 0,
                                      "audits": 0, "overdue": 0, "moderated": 0,
                                      "ri_open": 0})
        g["allocated"] += 1
        g["self_reflections"] += bool(p["reflection_back"])
        g["audits"] += bool(p["audit_back"])
        g["overdue"] += (not p["audit_back"]) and today > date.fromisoformat(p["due"])
        g["moderated"] += bool(p["moderated"])
        g["ri_open"] += bool(p["ri_open"])
    rows = [groups[k] for k in sorted(groups, key=str.casefold)]
    total = {by: "Total", **{k: sum(r[k] for r in rows) for k in (
        "allocated", "self_reflections", "audits", "overdue", "moderated", "ri_open")}}
    return [*rows, total]
