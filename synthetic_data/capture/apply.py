"""How each data source records people: named, composable corruptions of the truth.

Record linkage is only worth teaching if the records disagree the way real ones do: a surname
misspelt, a date of birth with day and month swapped, a newborn entered as "Baby", an address
from before the last move, an NHS number missing or mistyped. And they must disagree more often
for some people than for others, because linkage studies find ethnic-minority groups and people
in deprived areas linked less often, and analysts have to learn to look for that bias.

So every source (Cafcass, the family court, health, education, children looked after, deaths)
captures the same truth through its own list of corruptions. Each corruption is a small named
function (``name_errors``, ``date_errors``, ``identifier_errors``); ``corruptions.CORRUPTIONS``
holds them in the one order they are applied; every rate lives in ``params/capture.yaml`` per
source, with group multipliers for ethnic-minority groups and the most deprived quintile
(``rates``). The truth is never changed, and ``Captured.applied`` says which corruptions hit
which record, so graders can explain every disagreement.

Everything is vectorised: a corruption draws who it hits for all rows at once, then works on
those rows only (string edits on a character matrix, regular expressions once per rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthetic_data.capture.corruptions import CORRUPTIONS
from synthetic_data.capture.rates import group_factor, is_zero, row_rates
from synthetic_data.capture.record import FIELDS, Record
from synthetic_data.capture.settings import CaptureConfig, capture_config
from synthetic_data.core.errors import InputError
from synthetic_data.core.sampling import choose

__all__ = ["CORRUPTIONS", "FIELDS", "Captured", "capture", "record_counts"]


@dataclass
class Captured:
    """What a source holds: its records, and which corruptions made them differ from the truth."""

    records: pd.DataFrame  # one row per input row, same order (RangeIndex of positions)
    applied: pd.DataFrame  # long format: row (position in the input), corruption


# --- Configuration: capture/settings.py (checked when loaded, so nothing here fails) ---


def _source_section(config: CaptureConfig, source: str) -> Mapping[str, Any]:
    if source not in config.sources:
        raise InputError(f"unknown source {source!r}; capture.yaml configures "
                         f"{', '.join(map(str, config.sources))}")
    return config.sources[source]


# --- The public face ---


def capture(
    truth: pd.DataFrame,
    source: str,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> Captured:
    """Record ``truth`` as ``source`` would: its fields not recorded, then its corruptions.

    ``truth`` holds one row per record to make: forename, surname, sex, dob (int64 days),
    nhs_number, postcode, minority, deprived, age_days_at_record, and the context columns the
    corruptions draw on (previous_postcode, partner_surname, household_forename, household_dob,
    twin_forename; a context column left out counts as never applicable). ``params`` defaults
    to ``params/capture.yaml``. Same truth, source, params and random state: same records.
    """
    config = capture_config(params)
    section = _source_section(config, source)
    record = Record.start(truth, section.get("not_recorded") or (), config.settings)
    n = len(truth)
    age_days = record.truth["age_days_at_record"]
    factor = group_factor(record.truth, config.multipliers)

    rates = section.get("rates") or {}
    hit_rows: list[np.ndarray] = []
    hit_codes: list[np.ndarray] = []
    for code, (name, corruption) in enumerate(CORRUPTIONS.items()):
        rate = rates.get(name, 0.0)
        if is_zero(rate) or n == 0:
            continue
        p = row_rates(rate, age_days, config.age_bands, factor, config.max_rate,
                      multiplied=name not in config.not_multiplied)
        drawn = np.flatnonzero(rng.random(n) < p)
        changed = corruption(record, drawn, rng)
        hit_rows.append(changed.astype(np.int64))
        hit_codes.append(np.full(changed.size, code, dtype=np.int64))
    return Captured(records=record.records(), applied=_applied(hit_rows, hit_codes))


def _applied(hit_rows: list[np.ndarray], hit_codes: list[np.ndarray]) -> pd.DataFrame:
    """Which corruption changed which row: by row, then in the order corruptions are applied."""
    rows = np.concatenate(hit_rows) if hit_rows else np.empty(0, dtype=np.int64)
    codes = np.concatenate(hit_codes) if hit_codes else np.empty(0, dtype=np.int64)
    order = np.lexsort((codes, rows))
    names = np.array(list(CORRUPTIONS), dtype=object)
    # Series with explicit dtypes (pandas would otherwise infer its string type), and no copy.
    return pd.DataFrame({
        "row": pd.Series(rows[order], dtype=np.int64),
        "corruption": pd.Series(names[codes[order]], dtype=object),
    }, copy=False)


def record_counts(
    n: int,
    source: str,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """How many records each of ``n`` people has in ``source`` (at least 1).

    Sources hold some people more than once under records that are not joined up (a second
    registration, a party entered again on a new case); the shares of 1, 2, 3... records are
    configured per source as ``records_per_person``.
    """
    if n < 0:
        raise InputError(f"record_counts: n must be 0 or more, got {n}")
    section = _source_section(capture_config(params), source)
    shares = section["records_per_person"]
    counts = np.array(sorted(int(k) for k in shares), dtype=np.int64)
    probabilities = np.array([float(shares[k]) for k in sorted(shares)])
    return counts[choose(probabilities, int(n), rng)]
