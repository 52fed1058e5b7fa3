"""How each data source records people: named, composable corruptions of the truth.

Record linkage is only worth teaching if the records disagree the way real ones do: a surname
misspelt, a date of birth with day and month swapped, a newborn entered as "Baby", an address
from before the last move, an NHS number missing or mistyped. And they must disagree more often
for some people than for others, because linkage studies find ethnic-minority groups and people
in deprived areas linked less often, and analysts have to learn to look for that bias.

So every source (Cafcass, the family court, health, education, children looked after, deaths)
captures the same truth through its own list of corruptions. Each corruption is a small named
function; ``CORRUPTIONS`` holds them in the one order they are applied; every rate lives in
``params/capture.yaml`` per source, with group multipliers for ethnic-minority groups and the
most deprived quintile. The truth is never changed, and ``Captured.applied`` says which
corruptions hit which record, so graders can explain every disagreement.

Everything is vectorised: a corruption draws who it hits for all rows at once, then works on
those rows only (string edits on a character matrix, regular expressions once per rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import yaml

from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.errors import InputError
from synthetic_data.core.params import PARAMS_DIR, load_params
from synthetic_data.core.sampling import choose
from synthetic_data.world.names import nickname_of

FIELDS: tuple[str, ...] = ("forename", "surname", "sex", "date_of_birth", "nhs_number", "postcode")
TEXT_FIELDS: tuple[str, ...] = ("forename", "surname", "sex", "nhs_number", "postcode")
REQUIRED_COLUMNS: tuple[str, ...] = (
    "forename", "surname", "sex", "dob", "nhs_number", "postcode",
    "minority", "deprived", "age_days_at_record",
)
# Context columns: a missing one is treated as "never applies" (all None / NO_DATE).
CONTEXT_TEXT_COLUMNS: tuple[str, ...] = (
    "previous_postcode", "partner_surname", "household_forename", "twin_forename",
)
CONTEXT_DATE_COLUMNS: tuple[str, ...] = ("household_dob",)
GROUPS: tuple[str, ...] = ("minority", "deprived")

# UK QWERTY letter keys; each row sits this far right of the one above, so a key's neighbours
# are those in the same row one step away and those in the next row less than a key width away.
_KEY_ROWS: tuple[str, ...] = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_ROW_OFFSETS: tuple[float, ...] = (0.0, 0.25, 0.75)
_LOWER_A = ord("a")
_UPPER_A = ord("A")
_EARLIEST_BIRTH_YEAR = 1900  # a mistyped year before this is not a date anyone would accept


@dataclass
class Captured:
    """What a source holds: its records, and which corruptions made them differ from the truth."""

    records: pd.DataFrame  # one row per input row, same order (RangeIndex of positions)
    applied: pd.DataFrame  # long format: row (position in the input), corruption


@dataclass(frozen=True)
class _Settings:
    """The parts of capture.yaml that say how corruptions work, rather than how often."""

    baby_forename: str
    spelling_fields: Mapping[str, float]
    household_fields: Mapping[str, float]
    phonetic_rules: tuple[tuple[str, str], ...]


@dataclass
class _Record:
    """The values being corrupted (output fields), beside the truth they started from."""

    values: dict[str, np.ndarray]  # FIELDS; text as object arrays with None, dates int64
    truth: dict[str, np.ndarray]  # truth columns (dob, household_dob, age, groups, text fields)
    frame: pd.DataFrame  # the truth as given, for context text read only at the rows drawn
    settings: _Settings

    def context(self, column: str, rows: np.ndarray) -> np.ndarray:
        """A context text column at ``rows`` (object, None where missing or not supplied).

        Read only where a corruption was drawn: converting whole text columns to Python
        strings is the slowest step of a capture.
        """
        if column not in self.frame.columns:
            return np.full(rows.size, None, dtype=object)
        return _text(self.frame[column].iloc[rows])


@dataclass(frozen=True)
class Corruption:
    """A named corruption: the fields it may change, and the function that changes them.

    ``apply(record, rows, rng)`` receives the rows drawn at the source's rate, changes those it
    can apply to (a day/month swap needs a day of 12 or less, say) and returns them; rows it
    cannot apply to are left alone and not reported.
    """

    fields: tuple[str, ...]
    apply: Callable[[_Record, np.ndarray, np.random.Generator], np.ndarray]

    def __call__(self, record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(record, rows, rng)


# --- Small vectorised helpers ---


def _present(values: np.ndarray) -> np.ndarray:
    """True where an object array holds a value (not None)."""
    return np.not_equal(values, None)


def _text(column: pd.Series) -> np.ndarray:
    """A text column as a new object array with None for missing (pandas may hand NaN or pd.NA)."""
    if column.dtype != object:
        return column.to_numpy(dtype=object, na_value=None)
    values = column.to_numpy(dtype=object, copy=True)
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None
    return values


def _lengths(values: np.ndarray) -> np.ndarray:
    """String lengths, 0 for missing values."""
    out = np.zeros(values.shape[0], dtype=np.int64)
    present = _present(values)
    if present.any():
        out[present] = np.char.str_len(values[present].astype(str))
    return out


def _chars(values: np.ndarray) -> np.ndarray:
    """Strings (no None) as a (rows, width + 1) matrix of code points, NUL-padded on the right."""
    text = np.ascontiguousarray(values.astype(str))
    width = text.dtype.itemsize // 4
    chars = np.zeros((text.size, width + 1), dtype=np.uint32)
    if width:
        chars[:, :width] = text.view(np.uint32).reshape(text.size, width)
    return chars


def _strings(chars: np.ndarray) -> np.ndarray:
    """The inverse of ``_chars``: trailing NULs drop away."""
    chars = np.ascontiguousarray(chars, dtype=np.uint32)
    return chars.view(f"<U{chars.shape[1]}").reshape(-1).astype(object)


def _pick(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row, with probability proportional to ``weights``; -1 if all zero."""
    total = weights.sum(axis=1)
    cumulative = np.cumsum(weights, axis=1)
    target = rng.random(weights.shape[0]) * total
    pick = (cumulative <= target[:, None]).sum(axis=1)
    return np.where(total > 0, np.minimum(pick, weights.shape[1] - 1), -1)


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of int64 days since 1970-01-01."""
    dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _month_start(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of the first of each month (months may run past 12)."""
    months = (np.asarray(year, dtype=np.int64) - 1970) * 12 + np.asarray(month, dtype=np.int64) - 1
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of valid (year, month, day) triples."""
    return _month_start(year, month) + np.asarray(day, dtype=np.int64) - 1


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    return _month_start(year, month + 1) - _month_start(year, month)


@cache
def _keyboard_neighbours() -> tuple[np.ndarray, np.ndarray]:
    """For each letter a-z, its neighbouring letter keys (padded table) and how many it has."""
    position = {
        key: (row, column + _KEY_ROW_OFFSETS[row])
        for row, keys in enumerate(_KEY_ROWS)
        for column, key in enumerate(keys)
    }
    table = np.zeros((26, 8), dtype=np.uint32)
    counts = np.zeros(26, dtype=np.int64)
    for key, (row, x) in position.items():
        near = [
            other for other, (other_row, other_x) in position.items()
            if other != key and (
                (other_row == row and abs(other_x - x) == 1.0)
                or (abs(other_row - row) == 1 and abs(other_x - x) < 1.0)
            )
        ]
        index = ord(key) - _LOWER_A
        counts[index] = len(near)
        table[index, : len(near)] = [ord(other) for other in near]
    return table, counts


def _letter_case(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of lower-case and upper-case ASCII letters in a character matrix."""
    lower = (chars >= _LOWER_A) & (chars < _LOWER_A + 26)
    upper = (chars >= _UPPER_A) & (chars < _UPPER_A + 26)
    return lower, upper


# --- String edits on character matrices (one name per row) ---
# The first letter is never touched: whoever types a name rarely gets its initial wrong.


def _typo_strings(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Insert, delete, substitute or transpose one letter in each name (length 2 or more)."""
    chars = _chars(values)
    k, width = chars.shape
    length = np.char.str_len(values.astype(str)).astype(np.int64)
    op = rng.integers(0, 4, size=k)  # 0 substitute, 1 delete, 2 insert, 3 transpose
    u = rng.random(k)
    position = 1 + (u * (length - 1)).astype(np.int64)  # 1 .. length - 1
    insert_at = 1 + (u * length).astype(np.int64)  # 1 .. length
    swap_at = 1 + (u * np.maximum(length - 2, 1)).astype(np.int64)  # 1 .. length - 2
    rows = np.arange(k)
    can_swap = (length >= 3) & (
        chars[rows, np.minimum(swap_at, width - 1)]
        != chars[rows, np.minimum(swap_at + 1, width - 1)]
    )
    op = np.where((op == 3) & ~can_swap, 0, op)
    position = np.where(op == 2, insert_at, np.where(op == 3, swap_at, position))

    column = np.arange(width)[None, :]
    at = position[:, None]
    source = np.broadcast_to(column, (k, width)).copy()
    source = np.where((op == 1)[:, None] & (column >= at), column + 1, source)
    source = np.where((op == 2)[:, None] & (column > at), column - 1, source)
    source = np.where((op == 3)[:, None] & (column == at), column + 1, source)
    source = np.where((op == 3)[:, None] & (column == at + 1), column - 1, source)
    padded = np.concatenate([chars, np.zeros((k, 1), dtype=np.uint32)], axis=1)
    out = np.take_along_axis(padded, np.minimum(source, width), axis=1)

    # A new letter for substitutions (never the one it replaces) and insertions.
    current = chars[rows, np.minimum(position, width - 1)] - _LOWER_A
    shift = rng.integers(1, 26, size=k)
    letter = np.where(current < 26, (current + shift) % 26, shift) + _LOWER_A
    writes = (op == 0) | (op == 2)
    out[rows[writes], position[writes]] = letter[writes]
    return _strings(out)


def _keyboard_applicable(values: np.ndarray) -> np.ndarray:
    """Names with a letter after the first (the key that could be mis-hit)."""
    present = _present(values)
    out = np.zeros(values.shape[0], dtype=bool)
    if present.any():
        lower, upper = _letter_case(_chars(values[present])[:, 1:])
        out[present] = (lower | upper).any(axis=1)
    return out


def _keyboard_strings(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replace one letter after the first with a neighbouring key, keeping its case."""
    chars = _chars(values)
    k = chars.shape[0]
    lower, upper = _letter_case(chars)
    letters = lower | upper
    letters[:, 0] = False
    count = letters.sum(axis=1)
    nth = (rng.random(k) * count).astype(np.int64)
    position = (np.cumsum(letters, axis=1) <= nth[:, None]).sum(axis=1)
    rows = np.arange(k)
    old = chars[rows, position]
    was_upper = upper[rows, position]
    index = np.where(was_upper, old - _UPPER_A, old - _LOWER_A).astype(np.int64)
    table, counts = _keyboard_neighbours()
    new = table[index, (rng.random(k) * counts[index]).astype(np.int64)]
    chars[rows, position] = np.where(was_upper, new - _LOWER_A + _UPPER_A, new)
    return _strings(chars)


def _phonetic_matches(values: np.ndarray, rules: tuple[tuple[str, str], ...]) -> np.ndarray:
    """(rows, rules) matrix: which sound-alike rules match each name (tested once per name)."""
    codes, uniques = pd.factorize(values)
    matrix = np.zeros((values.shape[0], len(rules)), dtype=bool)
    if uniques.size == 0:
        return matrix
    compiled = [re.compile(pattern) for pattern, _ in rules]
    unique_matches = np.array(
        [[rule.search(name) is not None for rule in compiled] for name in uniques], dtype=bool
    ).reshape(uniques.size, len(rules))
    known = codes >= 0
    matrix[known] = unique_matches[codes[known]]
    return matrix


def _phonetic_strings(
    values: np.ndarray, rules: tuple[tuple[str, str], ...], rng: np.random.Generator
) -> np.ndarray:
    """Rewrite one sound-alike part of each name, by a rule chosen among those that match."""
    matches = _phonetic_matches(values, rules)
    rule = _pick(matches.astype(np.float64), rng)
    out = values.copy()
    for index, (pattern, replacement) in enumerate(rules):
        chosen = rule == index
        if chosen.any():
            names = pd.Series(values[chosen], dtype=object)
            out[chosen] = names.str.replace(pattern, replacement, n=1, regex=True).to_numpy(
                dtype=object)
    return out


# --- The corruptions. Each returns the rows it changed. ---


def _blank(field: str) -> Callable[[_Record, np.ndarray, np.random.Generator], np.ndarray]:
    """A corruption that leaves a recorded value blank."""

    def blank(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        values = record.values[field]
        if field == "date_of_birth":
            rows = rows[values[rows] != NO_DATE]
            values[rows] = NO_DATE
        else:
            rows = rows[_present(values[rows])]
            values[rows] = None
        return rows

    blank.__doc__ = f"Leave {field} blank, as a source that did not ask or was not told."
    return blank


def _baby_name(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A newborn not yet named is entered as "Baby <surname>" (the rate is zero past 28 days)."""
    forename = record.values["forename"]
    baby = record.settings.baby_forename
    rows = rows[_present(forename[rows]) & (forename[rows] != baby)]
    forename[rows] = baby
    return rows


def _copy_text(field: str, source: str, record: _Record, rows: np.ndarray) -> np.ndarray:
    """Overwrite a recorded text value with a context value where that differs; rows changed."""
    current = record.values[field][rows]
    other = record.context(source, rows)
    changed = _present(current) & _present(other) & (current != other)
    record.values[field][rows[changed]] = other[changed]
    return rows[changed]


def _twin_confusion(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A twin recorded under the co-twin's forename: same surname, date of birth and address."""
    return _copy_text("forename", "twin_forename", record, rows)


def _household_copy(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A household member's forename or date of birth entered on this person's record."""
    forename = record.values["forename"][rows]
    other_name = record.context("household_forename", rows)
    dob = record.values["date_of_birth"][rows]
    other_dob = record.truth["household_dob"][rows]
    can = {
        "forename": _present(forename) & _present(other_name) & (forename != other_name),
        "date_of_birth": (dob != NO_DATE) & (other_dob != NO_DATE) & (dob != other_dob),
    }
    fields = list(record.settings.household_fields)
    weights = np.column_stack([can[f] * record.settings.household_fields[f] for f in fields])
    which = _pick(weights.astype(np.float64), rng)
    other = {"forename": other_name, "date_of_birth": other_dob}
    for index, field in enumerate(fields):
        chosen = which == index
        record.values[field][rows[chosen]] = other[field][chosen]
    return rows[which >= 0]


def _surname_change(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A woman recorded under a current or former partner's surname."""
    rows = rows[record.truth["sex"][rows] == "F"]
    return _copy_text("surname", "partner_surname", record, rows)


def _name_swap(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Forename and surname entered the wrong way round."""
    forename, surname = record.values["forename"], record.values["surname"]
    first, last = forename[rows], surname[rows]
    rows = rows[_present(first) & _present(last) & (first != last)]
    forename[rows], surname[rows] = surname[rows], forename[rows].copy()
    return rows


def _nickname(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A forename recorded as its short form or nickname (William as Bill)."""
    forename = record.values["forename"]
    current = forename[rows]
    short = nickname_of(current, rng)
    changed = _present(current) & (short != current)
    forename[rows[changed]] = short[changed]
    return rows[changed]


def _spelling(
    record: _Record,
    rows: np.ndarray,
    rng: np.random.Generator,
    applicable: Callable[[np.ndarray], np.ndarray],
    edit: Callable[[np.ndarray, np.random.Generator], np.ndarray],
) -> np.ndarray:
    """Apply one spelling edit to the forename or the surname, chosen by ``spelling_fields``."""
    fields = list(record.settings.spelling_fields)
    weights = np.column_stack([
        applicable(record.values[f][rows]) * record.settings.spelling_fields[f] for f in fields
    ])
    which = _pick(weights.astype(np.float64), rng)
    for index, field in enumerate(fields):
        chosen = rows[which == index]
        if chosen.size:
            record.values[field][chosen] = edit(record.values[field][chosen], rng)
    return rows[which >= 0]


def _phonetic(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sound-alike spelling (Stephen as Stefen, Catherine as Katherine, Phillip as Philip)."""
    rules = record.settings.phonetic_rules
    return _spelling(
        record, rows, rng,
        lambda values: _phonetic_matches(values, rules).any(axis=1),
        lambda values, g: _phonetic_strings(values, rules, g),
    )


def _keyboard(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A neighbouring key hit instead of the right one, on a UK QWERTY keyboard."""
    return _spelling(record, rows, rng, _keyboard_applicable, _keyboard_strings)


def _typo(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One letter inserted, deleted, substituted or transposed."""
    return _spelling(record, rows, rng, lambda values: _lengths(values) >= 2, _typo_strings)


def _dob_day_month_swap(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Day and month swapped (US-style entry), possible only when the day is 12 or less."""
    dob = record.values["date_of_birth"]
    rows = rows[dob[rows] != NO_DATE]
    year, month, day = _ymd(dob[rows])
    swappable = (day <= 12) & (day != month)
    rows = rows[swappable]
    dob[rows] = _days(year[swappable], day[swappable], month[swappable])
    return rows


def _dob_digit(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One wrong digit in the date written DDMMYYYY, giving a valid date no later than the record.

    Every one-digit change is tried for each row (8 positions x 9 digits) and one valid
    alternative is drawn uniformly, so the result is always a real date.
    """
    dob = record.values["date_of_birth"]
    rows = rows[dob[rows] != NO_DATE]
    if rows.size == 0:
        return rows
    recorded_on = record.truth["dob"][rows] + record.truth["age_days_at_record"][rows]
    year, month, day = _ymd(dob[rows])
    places = [(day, 10), (day, 1), (month, 10), (month, 1),
              (year, 1000), (year, 100), (year, 10), (year, 1)]
    candidates: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for part, (value, place) in enumerate(places):
        old_digit = value // place % 10
        for digit in range(10):
            new = value + (digit - old_digit) * place
            y, m, d = (new if part >= 4 else year, new if part in (2, 3) else month,
                       new if part <= 1 else day)
            candidates.append((np.where(old_digit == digit, -1, y), m, d))
    y = np.column_stack([c[0] for c in candidates])
    m = np.column_stack([c[1] for c in candidates])
    d = np.column_stack([c[2] for c in candidates])
    valid = (y >= _EARLIEST_BIRTH_YEAR) & (m >= 1) & (m <= 12) & (d >= 1)
    safe_y, safe_m = np.where(valid, y, 2000), np.where(valid, m, 1)
    valid &= d <= _days_in_month(safe_y, safe_m)
    new_days = _days(safe_y, safe_m, np.where(valid, d, 1))
    valid &= new_days <= recorded_on[:, None]
    choice = _pick(valid.astype(np.float64), rng)
    ok = choice >= 0
    dob[rows[ok]] = new_days[np.flatnonzero(ok), choice[ok]]
    return rows[ok]


def _dob_default_jan1(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An unknown date of birth entered as 1 January of the birth year, as systems default it."""
    dob = record.values["date_of_birth"]
    rows = rows[dob[rows] != NO_DATE]
    year, month, day = _ymd(dob[rows])
    later = (month != 1) | (day != 1)
    rows = rows[later]
    dob[rows] = _month_start(year[later], np.ones(rows.size, dtype=np.int64))
    return rows


def _sex_error(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sex recorded as the other one."""
    sex = record.values["sex"]
    current = sex[rows]
    rows = rows[(current == "F") | (current == "M")]
    sex[rows] = np.where(sex[rows] == "F", "M", "F").astype(object)
    return rows


def _nhs_wrong_person(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another person's (valid) NHS number on this record, one source of false matches."""
    nhs = record.values["nhs_number"]
    rows = rows[_present(nhs[rows])]
    pool = record.truth["nhs_number"]
    other = pool[rng.integers(0, pool.size, size=rows.size)]
    ok = _present(other) & (other != nhs[rows])
    rows = rows[ok]
    nhs[rows] = other[ok]
    return rows


def _nhs_invalid(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mistyped digit. Any single-digit change breaks the modulus-11 check (11 is prime)."""
    nhs = record.values["nhs_number"]
    rows = rows[_present(nhs[rows])]
    rows = rows[pd.Series(nhs[rows], dtype=object).str.fullmatch(r"[0-9]{10}").to_numpy(dtype=bool)]
    if rows.size == 0:
        return rows
    chars = _chars(nhs[rows])[:, :10]
    position = rng.integers(0, 10, size=rows.size)
    index = np.arange(rows.size)
    old = chars[index, position] - ord("0")
    chars[index, position] = (old + rng.integers(1, 10, size=rows.size)) % 10 + ord("0")
    nhs[rows] = _strings(chars)
    return rows


def _postcode_out_of_date(
    record: _Record, rows: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The address before the latest move, not yet updated."""
    return _copy_text("postcode", "previous_postcode", record, rows)


# A digit mistyped as the letter it looks like, in the inward code's digit.
_LOOKALIKE_LETTERS = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B"}


def _postcode_invalid(record: _Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A malformed postcode: outward code only, last character lost, or a digit typed as a letter.

    Each fails the postcode pattern (area, district, space, digit, two letters), as learners'
    validation should find.
    """
    postcode = record.values["postcode"]
    rows = rows[_present(postcode[rows])]
    text = pd.Series(postcode[rows], dtype=object).str.strip()
    outward = text.str[:-3].str.strip()
    inward = text.str[-3:]
    lookalike = inward.str[0].map(_LOOKALIKE_LETTERS).fillna("O")
    kind = rng.integers(0, 3, size=rows.size)
    broken = np.where(
        kind == 0, outward.to_numpy(dtype=object),
        np.where(kind == 1, text.str[:-1].to_numpy(dtype=object),
                 (outward + " " + lookalike + inward.str[1:]).to_numpy(dtype=object)),
    )
    changed = broken != postcode[rows]
    postcode[rows[changed]] = broken[changed]
    return rows[changed]


# The registry, in the order corruptions are applied. The order matters:
# - blanks come first, so that every later corruption acts only on values still recorded;
# - whole-value replacements (baby name, twin, household member, partner's surname, swapped
#   names) come before spelling errors, which can then fall on the replaced value too;
# - postcode_invalid comes last among postcodes, so an out-of-date postcode can also be mistyped.
CORRUPTIONS: dict[str, Corruption] = {
    "dob_missing": Corruption(("date_of_birth",), _blank("date_of_birth")),
    "nhs_missing": Corruption(("nhs_number",), _blank("nhs_number")),
    "postcode_missing": Corruption(("postcode",), _blank("postcode")),
    "baby_name": Corruption(("forename",), _baby_name),
    "twin_confusion": Corruption(("forename",), _twin_confusion),
    "household_copy": Corruption(("forename", "date_of_birth"), _household_copy),
    "surname_change": Corruption(("surname",), _surname_change),
    "name_swap": Corruption(("forename", "surname"), _name_swap),
    "nickname": Corruption(("forename",), _nickname),
    "phonetic": Corruption(("forename", "surname"), _phonetic),
    "keyboard": Corruption(("forename", "surname"), _keyboard),
    "typo": Corruption(("forename", "surname"), _typo),
    "dob_day_month_swap": Corruption(("date_of_birth",), _dob_day_month_swap),
    "dob_digit": Corruption(("date_of_birth",), _dob_digit),
    "dob_default_jan1": Corruption(("date_of_birth",), _dob_default_jan1),
    "sex_error": Corruption(("sex",), _sex_error),
    "nhs_wrong_person": Corruption(("nhs_number",), _nhs_wrong_person),
    "nhs_invalid": Corruption(("nhs_number",), _nhs_invalid),
    "postcode_out_of_date": Corruption(("postcode",), _postcode_out_of_date),
    "postcode_invalid": Corruption(("postcode",), _postcode_invalid),
}


# --- Configuration: read and checked in full, so a mistake is named before anything runs ---


@dataclass(frozen=True)
class _Config:
    settings: _Settings
    age_bands: Mapping[str, tuple[int, float]]
    multipliers: Mapping[str, float]
    max_rate: float
    not_multiplied: frozenset[str]
    sources: Mapping[str, Mapping[str, Any]]


@cache
def _packaged_params() -> dict[str, Any]:
    """capture.yaml, through load_params once the parameter registry lists it."""
    try:
        return load_params("capture")
    except KeyError:
        with (PARAMS_DIR / "capture.yaml").open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)


def _fail(message: str) -> InputError:
    return InputError(f"capture parameters: {message}")


def _number(value: Any, what: str, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _fail(f"{what} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _weights(value: Any, allowed: tuple[str, ...], what: str) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise _fail(f"{what} must map {list(allowed)} to weights")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _fail(f"{what} names unknown fields {unknown}; expected some of {list(allowed)}")
    out = {str(k): _number(v, f"{what}.{k}", 0.0, float("inf")) for k, v in value.items()}
    if sum(out.values()) <= 0:
        raise _fail(f"{what} weights must not all be 0")
    return out


def _check_rate(value: Any, where: str, bands: Mapping[str, tuple[int, float]]) -> None:
    if not isinstance(value, Mapping):
        _number(value, f"{where} rate")
        return
    unknown = sorted(set(value) - set(bands))
    if unknown:
        raise _fail(f"{where} uses unknown age bands {unknown}; age_bands defines {list(bands)}")
    spans = sorted(bands[name] for name in value)
    for (_, high), (low, _) in zip(spans, spans[1:], strict=False):
        if low < high:
            raise _fail(f"{where} names overlapping age bands {sorted(value)}")
    for band, rate in value.items():
        _number(rate, f"{where} rate for {band}")


def _check_source(name: str, section: Any, bands: Mapping[str, tuple[int, float]]) -> None:
    if not isinstance(section, Mapping):
        raise _fail(f"source {name!r} must be a mapping with rates, not_recorded, records_per_person")
    unknown_keys = sorted(set(section) - {"rates", "not_recorded", "records_per_person"})
    if unknown_keys:
        raise _fail(f"source {name!r} has unknown keys {unknown_keys}")
    rates = section.get("rates") or {}
    if not isinstance(rates, Mapping):
        raise _fail(f"source {name!r}: rates must map corruption names to rates")
    for corruption, rate in rates.items():
        if corruption not in CORRUPTIONS:
            raise _fail(
                f"source {name!r} gives a rate for unknown corruption {corruption!r}; "
                f"known corruptions: {', '.join(CORRUPTIONS)}"
            )
        _check_rate(rate, f"source {name!r} corruption {corruption!r}", bands)
    not_recorded = section.get("not_recorded") or []
    unknown_fields = sorted(set(not_recorded) - set(FIELDS))
    if unknown_fields:
        raise _fail(f"source {name!r}: not_recorded names unknown fields {unknown_fields}; "
                    f"expected some of {list(FIELDS)}")
    counts = section.get("records_per_person")
    if not isinstance(counts, Mapping) or not counts:
        raise _fail(f"source {name!r} needs records_per_person: a share for each count (1: 0.97, ...)")
    for count, share in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _fail(f"source {name!r}: records_per_person counts must be whole numbers >= 1, "
                        f"got {count!r}")
        _number(share, f"source {name!r} records_per_person share for {count}")
    total = sum(float(share) for share in counts.values())
    if abs(total - 1.0) > 1e-6:
        raise _fail(f"source {name!r}: records_per_person shares must sum to 1, got {total:g}")


def _config(params: Mapping[str, Any] | None) -> _Config:
    """Check the whole configuration and return it in the form the code uses."""
    params = _packaged_params() if params is None else params
    if not isinstance(params, Mapping):
        raise _fail(f"expected a mapping, got {type(params).__name__}")
    for key in ("sources", "age_bands", "group_multipliers", "spelling_fields",
                "household_copy_fields", "phonetic_rules", "baby_forename"):
        if key not in params:
            raise _fail(f"the {key!r} section is missing")

    bands: dict[str, tuple[int, float]] = {}
    for band, span in (params["age_bands"] or {}).items():
        if not isinstance(span, list | tuple) or len(span) != 2:
            raise _fail(f"age band {band!r} must be [from_days, to_days or null], got {span!r}")
        low = _number(span[0], f"age band {band!r} start", 0, float("inf"))
        high = float("inf") if span[1] is None else _number(span[1], f"age band {band!r} end",
                                                            low, float("inf"))
        bands[str(band)] = (int(low), high)

    groups = params["group_multipliers"]
    if not isinstance(groups, Mapping):
        raise _fail("group_multipliers must be a mapping")
    multipliers = {g: _number(groups.get(g, 1.0), f"group_multipliers.{g}", 0.0, 100.0)
                   for g in GROUPS}
    unknown_groups = sorted(set(groups) - {*GROUPS, "max_rate", "not_multiplied"})
    if unknown_groups:
        raise _fail(f"group_multipliers has unknown keys {unknown_groups}; groups are {list(GROUPS)}")
    max_rate = _number(groups.get("max_rate", 1.0), "group_multipliers.max_rate")
    not_multiplied = frozenset(groups.get("not_multiplied") or ())
    unknown = sorted(not_multiplied - set(CORRUPTIONS))
    if unknown:
        raise _fail(f"group_multipliers.not_multiplied names unknown corruptions {unknown}")

    rules = []
    for rule in params["phonetic_rules"] or ():
        if not isinstance(rule, list | tuple) or len(rule) != 2 or not all(
                isinstance(part, str) for part in rule):
            raise _fail(f"each phonetic rule must be [pattern, replacement], got {rule!r}")
        try:
            re.compile(rule[0])
        except re.error as error:
            raise _fail(f"phonetic rule pattern {rule[0]!r} is not a regular expression: {error}") from None
        rules.append((rule[0], rule[1]))
    if not rules:
        raise _fail("phonetic_rules must list at least one [pattern, replacement]")
    baby = params["baby_forename"]
    if not isinstance(baby, str) or not baby:
        raise _fail(f"baby_forename must be a non-empty string, got {baby!r}")

    sources = params["sources"]
    if not isinstance(sources, Mapping) or not sources:
        raise _fail("sources must map each source name to its section")
    for name, section in sources.items():
        _check_source(str(name), section, bands)

    settings = _Settings(
        baby_forename=baby,
        spelling_fields=_weights(params["spelling_fields"], ("forename", "surname"),
                                 "spelling_fields"),
        household_fields=_weights(params["household_copy_fields"], ("forename", "date_of_birth"),
                                  "household_copy_fields"),
        phonetic_rules=tuple(rules),
    )
    return _Config(settings, bands, multipliers, max_rate, not_multiplied, sources)


def _source_section(config: _Config, source: str) -> Mapping[str, Any]:
    if source not in config.sources:
        raise InputError(f"unknown source {source!r}; capture.yaml configures "
                         f"{', '.join(map(str, config.sources))}")
    return config.sources[source]


# --- Rates per row ---


def _base_rates(rate: Any, age_days: np.ndarray, bands: Mapping[str, tuple[int, float]]) -> np.ndarray:
    """A configured rate (number, or rates by age band) as one probability per row."""
    if not isinstance(rate, Mapping):
        return np.full(age_days.shape[0], float(rate))
    out = np.zeros(age_days.shape[0])
    for band, value in rate.items():
        low, high = bands[band]
        out[(age_days >= low) & (age_days < high)] = float(value)
    return out


def _group_factor(truth: Mapping[str, np.ndarray], config: _Config) -> np.ndarray:
    """Each row's product of group multipliers (1 for a person in neither group)."""
    factor = np.ones(truth["age_days_at_record"].shape[0])
    for group in GROUPS:
        factor[truth[group]] *= config.multipliers[group]
    return factor


def _row_rates(
    name: str, rate: Any, truth: Mapping[str, np.ndarray], factor: np.ndarray, config: _Config
) -> np.ndarray | float:
    """The probability each row gets corruption ``name``: base rate times group multipliers.

    The multiplied rate is capped at ``max_rate``; a base rate already above it is kept, so a
    field a source hardly ever holds is not pushed to "never". A rate that is the same for every
    row comes back as a number.
    """
    if isinstance(rate, Mapping):
        base: np.ndarray | float = _base_rates(rate, truth["age_days_at_record"], config.age_bands)
    else:
        base = float(rate)
    if name in config.not_multiplied:
        return base
    capped = np.minimum(base * factor, config.max_rate)
    return np.where(base > config.max_rate, base, capped)


def _is_zero(rate: Any) -> bool:
    values = rate.values() if isinstance(rate, Mapping) else [rate]
    return all(float(v) == 0.0 for v in values)


# --- The public face ---


def _normalise_truth(truth: pd.DataFrame) -> dict[str, np.ndarray]:
    missing = [c for c in REQUIRED_COLUMNS if c not in truth.columns]
    if missing:
        raise InputError(f"capture: the truth frame has no column(s) {missing}; "
                         f"it needs {list(REQUIRED_COLUMNS)}")
    n = len(truth)
    out: dict[str, np.ndarray] = {}
    for column in ("forename", "surname", "sex", "nhs_number", "postcode"):
        out[column] = _text(truth[column])
    for column in ("dob", *CONTEXT_DATE_COLUMNS):
        if column in truth.columns:
            values = truth[column]
            days = values.fillna(NO_DATE) if values.hasnans else values
            out[column] = days.to_numpy(dtype=np.int64)
        else:
            out[column] = np.full(n, NO_DATE, dtype=np.int64)
    out["age_days_at_record"] = truth["age_days_at_record"].to_numpy(dtype=np.int64)
    for group in GROUPS:
        out[group] = truth[group].to_numpy(dtype=bool)
    return out


def capture(
    truth: pd.DataFrame,
    source: str,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> Captured:
    """Record ``truth`` as ``source`` would: its fields not recorded, then its corruptions.

    ``truth`` holds one row per record to make: forename, surname, sex, dob (int64 days),
    nhs_number, postcode, minority, deprived, age_days_at_record, and the context columns the
    corruptions draw on (previous_postcode, partner_surname, household_forename, household_dob,
    twin_forename; a context column left out counts as never applicable). ``params`` defaults
    to ``params/capture.yaml``. Same truth, source, params and random state: same records.
    """
    config = _config(params)
    section = _source_section(config, source)
    columns = _normalise_truth(truth)
    n = len(truth)
    values = {field: columns["dob" if field == "date_of_birth" else field].copy() for field in FIELDS}
    for field in section.get("not_recorded") or ():
        values[field] = (np.full(n, NO_DATE, dtype=np.int64) if field == "date_of_birth"
                         else np.full(n, None, dtype=object))
    record = _Record(values, columns, truth, config.settings)
    factor = _group_factor(columns, config)

    rates = section.get("rates") or {}
    hit_rows: list[np.ndarray] = []
    hit_codes: list[np.ndarray] = []
    for code, (name, corruption) in enumerate(CORRUPTIONS.items()):
        rate = rates.get(name, 0.0)
        if _is_zero(rate) or n == 0:
            continue
        drawn = np.flatnonzero(rng.random(n) < _row_rates(name, rate, columns, factor, config))
        changed = corruption(record, drawn, rng)
        hit_rows.append(changed.astype(np.int64))
        hit_codes.append(np.full(changed.size, code, dtype=np.int64))

    rows = np.concatenate(hit_rows) if hit_rows else np.empty(0, dtype=np.int64)
    codes = np.concatenate(hit_codes) if hit_codes else np.empty(0, dtype=np.int64)
    order = np.lexsort((codes, rows))
    names = np.array(list(CORRUPTIONS), dtype=object)
    # Series with explicit dtypes (pandas would otherwise infer its string type), and no copy.
    applied = pd.DataFrame({
        "row": pd.Series(rows[order], dtype=np.int64),
        "corruption": pd.Series(names[codes[order]], dtype=object),
    }, copy=False)
    records = pd.DataFrame({
        field: pd.Series(values[field], dtype=np.int64 if field == "date_of_birth" else object)
        for field in FIELDS
    }, copy=False)
    return Captured(records=records, applied=applied)


def record_counts(
    n: int,
    source: str,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """How many records each of ``n`` people has in ``source`` (at least 1).

    Sources hold some people more than once under records that are not joined up (a second
    registration, a party entered again on a new case); the shares of 1, 2, 3... records are
    configured per source as ``records_per_person``.
    """
    if n < 0:
        raise InputError(f"record_counts: n must be 0 or more, got {n}")
    section = _source_section(_config(params), source)
    shares = section["records_per_person"]
    counts = np.array(sorted(int(k) for k in shares), dtype=np.int64)
    probabilities = np.array([float(shares[k]) for k in sorted(shares)])
    return counts[choose(probabilities, int(n), rng)]
