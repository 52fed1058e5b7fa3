"""Health records of the extract: contacts around proceedings, the births register."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.api import load, manifest
from synthetic_data.dates import DAYS_PER_YEAR
from synthetic_data.linked.cohort import adult_window
from synthetic_data.linked.health import simulate_health
from synthetic_data.params import load_params
from synthetic_data.world import NO_DATE


@pytest.fixture(scope="module")
def health(small_extract):
    world, _, cohort = small_extract
    return simulate_health(world, cohort, load_params("health"), np.random.default_rng(5))


def test_first_case_day_is_each_partys_earliest_issue(small_extract):
    world, book, cohort = small_extract
    cases = book.frame("cases").set_index("case_no")["issue_day"]
    parties = pd.concat([book.frame("children")[["person", "case_no"]],
                         book.frame("adults")[["person", "case_no"]]])
    earliest = parties["case_no"].map(cases).groupby(parties["person"].to_numpy()).min()
    first = pd.Series(cohort.first_case_day, index=cohort.persons)
    assert (first[cohort.in_cases] == earliest.reindex(first.index[cohort.in_cases])).all()
    assert (first[~cohort.in_cases] == NO_DATE).all()


def test_adults_contacts_gather_within_two_years_of_their_first_application(small_extract,
                                                                            health):
    """Against the share a uniform spread over each adult's window would put there."""
    world, _, cohort = small_extract
    near = load_params("health")["near_proceedings"]
    half = near["within_years"] * DAYS_PER_YEAR
    first = pd.Series(cohort.first_case_day, index=cohort.persons)
    adults = cohort.persons[cohort.in_cases]
    start, end = adult_window(world, adults)
    window = pd.DataFrame({"start": start, "end": end, "anchor": first[adults].to_numpy()},
                          index=adults)
    window = window[(window["anchor"] - half >= window["start"])
                    & (window["anchor"] + half <= window["end"])]
    ed = health.attendances[health.attendances["person"].isin(window.index)]
    w = window.loc[ed["person"]]
    observed = (np.abs(ed["attendance_day"].to_numpy() - w["anchor"].to_numpy()) <= half).mean()
    uniform = (2 * half / (w["end"] - w["start"]).to_numpy()).mean()
    expected = near["contact_share"]["ed"] + (1 - near["contact_share"]["ed"]) * uniform
    assert len(ed) > 200
    assert observed == pytest.approx(expected, abs=0.05)
    assert observed > uniform + 0.4


def test_comparators_contacts_are_not_moved(small_extract, health):
    world, _, cohort = small_extract
    comparators = cohort.persons[cohort.members("comparison_adult", "comparison_mother")]
    ed = health.attendances[health.attendances["person"].isin(comparators)]
    start, end = adult_window(world, comparators)
    mid = pd.Series((start + end) / 2, index=comparators)
    # Spread over the whole window: about half of the days fall after its middle.
    after = (ed["attendance_day"].to_numpy() > mid[ed["person"]].to_numpy()).mean()
    assert 0.45 < after < 0.55


def test_births_register_reaches_before_the_period_and_holds_every_maternity_birth(
        tiny_dataset):
    register = load("health_births", tiny_dataset)
    maternity = load("health_maternity", tiny_dataset)
    start = pd.Timestamp(manifest(tiny_dataset)["config"]["start"] + "-01")
    assert register["birth_date"].min() < start - pd.DateOffset(years=10)
    assert register["birth_id"].is_unique
    joined = maternity.merge(register, on="birth_id", how="left", suffixes=("", "_register"),
                             validate="1:1")
    for col in ("mother_patient_id", "baby_patient_id", "birth_date"):
        same = (joined[col] == joined[f"{col}_register"]) | (
            joined[col].isna() & joined[f"{col}_register"].isna())
        assert same.all(), col
    in_period = register[register["birth_date"] >= start]
    assert set(in_period["birth_id"]) == set(maternity["birth_id"])


def test_births_register_reaches_the_tre_with_the_mothers_alf(tiny_dataset):
    tre = load("tre_health_births", tiny_dataset)
    assert len(tre) > 0.95 * len(load("health_births", tiny_dataset))
    assert tre["mother_alf_pe"].notna().mean() > 0.9
