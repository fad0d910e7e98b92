"""Deep dives, the pure part: the terms of reference, the filters, the themed draw and
what its report publishes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaudit.reports import HIDDEN
from qaudit.sampling import PERSON_DRAWN, WORKER_HAS_CASE
from qaudit.themes import (
    OUTSIDE_FILTERS,
    DeepDiveRows,
    Filter,
    FilterError,
    Terms,
    TermsError,
    ThemedRules,
    check_filters_match,
    deep_dive_report,
    describe_filters,
    draw_themed,
    parse_filter,
    parse_terms,
    resolve_filters,
    within_filters,
)

QUADRANTS = ("North East", "Mid", "South")
TYPES = ("care_act_assessment", "safeguarding_s42")
TEAMS = ("Mid Long Term", "Mid Hospital", "South Locality")
STRATA = [(q, t) for q in QUADRANTS for t in TYPES]
GOOD_TERMS = b'''title = "The adult's voice"
purpose = """Why the Board asked.

A second paragraph."""
understand = "Whether adults are heard."
method = "A random sample, audited with its own set."
directed_by = "PGB, 14/10/2026"
'''


def cases(n: int, seed: int, workers: int = 12, persons: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "record_id": [f"R{i:05d}" for i in range(n)],
        "person_id": [f"P{int(p):04d}" for p in rng.integers(0, persons, n)],
        "worker_id": [f"W{int(w):03d}" for w in rng.integers(0, workers, n)],
        "team": [TEAMS[int(t)] for t in rng.integers(0, len(TEAMS), n)],
        "quadrant": [QUADRANTS[int(q)] for q in rng.integers(0, len(QUADRANTS), n)],
        "audit_type": [TYPES[int(t)] for t in rng.integers(0, len(TYPES), n)],
        "completed_date": [date(2026, 9, 1)] * n,
    })


FILTERS = st.lists(st.sampled_from([
    Filter("team", "mid long term"), Filter("team", "Mid Hospital"),
    Filter("quadrant", "Mid"), Filter("quadrant", "South"),
    Filter("audit-type", "safeguarding_s42"), Filter("question", "V4:No"),
]), max_size=4, unique=True)


def rules(size: int, per_worker: int, filters: list[Filter], answered: frozenset[str]
          ) -> ThemedRules:
    return ThemedRules(size=size, max_per_worker=per_worker, strata=STRATA,
                       filters=tuple(sorted(filters)), answered={"V4:No": answered})


# --- the draw -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 120), data_seed=st.integers(0, 10_000), seed=st.integers(0, 2**32 - 1),
       size=st.integers(1, 30), per_worker=st.integers(1, 3), filters=FILTERS,
       answered=st.frozensets(st.sampled_from([f"W{i:03d}" for i in range(12)]), max_size=6))
def test_the_themed_draw_keeps_every_rule_and_is_reproducible_from_its_seed(
        n: int, data_seed: int, seed: int, size: int, per_worker: int,
        filters: list[Filter], answered: frozenset[str]) -> None:
    frame = cases(n, data_seed)
    rule = rules(size, per_worker, filters, answered)
    excluded: dict[str, int] = {}
    draw = draw_themed(frame, excluded, rule, np.random.default_rng(seed))
    drawn = draw.allocations
    # never more than N; never two cases of one person; at most the limit a worker
    assert len(drawn) <= size
    assert drawn["person_id"].is_unique
    assert (drawn["worker_id"].value_counts() <= per_worker).all()
    # every case drawn is within the filters; the rest are counted as outside them
    inside = within_filters(frame, rule.filters, rule.answered)
    assert within_filters(drawn, rule.filters, rule.answered).all()
    assert excluded.get(OUTSIDE_FILTERS, 0) == int((~inside).sum())
    assert sum(s.eligible for s in draw.strata) == int(inside.sum())
    assert sum(s.drawn for s in draw.strata) == len(drawn)
    # short of N only when every case left out was barred by a rule that still holds
    if len(drawn) < size:
        left = frame.loc[inside & ~frame["record_id"].isin(drawn["record_id"])]
        full = set(drawn["worker_id"].value_counts().loc[lambda c: c >= per_worker].index)
        assert all(w in full or p in set(drawn["person_id"])
                   for w, p in zip(left["worker_id"], left["person_id"], strict=True))
    # the same seed gives the same cases, whatever the order of the export's rows
    again = draw_themed(frame.sample(frac=1, random_state=data_seed), {}, rule,
                        np.random.default_rng(seed))
    assert list(again.allocations["record_id"]) == list(drawn["record_id"])


def test_passed_over_cases_are_counted_with_the_reason() -> None:
    frame = pd.DataFrame({
        "record_id": ["R1", "R2", "R3"], "person_id": ["P1", "P1", "P1"],
        "worker_id": ["W1", "W1", "W2"], "team": ["T"] * 3, "quadrant": ["Mid"] * 3,
        "audit_type": ["safeguarding_s42"] * 3, "completed_date": [date(2026, 9, 1)] * 3})
    draw = draw_themed(frame, {}, rules(3, 1, [], frozenset()), np.random.default_rng(1))
    assert len(draw.allocations) == 1
    (stratum,) = draw.strata
    assert stratum.quota == 0 and stratum.shortfall == 0  # N is for the whole deep dive
    assert sum(stratum.passed_over.values()) == 2
    assert set(stratum.passed_over) <= {WORKER_HAS_CASE, PERSON_DRAWN}


def test_a_key_given_twice_means_either_and_different_keys_must_all_hold() -> None:
    frame = cases(200, 3)
    either = within_filters(frame, [Filter("quadrant", "Mid"), Filter("quadrant", "South")], {})
    assert list(either) == list(frame["quadrant"].isin(["Mid", "South"]))
    both = within_filters(frame, [Filter("quadrant", "Mid"), Filter("team", "MID  long term")],
                          {})
    assert list(both) == list((frame["quadrant"] == "Mid") & (frame["team"] == "Mid Long Term"))
    workers = frozenset({"W001", "W002"})
    asked = within_filters(frame, [Filter("question", "V4:No")], {"V4:No": workers})
    assert list(asked) == list(frame["worker_id"].isin(workers))
    assert describe_filters([Filter("quadrant", "Mid"), Filter("quadrant", "South"),
                             Filter("team", "X")]) == "quadrant=Mid or South and team=X"


# --- the filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("team=Mid Long Term", Filter("team", "Mid Long Term")),
    (" Audit_Type = Safeguarding ", Filter("audit-type", "Safeguarding")),
    ("type=mca", Filter("audit-type", "mca")),
    ("question=v4:no", Filter("question", "V4:No")),
    ("question=R2 : n/a", Filter("question", "R2:N/A")),
])
def test_filters_are_read_as_people_type_them(typed: str, expected: Filter) -> None:
    assert parse_filter(typed) == expected


@pytest.mark.parametrize(("typed", "says"), [
    ("team", "is not KEY=VALUE"),
    ("=Mid", "is not KEY=VALUE"),
    ("quadrant=", "is not KEY=VALUE"),
    ("worker=W001", "unknown key 'worker'"),
    ("question=V4", "give a question id and an answer"),
    ("question=V4:Maybe", "give a question id and an answer"),
    ("question=VVVV4:No", "give a question id and an answer"),
    ("team=Mid\x1b[31m", "hidden or control character"),
])
def test_a_malformed_filter_is_refused_with_the_reason(typed: str, says: str) -> None:
    with pytest.raises(FilterError, match=says):
        parse_filter(typed)


def test_filters_resolve_against_the_settings_and_unknown_values_are_refused() -> None:
    types = {"safeguarding": "safeguarding_s42", "safeguardings42": "safeguarding_s42",
             "careactassessment": "care_act_assessment"}
    quadrants = {"mid": "Mid", "ne": "North East", "northeast": "North East"}
    got = resolve_filters([parse_filter("audit-type=Safeguarding"), parse_filter("quadrant=NE"),
                           parse_filter("quadrant=north east"), parse_filter("question=V4:no")],
                          types, quadrants, {"V4", "P1"})
    assert got == (Filter("audit-type", "safeguarding_s42"), Filter("quadrant", "North East"),
                   Filter("question", "V4:No"))
    for typed, says in (("audit-type=Finance", "no such audit type"),
                        ("quadrant=Atlantis", "no such quadrant"),
                        ("question=Z9:No", "no question set issued so far has a question Z9")):
        with pytest.raises(FilterError, match=says):
            resolve_filters([parse_filter(typed)], types, quadrants, {"V4"})


def test_filters_that_match_no_eligible_case_are_refused_naming_the_filter() -> None:
    frame = cases(50, 1)
    with pytest.raises(FilterError, match="--filter team=Nowhere matches none of the 50"):
        check_filters_match(frame, [Filter("team", "Nowhere")], {})
    with pytest.raises(FilterError, match="question=V4:No matches none"):
        check_filters_match(frame, [Filter("question", "V4:No")], {"V4:No": frozenset()})
    lonely = frame.iloc[:1].assign(team="Only", quadrant="Mid")
    with pytest.raises(FilterError, match="together"):
        check_filters_match(pd.concat([lonely, frame.iloc[1:].assign(team="Other")]),
                            [Filter("team", "Only"), Filter("quadrant", "South")], {})
    check_filters_match(frame, [], {})  # no filter: every eligible case


# --- the terms of reference: a hostile corpus ----------------------------------------------


def test_good_terms_are_read_with_paragraphs_kept_and_their_hash() -> None:
    terms = parse_terms(GOOD_TERMS, "t.toml")
    assert terms.title == "The adult's voice"
    assert terms.purpose == "Why the Board asked.\n\nA second paragraph."
    assert terms.directed_by == "PGB, 14/10/2026"
    assert len(terms.sha256) == 64
    assert [label for label, _ in terms.labelled()] == [
        "Title", "Purpose", "What it seeks to understand", "Method", "Directed by"]


def test_formula_text_in_the_terms_stays_text() -> None:
    # Kept as typed: forms write every cell as text (workbooks.cells.put), reports escape.
    terms = parse_terms(GOOD_TERMS.replace(b"The adult's voice",
                                           b'=HYPERLINK(\\"http://x\\",\\"y\\")'), "t.toml")
    assert terms.title.startswith("=HYPERLINK(")


@pytest.mark.parametrize(("data", "says"), [
    (b'title = "x"\n', "lacks purpose, understand, method"),
    (GOOD_TERMS + b'colour = "red"\n', "unknown key"),
    (GOOD_TERMS.replace(b'method = "A random', b'method = "  \\n  "\nx = "'), "unknown key"),
    (GOOD_TERMS.replace(b'"Whether adults are heard."', b'"   "'), "understand .* is empty"),
    (GOOD_TERMS.replace(b'"Whether adults are heard."', b"42"), "must be text"),
    (GOOD_TERMS.replace(b"The adult's voice", b"x" * 200), "title is 200 characters"),
    (GOOD_TERMS.replace(b"Whether adults", b"Whether \\u001b[2J adults"), "control character"),
    (GOOD_TERMS.replace(b"Whether adults", b"Whether \\u202e adults"), "hidden"),
    (GOOD_TERMS.replace(b"The adult's voice", b"Line one\\nline two"), "hidden or control"),
    (GOOD_TERMS + b"# " + b"y" * 40_000, "fit in 32 KB"),
    ("title = 'Caf\u00e9'".encode("latin-1"), "not UTF-8"),
    (b"title = ", "not valid TOML"),
    (b"\x00\x01\x02", "not valid TOML"),
    (b"", "lacks title"),
])
def test_hostile_terms_files_are_refused_with_the_reason(data: bytes, says: str) -> None:
    with pytest.raises(TermsError, match=says):
        parse_terms(data, "t.toml")


# --- the report: what is published ---------------------------------------------------------


class _Audit:
    def __init__(self, n: int, grade: str) -> None:
        self.reference, self.quadrant, self.audit_type = f"DD-{n:03d}", "Mid", "safeguarding_s42"
        self.grade, self.fields = grade, {}


class _Answer:
    def __init__(self, question_id: str, answer: str, count: int) -> None:
        self.quadrant, self.audit_type, self.aspect = "Mid", "safeguarding_s42", "voice"
        self.question_id, self.answer, self.count = question_id, answer, count


def _rows() -> DeepDiveRows:
    grades = ["good"] * 9 + ["requires_improvement"] * 2 + ["adequate"] * 6
    return DeepDiveRows(
        name="DD1", terms=parse_terms(GOOD_TERMS, "t.toml"), filters=(Filter("quadrant", "Mid"),),
        size=20, window="01/09/2026 to 31/10/2026", question_set="Voice (v 1)", allocated=20,
        audits=[_Audit(i, g) for i, g in enumerate(grades)],
        answers=[_Answer("V4", "Yes", 15), _Answer("V4", "No", 2), _Answer("V1", "Yes", 10),
                 _Answer("V1", "No", 7)],
        questions=[("voice", "V1", "Asked?"), ("voice", "V4", "Communication?"),
                   ("voice", "DV1", "Seen alone?")],
        regular_cycles=["C1", "C2"],
        regular_answers=[_Answer("V1", "Yes", 60), _Answer("V1", "No", 30),
                         _Answer("V4", "Yes", 70), _Answer("V4", "No", 20)],
        # As the latest regular cycle's own published summary shows them.
        published_regular={"V1": ("45", "67%"), "V4": ("*", "*")}, published_cycle="C2")


def test_the_published_report_hides_small_counts_and_names_no_case() -> None:
    data = deep_dive_report(_rows(), generated="01/12/2026", threshold=5, internal=False,
                            scrub=lambda t: t.replace("Board", "(removed)"))
    grades = {g["label"]: g for g in data["grades"]}
    assert grades["Good"]["count"] == "9"
    assert grades["Requires improvement"]["count"] == HIDDEN  # 2 is below the threshold
    # ... and so is the 0 beside it: else 17 returned - 9 - 6 - 0 would give the 2 away
    assert grades["Outstanding"]["count"] == HIDDEN
    assert data["returned"] == "17" and grades["Adequate"]["count"] == "6"
    v1, v4, dv1 = data["questions"]
    # The regular side is a copy of what the latest cycle's summary published (45 answers
    # there), never a sum over the cycles (90), which could undo their stars.
    assert (v1["n"], v1["percent"], v1["regular_n"], v1["regular_percent"]) == (
        "17", "59%", "45", "67%")
    assert v1["difference"] == "-8 points" and v1["regular_interval"] == "–"
    assert v4["percent"] == HIDDEN  # 2 answered No: the rate would show it
    assert (v4["regular_n"], v4["regular_percent"]) == (HIDDEN, HIDDEN)
    assert dv1["regular_n"] == "–" and dv1["difference"] == "–"
    assert data["regular_cycles"] == ["C2"]
    assert data["references"] == []
    assert "(removed)" in data["terms"][0]["paragraphs"][0]


def test_the_internal_report_shows_every_figure_and_the_references() -> None:
    data = deep_dive_report(_rows(), generated="01/12/2026", threshold=1, internal=True,
                            scrub=lambda t: t)
    assert {g["label"]: g["count"] for g in data["grades"]}["Requires improvement"] == "2"
    assert data["questions"][1]["percent"] == "88%"
    assert data["references"][0] == "DD-000"


def test_terms_round_trip_as_stored() -> None:
    terms = parse_terms(GOOD_TERMS, "t.toml")
    again = Terms(**{k: v for k, v in terms.to_json().items()})
    assert again == terms


def test_the_published_report_names_no_team_and_scrubs_the_name_and_filters() -> None:
    rows = _rows()
    rows = DeepDiveRows(**{**rows.__dict__, "name": "DD Adeyemi", "filters": (
        Filter("team", "Mid Long Term"), Filter("team", "Mid Hospital"),
        Filter("quadrant", "Mid"), Filter("question", "V4:No"))})

    def scrub(text: str) -> str:
        return text.replace("Adeyemi", "(removed)").replace("V4", "V(x)")

    data = deep_dive_report(rows, generated="01/12/2026", threshold=5, internal=False,
                            scrub=scrub)
    assert data["name"] == "DD (removed)"
    assert data["filters"] == "team=(removed) and quadrant=Mid and question=V(x):No"
    assert "Mid Long Term" not in str(data) and "Mid Hospital" not in str(data)
    internal = deep_dive_report(rows, generated="01/12/2026", threshold=1, internal=True,
                                scrub=lambda t: t)
    assert internal["name"] == "DD Adeyemi"
    assert internal["filters"] == ("team=Mid Long Term or Mid Hospital and quadrant=Mid and"
                                   " question=V4:No")
