"""Normalising what people and case systems put in cells."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from qaudit.values import normalise_id, parse_date


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
