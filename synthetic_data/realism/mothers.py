"""How young mothers in care proceedings are, and who returns, against the published figures
(A10).

The simulation chooses families for proceedings by risk, and young mothers (at the application
and at their first birth) carry more of it (``params/public_law.yaml``). These checks show that
the weights give the ages the studies report, counted from the answer key: a mother's age and
her first birth are facts of the world, not of any record. Who returns is not set by a weight:
each later baby of a mother who has lost a child carries a chance of proceedings set by her age
at that loss, and the youngest have the most later babies, so the checks on returns by age test
the mechanism as a whole.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR
from synthetic_data.realism.frames import (
    RECURRENCE,
    Dataset,
    NoData,
    cases,
    fy_label,
    fy_of,
    mothers_first_cases,
    quintile_of,
    row,
    skipped,
    true_people,
)
from synthetic_data.realism.targets import published


def recurrent_mothers_age(ds: Dataset) -> list[dict[str, Any]]:
    """Age at the first application of mothers with two or more within the study's years."""
    pub = published("recurrent_mothers_age")
    first_fy = max(pub["fys"][0], min(ds.full_fys, default=pub["fys"][0]))
    last_fy = pub["fys"][1]
    label = f"{fy_label(first_fy)}-{fy_label(last_fy)}"
    first = mothers_first_cases(ds)
    in_years = first[(first["fy"] >= first_fy) & (first["fy"] <= last_fy)]
    window_end = pd.Timestamp(f"{last_fy + 1}-04-01")
    recurrent = in_years[in_years["next_date"] < window_end]
    rows = []
    for under, target in pub["value"].items():
        figure = f"Recurrent mothers under {under} at their first application, {label}"
        if recurrent.empty:
            rows.append(skipped("recurrent_mothers_age", figure, pub["bullet"], RECURRENCE,
                                target, f"no mother with two cases in {label}"))
            continue
        rows.append(row("recurrent_mothers_age", figure, pub["bullet"], RECURRENCE, target,
                        float((recurrent["mother_age"] < under).mean()), x=f"under {under}",
                        tolerance=pub["tolerance"],
                        note=f"{pub['source']}; {len(recurrent):,} mothers with a second case "
                             f"by the end of {fy_label(last_fy)}; first case within the data; "
                             f"ages from the answer key; {pub['tolerance_why']}"))
    return rows


def first_time_mothers(ds: Dataset) -> pd.DataFrame:
    """Mothers whose first child was born in the data period early enough to follow for the
    published years, with their age and deprivation at the birth and any proceedings after."""
    years = published("population_risk")["within_years"]
    people = true_people(ds)
    children = people[people["mother_id"].notna() & (people["role"] == "child")]
    first_birth = children.groupby("mother_id")["date_of_birth"].min()
    followed = (first_birth >= ds.start) & (first_birth <= ds.end - pd.DateOffset(years=years))
    first_birth = first_birth[followed]
    if first_birth.empty:
        raise NoData(f"no first birth lies {years} years before the period end")
    mothers = pd.DataFrame({"mother_id": first_birth.index.astype("int64"),
                            "birth": first_birth.to_numpy()})
    dob = people["date_of_birth"].reindex(mothers["mother_id"]).to_numpy()
    mothers["age"] = (mothers["birth"] - dob).dt.days / DAYS_PER_YEAR
    mothers["quintile"] = quintile_of(ds, mothers["mother_id"], mothers["birth"])
    cases = mothers_first_cases(ds).set_index("mother_id")["received_date"]
    first_case = mothers["mother_id"].map(cases)
    mothers["in_proceedings"] = (first_case >= mothers["birth"]) & (
        first_case <= mothers["birth"] + pd.DateOffset(years=years))
    mothers["fy"] = fy_of(mothers["birth"])
    return mothers


def population_risk(ds: Dataset) -> list[dict[str, Any]]:
    """Relative risk of care proceedings within 10 years for young and deprived first-time
    mothers against all first-time mothers (Ireland et al. 2024)."""
    pub = published("population_risk")
    # Relative risks, not the shares themselves: the study's shares count only mothers it could
    # link, so only their ratios carry over to a dataset where every mother is known.
    relative = {name: value / pub["overall"] for name, value in pub["value"].items()}
    try:
        mothers = first_time_mothers(ds)
    except NoData as err:
        return [skipped("population_risk", f"Relative risk of proceedings, first-time mothers "
                        f"{name}", pub["bullet"], RECURRENCE, target, str(err))
                for name, target in relative.items()]
    overall = mothers["in_proceedings"].mean()
    groups = {"aged 15-19 at the birth": mothers["age"] < 20,
              "living in the most deprived quintile": mothers["quintile"] == 1}
    seen = f"{fy_label(int(mothers['fy'].min()))}-{fy_label(int(mothers['fy'].max()))}"
    rows = []
    for name, target in relative.items():
        share = mothers.loc[groups[name], "in_proceedings"].mean()
        rows.append(row("population_risk", f"Relative risk of proceedings within "
                        f"{pub['within_years']} years, first-time mothers {name}", pub["bullet"],
                        RECURRENCE, target, share / overall if overall > 0 else float("nan"),
                        x=seen, tolerance=pub["tolerance"],
                        note=f"{pub['source']}; {share:.2%} against {overall:.2%} of "
                             f"{len(mothers):,} first births in {seen} (published overall "
                             f"{pub['overall']:.2%}); {pub['tolerance_why']}"))
    return rows


def _returned(first: pd.DataFrame, years: int) -> pd.Series:
    return first["next_date"] <= first["received_date"] + pd.DateOffset(years=years)


def youngest_highest_risk(ds: Dataset) -> list[dict[str, Any]]:
    """Whether the youngest mothers return most: a matter of the mechanism (a risk for each
    later baby, set by the mother's age at her first loss, and the later babies she has), so it
    is checked as an ordering, beside the published shares of recurrent_young_mothers."""
    pub = published("youngest_highest_risk")
    first_fy, last_fy = pub["cohort_fys"]
    years = pub["within_years"]
    figure = f"Mothers under 20 at their first case return within {years} years most often"
    first = mothers_first_cases(ds)
    cohort = first[(first["fy"] >= first_fy) & (first["fy"] <= last_fy)
                   & (first["received_date"] <= ds.end - pd.DateOffset(years=years))]
    if cohort.empty:
        return [skipped("youngest_highest_risk", figure, pub["bullet"], RECURRENCE,
                        pub["value"], f"no first case {years} years before the period end")]
    returned = _returned(cohort, years)
    shares = {label: float(returned[cohort["mother_age"].between(lo, hi, inclusive="left")]
                           .mean()) for lo, hi, label in pub["bands"]}
    youngest = pub["bands"][0][2]
    highest = all(shares[youngest] > v for k, v in shares.items() if k != youngest)
    seen = f"{fy_label(int(cohort['fy'].min()))}-{fy_label(int(cohort['fy'].max()))}"
    return [row("youngest_highest_risk", figure, pub["bullet"], RECURRENCE, pub["value"],
                float(highest), x=seen, tolerance=pub["tolerance"],
                note=f"{pub['source']}; returned within {years} years: "
                     + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
                     + f" of {len(cohort):,} mothers; ages from the answer key")]


def young_against_older_wales(ds: Dataset) -> list[dict[str, Any]]:
    """Welsh mothers under 20 at their first case against those 30 and over: the share back in
    proceedings within 7 years, as a ratio (A10, Wales)."""
    pub = published("young_against_older_wales")
    first_fy, last_fy = pub["cohort_years"]
    years = pub["within_years"]
    figure = (f"Return within {years} years, Welsh mothers under 20 against 30 and over at "
              f"their first case")
    if "Wales" not in ds.countries:
        return []
    first = mothers_first_cases(ds)
    first = first.merge(cases(ds)[["case_id", "country"]], on="case_id", how="left")
    cohort = first[(first["country"] == "Wales") & first["fy"].between(first_fy, last_fy)
                   & (first["received_date"] <= ds.end - pd.DateOffset(years=years))]
    young = _returned(cohort, years)[cohort["mother_age"] < 20]
    older = _returned(cohort, years)[cohort["mother_age"] >= 30]
    label = f"{fy_label(first_fy)}-{fy_label(last_fy)}"
    if young.sum() == 0 or older.sum() == 0:
        return [skipped("young_against_older_wales", figure, pub["bullet"], RECURRENCE,
                        pub["value"], f"no Welsh mother of both groups returned ({label})",
                        label)]
    p1, p2 = young.mean(), older.mean()
    # The ratio's sampling noise on the log scale, from the two shares and their sizes.
    se = math.sqrt((1 - p1) / (len(young) * p1) + (1 - p2) / (len(older) * p2))
    noise = math.exp(2.5 * se) - 1
    tolerance = max(pub["tolerance"], noise)
    why = f"tolerance {tolerance:.0%}" + (
        f": 2.5 standard errors of the ratio of {len(young):,} and {len(older):,} mothers"
        if noise > pub["tolerance"] else "")
    return [row("young_against_older_wales", figure, pub["bullet"], RECURRENCE,
                pub["value"], p1 / p2, x=label, tolerance=tolerance,
                note=f"{pub['source']}; {p1:.1%} against {p2:.1%}; {why}")]


MOTHER_CHECKS = (
    (RECURRENCE, "A10", "Recurrent mothers' age", recurrent_mothers_age),
    (RECURRENCE, "A10", "First-time mothers' risk", population_risk),
    (RECURRENCE, "A10", "Youngest mothers return most", youngest_highest_risk),
    (RECURRENCE, "A10", "Young against older mothers, Wales", young_against_older_wales),
)
