"""Scrubbing free text, coarsening dates and k-anonymity (``qaudit.privacy``): pure.

The labelled corpus below measures the scrubber: recall (spans that must go, gone) and
over-scrubbing (ordinary words removed). Print the figures with

    .venv/bin/python -m pytest -q -s tests/core/test_privacy.py -k corpus

All names, ids and sentences are invented.
"""

from __future__ import annotations

import csv
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES
from qaudit.privacy import (
    COMMON_WORDS,
    SUPPRESSED,
    TITLES,
    Scrubber,
    coarsen_dates_in_text,
    identifiers_to_scrub,
    k_anonymous_periods,
    month_of,
    normalise,
    scrub_emails,
    scrubber,
)

NAMES = [
    "Grace Will", "Mark May", "Niamh Adeyemi", "Priya Smith-Jones", "Wei Li", "Thomas Ng",
    "José Álvarez", "Zoë Kowalski", "Samir O'Connell", "Hope Baker", "Ruth Okonjo",
    "Daniel Wren", "June Parry", "Kit Mensah", "Team manager", "A. Manager",
]
IDS = ["1234503", "W85396", "394438", "2000008", "Hospital Discharge Team"]
CYCLES = ["2026-27 C3", "H1"]
ROLES = ["Team manager", "Service Manager", "Senior Practitioner"]


@pytest.fixture(scope="module")
def scrub() -> Scrubber:
    return scrubber(IDS, names=NAMES, roles=ROLES, cycles=CYCLES)


# --- each kind of miss and over-scrub, one test each --------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Spoke to Ms Jones about the plan.", "Spoke to (removed) about the plan."),
    ("Jones agreed; the Smith-Jones family too.", "(removed) agreed; the (removed) family too."),
    ("Ask Ms Smith to call.", "Ask (removed) to call."),
])
def test_part_of_a_hyphenated_surname_is_removed(scrub: Callable[[str], str], text: str,
                                                 expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Ms Li and Mr Ng attended.", "(removed) and (removed) attended."),
    ("Li agreed to call Ng.", "(removed) agreed to call (removed)."),
    ("Wei Li said so.", "(removed) said so."),
])
def test_two_letter_surnames_are_removed(scrub: Callable[[str], str], text: str,
                                         expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("written", [
    "Jose Alvarez", "José Álvarez", unicodedata.normalize("NFD", "José Álvarez"),
    "JOSE ALVAREZ", "Zoe Kowalski", unicodedata.normalize("NFD", "Zoë"),
    "Samir O’Connell", "OConnell",
])
def test_names_without_accents_decomposed_or_curly_are_removed(
    scrub: Callable[[str], str], written: str
) -> None:
    assert scrub(f"Visit by {written} today.") == "Visit by (removed) today."


def test_names_written_with_accents_match_names_stored_without() -> None:
    plain = scrubber([], names=["Jose Alvarez", "Zoe Kowalski"])
    assert plain("José Álvarez and Zoë met.") == "(removed) and (removed) met."


@pytest.mark.parametrize("hidden", ["Ni\u200bamh", "Nia\u200dmh", "\u202eNiamh\u202c",
                                    "Ni\u00adamh", "Ni\ufeffamh", "Ｎｉａｍｈ"])
def test_zero_width_bidi_and_compatibility_characters_do_not_hide_a_name(
    scrub: Callable[[str], str], hidden: str
) -> None:
    assert scrub(f"Worker: {hidden}, today.") == "Worker: (removed), today."


@pytest.mark.parametrize(("text", "expected"), [
    ("see H1-006", "see (removed)"),
    ("Same family as 2026-27-C3-004.", "Same family as (removed)."),
    ("Redrawn: 2026-27 C3-017 and 2026-27-c3-018.", "Redrawn: (removed) and (removed)."),
    ("Compare Q2-104 from last year.", "Compare (removed) from last year."),
])
def test_allocation_references_are_removed(scrub: Callable[[str], str], text: str,
                                           expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("The client ID1234503 was seen.", "The client (removed) was seen."),
    ("W85396's caseload is high.", "(removed)'s caseload is high."),
    ("Person 394438/2000008 linked.", "Person (removed)/(removed) linked."),
    ("Unknown id 7654321 and X12345.", "Unknown id (removed) and (removed)."),
    ("Held by the hospital discharge  team.", "Held by the (removed)."),
    ("Call 01234 567890 or +44 7700 900123.", "Call (removed) or (removed)."),
    ("NHS number 943 476 5919; email n.adeyemi@example.org.",
     "NHS number (removed); email (removed)."),
])
def test_ids_glued_to_words_and_id_shaped_text_are_removed(
    scrub: Callable[[str], str], text: str, expected: str
) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Email o.quarrington@example.org today.", "Email (removed) today."),
    ("From: Samir O'Connell <samir.o'connell@council.example.gov.uk>",
     "From: (removed) <(removed)>"),
    ("Reply to JO.BLOGGS@EXAMPLE.ORG.", "Reply to (removed)."),
    ("Write to jo.bloggs @ example.org or jo.bloggs[at]example(dot)org.",
     "Write to (removed) or (removed)."),
    ("Sent to ｊｏ＠ｅｘａｍｐｌｅ．ｏｒｇ and jo\u200b.b@example.org.",
     "Sent to (removed) and (removed)."),
    ("mailto:team+qa@example.org", "mailto:(removed)"),
])
def test_email_addresses_are_removed_whether_known_or_not(
    scrub: Callable[[str], str], text: str, expected: str
) -> None:
    assert scrub(text) == expected
    assert "example" not in normalise(scrub_emails(text))


@pytest.mark.parametrize("text", [
    "Seen at home @ 10.30; the cost was 3 @ 5.50 a week.",
    "The daughter (at) the meeting agreed; see the notes (dot) points.",
    "An @ sign alone, user@localhost, and @handle are not addresses.",
])
def test_what_only_looks_like_part_of_an_email_stays(scrub: Callable[[str], str],
                                                     text: str) -> None:
    assert scrub(text) == text
    assert scrub_emails(text) == text


def test_scrubbing_emails_alone_keeps_names_and_ids() -> None:
    text = "Mrs Patel (W85396) wrote from patel.family@example.org."
    assert scrub_emails(text) == "Mrs Patel (W85396) wrote from (removed)."


@pytest.mark.parametrize("nobody", ["Vacant", "VACANT POST", "TBC", "(none)", "N/A",
                                    "Unknown", "Interim", "to be confirmed"])
def test_what_a_staff_list_holds_where_nobody_is_named_is_not_a_name(nobody: str) -> None:
    scrub = scrubber([], names=[nobody, "Ophelia Quarrington", "Interim: Tobias Vane"])
    text = "The flat was vacant, the outcome unknown and the cost tbc; an interim plan."
    assert scrub(text) == text
    assert scrub("Quarrington and Vane agreed.") == "(removed) and (removed) agreed."
    assert nobody not in identifiers_to_scrub([], [nobody], [])


@pytest.mark.parametrize(("text", "expected"), [
    ("Mrs Patel was not consulted.", "(removed) was not consulted."),
    ("Letter from Dr Okafor on file.", "Letter from (removed) on file."),
    ("Mr. Brown asked for a copy.", "(removed) asked for a copy."),
    ("Miss Hale was present.", "(removed) was present."),
    ("Phoned Mrs Aisha Patel on Monday.", "Phoned (removed) on Monday."),
    ("Dr J. R. Okafor wrote.", "(removed) wrote."),
    ("Agreed with Mx Taylor.", "Agreed with (removed)."),
])
def test_a_title_and_an_unknown_name_after_it_are_removed(
    scrub: Callable[[str], str], text: str, expected: str
) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "I will mark the plan as agreed in May.",
    "Will follow up next week. Mark the date.",
    "There was a grace period for the payment.",
    "The review is due in May and again in June.",
    "The Will and Lasting Power of Attorney were discussed.",
    "It may be that the mark scheme is unclear; there is hope.",
    "Appointment at the Baker Street clinic; equipment kit delivered.",
    "The Grace Court care home; in April and August.",
    "- Will do.\n- Mark it as read.",
    "Mark may be given; did not miss Hale Road.",
    "Team manager to review with the practitioner; Service Manager informed.",
])
def test_ordinary_words_that_are_name_parts_stay(scrub: Callable[[str], str],
                                                 text: str) -> None:
    assert scrub(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("Grace Will recorded it.", "(removed) recorded it."),
    ("Thanks to G. Will and M. May.", "Thanks to (removed) and (removed)."),
    ("Discussed with Will, Grace in supervision.", "Discussed with (removed) in supervision."),
    ("Seen by Will Grace today.", "Seen by (removed) today."),
    ("Ask Ms May and Mr Will.", "Ask (removed) and (removed)."),
])
def test_common_word_name_parts_go_in_a_name_context(scrub: Callable[[str], str], text: str,
                                                     expected: str) -> None:
    assert scrub(text) == expected


def test_names_in_scripts_without_case_are_removed() -> None:
    scrub = scrubber([], names=["李伟", "Wei Li"])
    assert scrub("Discussed with 李伟 today.") == "Discussed with (removed) today."


def test_the_rest_of_the_text_is_kept_exactly(scrub: Callable[[str], str]) -> None:
    text = "  Café\u00a0visit —  Niamh’s “view” recorded;\r\n\tnext: Ｑ3 ﬁle.  "
    assert scrub(text) == text.replace("Niamh", "(removed)")


def test_roles_are_not_names(scrub: Callable[[str], str]) -> None:
    listed = identifiers_to_scrub(IDS, NAMES, ROLES)
    assert "Team manager" not in listed and "Manager" not in listed
    assert scrub("Team manager agreed; A. Manager too.") == "Team manager agreed; (removed) too."


def test_the_scrub_list_has_ids_full_names_and_distinctive_parts_only() -> None:
    listed = identifiers_to_scrub(IDS, NAMES, ROLES)
    assert {"1234503", "Grace Will", "Mark May", "Niamh", "Adeyemi", "Jones", "Alvarez"} <= set(
        listed)
    assert not {"Will", "Grace", "Mark", "May", "Hope", "Baker", "Kit", "Li", "Ng"} & set(listed)
    assert listed == sorted(listed, key=len, reverse=True)


# --- the labelled corpus -------------------------------------------------------------------

#: [[...]] must be removed; {{...}} is an ordinary word that looks like a name and must stay;
#: every other word must stay too.
CORPUS = [
    "Spoke to [[Ms Jones]] about the carer's assessment.",
    "[[Jones]] recorded the person's wishes clearly.",
    "[[Ms Li]] and [[Mr Ng]] attended the review.",
    "[[Li]] agreed to follow up with the GP.",
    "The visit by [[Jose Alvarez]] on the ward was well recorded.",
    "Discussed with [[Jose\u0301 A\u0301lvarez]] before the panel.",
    "Reviewed by [[Zoe Kowalski]], who agreed the grade.",
    "[[Ni\u200bamh]] completed the assessment on time.",
    "See [[H1-006]] for the earlier audit of this family.",
    "Same family as [[2026-27-C3-004]]; consider them together.",
    "Reference [[2026-27 C3-017]] was redrawn after the move.",
    "The client [[ID1234503]] was not contacted before the review.",
    "[[W85396]]'s caseload is high this quarter.",
    "[[Mrs Patel]] (daughter) was not consulted about the move.",
    "Letter from [[Dr Okafor]] on file, not summarised.",
    "[[Mr. Brown]] asked for a copy of the plan.",
    "[[Miss Hale]] was present at the best interests meeting.",
    "[[Grace Will]] recorded the eligibility outcomes {{well}}.",
    "Good analysis of risk by [[Mark May]].",
    "[[G. Will]] and [[M. May]] co-worked the case.",
    "Discussed with [[Will, Grace]] in supervision.",
    "[[Niamh Adeyemi]]'s recording is thorough and person-centred.",
    "[[Adeyemi]] did not record the outcome of the carer's assessment.",
    "Thanks to [[Samir O’Connell]] for the joint visit.",
    "[[O'Connell]] to review the support plan.",
    "Ask [[Ms Smith-Jones]] to share the plan with the family.",
    "[[Priya]] {{will}} follow up with the occupational therapist.",
    "Worker [[W85396]] and person [[394438]] are linked.",
    "Record [[2000008]] is the assessment step.",
    "Case held by the [[Hospital Discharge Team]] until discharge.",
    "[[Dr J. R. Okafor]] wrote to the GP about capacity.",
    "Phoned [[Mrs Aisha Patel]] on Monday to confirm.",
    "[[Wei Li]] {{will}} complete the review in {{May}}.",
    "[[Thomas Ng]]'s notes were clear and timely.",
    "The plan was agreed with [[Mx Taylor]] and the advocate.",
    "[[Ruth Okonjo]] moderated the audit.",
    "Helpful feedback from [[Okonjo]] on the rationale.",
    "The equipment {{kit}} was delivered by [[Mensah]].",
    "[[Ms June Parry]] chaired the meeting in {{June}}.",
    "[[Daniel]] saw the person at home twice.",
    "[[Hope Baker]] chaired; there is {{hope}} of progress.",
    "Review with [[Ms Baker]] next week.",
    "Signed: [[NIAMH ADEYEMI]]",
    "Spoke to [[niamh]] on the phone.",
    "The [[Smith-Jones]] family were involved throughout.",
    "[[Mr Will]] to follow up with the family.",
    "Seen by [[Will Grace]] (surname first) today.",
    "[[Zoë]] was the duty worker that day.",
    "Copied to [[Mrs Patel]], [[Dr Okafor]] and [[Miss Hale]].",
    "[[Kowalski]] recorded the person's own words.",
    # Ordinary words that are also names: all must stay.
    "I {{will}} {{mark}} the plan as agreed in {{May}}.",
    "{{Will}} follow up next week.",
    "{{Mark}} the date of the next review.",
    "There was a {{grace}} period for the payment.",
    "The review is due in {{May}} and again in {{June}}.",
    "The person has {{hope}} and a strong {{will}} to stay at home.",
    "The {{Will}} and Lasting Power of Attorney were discussed.",
    "Good {{mark}} for recording; {{Good}} overall.",
    "In {{May}} the carer {{will}} visit daily.",
    "Appointment at the {{Baker}} Street clinic.",
    "The {{Grace}} Court care home was contacted.",
    "{{June}} was a difficult month for the family.",
    "Team manager to review the assessment with the practitioner.",
    "Carer's views recorded in {{April}} and {{August}}.",
    "It {{may}} be that the {{mark}} scheme is unclear.",
    "The score was 12 out of 20 on 3 measures in 2026-27.",
    "{{Will}} you please {{mark}} this as done?",
    "A {{rose}} garden and {{ivy}} on the walls: the person enjoys them.",
    "{{Frank}} and open discussion; a {{grant}} was applied for.",
    "The {{young}} carer has a {{little}} support from the {{king}}'s trust.",
    # Email addresses, known or not, however they are written.
    "Copy the plan to [[n.adeyemi@example.org]] and the GP.",
    "The daughter asked for replies to [[dana.mills [at] example [dot] net]] only.",
    "The cost was 3 @ 5.50 a week; the flat was vacant until the move.",
    "The Head of Service and the Team Manager agreed the plan.",
]

_MARK = re.compile(r"\[\[(.+?)\]\]|\{\{(.+?)\}\}")


def parse(labelled: str) -> tuple[str, list[tuple[int, int]], list[tuple[int, int]]]:
    """The plain text, the spans that must go, and the name-like words that must stay."""
    text, remove, keep = "", [], []
    last = 0
    for m in _MARK.finditer(labelled):
        text += labelled[last:m.start()]
        inner = m[1] or m[2]
        (remove if m[1] else keep).append((len(text), len(text) + len(inner)))
        text += inner
        last = m.end()
    return text + labelled[last:], remove, keep


def measure(scrub: Scrubber) -> dict[str, float]:
    must, caught, words, lost, namelike, namelike_lost = 0, 0, 0, 0, 0, 0
    for labelled in CORPUS:
        text, remove, keep = parse(labelled)
        removed = set()
        for start, end in scrub.spans(text):
            removed.update(range(start, end))
        for start, end in remove:
            must += 1
            caught += all(i in removed for i in range(start, end))
        for m in re.finditer(r"\w+", text):
            if any(s <= m.start() < e for s, e in remove):
                continue
            words += 1
            lost += any(i in removed for i in range(m.start(), m.end()))
        for start, end in keep:
            namelike += 1
            namelike_lost += any(i in removed for i in range(start, end))
    return {"spans": must, "recall": caught / must, "ordinary words": words,
            "over-scrub": lost / words, "name-like words": namelike,
            "name-like over-scrub": namelike_lost / namelike}


def test_corpus_recall_is_complete_and_nothing_ordinary_is_removed(
    scrub: Scrubber, record_property: Callable[[str, object], None]
) -> None:
    with_spans = [s for s in CORPUS if "[[" in s]
    assert len(with_spans) >= 40
    figures = measure(scrub)
    for name, value in figures.items():
        record_property(name, value)
    print(f"\nscrubbing corpus: {figures['spans']} spans to remove in {len(with_spans)}"
          f" sentences, recall {figures['recall']:.1%}; {figures['ordinary words']} ordinary"
          f" words ({figures['name-like words']} name-like), over-scrub"
          f" {figures['over-scrub']:.1%} (name-like {figures['name-like over-scrub']:.1%})")
    misses = []
    for labelled in CORPUS:
        text, remove, _ = parse(labelled)
        out = scrub(text)
        expected = text
        for start, end in reversed(remove):
            expected = expected[:start] + "(removed)" + expected[end:]
        if out != re.sub(r"\(removed\)(\s+\(removed\))+", "(removed)", expected):
            misses.append((text, out))
    assert figures["recall"] == 1.0
    assert figures["over-scrub"] == 0.0 and figures["name-like over-scrub"] == 0.0
    assert misses == []


def _staff_list() -> tuple[set[str], set[str]]:
    """The example staff list's names (workers, line managers, Service Managers), a line
    manager not named anywhere else, and placeholders where nobody is named; and its worker
    ids, teams and email addresses."""
    with (EXAMPLES / "staff.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = {r[c] for r in rows for c in ("Name", "Line Manager", "Service Manager")}
    ids = {r[c] for r in rows for c in ("Worker ID", "Team", "Email", "Line Manager Email",
                                         "Service Manager Email")}
    return names | {"Ophelia Quarrington", "Vacant", "TBC"}, ids - {""}


def test_corpus_with_a_whole_staff_list_keeps_recall_complete_and_removes_nothing_ordinary(
    record_property: Callable[[str, object], None]
) -> None:
    """The staff list brings hundreds of names, and the Service Managers' workbooks more:
    none of their parts may take ordinary words out of the corpus."""
    names, ids = _staff_list()
    auditors = {"Ignatius Pellegrino", "Bryony Fairweather", "Kwame Halloran"}
    scrub = scrubber([*IDS, *ids], names=[*NAMES, *names, *auditors], roles=ROLES,
                     cycles=CYCLES)
    figures = measure(scrub)
    for name, value in figures.items():
        record_property(f"with the staff list: {name}", value)
    print(f"\nwith the staff list ({len(names)} names, {len(ids)} ids, teams and emails):"
          f" recall {figures['recall']:.1%}, over-scrub {figures['over-scrub']:.1%}"
          f" (name-like {figures['name-like over-scrub']:.1%})")
    assert len(names) > 300
    assert figures["recall"] == 1.0
    assert figures["over-scrub"] == 0.0 and figures["name-like over-scrub"] == 0.0
    assert scrub("Ophelia Quarrington and Pellegrino, Ignatius met; Quarrington agreed.") == (
        "(removed) and (removed) met; (removed) agreed.")


# --- property: random names are always removed ---------------------------------------------

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["an", "el", "or", "ish"]
TEMPLATES = [
    "Spoke to {first} {last} about the plan.",
    "{first} recorded the outcome well.",
    "Ms {last} agreed the support plan.",
    "Discussed with {last}, {first} in supervision.",
    "{first} {last}'s assessment is clear.",
    "The carer and {first} met on Tuesday.",
    "Reviewed by {first_upper} {last_upper}.",
    "Copied to {last} and the GP.",
    "- {first} to follow up\n- family informed",
    "Good practice: {first} {last} (worker) listened.",
]
_TEMPLATE_WORDS = {w.casefold() for t in TEMPLATES for w in re.findall(r"[a-z]+", t, re.I)}
#: Words a name field may hold that are not names ("(none)"), and titles.
_NOT_NAMES = {t.casefold() for t in TITLES} | {"none"}


def _name_part() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(_SYLLABLES), min_size=2, max_size=4).map(
        lambda s: "".join(s).capitalize())


def _disguise(word: str, how: str, where: int) -> str:
    i = 1 + where % (len(word) - 1)
    if how == "zero-width":
        return word[:i] + "\u200b" + word[i:]
    if how == "accent":
        vowel = next((j for j, c in enumerate(word) if c in "aeiou"), None)
        return word if vowel is None else word[:vowel + 1] + "\u0301" + word[vowel + 1:]
    if how == "lower":
        return word.lower()
    return word


@settings(max_examples=300, deadline=None)
@given(first=_name_part(), last=_name_part(), template=st.sampled_from(TEMPLATES),
       how=st.sampled_from(["plain", "zero-width", "accent", "lower"]),
       where=st.integers(0, 10), others=st.lists(
           st.tuples(_name_part(), _name_part()).map(" ".join), max_size=3))
def test_every_occurrence_of_a_known_name_is_removed(
    first: str, last: str, template: str, how: str, where: int, others: list[str]
) -> None:
    for part in (first, last):
        assume(part.casefold() not in COMMON_WORDS | _TEMPLATE_WORDS | _NOT_NAMES)
    scrub = scrubber(IDS, names=[f"{first} {last}", *others], roles=ROLES, cycles=CYCLES)
    text = template.format(
        first=_disguise(first, how, where), last=_disguise(last, how, where + 3),
        first_upper=first.upper(), last_upper=last.upper())
    out = normalise(scrub(text)).casefold()
    for part in (first, last):
        assert not re.search(rf"(?<![^\W\d_]){re.escape(part.casefold())}(?![^\W\d_])", out), (
            text, out)
    assert "(removed)" in out


# --- dates and k-anonymity -----------------------------------------------------------------


@pytest.mark.parametrize(("value", "month"), [
    ("2026-09-14", "2026-09"), ("2026-11-25T22:59:18+00:00", "2026-11"), ("14/09/2026", "2026-09"),
    ("2026-09", "2026-09"), ("", None), ("soon", None), ("2026-13", None),
])
def test_month_of(value: str, month: str | None) -> None:
    assert month_of(value) == month


@pytest.mark.parametrize(("text", "expected"), [
    ("Visited on 12/09/2026 and 2026-09-30.", "Visited on 2026-09 and 2026-09."),
    ("Seen 3rd October 2026, then October 9, 2026.", "Seen 2026-10, then 2026-10."),
    ("Next visit 12 Sept.", "Next visit September."),
    ("Seen 12 Sept. 2026 and 1 May.", "Seen 2026-09 and May."),
    ("Received 2026-11-25T22:59:18+00:00.", "Received 2026-11."),
    ("Version 1.2.26; 2026-27 C3; 31/02/2026; score 12/20.",
     "Version 1.2.26; 2026-27 C3; 31/02/2026; score 12/20."),
])
def test_exact_dates_in_free_text_become_months(text: str, expected: str) -> None:
    assert coarsen_dates_in_text(text) == expected


def _covers(period: str, month: str | None) -> bool:
    if period == SUPPRESSED:
        return True
    if month is None:
        return period == "(no date)"
    first, _, last = period.partition(" to ")
    return first <= month <= (last or first)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["Mid", "South", "West"]),
                               st.sampled_from(["review", "assessment"]),
                               st.one_of(st.none(), st.integers(1, 12).map(
                                   lambda m: f"2026-{m:02d}"))), max_size=80),
       k=st.integers(1, 8))
def test_every_group_has_k_rows_or_is_suppressed(
    rows: list[tuple[str, str, str | None]], k: int
) -> None:
    keys = [(q, t) for q, t, _ in rows]
    months = [m for _, _, m in rows]
    result = k_anonymous_periods(keys, months, k)
    groups = Counter(zip(keys, result.periods, strict=True))
    assert all(n >= k for (_, period), n in groups.items() if period != SUPPRESSED)
    assert all(_covers(p, m) for p, m in zip(result.periods, months, strict=True))
    dated = Counter(key for key, m in zip(keys, months, strict=True) if m is not None)
    undated = Counter(key for key, m in zip(keys, months, strict=True) if m is None)
    for key, month, period in zip(keys, months, result.periods, strict=True):
        if period == SUPPRESSED:  # only what could never make k
            assert (undated[key] if month is None else dated[key]) < k
    per_key: dict[tuple[str, str], set[str]] = {}
    for key, period in zip(keys, result.periods, strict=True):
        if " to " in period or period[:4].isdigit():
            per_key.setdefault(key, set()).add(period)
    for periods in per_key.values():  # a key's ranges do not overlap
        bounds = sorted((p.partition(" to ")[0], p.partition(" to ")[2] or p) for p in periods)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(bounds))
    no_date = result.periods.count("(no date)")
    assert result.months + result.ranges + result.suppressed + no_date == len(rows)
    assert result.achieved is None or result.achieved >= k


def test_big_months_stay_months_and_small_ones_join_the_next() -> None:
    keys = [("Mid",)] * 12 + [("South",)] * 3
    months = ["2026-09"] * 6 + ["2026-10"] * 2 + ["2026-11"] * 4 + ["2026-09"] * 3
    result = k_anonymous_periods(keys, months, 5)
    assert result.periods[:6] == ("2026-09",) * 6
    assert result.periods[6:12] == ("2026-10 to 2026-11",) * 6
    assert result.periods[12:] == (SUPPRESSED,) * 3
    assert (result.months, result.ranges, result.suppressed, result.achieved) == (6, 6, 3, 6)
