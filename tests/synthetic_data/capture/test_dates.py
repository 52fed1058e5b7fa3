"""Calendar arithmetic for the date-of-birth corruptions, checked against numpy's calendar."""

from __future__ import annotations

import numpy as np

from synthetic_data.capture.dates import (
    EARLIEST_BIRTH_YEAR,
    days,
    days_in_month,
    month_start,
    one_digit_slips,
    ymd,
)

SOME_DAYS = np.array([-25_567, -1, 0, 59, 11_016, 19_000, 20_089], dtype=np.int64)


def test_ymd_and_days_are_inverses() -> None:
    year, month, day = ymd(SOME_DAYS)
    expected = SOME_DAYS.astype("datetime64[D]").astype(str)
    assert [f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in zip(year, month, day, strict=True)] \
        == expected.tolist()
    assert (days(year, month, day) == SOME_DAYS).all()


def test_months_run_past_december_and_know_leap_years() -> None:
    assert month_start(np.array([2019]), np.array([13]))[0] == month_start(np.array([2020]),
                                                                           np.array([1]))[0]
    lengths = days_in_month(np.array([2000, 1900, 2023, 2024, 2024]), np.array([2, 2, 2, 2, 4]))
    assert lengths.tolist() == [29, 28, 28, 29, 30]


def _written(day: int) -> str:
    y, m, d = (int(x[0]) for x in ymd(np.array([day])))
    return f"{d:02d}{m:02d}{y:04d}"


def test_one_digit_slips_are_real_dates_one_digit_away_and_not_later_than_allowed() -> None:
    dob = np.array([days(np.array([2011]), np.array([3]), np.array([14]))[0]])
    latest = dob + 400
    candidates, valid = one_digit_slips(dob, latest)
    assert candidates.shape == valid.shape == (1, 80)
    good = candidates[0, valid[0]]
    assert good.size > 10
    assert (good <= latest[0]).all()
    assert (ymd(good)[0] >= EARLIEST_BIRTH_YEAR).all()
    original = _written(int(dob[0]))
    for slip in good:
        assert sum(a != b for a, b in zip(original, _written(int(slip)), strict=True)) == 1
    # 14/03/2011 -> 14/13/2011 is no date; 14/03/2019 is after the latest day allowed.
    assert days(np.array([2019]), np.array([3]), np.array([14]))[0] not in good
