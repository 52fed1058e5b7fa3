"""Health records of the extract: contacts around proceedings, the births register."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.api import load, manifest
from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, day
from synthetic_data.core.params import load_params
from synthetic_data.linked.cohort import adult_window
from synthetic_data.linked.health import simulate_health
from synthetic_data.world.people import ROLE_CHILD


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


def test_scale_by_window_keeps_each_cells_sum_in_proportion_to_years():
    from synthetic_data.linked.health import scale_by_window

    years = np.array([1, 1, 2, 4, 1, 10, 10, 1], dtype=float)
    cells = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    p = np.array([0.3, 0.3, 0.3, 0.3, 0.6, 0.6, 0.6, 0.6])
    out = scale_by_window(p, years * DAYS_PER_YEAR, cells)
    assert out[:4].sum() == pytest.approx(1.2) and out[4:].sum() == pytest.approx(2.4)
    assert out[:4] == pytest.approx(1.2 * years[:4] / years[:4].sum())
    # A chance that would pass 1 is held there; the others in its cell make up the rest.
    assert out[5] == out[6] == 1.0
    assert out[4] == out[7] == pytest.approx(0.2)
    # A few distinct chances per cell, so exact_share can pin the share of each.
    assert np.unique(out[:4]).size == 3


def test_emergency_attendances_follow_the_years_people_can_be_seen(small_extract, health):
    """Late entrants (children born, young people turning 16) get a chance of a contact in
    proportion to their window, so a year of window holds as many attendances early in the
    period as late, instead of late entrants crowding the whole period's chance into its last
    years. Measured on comparators, whose contacts are not drawn towards proceedings."""
    from synthetic_data.linked.cohort import child_window

    world, _, cohort = small_extract
    people = cohort.persons[~cohort.in_cases]
    kids = people[world.role[people] == ROLE_CHILD]
    windows = [adult_window(world, people), child_window(world, kids)]
    ed = health.attendances[health.attendances["person"].isin(people)]
    years = ed["attendance_day"].to_numpy().astype("datetime64[D]").astype(
        "datetime64[Y]").astype(int) + 1970

    def rate(first: int, last: int) -> float:
        lo, hi = day(f"{first}-01-01"), day(f"{last}-12-31") + 1
        exposure = sum(np.clip(np.minimum(e, hi) - np.maximum(s, lo), 0, None).sum()
                       for s, e in windows) / DAYS_PER_YEAR
        return ((years >= first) & (years <= last)).sum() / exposure

    early, late = rate(2009, 2013), rate(2020, 2024)
    assert ((years >= 2020) & (years <= 2024)).sum() > 400
    # Over five seeds of the health draws: 0.91-1.05; with the same chance for every window
    # whatever its length, 1.14-1.24 (at the classroom scale yearly counts rose 1.74 times).
    assert 0.85 < late / early < 1.10, f"per person-year, 2020-24 over 2009-13: {late / early:.3f}"
