"""Misspelt names: a letter typed wrong, a neighbouring key hit, a sound-alike spelling.

Each edit works on many names at once (a matrix of code points, or one regular expression per
rule) and changes every name it is given. Typing slips never touch the first letter: whoever types
a name rarely gets its initial wrong. Sound-alike spellings may (Catherine as Katherine).
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd

from synthetic_data.capture.choice import pick
from synthetic_data.capture.text import chars, present, strings

# UK QWERTY letter keys; each row sits this far right of the one above, so a key's neighbours
# are those in the same row one step away and those in the next row less than a key width away.
KEY_ROWS: tuple[str, ...] = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
KEY_ROW_OFFSETS: tuple[float, ...] = (0.0, 0.25, 0.75)
_LOWER_A = ord("a")
_UPPER_A = ord("A")


@cache
def keyboard_neighbours() -> tuple[np.ndarray, np.ndarray]:
    """For each letter a-z, its neighbouring letter keys (padded table) and how many it has."""
    position = {
        key: (row, column + KEY_ROW_OFFSETS[row])
        for row, keys in enumerate(KEY_ROWS)
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


def _letter_case(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of lower-case and upper-case ASCII letters in a character matrix."""
    lower = (matrix >= _LOWER_A) & (matrix < _LOWER_A + 26)
    upper = (matrix >= _UPPER_A) & (matrix < _UPPER_A + 26)
    return lower, upper


def typo_strings(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Insert, delete, substitute or transpose one letter in each name (length 2 or more)."""
    matrix = chars(values)
    k, width = matrix.shape
    length = np.char.str_len(values.astype(str)).astype(np.int64)
    op = rng.integers(0, 4, size=k)  # 0 substitute, 1 delete, 2 insert, 3 transpose
    u = rng.random(k)
    position = 1 + (u * (length - 1)).astype(np.int64)  # 1 .. length - 1
    insert_at = 1 + (u * length).astype(np.int64)  # 1 .. length
    swap_at = 1 + (u * np.maximum(length - 2, 1)).astype(np.int64)  # 1 .. length - 2
    rows = np.arange(k)
    can_swap = (length >= 3) & (
        matrix[rows, np.minimum(swap_at, width - 1)]
        != matrix[rows, np.minimum(swap_at + 1, width - 1)]
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
    padded = np.concatenate([matrix, np.zeros((k, 1), dtype=np.uint32)], axis=1)
    out = np.take_along_axis(padded, np.minimum(source, width), axis=1)

    # A new letter for substitutions (never the one it replaces) and insertions.
    current = matrix[rows, np.minimum(position, width - 1)] - _LOWER_A
    shift = rng.integers(1, 26, size=k)
    letter = np.where(current < 26, (current + shift) % 26, shift) + _LOWER_A
    writes = (op == 0) | (op == 2)
    out[rows[writes], position[writes]] = letter[writes]
    return strings(out)


def keyboard_applicable(values: np.ndarray) -> np.ndarray:
    """Names with a letter after the first (the key that could be mis-hit)."""
    is_present = present(values)
    out = np.zeros(values.shape[0], dtype=bool)
    if is_present.any():
        lower, upper = _letter_case(chars(values[is_present])[:, 1:])
        out[is_present] = (lower | upper).any(axis=1)
    return out


def keyboard_strings(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replace one letter after the first with a neighbouring key, keeping its case."""
    matrix = chars(values)
    k = matrix.shape[0]
    lower, upper = _letter_case(matrix)
    letters = lower | upper
    letters[:, 0] = False
    count = letters.sum(axis=1)
    nth = (rng.random(k) * count).astype(np.int64)
    position = (np.cumsum(letters, axis=1) <= nth[:, None]).sum(axis=1)
    rows = np.arange(k)
    old = matrix[rows, position]
    was_upper = upper[rows, position]
    index = np.where(was_upper, old - _UPPER_A, old - _LOWER_A).astype(np.int64)
    table, counts = keyboard_neighbours()
    new = table[index, (rng.random(k) * counts[index]).astype(np.int64)]
    matrix[rows, position] = np.where(was_upper, new - _LOWER_A + _UPPER_A, new)
    return strings(matrix)


def phonetic_matches(values: np.ndarray, rules: tuple[tuple[str, str], ...]) -> np.ndarray:
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


def phonetic_strings(
    values: np.ndarray, rules: tuple[tuple[str, str], ...], rng: np.random.Generator
) -> np.ndarray:
    """Rewrite one sound-alike part of each name, by a rule chosen among those that match."""
    matches = phonetic_matches(values, rules)
    rule = pick(matches.astype(np.float64), rng)
    out = values.copy()
    for index, (pattern, replacement) in enumerate(rules):
        chosen = rule == index
        if chosen.any():
            names = pd.Series(values[chosen], dtype=object)
            out[chosen] = names.str.replace(pattern, replacement, n=1, regex=True).to_numpy(
                dtype=object)
    return out
