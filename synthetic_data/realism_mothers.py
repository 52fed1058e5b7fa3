"""How young mothers in care proceedings are, against the published figures (A10).

The simulation chooses families for proceedings by risk, and young mothers (at the application
and at their first birth) carry more of it (``params/public_law.yaml``). These checks show that
the weights give the ages the studies report, counted from the answer key: a mother's age and
her first birth are facts of the world, not of any record.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthetic_data.dates import DAYS_PER_YEAR
from synthetic_data.realism import (
    RECURRENCE,
    Dataset,
    NoData,
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


MOTHER_CHECKS = (
    (RECURRENCE, "A10", "Recurrent mothers' age", recurrent_mothers_age),
    (RECURRENCE, "A10", "First-time mothers' risk", population_risk),
)
