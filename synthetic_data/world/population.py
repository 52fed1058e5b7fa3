"""Target child populations: how many children of each age live in each authority each year.

Rates per 10,000 children are the family justice system's headline measure, so the world's
children must number what ONS says they do. England's totals come from the ONS mid-year
estimates (2012-2024) and Wales's from mid-2020; each authority's age mix comes from the
single-year-of-age estimates for 2020. Years outside the published range follow England's
national index (extrapolated at its 2012-2016 growth before 2012 and held after 2024).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.world.geography import read_reference

PUBLISHED_ENGLAND_YEARS = range(2012, 2025)
WALES_YEAR = 2020
CURRENT_YEAR_BASE = 2024


def england_index(years: range | list[int]) -> dict[int, float]:
    """England's child population in each year relative to 2024, over authorities in both years."""
    pop = read_reference("child_population.csv")
    eng = pop[pop["la_code"].str.startswith("E")]
    base = eng[eng["year"] == CURRENT_YEAR_BASE].set_index("la_code")["population_0_17"]
    index: dict[int, float] = {}
    for year in PUBLISHED_ENGLAND_YEARS:
        this = eng[eng["year"] == year].set_index("la_code")["population_0_17"]
        common = this.index.intersection(base.index)
        index[year] = float(this[common].sum() / base[common].sum())
    first, last = min(PUBLISHED_ENGLAND_YEARS), max(PUBLISHED_ENGLAND_YEARS)
    growth = (index[first + 4] / index[first]) ** 0.25
    out = {}
    for year in years:
        if year < first:
            out[year] = index[first] / growth ** (first - year)
        elif year > last:
            out[year] = index[last]
        else:
            out[year] = index[year]
    return out


def base_totals(las: pd.DataFrame) -> pd.Series:
    """Children 0-17 per authority in its base year (2024 for England, 2020 for Wales), by la_code."""
    pop = read_reference("child_population.csv")
    eng = pop[pop["year"] == CURRENT_YEAR_BASE].set_index("la_code")["population_0_17"]
    wal = pop[(pop["year"] == WALES_YEAR) & pop["la_code"].str.startswith("W")]
    wal = wal.set_index("la_code")["population_0_17"]
    # Wales is known for 2020 only: bring it to the 2024 base with England's index.
    wal = wal / england_index([WALES_YEAR])[WALES_YEAR]
    both = pd.concat([eng, wal])
    return both.reindex(las["la_code"]).astype(float)


def age_shares(las: pd.DataFrame) -> np.ndarray:
    """Share of an authority's children at each single year of age 0-17 (rows follow ``las``)."""
    syoa = read_reference("child_population_syoa_2020.csv")
    table = syoa.pivot_table(index="la_code", columns="age", values="population", aggfunc="sum")
    table = table.reindex(las["la_code"])
    values = table.to_numpy(dtype=float)
    return values / values.sum(axis=1, keepdims=True)


def target_children(las: pd.DataFrame, years: range | list[int], scale: float) -> pd.DataFrame:
    """Expected children by authority, single year of age and year, at the given scale.

    Columns: la_index, la_code, year, age, children (float). This is the published figure the
    world is built to reproduce; the realism report compares the world's own count with it.
    """
    totals = base_totals(las).to_numpy()
    shares = age_shares(las)
    index = england_index(list(years))
    frames = []
    for year in years:
        counts = totals[:, None] * shares * index[year] * scale
        frame = pd.DataFrame(counts, columns=range(18))
        frame["la_index"] = np.arange(len(las))
        frame = frame.melt(id_vars="la_index", var_name="age", value_name="children")
        frame["year"] = year
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["age"] = out["age"].astype(int)
    out["la_code"] = las["la_code"].to_numpy()[out["la_index"].to_numpy()]
    return out[["la_index", "la_code", "year", "age", "children"]]


def target_births(las: pd.DataFrame, birth_years: range, window: range, scale: float) -> np.ndarray:
    """Children to be born in each authority in each birth year (rows: authorities, cols: years).

    A birth cohort's size is the mean of its target counts over the ages it is seen as a child
    within the window; cohorts seen at no age in the window take the nearest cohort's size.
    """
    targets = target_children(las, window, scale)
    targets["cohort"] = targets["year"] - targets["age"]
    cohort = targets.groupby(["la_index", "cohort"])["children"].mean().unstack("cohort")
    cohort = cohort.reindex(columns=list(birth_years))
    cohort = cohort.ffill(axis=1).bfill(axis=1)
    return cohort.to_numpy(dtype=float)
