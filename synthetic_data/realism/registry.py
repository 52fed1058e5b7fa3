"""Every realism check in report order, and how their rows are judged.

The order here is the report's order: the data foundation, then public law, private law,
recurrence, newborns and the linked universe. A check that cannot show its figure on a dataset
gives a skipped row rather than failing the report, and a figure passes only within its
tolerance of the target: no generated value never passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from synthetic_data.api import manifest
from synthetic_data.core.params import parameter_set, using
from synthetic_data.realism.children import (
    AGE,
    CHILDREN_PER_CASE,
    age_at_application,
    children_per_case,
    newborn_share_of_infants,
)
from synthetic_data.realism.durations import (
    DURATIONS,
    private_durations,
    public_durations,
    within_26_weeks,
)
from synthetic_data.realism.frames import COLUMNS, RECURRENCE, Dataset, NoData, skipped
from synthetic_data.realism.linked import LINKED_CHECKS
from synthetic_data.realism.mothers import MOTHER_CHECKS
from synthetic_data.realism.newborns import NEWBORN_CHECKS
from synthetic_data.realism.orders import ORDERS, no_order_by_ethnicity, order_shares, removal_share
from synthetic_data.realism.parties import (
    DOMESTIC_ABUSE,
    PARTIES,
    applicant_deprivation,
    domestic_abuse,
    party_shares,
)
from synthetic_data.realism.population import POPULATION, population_by_region, population_by_year
from synthetic_data.realism.recording import RECORDING, ethnicity_recording
from synthetic_data.realism.recurrence import recurrent_mothers, recurrent_young_mothers
from synthetic_data.realism.returners import (
    RETURNERS,
    repeat_returners,
    return_gaps,
    returner_share,
)
from synthetic_data.realism.volumes import (
    APPLICATIONS,
    PRIVATE_VOLUMES,
    PUBLIC_VOLUMES,
    applications_started,
    care_rate_per_10000,
    private_volumes_england,
    private_volumes_wales,
    public_volumes_england,
    public_volumes_wales,
)

# (report group, bullet, name, check): the check returns its rows for a dataset.
Check = tuple[str, str, str, Callable[[Dataset], list[dict]]]

# In report order: the data foundation, then public law, private law, and recurrence.
CHECKS: tuple[Check, ...] = (
    (POPULATION, "population", "Children 0-17 by year", population_by_year),
    (POPULATION, "population", "Children 0-17 by region", population_by_region),
    (PUBLIC_VOLUMES, "A2", "Care applications, England", public_volumes_england),
    (PUBLIC_VOLUMES, "A2", "Care applications, Wales", public_volumes_wales),
    (PUBLIC_VOLUMES, "A2", "Care rate per 10,000 children", care_rate_per_10000),
    (PRIVATE_VOLUMES, "A2", "Private law cases, England", private_volumes_england),
    (PRIVATE_VOLUMES, "A2", "Private law cases, Wales", private_volumes_wales),
    (APPLICATIONS, "A2", "Applications started", applications_started),
    (CHILDREN_PER_CASE, "A3", "Children per case", children_per_case),
    (AGE, "A4", "Age at application", age_at_application),
    (AGE, "A4", "Newborns among infants", newborn_share_of_infants),
    (ORDERS, "A7", "Order shares", order_shares),
    (ORDERS, "A7", "Removal share", removal_share),
    (ORDERS, "A5", "No order by ethnicity", no_order_by_ethnicity),
    (DURATIONS, "A8", "Public law durations", public_durations),
    (DURATIONS, "A8", "Private law durations", private_durations),
    (DURATIONS, "A8", "Within 26 weeks", within_26_weeks),
    (RECORDING, "A5", "Ethnicity missing", ethnicity_recording),
    (PARTIES, "A6", "Parties", party_shares),
    (PARTIES, "A6", "Applicant deprivation", applicant_deprivation),
    (DOMESTIC_ABUSE, "A9", "Domestic abuse", domestic_abuse),
    (RETURNERS, "A10", "Returners", returner_share),
    (RETURNERS, "A10", "Return gaps", return_gaps),
    (RETURNERS, "A10", "Repeat returners", repeat_returners),
    (RECURRENCE, "A10", "Recurrent mothers", recurrent_mothers),
    (RECURRENCE, "A10", "Recurrent young mothers", recurrent_young_mothers),
)


def all_checks() -> tuple[Check, ...]:
    """The core checks, then mothers' ages, newborns and the linked universe: the report's order."""
    return CHECKS + MOTHER_CHECKS + NEWBORN_CHECKS + LINKED_CHECKS


def run_check(ds: Dataset, entry: Check) -> list[dict]:
    """One check's rows; a dataset that cannot show the figure gives one skipped row."""
    group, bullet, name, check = entry
    try:
        return check(ds)
    except NoData as err:
        return [skipped(check.__name__, name, bullet, group, float("nan"), str(err))]


def judge(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``passed``: within tolerance relative to the target. No generated value never passes."""
    out = frame.copy()
    diff = (out["generated"] - out["target"]).abs()
    limit = out["tolerance"] * out["target"].abs()
    out["passed"] = (diff <= limit + 1e-12) & out["generated"].notna() & out["target"].notna()
    out["passed"] = out["passed"].astype(bool)
    no_data = out["generated"].isna() & ~out["note"].fillna("").str.startswith("skipped")
    out.loc[no_data, "note"] = "skipped: no generated data for this figure; " + \
        out.loc[no_data, "note"].fillna("")
    return out


def compute_checks(data_dir: str | Path) -> pd.DataFrame:
    """Every calibrated figure of the dataset beside its target, one row each, in report order."""
    ds = Dataset.open(data_dir)
    # A dataset made with changed parameters (--params) is held to the parameters it was made
    # with: the volumes, durations and shares the checks read from the parameter files.
    overrides = manifest(data_dir).get("parameter_overrides")
    with using(parameter_set(overrides)):
        rows = [r for entry in all_checks() for r in run_check(ds, entry)]
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "passed"])
    frame["tolerance"] = frame["tolerance"].astype(float)
    return judge(frame)[list(COLUMNS)]


def is_skipped(frame: pd.DataFrame) -> pd.Series:
    """Rows the dataset could not show (no generated value)."""
    return frame["generated"].isna()


YEAR_LABEL = re.compile(r"^\d{4}(/\d{2})?$")


def year_of(label: str) -> int | None:
    """The (starting) year of an x label such as '2013' or '2013/14'; None for a category."""
    return int(label[:4]) if YEAR_LABEL.match(str(label)) else None
