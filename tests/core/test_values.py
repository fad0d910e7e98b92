"""Normalising what people and case systems put in cells."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from qaudit.values import (
    HIDDEN_IN_LINE,
    HIDDEN_IN_TEXT,
    NotAnEmail,
    checked_email,
    in_domains,
    normalise_id,
    parse_date,
    same_email,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("05/04/2026", date(2026, 4, 5)),  # UK: 5 April, never 4 May
        ("5/4/2026", date(2026, 4, 5)),
        ("13/04/2026", date(2026, 4, 13)),
        ("01/12/2026", date(2026, 12, 1)),
        ("05/04/26", date(2026, 4, 5)),
        ("05-04-2026", date(2026, 4, 5)),
        ("05.04.2026", date(2026, 4, 5)),
        ("05/04/2026 14:22", date(2026, 4, 5)),
        ("05/04/2026 14:22:09", date(2026, 4, 5)),
        ("2026-04-05", date(2026, 4, 5)),
        ("2026-04-05T14:22:00", date(2026, 4, 5)),
        ("5 Apr 2026", date(2026, 4, 5)),
        ("5 April 2026", date(2026, 4, 5)),
        (" 05/04/2026 ", date(2026, 4, 5)),
        (datetime(2026, 4, 5, 9, 30), date(2026, 4, 5)),
        (date(2026, 4, 5), date(2026, 4, 5)),
        (46117.0, date(2026, 4, 5)),  # Excel serial
        (46117, date(2026, 4, 5)),
        ("46117", date(2026, 4, 5)),
        (20260405, date(2026, 4, 5)),
    ],
)
def test_dates_are_read_day_first(value: object, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["31/02/2026", "TBC", "", None, "13/13/2026", "2026-02-30",
                                   float("nan"), True, "04/05"])
def test_impossible_or_missing_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(
    "value", [123456, 123456.0, "123456", " 123456", "123456.0", "123456 ", "\t123456"]
)
def test_ids_have_one_spelling(value: object) -> None:
    assert normalise_id(value) == "123456"


def test_text_ids_keep_their_letters_and_fold_inner_spaces() -> None:
    assert normalise_id("W 10234") == "W 10234"
    assert normalise_id("W  10234 ") == "W 10234"
    assert normalise_id("AB12.5") == "AB12.5"
    assert normalise_id(None) == ""
    assert normalise_id(float("nan")) == ""


@pytest.mark.parametrize(("text", "stored"), [
    ("Jo.Bloggs@Example.ORG", "Jo.Bloggs@example.org"),
    ("  amara.kelly@example.org ", "amara.kelly@example.org"),
    ("a@bücher.de", "a@xn--bcher-kva.de"),
])
def test_an_email_address_has_one_stored_spelling(text: str, stored: str) -> None:
    assert checked_email(text) == stored


@pytest.mark.parametrize("text", [
    "zoë@example.org",  # a relay without SMTPUTF8 cannot carry it
    "jude@example.org\r\nBcc: evil@example.com", "jude\u202e@example.org",
    "jude@exa\u200bmple.org", "jude\U000e0041@example.org", "not an address", "a@b",
    "=HYPERLINK(\"http://x\",\"a@b.org\")",
])
def test_what_is_not_an_address_qaudit_can_send_to_is_refused(text: str) -> None:
    with pytest.raises(NotAnEmail):
        checked_email(text)


def test_hidden_characters_are_found_in_one_line_values_and_in_text() -> None:
    assert HIDDEN_IN_LINE.search("Jude\r\nBcc: x") and not HIDDEN_IN_TEXT.search("a\nb\tc")
    for hidden in ("\x1b[31m", "\u202e", "\u200b", "\ufeff", "\U000e0041", "\x85"):
        assert HIDDEN_IN_LINE.search(f"Jo{hidden}Smith"), repr(hidden)
    assert same_email("Jo@Example.org", "jo@example.ORG") and not same_email("", "")


def test_an_address_is_within_the_allowed_domains_or_a_subdomain_of_one() -> None:
    allowed = ["example.gov.uk", "nhs.net"]
    assert in_domains("jo@example.gov.uk", allowed) and in_domains("jo@mail.NHS.net", allowed)
    assert not in_domains("jo@gmial.com", allowed)
    assert not in_domains("jo@notexample.gov.uk", allowed)  # a lookalike, not a subdomain
    assert in_domains("jo@anywhere.org", [])
