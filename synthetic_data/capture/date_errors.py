"""Corruptions of the date of birth: day and month swapped, a digit mistyped, 1 January default.

Each result is a real date (see ``dates``); a row the corruption cannot apply to (a day above
12 cannot be swapped with the month) is left alone and not reported.
"""

from __future__ import annotations

import numpy as np

from synthetic_data.capture.choice import pick
from synthetic_data.capture.dates import days, month_start, one_digit_slips, ymd
from synthetic_data.capture.record import Record
from synthetic_data.core.dates import NO_DATE


def dob_day_month_swap(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Day and month swapped (US-style entry), possible only when the day is 12 or less."""
    dob = record.values["date_of_birth"]
    rows = rows[dob[rows] != NO_DATE]
    year, month, day = ymd(dob[rows])
    swappable = (day <= 12) & (day != month)
    rows = rows[swappable]
    dob[rows] = days(year[swappable], day[swappable], month[swappable])
    return rows


def dob_digit(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One wrong digit in the date written DDMMYYYY, giving a valid date no later than the record.

    Every one-digit change is tried for each row (8 positions x 9 digits) and one valid
    alternative is drawn uniformly, so the result is always a real date.
    """
    dob = record.values["date_of_birth"]
    rows = rows[dob[rows] != NO_DATE]
    if rows.size == 0:
        return rows
    recorded_on = record.truth["dob"][rows] + record.truth["age_days_at_record"][rows]
    candidates, valid = one_digit_slips(dob[rows], recorded_on)
    choice = pick(valid.astype(np.float64), rng)
    ok = choice >= 0
    dob[rows[ok]] = candidates[np.flatnonzero(ok), choice[ok]]
    return rows[ok]


def dob_default_jan1(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An unknown date of birth entered as 1 January of the birth year, as systems default it."""
    dob = record.values["date_of_birth"]
    rows = rows[dob[rows] != NO_DATE]
    year, month, day = ymd(dob[rows])
    later = (month != 1) | (day != 1)
    rows = rows[later]
    dob[rows] = month_start(year[later], np.ones(rows.size, dtype=np.int64))
    return rows
