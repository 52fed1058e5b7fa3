"""Rates per row: by age band, raised by group multipliers, capped but never lowered."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic_data.capture.rates import base_rates, group_factor, is_zero, row_rates

BANDS = {"newborn": (0, 28.0), "child": (28, 6_570.0), "adult": (6_570, float("inf"))}
AGES = np.array([0, 27, 28, 6_569, 6_570, 30_000])


def test_base_rates_by_age_band_and_zero_outside_the_bands_named() -> None:
    assert base_rates(0.1, AGES, BANDS).tolist() == [0.1] * 6
    assert base_rates({"newborn": 0.5, "adult": 0.2}, AGES, BANDS).tolist() == [
        0.5, 0.5, 0.0, 0.0, 0.2, 0.2]


def test_group_factor_multiplies_the_groups_a_row_is_in() -> None:
    truth = {"age_days_at_record": np.zeros(4, dtype=np.int64),
             "minority": np.array([False, True, False, True]),
             "deprived": np.array([False, False, True, True])}
    factor = group_factor(truth, {"minority": 2.0, "deprived": 1.5})
    assert factor.tolist() == pytest.approx([1.0, 2.0, 1.5, 3.0])


def test_row_rates_are_capped_unless_already_above_the_cap() -> None:
    factor = np.array([1.0, 2.0, 4.0])
    assert row_rates(0.1, AGES[:3], BANDS, factor, 0.3).tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert row_rates(0.9, AGES[:3], BANDS, factor, 0.3).tolist() == pytest.approx([0.9] * 3)
    assert row_rates(0.1, AGES[:3], BANDS, factor, 0.3, multiplied=False) == 0.1
    by_age = row_rates({"newborn": 0.1}, AGES[:3], BANDS, factor, 1.0, multiplied=False)
    assert by_age.tolist() == pytest.approx([0.1, 0.1, 0.0])


def test_is_zero() -> None:
    assert is_zero(0) and is_zero(0.0) and is_zero({"newborn": 0.0, "adult": 0})
    assert not is_zero(0.01) and not is_zero({"newborn": 0.0, "adult": 0.1})
