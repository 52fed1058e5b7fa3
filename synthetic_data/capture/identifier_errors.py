"""Corruptions of sex, NHS number and postcode: the wrong value, a mistyped one, an old one.

A wrong but valid NHS number is what makes false matches in deterministic linkage; a mistyped
one fails the checksum and a malformed postcode fails the pattern, which learners' validation
should catch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.capture.record import Record
from synthetic_data.capture.text import chars, present, strings

# A digit mistyped as the letter it looks like, in the inward code's digit.
LOOKALIKE_LETTERS = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B"}


def sex_error(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sex recorded as the other one."""
    sex = record.values["sex"]
    current = sex[rows]
    rows = rows[(current == "F") | (current == "M")]
    sex[rows] = np.where(sex[rows] == "F", "M", "F").astype(object)
    return rows


def nhs_wrong_person(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another person's (valid) NHS number on this record, one source of false matches."""
    nhs = record.values["nhs_number"]
    rows = rows[present(nhs[rows])]
    pool = record.truth["nhs_number"]
    other = pool[rng.integers(0, pool.size, size=rows.size)]
    ok = present(other) & (other != nhs[rows])
    rows = rows[ok]
    nhs[rows] = other[ok]
    return rows


def nhs_invalid(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mistyped digit. Any single-digit change breaks the modulus-11 check (11 is prime)."""
    nhs = record.values["nhs_number"]
    rows = rows[present(nhs[rows])]
    rows = rows[pd.Series(nhs[rows], dtype=object).str.fullmatch(r"[0-9]{10}").to_numpy(dtype=bool)]
    if rows.size == 0:
        return rows
    digits = chars(nhs[rows])[:, :10]
    position = rng.integers(0, 10, size=rows.size)
    index = np.arange(rows.size)
    old = digits[index, position] - ord("0")
    digits[index, position] = (old + rng.integers(1, 10, size=rows.size)) % 10 + ord("0")
    nhs[rows] = strings(digits)
    return rows


def postcode_out_of_date(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The address before the latest move, not yet updated."""
    return record.copy_context("postcode", "previous_postcode", rows)


def postcode_invalid(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A malformed postcode: outward code only, last character lost, or a digit typed as a letter.

    Each fails the postcode pattern (area, district, space, digit, two letters), as learners'
    validation should find.
    """
    postcode = record.values["postcode"]
    rows = rows[present(postcode[rows])]
    text = pd.Series(postcode[rows], dtype=object).str.strip()
    outward = text.str[:-3].str.strip()
    inward = text.str[-3:]
    lookalike = inward.str[0].map(LOOKALIKE_LETTERS).fillna("O")
    kind = rng.integers(0, 3, size=rows.size)
    broken = np.where(
        kind == 0, outward.to_numpy(dtype=object),
        np.where(kind == 1, text.str[:-1].to_numpy(dtype=object),
                 (outward + " " + lookalike + inward.str[1:]).to_numpy(dtype=object)),
    )
    changed = broken != postcode[rows]
    postcode[rows[changed]] = broken[changed]
    return rows[changed]
