"""A case export's columns normalised whole, and which of its rows are usable and why not.

Speed matters (exports run to a million rows), so a column is never a Python object per
cell: each is reduced to its distinct values in Arrow, which alone go through the rules in
``values``, and a column of values already in normal form (record ids) costs one regular
expression (see "normalisation" below). Every row is then checked in the order of
``UNUSABLE_REASONS`` and listed under the first it fails: none is dropped without being
counted.

An export may also carry the practitioner's and the Service Manager's email addresses
(``EXPORT_EMAIL_FIELDS``): read only when their columns are there, each checked for form
(``email-validator``, never looked up). A value that is not an address costs the row only
that value, never the case: the row is kept without it and listed in the warnings.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from qaudit.config import EXPORT_EMAIL_FIELDS, Settings
from qaudit.values import normalise_id, normalise_label, parse_date

_TOTAL_WORDS = ("total", "grand total", "count", "sum")

# Unusable-row reasons, in the order they are checked: a row is listed under the first.
BLANK = "blank row"
TOTAL = "total or summary row"
NO_RECORD = "missing record id"
NO_PERSON = "missing person id"
NO_DATE = "missing completed date"
BAD_DATE = "completed date not understood"
BAD_TYPE = "work type is not an audit type"
BAD_QUADRANT = "quadrant not known"
NO_WORKER = "missing worker id"
NO_MANAGER = "missing service manager"
DUPLICATE = "duplicate record id"
UNUSABLE_REASONS = (
    BLANK, TOTAL, NO_RECORD, NO_PERSON, NO_DATE, BAD_DATE, BAD_TYPE, BAD_QUADRANT,
    NO_WORKER, NO_MANAGER, DUPLICATE,
)


# --- normalisation -------------------------------------------------------------------
#
# Every column is normalised whole. Exports repeat values heavily (a few hundred workers,
# teams and dates), so each column is first reduced to its distinct values (a hash pass in
# Arrow) and the rules in ``values`` run once per distinct value, not once per cell. Record
# ids are nearly all distinct: a distinct value already in its normal form (most ids, as
# written or as fastexcel renders a whole number) is kept by one regular expression over
# them all, and only the others go through Python.

_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATETIME_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
)
_FIRST_DAY = date(1900, 1, 1)  # serial 1: earlier dates are python-calamine's times of day
# Every character str.split() splits on (those str.isspace() accepts), for Arrow's RE2.
_SPACES = (
    r"\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
# A value normalise_id might change, or cell_value read as other than text; any other value
# is its own normal form.
_NOT_PLAIN = rf"[{_SPACES}]|\.|^-0$|^(?:true|false)$"
# A value that might start with one of _TOTAL_WORDS, in any case, once stripped.
_MAYBE_TOTAL = rf"^[{_SPACES}]*[CcGgSsTt]"


def _float_text(number: float) -> str:
    """A number as fastexcel writes it: nine decimals at most, trailing zeros dropped."""
    return f"{number:.9f}".rstrip("0").rstrip(".")


def _calamine_time(m: re.Match[str]) -> date | datetime | dt_time:
    """The date, date and time, or time of day python-calamine gives for a rendered date."""
    day = date(int(m[1]), int(m[2]), int(m[3]))
    clock = dt_time(int(m[4]), int(m[5]), int(m[6]), int((m[7] or "").ljust(6, "0")[:6]))
    if day < _FIRST_DAY:  # a serial below 1
        return clock
    return day if clock == dt_time() else datetime.combine(day, clock)


def cell_value(text: str) -> Any:
    """The value python-calamine gives for a cell fastexcel read as ``text``.

    fastexcel writes every cell as text: a number with at most nine decimals and no trailing
    zeros, a date as "YYYY-MM-DD HH:MM:SS[.fff]", a yes/no as "true" or "false". Read back
    into the float, date, datetime, time or bool they were, every rule in ``values`` sees the
    cell as it always has (numbers as ids or serial dates; "123456" and 123456 one id).

    Where the two readers can differ: a text cell that reads exactly like such a rendering
    is taken as what it looks like ("true", "2026-09-05 00:00:00", "20260905" in a date
    column); a number with more than nine decimals arrives rounded to nine; a duration
    ([h]:mm) is read as the date and time it would show as a date. None is in a case export.
    """
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER_TEXT.fullmatch(text):
        number = float(text)
        # A run of digits no float writes that way (an id typed as text) stays text.
        return number if _float_text(number) == text else text
    if m := _DATETIME_TEXT.fullmatch(text):
        with contextlib.suppress(ValueError):  # not a date after all: text
            return _calamine_time(m)
    return text


def _read(text: str, rendered: bool) -> Any:
    return cell_value(text) if rendered else text


def _distinct(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The column's distinct values, and each row's index into them (null where empty)."""
    encoded = pc.dictionary_encode(column)
    return encoded.dictionary, encoded.indices


def _spread(per_value: pa.Array, indices: pa.Array, fill: Any) -> pa.Array:
    """Each row's value from its distinct value's; ``fill`` for an empty cell."""
    return pc.fill_null(pc.take(per_value, indices), fill)


def _flags(per_value: list[bool], indices: pa.Array) -> np.ndarray:
    """Each row's flag from its distinct value's; False for an empty cell."""
    flags = np.array([*per_value, False])
    picked: np.ndarray = flags[pc.fill_null(indices, len(per_value)).to_numpy()]
    return picked


def _matching(column: pa.Array, pattern: str) -> pa.Array:
    """Which cells match ``pattern`` (an empty cell does not)."""
    return pc.fill_null(pc.match_substring_regex(column, pattern), False)


def _texts(column: pa.Array, rendered: bool, varied: bool = False) -> pa.Array:
    """Every cell as ``normalise_id`` spells it ('' where empty): ids, names, teams alike.

    The distinct values not already in normal form go through Python, once each. A
    ``varied`` column (record or person ids: nearly every cell different) is first checked
    whole, so that when all of it is in normal form it costs one regular expression, not a
    hash of every cell.
    """
    if varied and not pc.any(_matching(column, _NOT_PLAIN)).as_py():
        return pc.fill_null(column, "")
    values, indices = _distinct(column)
    todo = pc.match_substring_regex(values, _NOT_PLAIN)
    if pc.any(todo).as_py():
        fixed = [normalise_id(_read(text, rendered))
                 for text in pc.filter(values, todo).to_pylist()]
        values = pc.replace_with_mask(values, todo, pa.array(fixed, pa.string()))
    return _spread(values, indices, "")


def _keys(texts: pa.Array, lookup: dict[str, str]) -> pa.Array:
    """The key each normalised label stands for in ``lookup``; '' where none."""
    values, indices = _distinct(texts)
    keys = [lookup.get(normalise_label(text), "") for text in values.to_pylist()]
    return _spread(pa.array(keys, pa.string()), indices, "")


def _dates(column: pa.Array, rendered: bool) -> tuple[np.ndarray, pa.Array]:
    """Each cell's date (NaT where it has none) and its text ('' where empty)."""
    values, indices = _distinct(column)
    cells = [_read(text, rendered) for text in values.to_pylist()]
    days = _spread(pa.array([parse_date(c) for c in cells], pa.date32()), indices, None)
    texts = _spread(pa.array([normalise_id(c) for c in cells], pa.string()), indices, "")
    return days.to_numpy(zero_copy_only=False), texts


def _is_total(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(_TOTAL_WORDS)


def _totals(column: pa.Array, rendered: bool) -> np.ndarray:
    """Whether each cell reads like a total ("Total", "Grand total", "Count: 12")."""
    maybe = _matching(column, _MAYBE_TOTAL)
    totals = np.zeros(len(column), dtype=bool)
    if pc.any(maybe).as_py():
        values, indices = _distinct(column.filter(maybe))
        flags = [_is_total(_read(text, rendered)) for text in values.to_pylist()]
        totals[np.flatnonzero(maybe.to_numpy(zero_copy_only=False))] = _flags(flags, indices)
    return totals


def _empty(texts: pa.Array) -> np.ndarray:
    return np.asarray(pc.equal(texts, "").to_numpy(zero_copy_only=False), dtype=bool)


_ID_FIELDS = ("record_id", "person_id", "worker_id")
_TEXT_FIELDS = ("worker_name", "team", "service_manager", "audit_type", "quadrant")
_VARIED_FIELDS = ("record_id", "person_id")  # nearly every cell a different value


@dataclass
class _Normal:
    """Every row's fields in normal form: what the checks and both tables are made of."""

    text: dict[str, pa.Array]  # each id and text field as normalise_id spells it
    dates: np.ndarray  # datetime64[D]; NaT where there is no date
    date_text: pa.Array  # the completed date as written, for the unusable rows
    audit_types: pa.Array  # the audit type key of the work type; '' if it is none
    quadrants: pa.Array  # the quadrant key; '' if none
    totals: np.ndarray  # the record id cell reads like a total


def normal(raw: dict[str, pa.Array], settings: Settings, rendered: bool) -> _Normal:
    """Every field of every row in normal form, a column at a time."""
    text = {
        f: _texts(raw[f], rendered, varied=f in _VARIED_FIELDS)
        for f in (*_ID_FIELDS, *_TEXT_FIELDS)
    }
    dates, date_text = _dates(raw["completed_date"], rendered)
    return _Normal(
        text=text,
        dates=dates,
        date_text=date_text,
        audit_types=_keys(text["audit_type"], settings.audit_type_lookup()),
        quadrants=_keys(text["quadrant"], settings.quadrant_lookup()),
        totals=_totals(raw["record_id"], rendered),
    )


# What explains an unusable row in its "detail": nothing, or one of these.
_DATE_TEXT, _WORK_TYPE, _QUADRANT_TEXT, _FIRST_SEEN = 1, 2, 3, 4


@dataclass
class _Verdicts:
    """Why each row cannot be used (an index into UNUSABLE_REASONS; -1: usable)."""

    reason: np.ndarray  # int8
    detail: np.ndarray  # int8: which text explains it (_DATE_TEXT, ...), 0 for none
    first_seen: np.ndarray  # a duplicate's first row with its record id; 0 for the rest

    @property
    def usable(self) -> np.ndarray:
        return self.reason < 0


def _duplicates(
    record_ids: pa.Array, candidates: np.ndarray, source_row: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows whose record id an earlier candidate has, and that earlier row."""
    rows = np.flatnonzero(candidates)
    codes = pc.dictionary_encode(record_ids.take(pa.array(rows))).indices.to_numpy()
    first = np.unique(codes, return_index=True)[1]  # codes count up from 0 as first seen
    later = np.ones(len(rows), dtype=bool)
    later[first] = False
    duplicate = np.zeros(len(candidates), dtype=bool)
    duplicate[rows[later]] = True
    first_seen = np.zeros(len(candidates), dtype=np.int64)
    first_seen[rows[later]] = source_row[rows[first]][codes[later]]
    return duplicate, first_seen


def verdicts(normal: _Normal, source_row: np.ndarray) -> _Verdicts:
    """Each row checked in the order of UNUSABLE_REASONS: it is listed under the first."""
    n = len(normal.dates)
    reason = np.full(n, -1, np.int8)
    detail = np.zeros(n, np.int8)

    def mark(mask: np.ndarray, why: str, what: int = 0) -> None:
        fresh = mask & (reason < 0)
        reason[fresh] = UNUSABLE_REASONS.index(why)
        detail[fresh] = what

    empty = {f: _empty(normal.text[f]) for f in (*_ID_FIELDS, *_TEXT_FIELDS)}
    no_date = np.isnat(normal.dates)
    blank = np.logical_and.reduce([*empty.values(), no_date])
    mark(blank, BLANK)
    mark(normal.totals | (empty["record_id"] & empty["person_id"] & ~blank), TOTAL)
    mark(empty["record_id"], NO_RECORD)
    mark(empty["person_id"], NO_PERSON)
    mark(_empty(normal.date_text), NO_DATE)
    mark(no_date, BAD_DATE, _DATE_TEXT)
    mark(_empty(normal.audit_types), BAD_TYPE, _WORK_TYPE)
    mark(_empty(normal.quadrants), BAD_QUADRANT, _QUADRANT_TEXT)
    mark(empty["worker_id"], NO_WORKER)
    mark(empty["service_manager"], NO_MANAGER)
    duplicate, first_seen = _duplicates(normal.text["record_id"], reason < 0, source_row)
    mark(duplicate, DUPLICATE, _FIRST_SEEN)
    return _Verdicts(reason, detail, first_seen)


def _column_text(values: pa.Array, rows: pa.Array) -> pd.Series:
    """The given rows of a text column, as pandas' (Arrow-backed) str."""
    return pd.Series(values.take(rows), dtype="str")


def cases(
    normal: _Normal, usable: np.ndarray, source_row: np.ndarray, emails: dict[str, pa.Array]
) -> pd.DataFrame:
    """The usable rows, one column per canonical field, each as the rest of qaudit reads it."""
    rows = pa.array(np.flatnonzero(usable))
    text = normal.text
    return pd.DataFrame(
        {
            "record_id": _column_text(text["record_id"], rows),
            "person_id": _column_text(text["person_id"], rows),
            "audit_type": _column_text(normal.audit_types, rows),
            "completed_date": normal.dates[usable],
            "worker_id": _column_text(text["worker_id"], rows),
            "worker_name": _column_text(text["worker_name"], rows),
            "team": _column_text(text["team"], rows),
            "service_manager": _column_text(text["service_manager"], rows),
            "quadrant": _column_text(normal.quadrants, rows),
            "work_type": _column_text(text["audit_type"], rows),  # as the case record calls it
            "source_row": source_row[usable],
            # '' where the export has no such column: one value, not a column of them
            **{f: pd.Series(emails[f], dtype="str") if f in emails else ""
               for f in EXPORT_EMAIL_FIELDS},
        }
    )


def _details(
    normal: _Normal, verdicts: _Verdicts, listed: np.ndarray, rows: pa.Array
) -> pa.Array:
    """What explains each listed row: the date or label as written, or where its record id
    was first seen; '' for the rest."""
    source = verdicts.detail[listed]
    detail = pa.nulls(len(rows), pa.string())
    for what, texts in ((_DATE_TEXT, normal.date_text), (_WORK_TYPE, normal.text["audit_type"]),
                        (_QUADRANT_TEXT, normal.text["quadrant"])):
        detail = pc.if_else(pa.array(source == what), texts.take(rows), detail)
    duplicate = source == _FIRST_SEEN
    seen = [f"first seen on row {row}" for row in verdicts.first_seen[listed][duplicate]]
    detail = pc.replace_with_mask(detail, pa.array(duplicate), pa.array(seen, pa.string()))
    return pc.fill_null(detail, "")


def unusable(normal: _Normal, verdicts: _Verdicts, source_row: np.ndarray) -> pd.DataFrame:
    """Every unusable row but the blank ones, with its reason and what explains it."""
    listed = ~verdicts.usable & (verdicts.reason != UNUSABLE_REASONS.index(BLANK))
    rows = pa.array(np.flatnonzero(listed))
    reasons = pa.array(UNUSABLE_REASONS, pa.string())
    text = normal.text
    return pd.DataFrame(
        {
            "source_row": source_row[listed],
            "reason": _column_text(reasons, pa.array(verdicts.reason[listed])),
            "detail": pd.Series(_details(normal, verdicts, listed, rows), dtype="str"),
            "record_id": _column_text(text["record_id"], rows),
            "person_id": _column_text(text["person_id"], rows),
            "audit_type": _column_text(text["audit_type"], rows),
            "completed_date": _column_text(normal.date_text, rows),
            "worker_id": _column_text(text["worker_id"], rows),
            "team": _column_text(text["team"], rows),
            "quadrant": _column_text(text["quadrant"], rows),
        }
    )


# --- email columns -------------------------------------------------------------------

_MAX_EMAIL = 320  # longer than any address can be (RFC 5321 allows 254): not parsed
# One @-sign, a dot after it, no white space: what is worth handing to email-validator.
# A line break (a header injection) or a formula fails here, before any parser sees it.
_EMAIL_SHAPE = re.compile(r"[^@\s=+\-][^@\s]*@[^@\s]+\.[^@\s]+")
_EMAIL_LABELS = {"worker_email": "worker email", "service_manager_email": "Service Manager email"}
_EXAMPLES = 3  # rows named in a warning; the rest are counted
_SHOWN = 60  # characters of a value shown in a warning


def _email(value: Any) -> str | None:
    """The address a cell holds, in its normal form; '' for an empty cell; None for a value
    that is not one address qaudit could send to (checked for form only, never looked up;
    a value starting like a spreadsheet formula is not taken as an address)."""
    text = value.strip() if isinstance(value, str) else normalise_id(value)
    if not text:
        return ""
    if len(text) > _MAX_EMAIL or not _EMAIL_SHAPE.fullmatch(text):
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return str(checked.ascii_email or checked.normalized)


def _shown(value: Any) -> str:
    """A cell's value for a warning: bounded, and every control character written out."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")


def emails(
    raw: dict[str, pa.Array], usable: np.ndarray, source_row: np.ndarray, rendered: bool
) -> tuple[dict[str, pa.Array], list[str]]:
    """The usable rows' addresses of each email column the export has ('' where none), and a
    warning for each column some of whose values are not an address (left out, row kept)."""
    found: dict[str, pa.Array] = {}
    warnings: list[str] = []
    rows = source_row[usable]
    for name in EXPORT_EMAIL_FIELDS:
        if name not in raw:
            continue
        values, indices = _distinct(raw[name].filter(pa.array(usable)))
        cells = [_read(text, rendered) for text in values.to_pylist()]
        checked = [_email(cell) for cell in cells]
        found[name] = _spread(
            pa.array(["" if c is None else c for c in checked], pa.string()), indices, ""
        )
        bad = _flags([c is None for c in checked], indices)
        if bad.any():
            where = np.flatnonzero(bad)
            which = pc.fill_null(indices, 0).to_numpy()
            named = "; ".join(
                f"row {rows[i]}: {_shown(cells[int(which[i])])}" for i in where[:_EXAMPLES]
            )
            more = f"; and {len(where) - _EXAMPLES:,} more" if len(where) > _EXAMPLES else ""
            rows_give = "1 row gives" if len(where) == 1 else f"{len(where):,} rows give"
            warnings.append(
                f"{rows_give} a {_EMAIL_LABELS[name]} that is not an email address ({named}"
                f"{more}). Each such row is kept, and may be drawn, without it: messages"
                " about it need the staff list's address (`qaudit staff import`). Correct"
                " the export if that address is needed."
            )
    return found, warnings
