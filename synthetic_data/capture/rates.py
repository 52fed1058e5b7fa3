"""How likely each row is to get each corruption: a base rate, raised for some groups, capped.

Linkage studies find ethnic-minority groups and people in deprived areas linked less often, so
their records carry errors more often: each row's rate is the source's base rate (by age band
where configured) times the multipliers of the groups it belongs to, capped at ``max_rate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthetic_data.capture.record import GROUPS

AgeBands = Mapping[str, tuple[int, float]]  # band name: (from day of age, to day, exclusive)


def base_rates(rate: Any, age_days: np.ndarray, bands: AgeBands) -> np.ndarray:
    """A configured rate (number, or rates by age band) as one probability per row."""
    if not isinstance(rate, Mapping):
        return np.full(age_days.shape[0], float(rate))
    out = np.zeros(age_days.shape[0])
    for band, value in rate.items():
        low, high = bands[band]
        out[(age_days >= low) & (age_days < high)] = float(value)
    return out


def group_factor(truth: Mapping[str, np.ndarray], multipliers: Mapping[str, float]) -> np.ndarray:
    """Each row's product of group multipliers (1 for a person in neither group)."""
    factor = np.ones(truth["age_days_at_record"].shape[0])
    for group in GROUPS:
        factor[truth[group]] *= multipliers[group]
    return factor


def row_rates(
    rate: Any,
    age_days: np.ndarray,
    bands: AgeBands,
    factor: np.ndarray,
    max_rate: float,
    multiplied: bool = True,
) -> np.ndarray | float:
    """The probability each row gets a corruption: base rate times group ``factor``.

    The multiplied rate is capped at ``max_rate``; a base rate already above it is kept, so a
    field a source hardly ever holds is not pushed to "never". A corruption that is not
    ``multiplied`` keeps its base rate. A rate that is the same for every row and not multiplied
    comes back as a number.
    """
    base: np.ndarray | float = (base_rates(rate, age_days, bands) if isinstance(rate, Mapping)
                                else float(rate))
    if not multiplied:
        return base
    capped = np.minimum(base * factor, max_rate)
    return np.where(base > max_rate, base, capped)


def is_zero(rate: Any) -> bool:
    """True if a configured rate (number, or rates by age band) never applies."""
    values = rate.values() if isinstance(rate, Mapping) else [rate]
    return all(float(v) == 0.0 for v in values)
