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
from synthetic_data.realism.checks import (
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

RECURRENT_AGES = {  # A10, Nuffield feasibility study: recurrent mothers' age at first application
    "bullet": "A10", "fys": (2007, 2013),
    "shares": {20: 0.19, 25: 0.50},
    "tolerance": 0.20,
    "tolerance_why": "about 350 recurrent mothers in these years at classroom scale, so one "
                     "standard error of the under-20 share is about 2 points (11 % of it): "
                     "tolerance 20 %",
    "source": "A10 (Broadhurst et al., Nuffield feasibility study, 2007-13): of 7,143 mothers in "
              "recurrent care proceedings, 19 % were aged 14-19 at their first application and "
              "50 % were 24 or under",
}
POPULATION_RISK = {  # A10, Ireland et al. 2024: first-time mothers in proceedings within 10 years
    "bullet": "A10", "within_years": 10, "overall": 0.0131,
    "relative": {"aged 15-19 at the birth": 0.0679 / 0.0131,
                 "living in the most deprived quintile": 0.0247 / 0.0131},
    "tolerance": 0.20,
    "tolerance_why": "a ratio of two small shares (about 500 teenage first-time mothers in "
                     "proceedings at classroom scale): tolerance 20 %",
    "source": "A10 (Ireland et al. 2024, IJPDS 9(2)): 1.31 % of first-time mothers were in care "
              "proceedings within 10 years of the birth, 6.79 % of those aged 15-19 at the birth "
              "and 2.47 % in the most deprived areas; compared as relative risks, since the "
              "published shares count only mothers the study could link (82.8 %)",
}


def recurrent_mothers_age(ds: Dataset) -> list[dict[str, Any]]:
    """Age at the first application of mothers with two or more within the study's years."""
    pub = RECURRENT_AGES
    first_fy = max(pub["fys"][0], min(ds.full_fys, default=pub["fys"][0]))
    last_fy = pub["fys"][1]
    label = f"{fy_label(first_fy)}-{fy_label(last_fy)}"
    first = mothers_first_cases(ds)
    in_years = first[(first["fy"] >= first_fy) & (first["fy"] <= last_fy)]
    window_end = pd.Timestamp(f"{last_fy + 1}-04-01")
    recurrent = in_years[in_years["next_date"] < window_end]
    rows = []
    for under, target in pub["shares"].items():
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
    years = POPULATION_RISK["within_years"]
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
    pub = POPULATION_RISK
    try:
        mothers = first_time_mothers(ds)
    except NoData as err:
        return [skipped("population_risk", f"Relative risk of proceedings, first-time mothers "
                        f"{name}", pub["bullet"], RECURRENCE, target, str(err))
                for name, target in pub["relative"].items()]
    overall = mothers["in_proceedings"].mean()
    groups = {"aged 15-19 at the birth": mothers["age"] < 20,
              "living in the most deprived quintile": mothers["quintile"] == 1}
    seen = f"{fy_label(int(mothers['fy'].min()))}-{fy_label(int(mothers['fy'].max()))}"
    rows = []
    for name, target in pub["relative"].items():
        share = mothers.loc[groups[name], "in_proceedings"].mean()
        rows.append(row("population_risk", f"Relative risk of proceedings within "
                        f"{pub['within_years']} years, first-time mothers {name}", pub["bullet"],
                        RECURRENCE, target, share / overall if overall > 0 else float("nan"),
                        x=seen, tolerance=pub["tolerance"],
                        note=f"{pub['source']}; {share:.2%} against {overall:.2%} of "
                             f"{len(mothers):,} first births in {seen} (published overall "
                             f"{pub['overall']:.2%}); {pub['tolerance_why']}"))
    return rows


RETURN_BY_AGE = {  # A10: who returns to court, by age at the first application
    "bullet": "A10",
    "highest": {"cohort_fys": (2007, 2014), "within_years": 7,
                "bands": ((0, 20, "under 20"), (20, 25, "20-24"), (25, 30, "25-29"),
                          (30, 99, "30 and over")),
                "source": "A10 (Broadhurst et al. 2015, BJSW 45(8): 43,541 mothers in England, "
                          "2007-14): 16-19-year-olds had the highest risk of returning to care "
                          "proceedings; 1 when mothers under 20 at their first case return "
                          "within 7 years more often than every older band, else 0"},
    "wales": {"cohort_years": (2011, 2017), "within_years": 7, "value": 2.0, "tolerance": 0.25,
              "source": "A10 (Nuffield FJO, \"Women in recurrent care proceedings in Wales\": "
                        "4,345 mothers, 2011-18): the youngest mothers were about twice as "
                        "likely to return as mothers over 30; here mothers under 20 against "
                        "mothers 30 and over at their first case in 2011/12-2017/18, returns "
                        "within the study's 7 years"},
}


def _returned(first: pd.DataFrame, years: int) -> pd.Series:
    return first["next_date"] <= first["received_date"] + pd.DateOffset(years=years)


def youngest_highest_risk(ds: Dataset) -> list[dict[str, Any]]:
    """Whether the youngest mothers return most: a matter of the mechanism (a risk for each
    later baby, set by the mother's age at her first loss, and the later babies she has), so it
    is checked as an ordering, beside the published shares of recurrent_young_mothers."""
    pub = RETURN_BY_AGE["highest"]
    first_fy, last_fy = pub["cohort_fys"]
    years = pub["within_years"]
    figure = f"Mothers under 20 at their first case return within {years} years most often"
    first = mothers_first_cases(ds)
    cohort = first[(first["fy"] >= first_fy) & (first["fy"] <= last_fy)
                   & (first["received_date"] <= ds.end - pd.DateOffset(years=years))]
    if cohort.empty:
        return [skipped("youngest_highest_risk", figure, RETURN_BY_AGE["bullet"], RECURRENCE,
                        1.0, f"no first case {years} years before the period end")]
    returned = _returned(cohort, years)
    shares = {label: float(returned[cohort["mother_age"].between(lo, hi, inclusive="left")]
                           .mean()) for lo, hi, label in pub["bands"]}
    youngest = pub["bands"][0][2]
    highest = all(shares[youngest] > v for k, v in shares.items() if k != youngest)
    seen = f"{fy_label(int(cohort['fy'].min()))}-{fy_label(int(cohort['fy'].max()))}"
    return [row("youngest_highest_risk", figure, RETURN_BY_AGE["bullet"], RECURRENCE, 1.0,
                float(highest), x=seen, tolerance=0.0,
                note=f"{pub['source']}; returned within {years} years: "
                     + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
                     + f" of {len(cohort):,} mothers; ages from the answer key")]


def young_against_older_wales(ds: Dataset) -> list[dict[str, Any]]:
    """Welsh mothers under 20 at their first case against those 30 and over: the share back in
    proceedings within 7 years, as a ratio (A10, Wales)."""
    pub = RETURN_BY_AGE["wales"]
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
        return [skipped("young_against_older_wales", figure, RETURN_BY_AGE["bullet"], RECURRENCE,
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
    return [row("young_against_older_wales", figure, RETURN_BY_AGE["bullet"], RECURRENCE,
                pub["value"], p1 / p2, x=label, tolerance=tolerance,
                note=f"{pub['source']}; {p1:.1%} against {p2:.1%}; {why}")]


MOTHER_CHECKS = (
    (RECURRENCE, "A10", "Recurrent mothers' age", recurrent_mothers_age),
    (RECURRENCE, "A10", "First-time mothers' risk", population_risk),
    (RECURRENCE, "A10", "Youngest mothers return most", youngest_highest_risk),
    (RECURRENCE, "A10", "Young against older mothers, Wales", young_against_older_wales),
)
