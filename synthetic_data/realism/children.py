"""The children in proceedings: how many per case and how old, against A3 and A4.

Siblings are added to a case by the simulation and ages drawn per child, so children per case
and the share of newborns among infants are outcomes of the simulation, not parameters: they
are counted here from the case parties, as an analyst would.
"""

from __future__ import annotations

import numpy as np

from synthetic_data.core.params import load_params
from synthetic_data.realism.frames import (
    Dataset,
    NoData,
    cases,
    fy_label,
    nearest_fy,
    row,
    share,
    skipped,
    subject_children,
)
from synthetic_data.realism.targets import published

CHILDREN_PER_CASE = "children per case"
AGE = "age at application"


def children_per_case(ds: Dataset) -> list[dict]:
    """Mean subject children per case: siblings are added in the simulation, not drawn as a mean."""
    pub = published("children_per_case")
    per_case = subject_children(ds).groupby("case_id").size()
    law = cases(ds).set_index("case_id")["law_type"]
    rows = []
    for law_type, target in pub["value"].items():
        ids = law.index[law == law_type]
        generated = per_case.reindex(ids, fill_value=0).mean() if len(ids) else np.nan
        rows.append(row(f"children_per_case_{law_type}", f"Children per {law_type} law case",
                        pub["bullet"], CHILDREN_PER_CASE, target, generated,
                        note=pub["source"]))
    return rows


def age_at_application(ds: Dataset) -> list[dict]:
    """Age bands of public law children at receipt against the A4 shares."""
    age = load_params("public_law")["age_at_application"]
    kids = subject_children(ds)
    ages = kids.loc[kids["law_type"] == "public", "age_at_application"]
    rows = []
    for (lo, hi), target in zip(age["bands"], age["child_shares"], strict=True):
        label = str(lo) if lo == hi else f"{lo}-{hi}"
        rows.append(row("age_at_application", "Share of public law children by age at receipt",
                        "A4", AGE, target, share(ages.between(lo, hi)),
                        x=label, note="params/public_law.yaml age_at_application.child_shares; "
                                      "all public law children in the dataset"))
    return rows


def newborn_share_of_infants(ds: Dataset) -> list[dict]:
    """Among infants in public law, the share of newborns: babies removed at birth (A4)."""
    pub = published("newborn_share_of_infants")
    kids = subject_children(ds)
    infants = kids[(kids["law_type"] == "public") & (kids["age_at_application"] == 0)]
    rows = []
    for year, target in pub["value"].items():
        figure = (f"Newborns (under {pub['max_days']} days) among infants in care proceedings, "
                  f"{fy_label(year)}")
        try:
            fy = nearest_fy(ds, year)
        except NoData as err:
            rows.append(skipped("newborn_share_of_infants", figure, pub["bullet"], AGE, target,
                                str(err), fy_label(year)))
            continue
        these = infants[infants["fy"] == fy]
        note = pub["source"] + ("" if fy == year else f"; compared with {fy_label(fy)}, the "
                                                      "nearest year in the data")
        rows.append(row("newborn_share_of_infants", figure, pub["bullet"], AGE, target,
                        share(these["age_at_application_days"] < pub["max_days"]), x=fy_label(year),
                        note=note))
    return rows
