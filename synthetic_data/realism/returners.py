"""Families coming back to private law court, against A10: how many, how soon, how often.

Returns are not a rate the simulation applies: they come from families whose earlier case has
ended and who apply again. The simulation starts with no history, so cases before the period are
unseen and the share of returners builds up over its first years; the figures are taken in the
published year, well inside the period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR
from synthetic_data.realism.frames import (
    Dataset,
    NoData,
    cases,
    fy_label,
    person_ids,
    require,
    row,
    share,
    skipped,
)
from synthetic_data.realism.targets import published

RETURNERS = "private law returners"


def private_families(ds: Dataset) -> pd.DataFrame:
    """Private law cases with their family (the mother and father, true ids) and the final order
    date of the same family's previous case."""
    def build() -> pd.DataFrame:
        parties = require(ds.table("cafcass_case_parties"), "cafcass_case_parties")
        key = person_ids(ds)
        frame = cases(ds)
        frame = frame.loc[frame["law_type"] == "private",
                          ["case_id", "received_date", "final_order_date", "fy",
                           "previous_cases"]]
        parents = parties[parties["relationship"].isin(["mother", "father"])
                          & parties["case_id"].isin(frame["case_id"])]
        parents = parents.assign(pid=parents["cafcass_person_id"].map(key))
        family = parents.pivot_table(index="case_id", columns="relationship", values="pid",
                                     aggfunc="first")
        frame = frame.merge(family, left_on="case_id", right_index=True, how="left")
        frame = frame.sort_values(["mother", "father", "received_date", "case_id"])
        same = (frame["mother"].eq(frame["mother"].shift())
                & frame["father"].eq(frame["father"].shift()))
        frame["previous_final"] = frame["final_order_date"].shift().where(same)
        return frame
    return ds.cached("_private_families", build)


def published_row(key: str, figure: str, group: str, measure: Callable[[], float],
                  note: str = "") -> dict[str, Any]:
    """A row for a published figure of one year; a dataset that cannot show it gives a skipped
    row that still carries the target."""
    pub = published(key)
    x = fy_label(pub["fy"]) if "fy" in pub else ""
    try:
        generated = measure()
    except NoData as err:
        return skipped(key, figure, pub["bullet"], group, pub["value"], str(err), x)
    return row(key, figure, pub["bullet"], group, pub["value"], generated, x=x,
               note=pub["source"] + note)


def private_cases_in(ds: Dataset, fy: int) -> pd.DataFrame:
    if fy not in ds.full_fys:
        raise NoData(f"{fy_label(fy)} is not wholly inside the period")
    frame = cases(ds)
    return frame[(frame["law_type"] == "private") & (frame["fy"] == fy)]


def returner_share(ds: Dataset) -> list[dict]:
    """Private law cases that had been to court before (A10)."""
    fy = published("returners")["fy"]
    return [published_row(
        "returners", f"Private law cases that had been to court before, {fy_label(fy)}",
        RETURNERS, lambda: share(private_cases_in(ds, fy)["previous_cases"] > 0),
        note=f"; previous cases are counted from {ds.config['start']}, the start of the "
             "simulated period")]


def return_gaps(ds: Dataset) -> list[dict]:
    """How soon families come back: years from the previous case's final order (A10)."""
    pub = published("returns_within_2_years")
    fy, within = pub["fy"], pub["within_years"]

    def measure() -> float:
        private_cases_in(ds, fy)
        fam = private_families(ds)
        fam = fam[(fam["fy"] == fy) & (fam["previous_cases"] > 0)
                  & fam["previous_final"].notna()]
        gap_years = (fam["received_date"] - fam["previous_final"]).dt.days / DAYS_PER_YEAR
        return share(gap_years <= within)

    return [published_row(
        "returns_within_2_years", f"Returning cases received within {within} years of the "
        f"family's previous final order, {fy_label(fy)}", RETURNERS, measure,
        note="; family = the same mother and father (answer key)")]


def repeat_returners(ds: Dataset) -> list[dict]:
    """Returners with two or more earlier cases (A10)."""
    fy = published("returners_two_or_more")["fy"]

    # Three FYs centred on the published one: returners are a few hundred cases a year at
    # classroom scale, too few for a share of a share to settle within 10 % in one year.
    fys = [y for y in (fy - 1, fy, fy + 1) if y in ds.full_fys]

    def measure() -> float:
        if not fys:
            raise NoData(f"{fy_label(fy)} is not wholly inside the period")
        previous = pd.concat([private_cases_in(ds, y) for y in fys])["previous_cases"]
        return share(previous[previous > 0] >= 2)

    label = f"{fy_label(fys[0])}-{fy_label(fys[-1])}" if fys else fy_label(fy)
    return [published_row(
        "returners_two_or_more", f"Returners with 2 or more earlier cases, {label}",
        RETURNERS, measure, note="; earlier cases counted within the period only; three FYs "
                                 "centred on the published one, for a steadier share")]
