"""Calendar arithmetic on whole days since 1970-01-01, for the date-of-birth corruptions.

A corrupted date of birth must still be a real date (a day/month swap of 13 March cannot be
entered, a mistyped digit cannot give 31 April), so the corruptions work on year, month and day
and turn them back into days only where the result is valid.
"""

from __future__ import annotations

import numpy as np

EARLIEST_BIRTH_YEAR = 1900  # a mistyped year before this is not a date anyone would accept


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of int64 days since 1970-01-01."""
    dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def month_start(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of the first of each month (months may run past 12)."""
    months = (np.asarray(year, dtype=np.int64) - 1970) * 12 + np.asarray(month, dtype=np.int64) - 1
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of valid (year, month, day) triples."""
    return month_start(year, month) + np.asarray(day, dtype=np.int64) - 1


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    return month_start(year, month + 1) - month_start(year, month)


def one_digit_slips(dates: np.ndarray, latest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every date one digit away from each of ``dates`` written DDMMYYYY, and which are valid.

    Returns ``(candidates, valid)``, each (rows, 80): 8 digit positions x 10 digits, the
    unchanged digit counted invalid. A candidate is valid when it is a real date, in or after
    ``EARLIEST_BIRTH_YEAR`` and no later than the row's ``latest`` day (a date of birth is
    recorded after the birth).
    """
    year, month, day = ymd(dates)
    places = [(day, 10), (day, 1), (month, 10), (month, 1),
              (year, 1000), (year, 100), (year, 10), (year, 1)]
    tried: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for part, (value, place) in enumerate(places):
        old_digit = value // place % 10
        for digit in range(10):
            new = value + (digit - old_digit) * place
            y, m, d = (new if part >= 4 else year, new if part in (2, 3) else month,
                       new if part <= 1 else day)
            tried.append((np.where(old_digit == digit, -1, y), m, d))
    y = np.column_stack([c[0] for c in tried])
    m = np.column_stack([c[1] for c in tried])
    d = np.column_stack([c[2] for c in tried])
    valid = (y >= EARLIEST_BIRTH_YEAR) & (m >= 1) & (m <= 12) & (d >= 1)
    safe_y, safe_m = np.where(valid, y, 2000), np.where(valid, m, 1)
    valid &= d <= days_in_month(safe_y, safe_m)
    candidates = days(safe_y, safe_m, np.where(valid, d, 1))
    valid &= candidates <= latest[:, None]
    return candidates, valid
