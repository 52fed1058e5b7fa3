"""NHS numbers that can never belong to a real patient.

An NHS number is ten digits: a nine-digit base and a modulus-11 check digit. The check digit
weights the base digits 10, 9, ..., 2 (left to right), takes the remainder of the sum on division
by 11 and subtracts it from 11; a result of 11 becomes 0 and a result of 10 means the base is never
issued. Learners meet the check digit when validating and linking records, so synthetic numbers
must pass it, and they must also be impossible to confuse with a real person's number.

So numbers are drawn from the 999 block first: NHS England publishes 999 000 0000 to 999 999 9999
as the range for test data, never issued to patients. That block holds about 909,000 valid
numbers, fewer than a classroom world holds, so the generator gives them to the people who appear
in records (see ``world.give_test_range_numbers_first``). Larger worlds need tens of millions, so
further numbers come from the 998, 997, ..., 900 blocks in turn: none of
the 9xx blocks are issued to patients in England and Wales, though only 999 is the official test
range. About 91 million numbers are available in all; asking for more raises ValueError.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import pandas as pd

TEST_PREFIX = 999  # the official NHS test range, used first
LOWEST_PREFIX = 900  # further unissued blocks, used only beyond the test range
_BLOCK = 1_000_000  # bases per three-digit prefix
_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)  # weights of base digits 1..9
_SUFFIX_WEIGHTS = _WEIGHTS[3:]  # weights of base digits 4..9 (after the prefix)
STYLES = ("plain", "spaced")


def nhs_check_digit(base9: np.ndarray) -> np.ndarray:
    """Check digit for each nine-digit base (int64), or -1 where the base is never issued.

    Works digit position by digit position over the whole array, so the loop runs nine times
    whatever the number of bases.
    """
    bases = np.asarray(base9, dtype=np.int64)
    if bases.size and (bases.min() < 0 or bases.max() >= 10**9):
        raise ValueError("NHS number bases must be integers from 0 to 999,999,999")
    rest = bases.copy()
    total = np.zeros_like(bases)
    for weight in _WEIGHTS[::-1]:  # least significant digit has weight 2
        total += (rest % 10) * weight
        rest //= 10
    return _check_from_remainder(total % 11)


def _check_from_remainder(remainder: np.ndarray) -> np.ndarray:
    """11 - remainder, with 11 → 0 and 10 → -1 (the base is invalid)."""
    check = (11 - remainder) % 11
    return np.where(check == 10, -1, check).astype(np.int64)


@lru_cache(maxsize=1)
def _suffix_remainders() -> np.ndarray:
    """Weighted sum mod 11 of the last six base digits, for all one million suffixes.

    Every block shares these, so a block's check digits are one addition away and the number of
    valid bases in a block can be counted without building it.
    """
    suffixes = np.arange(_BLOCK, dtype=np.int64)
    total = np.zeros_like(suffixes)
    for position, weight in enumerate(_SUFFIX_WEIGHTS[::-1]):
        total += (suffixes // 10**position % 10) * weight
    remainders = (total % 11).astype(np.int8)
    remainders.flags.writeable = False
    return remainders


def _prefix_remainder(prefix: int) -> int:
    """Weighted sum mod 11 of a block's three prefix digits."""
    digits = (prefix // 100, prefix // 10 % 10, prefix % 10)
    return sum(int(w) * d for w, d in zip(_WEIGHTS[:3], digits, strict=True)) % 11


@cache
def _block_capacity(prefix: int) -> int:
    """Valid numbers in a block: bases whose total remainder is 1 (check digit 10) are dropped."""
    counts = np.bincount(_suffix_remainders(), minlength=11)
    return _BLOCK - int(counts[(1 - _prefix_remainder(prefix)) % 11])


def _block_numbers(prefix: int) -> np.ndarray:
    """Every valid ten-digit number (int64) in one three-digit block, in ascending order."""
    remainder = (_suffix_remainders() + _prefix_remainder(prefix)) % 11
    valid = np.flatnonzero(remainder != 1)
    check = _check_from_remainder(remainder[valid].astype(np.int64))
    return (prefix * _BLOCK + valid) * 10 + check


def _digits_to_strings(numbers: np.ndarray) -> np.ndarray:
    """Ten-digit int64 numbers to '<U10' strings by arithmetic, much faster than str() per value."""
    chars = np.empty((numbers.size, 10), dtype=np.uint32)
    rest = numbers.copy()
    for position in range(9, -1, -1):
        chars[:, position] = ord("0") + rest % 10
        rest //= 10
    return chars.view(np.dtype("U10")).reshape(-1)


def draw_nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct valid NHS numbers as ten-digit strings, in random order.

    The 999 test block is used first; lower blocks (998 down to 900) only when ``n`` exceeds it.
    Blocks needed in full are taken whole and the last one sampled without replacement, so the
    draw is unique by construction and costs about one block of work per 900,000 numbers. Numbers
    are unique within one call: draw everyone's numbers in a single call.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    available = sum(_block_capacity(p) for p in range(TEST_PREFIX, LOWEST_PREFIX - 1, -1))
    if n > available:
        raise ValueError(
            f"asked for {n:,} NHS numbers; the unissued 900-999 blocks hold only "
            f"{available:,} valid numbers"
        )
    whole: list[np.ndarray] = []  # blocks used in full, in ascending order
    remaining = int(n)
    prefix = TEST_PREFIX
    while remaining >= _block_capacity(prefix):
        whole.append(_block_numbers(prefix))
        remaining -= _block_capacity(prefix)
        prefix -= 1
    # The last block is sampled without replacement, which also puts it in random order.
    sampled = rng.choice(_block_numbers(prefix), size=remaining, replace=False) if remaining else []
    numbers = np.concatenate([*whole, np.asarray(sampled, dtype=np.int64)])
    if whole:
        rng.shuffle(numbers)
    return _digits_to_strings(numbers)


def _clean_text(numbers: np.ndarray | pd.Series) -> pd.Series:
    """Numbers (strings with or without spaces, or integers) as strings without spaces; NaN stays.

    A numeric column with gaps is read as floats (9434765919.0); whole floats are written as
    integers so that such a column validates like the strings it came from.
    """
    series = numbers if isinstance(numbers, pd.Series) else pd.Series(np.asarray(numbers))
    if pd.api.types.is_float_dtype(series.dtype):
        series = series.where(series % 1 == 0).astype("Int64")
    return series.astype("str").str.replace(" ", "", regex=False)


def _is_ten_digits(text: pd.Series) -> np.ndarray:
    """Exactly ten ASCII digits (``\\d`` would also accept other scripts' digits)."""
    return text.str.fullmatch(r"[0-9]{10}").fillna(False).to_numpy(dtype=bool, copy=True)


def is_valid_nhs_number(numbers: np.ndarray | pd.Series) -> np.ndarray:
    """True where a value is a ten-digit NHS number whose check digit is right.

    Accepts strings with or without spaces ("943 476 5919" or "9434765919") and integers; anything
    else (nine digits, letters, missing values) is False, never an error, because validation is
    how learners find bad identifiers.
    """
    text = _clean_text(numbers)
    result = _is_ten_digits(text)
    if result.any():
        chars = text[result].to_numpy(dtype="U10").view(np.uint32).reshape(-1, 10)
        digits = chars.astype(np.int64) - ord("0")
        check = _check_from_remainder(digits[:, :9] @ _WEIGHTS % 11)
        result[result] = check == digits[:, 9]
    return result


def format_nhs_number(
    numbers: np.ndarray | pd.Series, style: str = "plain"
) -> np.ndarray | pd.Series:
    """Write NHS numbers as "9991234567" (``plain``) or "999 123 4567" (``spaced``).

    Systems record both styles, which is one reason linkage on NHS number needs cleaning first.
    Values that are not ten digits once spaces are removed (a mistyped number, say) are returned
    as they were, and missing values stay missing, so formatting can follow a capture-error step.
    A Series comes back as a Series with the same index; anything else as an object array.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    original = numbers if isinstance(numbers, pd.Series) else pd.Series(np.asarray(numbers))
    text = _clean_text(original)
    ten_digits = _is_ten_digits(text)
    if style == "spaced":
        text = text.str[:3] + " " + text.str[3:6] + " " + text.str[6:]
    formatted = text.astype(object).where(ten_digits, original)
    if isinstance(numbers, pd.Series):
        return formatted
    return formatted.to_numpy(dtype=object)
