"""Standardising and comparing identifiers, as SQL for the trusted third party's matcher.

Records and the index write the same person differently ("o'neil" and "O NEIL", "QA1 2BC" and
"qa12bc", "999 123 4567"): every comparison therefore runs on standardised values, and the
standardising is the same on both sides. Names, sex and NHS numbers are standardised here into
integers (names once per distinct value, with their Soundex code, which DuckDB lacks);
postcodes are standardised by DuckDB SQL once per distinct value and coded as integers too, and
the comparisons themselves are DuckDB SQL, run column at a time in the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synthetic_data.core.identifiers import nhs_check_digit

# Soundex digit of each letter (Russell and Odell's American Soundex, as in the US census).
_SOUNDEX_CODES = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}
_NOT_LETTERS = re.compile("[^A-Z]")


class NameVocabulary:
    """Standardised names (upper case, letters only) of both sides, coded as integers.

    "O'Neil" and "o neil" are both ONEIL, one code. A column holds a few thousand distinct names
    however long it is, so names are standardised once per distinct value and the database joins
    and compares small integers; the strings are looked up only for the pairs whose similarity is
    needed. Codes follow first appearance, so the same input always gets the same codes.
    """

    def __init__(self) -> None:
        self._code: dict[str, int] = {}

    def encode(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """int32 code of each value's standardised name; -1 where it is missing or has no letters."""
        positions, uniques = pd.factorize(_as_series(values), use_na_sentinel=True)
        codes = [self._code.setdefault(name, len(self._code)) if name else -1
                 for name in (_letters_only(value) for value in uniques)]
        return np.array([*codes, -1], dtype=np.int32)[positions]  # position -1 picks the last

    def soundex(self, codes: np.ndarray) -> np.ndarray:
        """int32 Soundex of each coded name (letter number * 1000 + the three digits); -1 if missing."""
        table = np.array([*(_soundex_number(name) for name in self._code), -1], dtype=np.int32)
        return table[codes]

    def __len__(self) -> int:
        return len(self._code)

    def table(self, start: int = 0) -> pd.DataFrame:
        """code, name (codes from ``start``): for joining the strings back where a similarity is
        computed."""
        return pd.DataFrame(
            {
                "code": np.arange(start, len(self._code), dtype=np.int32),
                "name": pd.Series(list(self._code)[start:], dtype=object),
            }
        )


class PostcodeVocabulary:
    """Standardised postcodes and their outward codes, coded as integers like names.

    The index holds every address of every person (8.7 million rows for Wales) but only some
    tens of thousands of distinct postcodes, so each distinct value is standardised once, by the
    same SQL (:func:`postcode_sql`, :func:`outward_sql`) as a whole column would be, and the
    matcher joins and compares integers. Codes follow first appearance: the same input always gets
    the same codes, and the matcher's results never depend on the code values, only on equality.
    """

    def __init__(self) -> None:
        self._postcode: dict[str, int] = {}
        self._outward: dict[str, int] = {}

    def encode(
        self, con: duckdb.DuckDBPyConnection, values: pd.Series | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """int32 codes of each value's standardised postcode and of its outward code; -1 where
        the postcode is missing or not a postcode's size."""
        positions, uniques = pd.factorize(_as_series(values), use_na_sentinel=True)
        raw = pd.DataFrame(
            {"i": np.arange(len(uniques), dtype=np.int64),
             "v": pd.Series(np.asarray(uniques, dtype=object), dtype=object)}
        )
        con.register("postcodes_raw", raw)
        try:
            rows = con.execute(
                f"SELECT pc, {outward_sql('pc')} AS outward FROM ("
                f"SELECT i, {postcode_sql('v::VARCHAR')} AS pc FROM postcodes_raw) ORDER BY i"
            ).fetchall()
        finally:
            con.unregister("postcodes_raw")
        pc_codes, outward_codes = [], []
        for postcode, outward in rows:
            pc_codes.append(-1 if postcode is None
                            else self._postcode.setdefault(postcode, len(self._postcode)))
            outward_codes.append(
                -1 if outward is None else self._outward.setdefault(outward, len(self._outward)))
        pc_table = np.array([*pc_codes, -1], dtype=np.int32)  # position -1 picks the last
        outward_table = np.array([*outward_codes, -1], dtype=np.int32)
        return pc_table[positions], outward_table[positions]


def sex_codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """0 for 'F', 1 for 'M' (either case, stray spaces allowed); -1 for anything else."""
    positions, uniques = pd.factorize(_as_series(values), use_na_sentinel=True)
    cleaned = [str(value).strip().upper() for value in uniques]
    table = np.array([("F", "M").index(v) if v in ("F", "M") else -1 for v in cleaned] + [-1])
    return table.astype(np.int8)[positions]


def nhs_number_codes(values: pd.Series | np.ndarray, validate: bool) -> np.ndarray:
    """NHS numbers as int64 (spaces removed); -1 where missing, not ten digits or, when
    ``validate``, failing the modulus-11 check: the trusted third party cannot use those.

    The index's numbers are the reference and are taken as issued; a record's are checked.
    Cleaned in Arrow, column at a time: the index holds millions of numbers.
    """
    text = _arrow_text(_as_series(values))
    clean = pc.replace_substring(text, " ", "")
    ok = pc.match_substring_regex(clean, "^[0-9]{10}$").fill_null(False)
    numbers = np.full(len(text), -1, dtype=np.int64)
    where = np.flatnonzero(ok.to_numpy(zero_copy_only=False))
    digits = pc.cast(clean.filter(ok), pa.int64()).to_numpy(zero_copy_only=False)
    if validate:
        valid = nhs_check_digit(digits // 10) == digits % 10
        where, digits = where[valid], digits[valid]
    numbers[where] = digits
    return numbers


def _arrow_text(series: pd.Series) -> pa.Array:
    """A column as Arrow strings, missing values null; values that are not strings are written
    as pandas writes them (``astype("str")``)."""
    if not (isinstance(series.dtype, pd.StringDtype) or series.dtype == object):
        series = series.astype("str")
    try:
        text = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # objects that are not all strings
        text = pa.array(series.astype("str"), from_pandas=True)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if pa.types.is_null(text.type):
        return text.cast(pa.string())
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return pa.array(series.astype("str"), from_pandas=True)
    return text


def _as_series(values: pd.Series | np.ndarray) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return pd.Series(np.asarray(values, dtype=object))


def _letters_only(value: object) -> str | None:
    cleaned = _NOT_LETTERS.sub("", str(value).upper())
    return cleaned or None


def _soundex_number(name: str) -> int:
    code = _soundex_one(name)
    return (ord(code[0]) - ord("A") + 1) * 1000 + int(code[1:])


def postcode_sql(column: str) -> str:
    """Upper case, letters and digits only; NULL unless 5-7 characters long (a UK postcode's size).

    A value too short or too long to be a postcode is treated as missing rather than compared.
    Most postcodes only need their space removed, so the costly regular-expression replacement
    runs only on the rest.
    """
    clean = (
        f"(CASE WHEN regexp_full_match({column}, '[A-Za-z0-9 ]*') "
        f"THEN upper(replace({column}, ' ', '')) "
        f"ELSE upper(regexp_replace({column}, '[^A-Za-z0-9]', '', 'g')) END)"
    )
    return f"CASE WHEN length({clean}) BETWEEN 5 AND 7 THEN {clean} END"


def outward_sql(postcode: str) -> str:
    """Outward code (the district) of a standardised postcode: all but the three-character inward."""
    return f"left({postcode}, length({postcode}) - 3)"


def _soundex_one(name: str) -> str:
    """American Soundex of a standardised (non-empty, A-Z only) name. H and W do not separate
    letters with the same code; vowels do."""
    letters = list(name)
    out = letters[0]
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for letter in letters[1:]:
        code = _SOUNDEX_CODES.get(letter, "")
        if code and code != previous:
            out += code
            if len(out) == 4:
                break
        if letter not in "HW":
            previous = code
    return out.ljust(4, "0")


def similarity_sql(left: str, right: str) -> str:
    """Jaro-Winkler similarity of two names, computed only where they differ (NULL otherwise)."""
    return f"CASE WHEN {left} <> {right} THEN jaro_winkler_similarity({left}, {right}) END"


def name_level_sql(left: str, right: str, similarity: str, bands: Mapping[str, float]) -> str:
    """Comparison level of two standardised names: exact, close, similar, different or NULL.

    ``similarity`` is a column already holding :func:`similarity_sql`, so that the similarity is
    computed once per pair however many bands it is tested against.
    """
    return (
        f"CASE WHEN {left} IS NULL OR {right} IS NULL THEN NULL "
        f"WHEN {left} = {right} THEN 'exact' "
        f"WHEN {similarity} >= {float(bands['close'])!r} THEN 'close' "
        f"WHEN {similarity} >= {float(bands['similar'])!r} THEN 'similar' "
        "ELSE 'different' END"
    )


def dob_level_sql(left: str, right: str) -> str:
    """Comparison level of two dates of birth (DATE): exact, swapped, one component off, different.

    A day/month swap is only visible when the day is 12 or less and differs from the month.
    """
    same_year = f"year({left}) = year({right})"
    same_month = f"month({left}) = month({right})"
    same_day = f"day({left}) = day({right})"
    agreements = f"({same_year})::INT + ({same_month})::INT + ({same_day})::INT"
    return (
        f"CASE WHEN {left} IS NULL OR {right} IS NULL THEN NULL "
        f"WHEN {left} = {right} THEN 'exact' "
        f"WHEN {same_year} AND day({left}) = month({right}) AND month({left}) = day({right}) "
        "THEN 'day_month_swapped' "
        f"WHEN {agreements} = 2 THEN 'one_component_differs' "
        "ELSE 'different' END"
    )


def agree_level_sql(left: str, right: str) -> str:
    """Two-level comparison (sex, NHS number): agree, disagree or NULL."""
    return (
        f"CASE WHEN {left} IS NULL OR {right} IS NULL THEN NULL "
        f"WHEN {left} = {right} THEN 'agree' ELSE 'disagree' END"
    )


def weight_sql(level: str, levels: Mapping[str, Mapping[str, float]]) -> str:
    """log2(m / u) of a comparison level column; a missing comparison (NULL) weighs nothing."""
    arms = " ".join(
        f"WHEN '{name}' THEN {float(np.log2(mu['m'] / mu['u']))!r}" for name, mu in levels.items()
    )
    return f"(CASE {level} {arms} ELSE 0.0 END)"
