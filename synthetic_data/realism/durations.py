"""How long proceedings take, against the published durations (A8).

Mean weeks by year are parameters of the simulation; the share of care cases ending within the
26-week limit is not, and it depends on the whole spread of durations, not only their mean.
Durations are counted by financial year of receipt (the publications count by year of
disposal), over years old enough that cases still open cannot cut the figure short.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.core.params import interpolate_by_year, load_params
from synthetic_data.realism.frames import (
    Dataset,
    NoData,
    cases,
    fy_label,
    fy_start,
    row,
    share,
    skipped,
)
from synthetic_data.realism.targets import published

DURATIONS = "durations"
SETTLED_YEARS = 3  # a year's cases are followed this long before their mean duration is judged


def _duration_rows(ds: Dataset, law_type: str) -> list[dict]:
    """Mean weeks to final order by FY of receipt, for FYs ending 3+ years before the period end
    so that cases still open do not pull the mean down."""
    durations = load_params(f"{law_type}_law")["durations"]
    anchors = {int(k): v for k, v in durations["mean_weeks_by_fy"].items()}
    settled = [fy for fy in ds.full_fys
               if fy_start(fy + 1) + pd.DateOffset(years=SETTLED_YEARS)
               <= ds.end + pd.Timedelta(days=1)]
    if not settled:
        raise NoData(f"no financial year ends {SETTLED_YEARS} years before the period end, so "
                     "every year's mean would be cut short by cases still open")
    frame = cases(ds)
    frame = frame[(frame["law_type"] == law_type) & frame["duration_weeks"].notna()]
    means = frame.groupby("fy")["duration_weeks"].mean()
    target = interpolate_by_year(anchors, settled)
    return [row(f"{law_type}_duration_weeks", f"Mean weeks to final order, {law_type} law",
                "A8", DURATIONS, target[fy], means.get(fy, np.nan), x=fy_label(fy),
                note=f"params/{law_type}_law.yaml durations.mean_weeks_by_fy, by FY of receipt "
                     "(published by year of disposal)")
            for fy in settled]


def public_durations(ds: Dataset) -> list[dict]:
    return _duration_rows(ds, "public")


def private_durations(ds: Dataset) -> list[dict]:
    return _duration_rows(ds, "private")


def within_26_weeks(ds: Dataset) -> list[dict]:
    """Care cases ending within the statutory limit, by FY of receipt (A8)."""
    pub = published("within_26_weeks")
    limit = load_params("public_law")["durations"]["limit_weeks"]
    frame = cases(ds)
    rows = []
    for year, target in pub["value"].items():
        figure = f"Care cases ending within {limit} weeks, {fy_label(year)}"
        if year not in ds.full_fys:
            rows.append(skipped("within_26_weeks", figure, pub["bullet"], DURATIONS, target,
                                f"{fy_label(year)} is not wholly inside the period",
                                fy_label(year)))
            continue
        these = frame[(frame["law_type"] == "public") & (frame["fy"] == year)
                      & frame["duration_weeks"].notna()]
        rows.append(row("within_26_weeks", figure, pub["bullet"], DURATIONS, target,
                        share(these["duration_weeks"] <= limit), x=fy_label(year),
                        tolerance=pub["tolerance"], note=pub["source"] + "; by FY of receipt"))
    return rows
