"""Text columns as arrays: which values are present, how long they are, and their letters.

A capture edits names and identifiers for thousands of rows at once. Holding the strings as a
matrix of code points (one row per value) lets a letter be replaced, dropped or inserted in every
row by array indexing, where a loop over Python strings would be the slowest step of a run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def present(values: np.ndarray) -> np.ndarray:
    """True where an object array holds a value (not None)."""
    return np.not_equal(values, None)


def text_array(column: pd.Series) -> np.ndarray:
    """A text column as a new object array with None for missing (pandas may hand NaN or pd.NA)."""
    if column.dtype != object:
        return column.to_numpy(dtype=object, na_value=None)
    values = column.to_numpy(dtype=object, copy=True)
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None
    return values


def lengths(values: np.ndarray) -> np.ndarray:
    """String lengths, 0 for missing values."""
    out = np.zeros(values.shape[0], dtype=np.int64)
    is_present = present(values)
    if is_present.any():
        out[is_present] = np.char.str_len(values[is_present].astype(str))
    return out


def chars(values: np.ndarray) -> np.ndarray:
    """Strings (no None) as a (rows, width + 1) matrix of code points, NUL-padded on the right.

    The extra column of NULs leaves room for an inserted letter.
    """
    text = np.ascontiguousarray(values.astype(str))
    width = text.dtype.itemsize // 4
    matrix = np.zeros((text.size, width + 1), dtype=np.uint32)
    if width:
        matrix[:, :width] = text.view(np.uint32).reshape(text.size, width)
    return matrix


def strings(matrix: np.ndarray) -> np.ndarray:
    """The inverse of ``chars``: trailing NULs drop away."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint32)
    return matrix.view(f"<U{matrix.shape[1]}").reshape(-1).astype(object)
