"""Dates as whole days since 1970-01-01 in int32 arrays.

The simulation handles tens of millions of dates; plain integers keep arithmetic vectorised and
exact, and conversion to real dates happens once, when tables are written.
"""

from __future__ import annotations

import numpy as np

EPOCH = np.datetime64("1970-01-01", "D")
DAYS_PER_YEAR = 365.25
# "No date" in int32 day arrays: the most negative int32, far from any real day.
NO_DATE = np.iinfo(np.int32).min


def day(iso: str) -> int:
    """Days since the epoch of an ISO date string."""
    return int((np.datetime64(iso, "D") - EPOCH).astype(np.int64))


def year_start(year: int) -> int:
    return day(f"{year:04d}-01-01")


def fy_start(fy: int) -> int:
    """First day of the financial year that starts in April of ``fy`` (2008 is 2008/09)."""
    return day(f"{fy:04d}-04-01")


def to_datetime64(days: np.ndarray) -> np.ndarray:
    """int days (with any negative sentinel as missing) to datetime64[D] (NaT where missing)."""
    out = days.astype("int64").astype("datetime64[D]")
    return out


def calendar_year(days: np.ndarray) -> np.ndarray:
    return (days.astype("int64").astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)


def financial_year(days: np.ndarray) -> np.ndarray:
    """Financial year (April to March) of each date, as the year it starts in."""
    d = days.astype("int64").astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(int) + 1970
    month = d.astype("datetime64[M]").astype(int) % 12 + 1
    return np.where(month >= 4, year, year - 1)


def age_in_years(dob: np.ndarray, at: np.ndarray | int) -> np.ndarray:
    """Completed years of age at a date (birthday arithmetic on the calendar, not /365.25)."""
    b = dob.astype("int64").astype("datetime64[D]")
    a = np.asarray(at).astype("int64").astype("datetime64[D]")
    by = b.astype("datetime64[Y]").astype(int)
    ay = a.astype("datetime64[Y]").astype(int)
    b_doy = (b - b.astype("datetime64[Y]")).astype(int)
    a_doy = (a - a.astype("datetime64[Y]")).astype(int)
    # Compare month-day through the (month, day) pair so leap years do not shift birthdays.
    bm = b.astype("datetime64[M]").astype(int) % 12
    am = a.astype("datetime64[M]").astype(int) % 12
    bd = (b - b.astype("datetime64[M]")).astype(int)
    ad = (a - a.astype("datetime64[M]")).astype(int)
    del b_doy, a_doy
    before_birthday = (am < bm) | ((am == bm) & (ad < bd))
    return ay - by - before_birthday.astype(int)
