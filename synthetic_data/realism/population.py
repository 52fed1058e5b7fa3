"""The data foundation: children 0-17 in the reference population against the ONS estimates.

Every rate in the data (applications per 10,000 children, births per area) divides by this
population, so it is checked first, nationally by year and by region, before any figure that
rests on it.
"""

from __future__ import annotations

import numpy as np

from synthetic_data.realism.frames import Dataset, NoData, require, row
from synthetic_data.realism.targets import tolerance
from synthetic_data.world.geography import local_authorities
from synthetic_data.world.population import target_children

POPULATION = "population"


def population_by_year(ds: Dataset) -> list[dict]:
    """Children 0-17 in reference/population against the ONS targets at the dataset's scale."""
    pop = require(ds.table("population"), "population")
    years = sorted(int(y) for y in pop["year"].unique())
    if not years:
        raise NoData("the population table is empty")
    las = local_authorities(ds.region)
    target = target_children(las, years, ds.scale).groupby("year")["children"].sum()
    generated = pop.groupby("year")["children"].sum()
    return [row("population_children", "Children aged 0-17 (mid-year)", "population",
                POPULATION, target[y], generated.get(y, np.nan), x=str(y),
                tolerance=tolerance("population_children"),
                note="ONS mid-year estimates at the dataset's scale (population.target_children)")
            for y in years]


def population_by_region(ds: Dataset) -> list[dict]:
    """The same, by region, for the last year: the rates' denominators must be right locally."""
    pop = require(ds.table("population"), "population")
    if pop.empty:
        raise NoData("the population table is empty")
    year = int(pop["year"].max())
    las = local_authorities(ds.region)
    region_of = las.set_index("la_code")["region_name"]
    target = target_children(las, [year], ds.scale)
    target = target.groupby(target["la_code"].map(region_of))["children"].sum()
    this = pop[pop["year"] == year]
    generated = this.groupby(this["la_code"].map(region_of))["children"].sum()
    return [row("population_by_region", f"Children aged 0-17 by region, mid-{year}",
                "population", POPULATION, target[r], generated.get(r, np.nan), x=str(r),
                note="ONS mid-year estimates at the dataset's scale")
            for r in target.index]
