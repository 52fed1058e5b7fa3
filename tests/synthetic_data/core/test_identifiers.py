"""NHS numbers: the modulus-11 check, the test range and the bulk draw.

Known numbers are checked by hand in the comments, so the tests do not just repeat the code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.core.identifiers import (
    draw_nhs_numbers,
    format_nhs_number,
    is_valid_nhs_number,
    nhs_check_digit,
)

# Valid ones in the 999 test block, in NHS England's list of test numbers.
BLOCK_999 = 909_091


def test_check_digit_of_known_bases():
    # Digits times weights 10, 9, ..., 2, summed:
    # 943476591: 90 + 36 + 24 + 28 + 42 + 30 + 20 + 27 + 2 = 299; 299 % 11 = 2; 11 - 2 = 9
    # 401023213: 40 + 0 + 8 + 0 + 12 + 15 + 8 + 3 + 6 = 92; 92 % 11 = 4; 11 - 4 = 7
    # 200000001: 20 + 2 = 22; 22 % 11 = 0; 11 - 0 = 11, written 0
    # 999000000: 90 + 81 + 72 = 243; 243 % 11 = 1; 11 - 1 = 10: never issued
    # 999000001: 243 + 2 = 245; 245 % 11 = 3; 11 - 3 = 8
    bases = np.array([943476591, 401023213, 200000001, 999000000, 999000001])
    assert nhs_check_digit(bases).tolist() == [9, 7, 0, -1, 8]


def test_check_digit_rejects_out_of_range_bases():
    with pytest.raises(ValueError):
        nhs_check_digit(np.array([1_000_000_000]))


def test_is_valid_accepts_good_numbers_in_either_style():
    numbers = ["943 476 5919", "9434765919", "4010232137", "2000000010", "9990000018"]
    assert is_valid_nhs_number(np.array(numbers, dtype=object)).all()


def test_is_valid_rejects_bad_values():
    bad = [
        "9434765918",  # wrong check digit
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "94347659I9",  # a letter I for a one
        "9990000000",  # base 999000000 has check digit 10: never valid
        "",
        None,
        np.nan,
        "٩٤٣٤٧٦٥٩١٩",  # the valid number in Arabic-Indic digits
    ]
    assert not is_valid_nhs_number(np.array(bad, dtype=object)).any()


def test_is_valid_handles_integers_and_float_columns_with_gaps():
    assert is_valid_nhs_number(np.array([9434765919, 9434765918])).tolist() == [True, False]
    column = pd.Series([9434765919, np.nan, 9434765919.5])  # as read from a CSV with a gap
    assert is_valid_nhs_number(column).tolist() == [True, False, False]


def test_draw_within_test_block():
    numbers = draw_nhs_numbers(900_000, np.random.default_rng(1))
    assert numbers.shape == (900_000,)
    assert pd.Series(numbers).is_unique
    assert all(len(n) == 10 and n.isdigit() for n in numbers[:1000])
    assert pd.Series(numbers).str.fullmatch(r"999[0-9]{7}").all()
    assert is_valid_nhs_number(numbers).all()


def test_draw_of_whole_test_block_is_exactly_its_valid_numbers():
    """Every base with check digit 10 is left out, and every other base is used once."""
    numbers = draw_nhs_numbers(BLOCK_999, np.random.default_rng(2))
    bases = np.arange(999_000_000, 1_000_000_000, dtype=np.int64)
    check = nhs_check_digit(bases)
    expected = bases[check >= 0] * 10 + check[check >= 0]
    assert np.array_equal(np.sort(numbers.astype(np.int64)), expected)
    assert not np.array_equal(numbers.astype(np.int64), expected)  # shuffled, not ascending


def test_draw_moves_to_lower_blocks_only_beyond_the_test_block():
    numbers = draw_nhs_numbers(BLOCK_999 + 1, np.random.default_rng(3))
    prefixes = pd.Series(numbers).str[:3].value_counts().to_dict()
    assert prefixes == {"999": BLOCK_999, "998": 1}

    numbers = draw_nhs_numbers(2_000_000, np.random.default_rng(3))
    prefixes = pd.Series(numbers).str[:3]
    assert prefixes.value_counts().to_dict() == {
        "999": BLOCK_999,
        "998": BLOCK_999,
        "997": 2_000_000 - 2 * BLOCK_999,
    }
    assert pd.Series(numbers).is_unique
    assert is_valid_nhs_number(numbers).all()
    assert prefixes.iloc[:1000].nunique() == 3  # blocks are mixed, not one after another


def test_draw_is_deterministic_and_seed_dependent():
    first = draw_nhs_numbers(50_000, np.random.default_rng(7))
    again = draw_nhs_numbers(50_000, np.random.default_rng(7))
    other = draw_nhs_numbers(50_000, np.random.default_rng(8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_draw_edge_sizes():
    assert draw_nhs_numbers(0, np.random.default_rng(0)).shape == (0,)
    with pytest.raises(ValueError, match="900-999"):
        draw_nhs_numbers(100_000_000, np.random.default_rng(0))
    with pytest.raises(ValueError):
        draw_nhs_numbers(-1, np.random.default_rng(0))


def test_format_styles_and_pass_through():
    numbers = np.array(["9434765919", "943 476 5919", "12345", None], dtype=object)
    spaced = format_nhs_number(numbers, style="spaced")
    assert spaced[:3].tolist() == ["943 476 5919", "943 476 5919", "12345"]
    assert pd.isna(spaced[3])
    plain = format_nhs_number(pd.Series(numbers, index=[5, 6, 7, 8]), style="plain")
    assert plain.index.tolist() == [5, 6, 7, 8]
    assert plain.iloc[:3].tolist() == ["9434765919", "9434765919", "12345"]
    with pytest.raises(ValueError):
        format_nhs_number(numbers, style="dashed")


def test_formatted_draws_stay_valid():
    numbers = draw_nhs_numbers(1000, np.random.default_rng(4))
    spaced = format_nhs_number(numbers, style="spaced")
    assert pd.Series(spaced).str.fullmatch(r"999 [0-9]{3} [0-9]{4}").all()
    assert is_valid_nhs_number(spaced).all()
