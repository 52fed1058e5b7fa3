"""Babies in care proceedings, country by country, against the "Born into care" reports (A4).

Newborns come to proceedings by two routes in the simulation: at a mother's first proceedings,
issued at birth after concerns in pregnancy, and as later babies of mothers who have been in
proceedings before (recurrence). The reports give, for England and for Wales, the share of
infants in proceedings who were newborns, how many newborns there were per 10,000 births and
how many of them were "subsequent infants". These checks count the same figures from the
generated tables, each country with the reports' own age limit and years.

Welsh figures rest on a few hundred babies a year at national scale, a few dozen at classroom
scale, so each share's tolerance is the wider of a fixed one and 2.5 standard errors of the
share at the dataset's size: the classroom data can only roughly show them, a full-scale Welsh
dataset shows them closely (the tests check both).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from synthetic_data.realism.frames import (
    Dataset,
    NoData,
    cases,
    fy_label,
    require,
    row,
    skipped,
    subject_children,
    true_people,
)
from synthetic_data.realism.targets import published

NEWBORNS = "newborns in proceedings"
Z = 2.5  # standard errors of sampling noise a share may differ by


def sampling_tolerance(target: float, n: int, base: float) -> tuple[float, str]:
    """The wider of ``base`` and Z standard errors of a share ``target`` among ``n``, relative."""
    if n <= 0:
        return base, ""
    noise = Z * math.sqrt(target * (1 - target) / n) / target
    if noise <= base:
        return base, f"tolerance {base:.0%}"
    return noise, f"tolerance {noise:.0%}: {Z} standard errors of the share among {n:,}"


def public_children(ds: Dataset) -> pd.DataFrame:
    """Public law subject children with their age in days, the case's mother (answer key) and
    whether she had an earlier public law case in the data."""
    def build() -> pd.DataFrame:
        truth = require(ds.table("cafcass_case_truth"), "cafcass_case_truth")
        frame = cases(ds)
        frame = frame.loc[frame["law_type"] == "public", ["case_id", "received_date"]]
        frame = frame.merge(truth[["case_id", "mother_id"]], on="case_id", how="left")
        frame = frame.sort_values(["mother_id", "received_date", "case_id"])
        frame["earlier_case"] = frame.groupby("mother_id").cumcount() > 0
        frame.loc[frame["mother_id"].isna(), "earlier_case"] = False
        kids = subject_children(ds)
        kids = kids.loc[kids["law_type"] == "public",
                        ["case_id", "received_date", "fy", "country", "age_at_application",
                         "age_at_application_days"]]
        kids = kids.merge(frame[["case_id", "earlier_case"]], on="case_id", how="left")
        kids["cy"] = kids["received_date"].dt.year
        return kids
    return ds.cached("_public_children", build)


def births_by_country(ds: Dataset) -> pd.DataFrame:
    """Live births in the world by the country the mother lived in on the day, with FY and
    calendar year: the reports' denominator."""
    def build() -> pd.DataFrame:
        people = true_people(ds)
        residences = require(ds.table("world_residences"), "world_residences")
        las = require(ds.table("local_authorities"), "local_authorities")
        kids = people.loc[(people["role"] == "child") & people["mother_id"].notna(),
                          ["date_of_birth", "mother_id"]].copy()
        kids["mother_id"] = kids["mother_id"].astype("int64")
        spells = residences.loc[residences["person_id"].isin(kids["mother_id"]),
                                ["person_id", "date_from", "la_code"]].sort_values("date_from")
        kids = kids.sort_values("date_of_birth")
        kids["date_of_birth"] = kids["date_of_birth"].astype(spells["date_from"].dtype)
        merged = pd.merge_asof(kids, spells, left_on="date_of_birth", right_on="date_from",
                               left_by="mother_id", right_by="person_id", direction="backward")
        merged["country"] = merged["la_code"].map(las.set_index("la_code")["country"])
        born = merged["date_of_birth"]
        merged["cy"] = born.dt.year
        merged["fy"] = born.dt.year - (born.dt.month < 4).astype(int)
        return merged[["country", "fy", "cy"]]
    return ds.cached("_births_by_country", build)


def year_label(kind: str, year: int) -> str:
    return fy_label(year) if kind == "fy" else str(year)


def year_in_data(ds: Dataset, kind: str, year: int) -> bool:
    """Whether the year lies wholly inside the dataset's period."""
    if kind == "fy":
        return year in ds.full_fys
    return ds.start <= pd.Timestamp(f"{year}-01-01") and pd.Timestamp(f"{year}-12-31") <= ds.end


def nearest_year(ds: Dataset, kind: str, year: int) -> int | None:
    """The year itself, or the next one when the data start a year later (as with 2007/08 and
    data from April 2008); None when neither lies wholly inside the period."""
    for candidate in (year, year + 1):
        if year_in_data(ds, kind, candidate):
            return candidate
    return None


def born_into_care(figure: str, country: str) -> dict[str, Any]:
    """The country's published figure: each country's report has its own newborn (under 7 days
    in England, under 2 weeks in Wales) and its own years (financial in England, calendar in
    Wales), given with the figure as ``max_days`` and ``year_type``."""
    return published(f"{figure}_{country.lower()}")


def _newborns(kids: pd.DataFrame, pub: dict[str, Any]) -> pd.Series:
    return kids["age_at_application_days"] < pub["max_days"]


def newborn_share_by_country(ds: Dataset) -> list[dict[str, Any]]:
    """Newborns among infants in care proceedings, by country, with each report's age limit."""
    rows = []
    kids = public_children(ds)
    for country in ds.countries:
        pub = born_into_care("newborn_share_by_country", country)
        here = kids[(kids["country"] == country) & (kids["age_at_application"] == 0)]
        for year, target in pub["value"].items():
            label = year_label(pub["year_type"], year)
            figure = (f"Newborns (under {pub['max_days']} days) among infants in care "
                      f"proceedings, {country} {label}")
            seen = nearest_year(ds, pub["year_type"], year)
            if seen is None:
                rows.append(skipped("newborn_share_by_country", figure, pub["bullet"],
                                    NEWBORNS, target, f"{label} is outside the period", label))
                continue
            infants = here[here[pub["year_type"]] == seen]
            tolerance, why = sampling_tolerance(target, len(infants), pub["tolerance"])
            compared = "" if seen == year else \
                f"; compared with {year_label(pub['year_type'], seen)}, the nearest year in the data"
            rows.append(row("newborn_share_by_country", figure, pub["bullet"], NEWBORNS, target,
                            float(_newborns(infants, pub).mean()) if len(infants) else math.nan,
                            x=f"{country} {label}", tolerance=tolerance,
                            note=f"{pub['source']}; {len(infants):,} infants{compared}; {why}"))
    return rows


def newborns_subsequent(ds: Dataset) -> list[dict[str, Any]]:
    """Share of newborns in proceedings whose mother had been in care proceedings before:
    recurrence is only part of the newborns; the rest come at a mother's first proceedings."""
    rows = []
    kids = public_children(ds)
    for country in ds.countries:
        pub = born_into_care("newborns_subsequent", country)
        first, last = pub["years"]
        target, kind = pub["value"], pub["year_type"]
        label = f"{year_label(kind, first)}-{year_label(kind, last)}"
        figure = (f"Newborns (under {pub['max_days']} days) whose mother had earlier care "
                  f"proceedings, {country} {label}")
        if not (year_in_data(ds, kind, first) and year_in_data(ds, kind, last)):
            rows.append(skipped("newborns_subsequent", figure, pub["bullet"], NEWBORNS, target,
                                f"{label} is not wholly inside the period", label))
            continue
        here = kids[(kids["country"] == country) & kids[kind].between(first, last)]
        newborns = here[_newborns(here, pub)]
        tolerance, why = sampling_tolerance(target, len(newborns), pub["tolerance"])
        rows.append(row("newborns_subsequent", figure, pub["bullet"], NEWBORNS, target,
                        float(newborns["earlier_case"].mean()) if len(newborns) else math.nan,
                        x=f"{country} {label}", tolerance=tolerance,
                        note=f"{pub['source']}; {len(newborns):,} newborns; earlier "
                             f"proceedings counted within the data (from 2008/09), mother from "
                             f"the answer key; {why}"))
    return rows


def newborns_per_10000_births(ds: Dataset) -> list[dict[str, Any]]:
    """Newborns in care proceedings per 10,000 live births in the country and year."""
    rows = []
    kids = public_children(ds)
    try:
        births = births_by_country(ds)
    except NoData as err:
        for country in ds.countries:
            pub = born_into_care("newborns_per_10000_births", country)
            rows += [skipped("newborns_per_10000_births", f"Newborns in care proceedings per "
                             f"10,000 births, {country}", pub["bullet"], NEWBORNS, v, str(err))
                     for v in pub["value"].values()]
        return rows
    for country in ds.countries:
        pub = born_into_care("newborns_per_10000_births", country)
        for year, target in pub["value"].items():
            label = year_label(pub["year_type"], year)
            figure = (f"Newborns (under {pub['max_days']} days) in care proceedings per 10,000 "
                      f"births, {country} {label}")
            if not year_in_data(ds, pub["year_type"], year):
                rows.append(skipped("newborns_per_10000_births", figure, pub["bullet"], NEWBORNS,
                                    target, f"{label} is not wholly inside the period", label))
                continue
            born = int(((births["country"] == country) & (births[pub["year_type"]] == year)).sum())
            here = kids[(kids["country"] == country) & (kids[pub["year_type"]] == year)]
            newborns = int(_newborns(here, pub).sum())
            # A count's relative noise is 1 / sqrt(count): Poisson.
            expected = target * born / 10_000
            noise = Z / math.sqrt(expected) if expected > 0 else math.inf
            tolerance = max(pub["tolerance"], noise)
            why = f"tolerance {tolerance:.0%}" + (
                f": {Z} standard errors of a count of {expected:.0f}"
                if noise > pub["tolerance"] else "")
            rows.append(row("newborns_per_10000_births", figure, pub["bullet"], NEWBORNS, target,
                            newborns / born * 10_000 if born else math.nan,
                            x=f"{country} {label}", tolerance=tolerance,
                            note=f"{pub['source']}; {newborns:,} newborns, {born:,} births to "
                                 f"mothers living in {country} (answer key); {why}; "
                                 f"{pub['not_compared']}"))
    return rows


NEWBORN_CHECKS = (
    (NEWBORNS, "A4", "Newborns among infants by country", newborn_share_by_country),
    (NEWBORNS, "A4", "Newborns of mothers with earlier proceedings", newborns_subsequent),
    (NEWBORNS, "A4", "Newborns per 10,000 births", newborns_per_10000_births),
)
