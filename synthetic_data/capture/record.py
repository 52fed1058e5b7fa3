"""A record being captured: the values a source will hold, beside the truth they started from.

Corruptions change ``Record.values`` in place, one after another, and read the truth (and the
context columns: a previous postcode, a partner's surname, a household member's details) to
decide what they can do. The truth itself is never changed, so every disagreement a learner
finds can be traced back to the corruptions applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic_data.capture.text import present, text_array
from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.errors import InputError

FIELDS: tuple[str, ...] = ("forename", "surname", "sex", "date_of_birth", "nhs_number", "postcode")
TEXT_FIELDS: tuple[str, ...] = ("forename", "surname", "sex", "nhs_number", "postcode")
REQUIRED_COLUMNS: tuple[str, ...] = (
    "forename", "surname", "sex", "dob", "nhs_number", "postcode",
    "minority", "deprived", "age_days_at_record",
)
# Context columns: a missing one is treated as "never applies" (all None / NO_DATE).
CONTEXT_TEXT_COLUMNS: tuple[str, ...] = (
    "previous_postcode", "partner_surname", "household_forename", "twin_forename",
)
CONTEXT_DATE_COLUMNS: tuple[str, ...] = ("household_dob",)
GROUPS: tuple[str, ...] = ("minority", "deprived")


@dataclass(frozen=True)
class Settings:
    """The parts of capture.yaml that say how corruptions work, rather than how often."""

    baby_forename: str
    spelling_fields: Mapping[str, float]
    household_fields: Mapping[str, float]
    phonetic_rules: tuple[tuple[str, str], ...]


@dataclass
class Record:
    """The values being corrupted (output fields), beside the truth they started from."""

    values: dict[str, np.ndarray]  # FIELDS; text as object arrays with None, dates int64
    truth: dict[str, np.ndarray]  # truth columns (dob, household_dob, age, groups, text fields)
    frame: pd.DataFrame  # the truth as given, for context text read only at the rows drawn
    settings: Settings

    @classmethod
    def start(cls, frame: pd.DataFrame, not_recorded: tuple[str, ...] | list[str],
              settings: Settings) -> Record:
        """The truth as a source first holds it: every field copied, those it never records blank."""
        truth = truth_arrays(frame)
        n = len(frame)
        values = {field: truth["dob" if field == "date_of_birth" else field].copy()
                  for field in FIELDS}
        for field in not_recorded:
            values[field] = (np.full(n, NO_DATE, dtype=np.int64) if field == "date_of_birth"
                             else np.full(n, None, dtype=object))
        return cls(values, truth, frame, settings)

    def context(self, column: str, rows: np.ndarray) -> np.ndarray:
        """A context text column at ``rows`` (object, None where missing or not supplied).

        Read only where a corruption was drawn: converting whole text columns to Python
        strings is the slowest step of a capture.
        """
        if column not in self.frame.columns:
            return np.full(rows.size, None, dtype=object)
        return text_array(self.frame[column].iloc[rows])

    def copy_context(self, field: str, column: str, rows: np.ndarray) -> np.ndarray:
        """Overwrite a recorded text value with a context value where that differs; rows changed."""
        current = self.values[field][rows]
        other = self.context(column, rows)
        changed = present(current) & present(other) & (current != other)
        self.values[field][rows[changed]] = other[changed]
        return rows[changed]

    def records(self) -> pd.DataFrame:
        """The values as the source's records: one row per truth row, FIELDS as columns."""
        # Series with explicit dtypes (pandas would otherwise infer its string type), and no copy.
        return pd.DataFrame({
            field: pd.Series(self.values[field],
                             dtype=np.int64 if field == "date_of_birth" else object)
            for field in FIELDS
        }, copy=False)


def truth_arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The truth frame's columns as arrays: text with None for missing, dates with NO_DATE."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"capture: the truth frame has no column(s) {missing}; "
                         f"it needs {list(REQUIRED_COLUMNS)}")
    n = len(frame)
    out: dict[str, np.ndarray] = {}
    for column in ("forename", "surname", "sex", "nhs_number", "postcode"):
        out[column] = text_array(frame[column])
    for column in ("dob", *CONTEXT_DATE_COLUMNS):
        if column in frame.columns:
            values = frame[column]
            dates = values.fillna(NO_DATE) if values.hasnans else values
            out[column] = dates.to_numpy(dtype=np.int64)
        else:
            out[column] = np.full(n, NO_DATE, dtype=np.int64)
    out["age_days_at_record"] = frame["age_days_at_record"].to_numpy(dtype=np.int64)
    for group in GROUPS:
        out[group] = frame[group].to_numpy(dtype=bool)
    return out
