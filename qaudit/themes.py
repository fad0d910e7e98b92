"""Deep dives: their terms of reference, their filters, the themed draw and their report.

Pure: bytes, DataFrames, rules and a ``numpy.random.Generator`` in; data out. No files, no
database, no terminal. The framework: *themed / deep dive audits ... as required based on
issues highlighted by the regular audit cycle ... as directed by PGB*, and *terms of
reference are established for each audit*. Users' documentation: ``docs/deep-dives.md``.

- ``parse_terms``: the terms of reference file (TOML), refused whole with the reason.
- ``parse_filter`` / ``resolve_filters``: ``team=``, ``audit-type=``, ``quadrant=``,
  ``question=V4:No``. The same key given twice means either; different keys must all hold.
- ``draw_themed``: N cases in all at random from the eligible rows within the filters, one
  case a person, at most ``max_per_worker`` a worker; reproducible from the seed.
- ``deep_dive_report``: the report for the Practice Governance Board, every published
  count through ``qaudit.disclosure.protect``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qaudit.disclosure import Bound, Figure, Key, Kind, is_small, protect, revealed, total
from qaudit.errors import QauditError
from qaudit.grading import GRADE_KEYS, LABEL
from qaudit.reports import (
    HIDDEN,
    Answers,
    Graded,
    interval_text,
    percent_and_interval,
    percent_text,
)
from qaudit.sampling import PERSON_DRAWN, WORKER_HAS_CASE, Draw, StratumResult
from qaudit.values import HIDDEN_IN_LINE, HIDDEN_IN_TEXT, normalise_answer, normalise_label

#: Why-not-drawn: an eligible case the deep dive's filters leave out.
OUTSIDE_FILTERS = "not within the deep dive's filters"

# --- the terms of reference ---------------------------------------------------------------


class TermsError(QauditError):
    """A terms of reference file that cannot be used: the message says why and what to do."""


class FilterError(QauditError):
    """A ``--filter`` that is malformed, unknown, or matches nothing."""


#: The keys of a terms file: key -> (label on forms and reports, required, most characters).
TERMS_KEYS: dict[str, tuple[str, bool, int]] = {
    "title": ("Title", True, 120),
    "purpose": ("Purpose", True, 2000),
    "understand": ("What it seeks to understand", True, 2000),
    "method": ("Method", True, 2000),
    "directed_by": ("Directed by", False, 120),
}
MAX_TERMS_BYTES = 32 * 1024


@dataclass(frozen=True)
class Terms:
    """A deep dive's terms of reference, as checked."""

    title: str
    purpose: str
    understand: str
    method: str
    directed_by: str
    sha256: str  # of the file's bytes, as stored

    def labelled(self) -> tuple[tuple[str, str], ...]:
        """(label, text) in the framework's order, as forms and reports print them."""
        return tuple((TERMS_KEYS[k][0], getattr(self, k)) for k in TERMS_KEYS
                     if getattr(self, k))

    def to_json(self) -> dict[str, str]:
        return {**{k: getattr(self, k) for k in TERMS_KEYS}, "sha256": self.sha256}


def _clean(text: str, one_line: bool) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    if one_line:
        return " ".join(p for p in lines if p)
    # paragraphs kept (a blank line between them), each paragraph's lines joined
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines).strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def parse_terms(data: bytes, name: str) -> Terms:
    """The terms of reference from a TOML file's bytes, or a ``TermsError`` saying what is
    wrong: not UTF-8, not TOML, too big, a key missing, empty, unknown or too long, not
    text, or text with hidden (control) characters."""
    where = f"the terms file {name}"
    if len(data) > MAX_TERMS_BYTES:
        raise TermsError(f"{where} is {len(data):,} bytes; terms of reference fit in"
                         f" {MAX_TERMS_BYTES // 1024} KB. Keep each part to a few paragraphs.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TermsError(f"{where} is not UTF-8 text (byte {exc.start + 1}); save it as"
                         " UTF-8 (in Notepad: Save as, Encoding UTF-8).") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TermsError(f"{where} is not valid TOML ({exc}); write each part as"
                         ' key = "text", or key = """text over lines""" (see'
                         " docs/deep-dives.md).") from None
    unknown = sorted(set(raw) - set(TERMS_KEYS))
    if unknown:
        raise TermsError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; the"
                         f" keys are {', '.join(TERMS_KEYS)}.")
    missing = [k for k, (_, required, _) in TERMS_KEYS.items() if required and k not in raw]
    if missing:
        raise TermsError(f"{where} lacks {', '.join(missing)}: the terms of reference"
                         " need a title, its purpose, what it seeks to understand (understand)"
                         " and its method.")
    values: dict[str, str] = {}
    for key, (label, required, most) in TERMS_KEYS.items():
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise TermsError(f"{where}: {key} must be text in quotes, not"
                             f" {type(value).__name__}.")
        one_line = key in ("title", "directed_by")
        if (HIDDEN_IN_LINE if one_line else HIDDEN_IN_TEXT).search(
                value.replace("\r\n", "\n") if not one_line else value.strip("\n")):
            raise TermsError(f"{where}: {key} holds a hidden or control character; retype it"
                             " as plain text.")
        cleaned = _clean(value, one_line)
        if required and not cleaned:
            raise TermsError(f"{where}: {key} ({label}) is empty; write it.")
        if len(cleaned) > most:
            raise TermsError(f"{where}: {key} is {len(cleaned):,} characters; at most {most:,}"
                             " (a summary: the detail belongs in the PGB papers).")
        values[key] = cleaned
    return Terms(**values, sha256=hashlib.sha256(data).hexdigest())


# --- the filters --------------------------------------------------------------------------

TEAM, AUDIT_TYPE, QUADRANT, QUESTION = "team", "audit-type", "quadrant", "question"
FILTER_KEYS = (TEAM, AUDIT_TYPE, QUADRANT, QUESTION)
_QUESTION_VALUE = re.compile(r"^([A-Za-z]{1,3}[0-9]{1,2})\s*:\s*(.+)$")


@dataclass(frozen=True, order=True)
class Filter:
    """One filter: ``key`` one of ``FILTER_KEYS``; ``value`` as resolved (an audit type's
    key, a quadrant's name, ``V4:No``) or, for a team, as typed (compared folded)."""

    key: str
    value: str

    @property
    def text(self) -> str:
        return f"{self.key}={self.value}"

    @property
    def question(self) -> tuple[str, str]:
        """(question id, answer) of a question filter."""
        qid, answer = self.value.split(":", 1)
        return qid, answer


def parse_filter(text: str) -> Filter:
    """``KEY=VALUE`` as typed, checked for shape (not yet against the settings)."""
    key, sep, value = text.partition("=")
    key = key.strip().lower().replace("_", "-")
    value = " ".join(value.split())
    if not sep or not key or not value:
        raise FilterError(f"--filter {text!r} is not KEY=VALUE; e.g. --filter team='Mid Long"
                          " Term', --filter audit-type=safeguarding_s42, --filter quadrant=Mid,"
                          " --filter question=V4:No.")
    if key == "type":
        key = AUDIT_TYPE
    if key not in FILTER_KEYS:
        raise FilterError(f"--filter {text!r}: unknown key {key!r}; the keys are"
                          f" {', '.join(FILTER_KEYS)}.")
    if HIDDEN_IN_LINE.search(value):
        raise FilterError(f"--filter {key}=...: the value holds a hidden or control"
                          " character; retype it.")
    if key == QUESTION:
        m = _QUESTION_VALUE.match(value)
        answer = normalise_answer(m[2]) if m else None
        if m is None or answer is None:
            raise FilterError(f"--filter {text!r}: give a question id and an answer, e.g."
                              " question=V4:No (answers: Yes, No, N/A).")
        value = f"{m[1].upper()}:{answer}"
    return Filter(key, value)


def resolve_filters(filters: Sequence[Filter], types: Mapping[str, str],
                    quadrants: Mapping[str, str],
                    question_ids: Collection[str]) -> tuple[Filter, ...]:
    """Each filter with its value as the settings spell it (an audit type by its key, a
    quadrant by its name), each once, in key order. ``types`` and ``quadrants`` map a
    folded label (``values.normalise_label``) to the key or name, as the settings'
    lookups do. An audit type, quadrant or question id the workspace does not know is a
    ``FilterError`` listing those it does."""
    resolved: set[Filter] = set()
    for f in filters:
        value = f.value
        if f.key == AUDIT_TYPE:
            if normalise_label(value) not in types:
                raise FilterError(f"--filter audit-type={value!r}: no such audit type; give"
                                  f" one of {', '.join(sorted(set(types.values())))} (or its"
                                  " name).")
            value = types[normalise_label(value)]
        elif f.key == QUADRANT:
            if normalise_label(value) not in quadrants:
                names = list(dict.fromkeys(quadrants.values()))
                raise FilterError(f"--filter quadrant={value!r}: no such quadrant; give one"
                                  f" of {', '.join(names)}.")
            value = quadrants[normalise_label(value)]
        elif f.key == QUESTION:
            qid = f.question[0]
            if qid not in question_ids:
                known = ", ".join(sorted(question_ids, key=_natural)) or "none yet"
                raise FilterError(f"--filter question={f.value}: no question set issued so far"
                                  f" has a question {qid} (issued: {known}). A question filter"
                                  " looks at earlier returned audits.")
        resolved.add(Filter(f.key, value))
    return tuple(sorted(resolved, key=lambda f: (FILTER_KEYS.index(f.key), _natural(f.value))))


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text.casefold()))


def filters_json(filters: Sequence[Filter]) -> dict[str, list[str]]:
    """The filters by key, each key's values in order: how they are stored and shown."""
    grouped: dict[str, list[str]] = {}
    for f in filters:
        grouped.setdefault(f.key, []).append(f.value)
    return grouped


def describe_filters(filters: Sequence[Filter]) -> str:
    """One line: keys joined by 'and', a key's values by 'or'; 'none' if there are none."""
    grouped = filters_json(filters)
    return " and ".join(f"{k}={' or '.join(v)}" for k, v in grouped.items()) or "none"


def within_filters(cases: pd.DataFrame, filters: Sequence[Filter],
                   answered: Mapping[str, frozenset[str]]) -> np.ndarray:
    """Which rows every key's filters allow (a key given twice: either value).
    ``answered`` maps a question filter's value (``V4:No``) to the workers whose earlier
    returned audits gave that answer to that question."""
    mask = np.ones(len(cases), dtype=bool)
    for key, values in filters_json(filters).items():
        mask &= _one_key(cases, key, values, answered)
    return mask


def _one_key(cases: pd.DataFrame, key: str, values: Sequence[str],
             answered: Mapping[str, frozenset[str]]) -> np.ndarray:
    if key == TEAM:
        folded = cases["team"].astype(str).map(lambda t: " ".join(t.casefold().split()))
        wanted = {" ".join(v.casefold().split()) for v in values}
        return folded.isin(wanted).to_numpy(dtype=bool)
    if key == AUDIT_TYPE:
        return cases["audit_type"].isin(list(values)).to_numpy(dtype=bool)
    if key == QUADRANT:
        return cases["quadrant"].isin(list(values)).to_numpy(dtype=bool)
    workers: set[str] = set()
    for v in values:
        workers |= answered.get(v, frozenset())
    return cases["worker_id"].isin(workers).to_numpy(dtype=bool)


def check_filters_match(eligible: pd.DataFrame, filters: Sequence[Filter],
                        answered: Mapping[str, frozenset[str]]) -> None:
    """Refuse filters that leave no eligible case: each key's alone first (naming it), then
    all of them together."""
    for key, values in filters_json(filters).items():
        if not _one_key(eligible, key, values, answered).any():
            shown = " or ".join(f"{key}={v}" for v in values)
            hint = ""
            if key == TEAM:
                teams = sorted(set(eligible["team"].astype(str)))[:8]
                hint = f" Teams among them: {', '.join(teams)}." if teams else ""
            elif key == QUESTION:
                hint = (" No practitioner with a case in the window had an earlier returned"
                        " audit with that answer.")
            raise FilterError(f"--filter {shown} matches none of the {len(eligible):,} eligible"
                              f" cases in the window.{hint} Check the spelling, or widen the"
                              " window (--from, --to).")
    if filters and not within_filters(eligible, filters, answered).any():
        raise FilterError(f"the filters together ({describe_filters(filters)}) match none of"
                          f" the {len(eligible):,} eligible cases in the window; each matches"
                          " some, but no case meets them all. Drop one, or widen the window.")


# --- the themed draw ----------------------------------------------------------------------


@dataclass(frozen=True)
class ThemedRules:
    """What a deep dive's draw obeys."""

    size: int  # N in all
    max_per_worker: int
    strata: Sequence[tuple[str, str]]  # (quadrant, type) in the settings' order, for reporting
    filters: tuple[Filter, ...] = ()
    answered: Mapping[str, frozenset[str]] = field(default_factory=dict)


def draw_themed(eligible: pd.DataFrame, excluded: dict[str, int], rules: ThemedRules,
                rng: np.random.Generator) -> Draw:
    """N cases at random from the eligible rows within the filters.

    The rows outside the filters are counted in ``excluded`` (``OUTSIDE_FILTERS``). The rest
    are put in record-id order (so the draw depends only on the set of cases and the seed,
    not on the order of the export's rows), each gets a random key, and cases are taken in
    key order: one passed over when its worker already has ``max_per_worker`` cases or its
    person is already drawn, until N are taken or none is left. The result lists the cases
    by quadrant and audit type (the settings' order), then key; each (quadrant, type) is
    reported as a stratum with no quota of its own (the deep dive's N is for the whole)."""
    mask = within_filters(eligible, rules.filters, rules.answered)
    outside = int((~mask).sum())
    if outside:
        excluded[OUTSIDE_FILTERS] = excluded.get(OUTSIDE_FILTERS, 0) + outside
    frame = eligible.loc[mask].sort_values("record_id", kind="stable").reset_index(drop=True)
    keys = rng.random(len(frame))
    order = np.argsort(keys, kind="stable")
    workers = frame["worker_id"].to_numpy(dtype=object)
    persons = frame["person_id"].to_numpy(dtype=object)
    quadrant = frame["quadrant"].to_numpy(dtype=object)
    audit_type = frame["audit_type"].to_numpy(dtype=object)
    strata = list(rules.strata) + sorted(
        {(q, t) for q, t in zip(quadrant, audit_type, strict=True)} - set(rules.strata))
    results = {s: StratumResult(s[0], s[1], 0, 0) for s in strata}
    eligible_per = Counter(zip(quadrant, audit_type, strict=True))
    for s, n in eligible_per.items():
        results[s] = StratumResult(s[0], s[1], 0, n)
    worker_count: Counter[str] = Counter()
    taken_persons: set[str] = set()
    taken: list[int] = []
    for i in order.tolist():
        if len(taken) >= rules.size:
            break
        stratum = (quadrant[i], audit_type[i])
        if worker_count[workers[i]] >= rules.max_per_worker:
            results[stratum].passed_over[WORKER_HAS_CASE] += 1
            continue
        if persons[i] in taken_persons:
            results[stratum].passed_over[PERSON_DRAWN] += 1
            continue
        taken.append(i)
        worker_count[workers[i]] += 1
        taken_persons.add(persons[i])
        results[stratum].drawn += 1
    place = {s: n for n, s in enumerate(strata)}
    rows = sorted(taken, key=lambda i: (place[(quadrant[i], audit_type[i])], keys[i]))
    allocations = frame.iloc[rows].reset_index(drop=True)
    allocations["stratum_type"] = allocations["audit_type"]
    allocations["topped_up"] = False
    return Draw(allocations, [results[s] for s in strata if results[s].eligible])


def within_count(draw: Draw) -> int:
    """How many eligible cases were within the filters."""
    return sum(s.eligible for s in draw.strata)


# --- the report for the Practice Governance Board -----------------------------------------


@dataclass(frozen=True)
class DeepDiveRows:
    """Everything the deep dive's report draws on."""

    name: str
    terms: Terms
    filters: tuple[Filter, ...]
    size: int
    window: str  # '01/09/2026 to 31/10/2026'
    question_set: str  # its title and version
    allocated: int
    audits: Sequence[Graded]
    answers: Sequence[Answers]
    questions: Sequence[tuple[str, str, str]]  # (aspect, id, text) of its set, in order
    regular_cycles: Sequence[str]  # the regular cycles compared with, oldest first
    regular_answers: Sequence[Answers]  # their answers to the same type and question ids
    # The published comparison: each question's figures as the latest regular cycle's own
    # published summary shows them, for the deep dive's one audit type (question id ->
    # (answers, Yes %) as that summary prints them, '*' where it hides them). Copies of
    # figures already published tell a reader nothing new; a sum over the cycles would
    # undo their stars. Empty where there is no such cycle or the deep dive spans types.
    published_regular: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    published_cycle: str = ""


def _yes_no(answers: Sequence[Answers]) -> tuple[Counter[str], Counter[str]]:
    yes: Counter[str] = Counter()
    no: Counter[str] = Counter()
    for a in answers:
        if a.answer == "Yes":
            yes[a.question_id] += a.count
        elif a.answer == "No":
            no[a.question_id] += a.count
    return yes, no


def deep_dive_shown(rows: DeepDiveRows, threshold: int) -> frozenset[Key]:
    """The keys of the figures the published report may show: its counts (grades of
    record, Yes and No per question, the regular cycles' Yes and No per question) as one
    set of tables through ``qaudit.disclosure.protect``; what every reader knows besides:
    a question is answered at most once an audit, and no more audits come back than were
    allocated."""
    truth: dict[Key, int] = {}
    figures: list[Figure] = []
    known: list[Bound] = []
    withheld: set[Key] = set()
    grades = Counter(a.grade for a in rows.audits)
    for g in GRADE_KEYS:
        truth[("g", g)] = grades[g]
    every = [("g", g) for g in GRADE_KEYS]
    returned = sum(truth[k] for k in every)
    known.append(Bound(total(*every), hi=rows.allocated))
    for g in GRADE_KEYS:
        figures.append(Figure(("grade", g), total(("g", g)), grades[g], cell=True))
    figures.append(Figure(("returned",), total(*every), returned))
    for g in GRADE_KEYS:
        if returned:
            # Beside its shown count and total, a share tells nothing more; it goes with them.
            figures.append(Figure(("grade_pct", g), total(("g", g)), grades[g], Kind.DERIVED,
                                  reveals=revealed(grades[g], returned, percent_and_interval),
                                  requires=(("grade", g), ("returned",)), priority=5))
    for prefix, answers in (("d", rows.answers),):
        yes, no = _yes_no(answers)
        for _, qid, _ in rows.questions:
            y, n = (prefix, "yes", qid), (prefix, "no", qid)
            truth[y], truth[n] = yes[qid], no[qid]
            if prefix == "d":
                known.append(Bound(((y, 1), (n, 1), *((v, -1) for v in every)), hi=0))
            base = yes[qid] + no[qid]
            figures.append(Figure((prefix, "n", qid), total(y, n), base))
            if base:
                key: Key = (prefix, "pct", qid)
                figures.append(Figure(key, total(y), yes[qid], Kind.DERIVED,
                                      reveals=revealed(yes[qid], base, percent_and_interval),
                                      requires=((prefix, "n", qid),),
                                      priority=3 if prefix == "d" else 1))
                if is_small(yes[qid], threshold) or is_small(no[qid], threshold):
                    withheld.add(key)
    hidden = protect(figures, known, truth, threshold, withheld=withheld)
    return frozenset(f.key for f in figures) - hidden


def published_filters(filters: Sequence[Filter], scrub: Callable[[str], str],
                      removed: str) -> str:
    """The filters as the published report shows them: a team never named (``removed``
    in its place: beside the grades of a handful of its cases it would name the team's
    practice), and every other value through ``scrub`` (the publication scrubber)."""
    shown = sorted({Filter(f.key, removed) if f.key == TEAM else f for f in filters},
                   key=lambda f: (FILTER_KEYS.index(f.key), _natural(f.value)))
    return scrub(describe_filters(shown))


def deep_dive_report(rows: DeepDiveRows, *, generated: str, threshold: int, internal: bool,
                     scrub: Callable[[str], str], marking: str = "",
                     removed: str = "(removed)") -> dict[str, Any]:
    """The report's data: the terms of reference (scrubbed when published), the findings
    against them (grades of record with a 95% interval; Yes per question of its set), and
    the same question ids in the regular cycles' returned audits. Published: only the
    figures ``deep_dive_shown`` allows, the deep dive's name, title, terms and filters
    through ``scrub`` and no team named (``published_filters``); internal: every figure,
    the filters as given, and the references."""
    shown = None if internal else deep_dive_shown(rows, threshold)

    def shows(key: Key) -> bool:
        return shown is None or key in shown

    def show(key: Key, text: str) -> str:
        return text if shows(key) else HIDDEN

    grades = Counter(a.grade for a in rows.audits)
    returned = len(rows.audits)
    grade_rows = [{
        "label": LABEL[g],
        "count": show(("grade", g), str(grades[g])),
        "percent": show(("grade_pct", g), percent_text(grades[g], returned)) if returned else "–",
        "interval": show(("grade_pct", g), interval_text(grades[g], returned))
        if returned else "–",
    } for g in GRADE_KEYS]
    yes, no = _yes_no(rows.answers)
    ryes, rno = _yes_no(rows.regular_answers)
    questions = []
    for aspect, qid, text in rows.questions:
        n, rn = yes[qid] + no[qid], ryes[qid] + rno[qid]
        d_pct = ("d", "pct", qid)
        if internal:
            regular = (str(rn), percent_text(ryes[qid], rn) if rn else "–",
                       interval_text(ryes[qid], rn) if rn else "–")
            difference = (f"{round(100 * yes[qid] / n) - round(100 * ryes[qid] / rn):+d}"
                          " points") if n and rn else "–"
        else:
            shown_n, shown_pct = rows.published_regular.get(qid, ("–", "–"))
            regular = (shown_n, shown_pct, "–")
            difference = "–"
            if n and shown_pct.endswith("%"):
                difference = (f"{round(100 * yes[qid] / n) - int(shown_pct[:-1]):+d} points"
                              if shows(d_pct) else HIDDEN)
            elif n and shown_pct == HIDDEN:
                difference = HIDDEN
        questions.append({
            "id": qid, "aspect": aspect, "text": text,
            "n": show(("d", "n", qid), str(n)),
            "percent": show(d_pct, percent_text(yes[qid], n)) if n else "–",
            "interval": show(d_pct, interval_text(yes[qid], n)) if n else "–",
            "regular_n": regular[0], "regular_percent": regular[1],
            "regular_interval": regular[2], "difference": difference,
        })
    terms = rows.terms
    return {
        "name": scrub(rows.name),
        "title": scrub(terms.title),
        "terms": [{"label": label, "paragraphs": scrub(text).split("\n\n")}
                  for label, text in terms.labelled() if label != "Title"],
        "filters": describe_filters(rows.filters) if internal
        else published_filters(rows.filters, scrub, removed),
        "size": str(rows.size),
        "window": rows.window,
        "question_set": rows.question_set,
        "generated": generated,
        "internal": internal,
        "marking": marking,
        "threshold": threshold,
        "allocated": str(rows.allocated),
        "returned": show(("returned",), str(returned)),
        "completion": show(("returned",), percent_text(returned, rows.allocated)),
        "grades": grade_rows,
        "questions": questions,
        "regular_cycles": list(rows.regular_cycles) if internal
        else ([rows.published_cycle] if rows.published_cycle else []),
        "references": sorted(a.reference for a in rows.audits) if internal else [],
    }

