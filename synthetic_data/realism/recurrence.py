"""Mothers back in care proceedings, against A10: the recurrence the simulation produces through
later babies, not a rate it applies.

Each mother's first case is the first in the data (proceedings before the period are unseen),
and a cohort is followed only as far as the period lets it be followed for the published years.
The checks by mothers' age are in :mod:`synthetic_data.realism.mothers`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthetic_data.realism.frames import (
    RECURRENCE,
    TOLERANCE,
    Dataset,
    NoData,
    fy_label,
    mothers_first_cases,
    row,
    share,
    skipped,
)
from synthetic_data.realism.targets import published


def recurrence_row(ds: Dataset, key: str, label: str) -> dict[str, Any]:
    """Share of a cohort of mothers back in care proceedings within the figure's years."""
    pub = published(key)
    years = pub["within_years"]
    first_fy, last_fy = pub["cohort_fys"]
    figure = f"{label} within {years} years of their first case"
    try:
        first = mothers_first_cases(ds)
    except NoData as err:
        return skipped(key, figure, pub["bullet"], RECURRENCE, pub["value"], str(err))
    latest = ds.end - pd.DateOffset(years=years)
    cohort = first[(first["fy"] >= first_fy) & (first["fy"] <= last_fy)
                   & (first["received_date"] <= latest)]
    if "mother_age_under" in pub:
        cohort = cohort[cohort["mother_age"] < pub["mother_age_under"]]
    if cohort.empty:
        return skipped(key, figure, pub["bullet"], RECURRENCE, pub["value"],
                       f"no mother's first case in {fy_label(first_fy)}-{fy_label(last_fy)} "
                       f"lies {years} years before the period end")
    within = cohort["next_date"] <= cohort["received_date"] + pd.DateOffset(years=years)
    seen = f"{fy_label(int(cohort['fy'].min()))}-{fy_label(int(cohort['fy'].max()))}"
    return row(key, figure, pub["bullet"], RECURRENCE, pub["value"], share(within), x=seen,
               tolerance=pub.get("tolerance", TOLERANCE),
               note=pub["source"] + "; first case within the data (proceedings before the "
                    "period are unseen); mother and her age from the answer key"
                    + (f"; {pub['tolerance_why']}" if "tolerance_why" in pub else ""))


def recurrent_mothers(ds: Dataset) -> list[dict]:
    """Mothers back in care proceedings within 7 years of their first (A10)."""
    return [recurrence_row(ds, "recurrent_mothers", "Mothers back in care proceedings")]


def recurrent_young_mothers(ds: Dataset) -> list[dict]:
    """The same for the youngest mothers, whose risk A10 finds highest."""
    return [recurrence_row(ds, "recurrent_young_mothers",
                           "Mothers under 20 back in care proceedings")]
