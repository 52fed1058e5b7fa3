"""How public law proceedings end, against the published order mix (A5, A7).

The simulation draws an outcome per child from a mix tuned year by year; whether the mix adds up
to the published overall figures (children removed from their parents, 'no order' by ethnic
group) depends on who is in proceedings each year, so each share is counted from closed cases.
"""

from __future__ import annotations

from synthetic_data.realism.frames import (
    Dataset,
    NoData,
    closed_public_children,
    fy_label,
    person_ids,
    row,
    share,
    skipped,
    true_people,
)
from synthetic_data.realism.targets import published

ORDERS = "public law orders"
SGO = ["special_guardianship_order", "sgo_with_supervision_order"]


def _outcome_share_by_fy(ds: Dataset, check: str, figure: str, key: str,
                         numerator: list[str], denominator: list[str] | None) -> list[dict]:
    """Share of closed public law children with an outcome in ``numerator``, by FY of receipt."""
    pub = published(key)
    kids = closed_public_children(ds)
    rows = []
    for year, target in pub["value"].items():
        label = f"{figure}, {fy_label(year)}"
        if year not in ds.full_fys:
            rows.append(skipped(check, label, pub["bullet"], ORDERS, target,
                                f"{fy_label(year)} is not wholly inside the period",
                                fy_label(year)))
            continue
        outcome = kids.loc[kids["fy"] == year, "final_outcome"]
        if denominator is not None:
            outcome = outcome[outcome.isin(denominator)]
        rows.append(row(check, label, pub["bullet"], ORDERS, target,
                        share(outcome.isin(numerator)), x=fy_label(year),
                        note=pub["source"] + "; children by FY of receipt, closed cases"))
    return rows


def order_shares(ds: Dataset) -> list[dict]:
    """Supervision orders, SGOs, and SGOs with supervision, by FY (A7)."""
    return (
        _outcome_share_by_fy(ds, "supervision_order_share", "Standalone supervision orders",
                             "supervision_order_share", ["supervision_order"], None)
        + _outcome_share_by_fy(ds, "sgo_share", "Special guardianship orders", "sgo_share",
                               SGO, None)
        + _outcome_share_by_fy(ds, "sgo_with_supervision_share",
                               "SGOs made with a supervision order (share of SGOs)",
                               "sgo_with_supervision_share", ["sgo_with_supervision_order"], SGO))


def removal_share(ds: Dataset) -> list[dict]:
    """Children leaving proceedings away from their parents (A7): the sum of the order mix, so a
    mix tuned year by year can still miss the overall figure."""
    pub = published("removal_share")
    outcome = closed_public_children(ds)["final_outcome"]
    return [row("removal_share", "Children leaving proceedings removed from parental care",
                pub["bullet"], ORDERS, pub["value"], share(outcome.isin(pub["outcomes"])),
                note=pub["source"] + "; closed public law children, all years")]


def no_order_by_ethnicity(ds: Dataset) -> list[dict]:
    """'No order' outcomes by the child's true ethnic group (A5): recorded ethnicity is mostly
    missing before 2017, so the truth is the fair comparison."""
    pub = published("no_order_by_ethnicity")
    figure = "Public law children ending with no order, by ethnic group"
    kids = closed_public_children(ds)
    try:
        ethnicity = kids["cafcass_person_id"].map(person_ids(ds)).map(
            true_people(ds)["ethnicity"])
    except NoData as err:
        return [skipped("no_order_by_ethnicity", figure, pub["bullet"], ORDERS, target,
                        str(err), group) for group, target in pub["value"].items()]
    no_order = kids["final_outcome"] == "no_order"
    return [row("no_order_by_ethnicity", figure, pub["bullet"], ORDERS, target,
                share(no_order[ethnicity == group]), x=group, tolerance=pub["tolerance"],
                note=pub["source"] + "; true ethnicity from the answer key; "
                     + pub["tolerance_why"])
            for group, target in pub["value"].items()]
