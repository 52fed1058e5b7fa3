"""Text columns as arrays: missing values stay None, and letters survive the round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.capture.text import chars, lengths, present, strings, text_array


def test_missing_text_becomes_none_whatever_pandas_holds() -> None:
    column = pd.Series(["Ann", np.nan, None, pd.NA, "Bo"], dtype=object)
    values = text_array(column)
    assert values.tolist() == ["Ann", None, None, None, "Bo"]
    assert present(values).tolist() == [True, False, False, False, True]
    assert text_array(pd.Series(["x", None], dtype="string")).tolist() == ["x", None]


def test_text_array_is_a_copy() -> None:
    column = pd.Series(["Ann", "Bo"], dtype=object)
    text_array(column)[0] = "Changed"
    assert column.iloc[0] == "Ann"


def test_lengths_count_missing_as_zero() -> None:
    assert lengths(np.array(["Ann", None, "", "Zoë"], dtype=object)).tolist() == [3, 0, 0, 3]


def test_chars_leave_room_for_a_letter_and_strings_undo_them() -> None:
    names = np.array(["Ann", "O'Neil", "Zoë", ""], dtype=object)
    matrix = chars(names)
    assert matrix.shape == (4, 7)
    assert (matrix[:, -1] == 0).all()
    assert strings(matrix).tolist() == names.tolist()
