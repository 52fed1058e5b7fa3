"""Death registrations of the linked population: who died in the period, when, and of what."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE
from synthetic_data.linked.cohort import Cohort
from synthetic_data.world.people import World

AGE_BANDS = (("under_1", 0, 1), ("age_1_17", 1, 18), ("age_18_44", 18, 45), ("age_45_plus", 45, 200))


def death_registrations(world: World, cohort: Cohort, params: dict,
                        rng: np.random.Generator) -> pd.DataFrame:
    """person, death_day, registration_day, cause_chapter: one row per death in the period."""
    dod = world.dod[cohort.persons]
    died = (dod != NO_DATE) & (dod >= world.start_day) & (dod <= world.end_day)
    persons = cohort.persons[died]
    death_day = world.dod[persons].astype(np.int64)
    age = (death_day - world.dob[persons]) / DAYS_PER_YEAR
    cause = np.empty(persons.size, dtype=object)
    for band, lo, hi in AGE_BANDS:
        rows = np.flatnonzero((age >= lo) & (age < hi))
        shares = params["causes_by_age"][band]
        names = list(shares)
        weights = np.array([shares[k] for k in names], dtype=float)
        cause[rows] = np.array(names, dtype=object)[
            rng.choice(len(names), rows.size, p=weights / weights.sum())]
    lo, hi = params["registration_lag_days"]
    return pd.DataFrame({"person": persons, "death_day": death_day,
                         "registration_day": death_day + rng.integers(lo, hi + 1, persons.size),
                         "cause_chapter": cause})
