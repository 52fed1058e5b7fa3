"""School census and key stage results: invariants, determinism and the published gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.core.params import load_params
from synthetic_data.linked.education import (
    EducationRecords,
    census_day,
    fsm_probability,
    reception_year,
    simulate_education,
)


@pytest.fixture(scope="module")
def records(small_extract) -> EducationRecords:
    world, _, cohort = small_extract
    return simulate_education(world, cohort, load_params("education"), np.random.default_rng(1))


def _in_proceedings(cohort, persons: pd.Series) -> np.ndarray:
    return np.isin(persons.to_numpy(), cohort.persons[cohort.in_cases])


def test_deterministic(small_extract, records):
    world, _, cohort = small_extract
    again = simulate_education(world, cohort, load_params("education"), np.random.default_rng(1))
    pd.testing.assert_frame_equal(records.census, again.census)
    pd.testing.assert_frame_equal(records.attainment, again.attainment)


def test_reception_year_and_census_day():
    dob = np.array([np.datetime64("2010-08-31"), np.datetime64("2010-09-01")]).astype(
        "datetime64[D]").astype(np.int64)
    assert list(reception_year(dob)) == [2014, 2015]
    spec = load_params("education")["census"]
    days = census_day(np.array([2016, 2024]), spec).astype("datetime64[D]")
    # Third Thursdays of January.
    assert list(days.astype(str)) == ["2016-01-21", "2024-01-18"]


def test_census_invariants(small_extract, records):
    world, _, cohort = small_extract
    c = records.census
    assert len(c) > 1000
    assert c["ncy"].between(0, 11).all()
    assert not c.duplicated(["person", "academic_year"]).any()
    assert c["census_day"].between(world.start_day, world.end_day).all()
    assert world.alive_on(c["person"].to_numpy(), c["census_day"].to_numpy()).all()
    assert set(c["person"]) <= set(cohort.persons)
    assert (world.role[c["person"].to_numpy()] == 2).all()
    # NCY follows the birth cohort: reception in the year after the fourth birthday.
    start = c["academic_year"].str[:4].astype(int).to_numpy()
    assert (start - reception_year(world.dob[c["person"].to_numpy()]) == c["ncy"]).all()
    assert ((c["school"] < 400000) == (c["ncy"] <= 6)).all()
    assert c["sessions_possible"].between(320, 330).all()
    assert (c["sessions_absent"] <= c["sessions_possible"]).all()
    assert set(c["sen"]) <= {"none", "sen_support", "ehcp"}
    # Needs are fixed per child.
    assert (c.groupby("person")["sen"].nunique() == 1).all()


def test_attainment_invariants(small_extract, records):
    world, _, _ = small_extract
    a = records.attainment
    ks2, ks4 = a[a["key_stage"] == "KS2"], a[a["key_stage"] == "KS4"]
    assert len(ks2) > 100 and len(ks4) > 100
    assert not a.duplicated(["person", "key_stage"]).any()
    assert not ks2["academic_year"].isin(["2019/20", "2020/21"]).any()
    assert ks4["academic_year"].isin(["2019/20", "2020/21"]).any()
    assert ks2["ks2_expected_standard"].notna().all() and ks2["attainment8"].isna().all()
    assert ks4["ks2_expected_standard"].isna().all()
    assert ks4["attainment8"].between(0, 90).all()
    assert a["result_day"].between(world.start_day, world.end_day).all()
    assert world.alive_on(a["person"].to_numpy(), a["result_day"].to_numpy()).all()
    dob = world.dob[ks2["person"].to_numpy()]
    start = ks2["academic_year"].str[:4].astype(int).to_numpy()
    assert (start - reception_year(dob) == 6).all()


def test_fsm_rates_follow_configuration(small_extract, records):
    world, _, cohort = small_extract
    spec = load_params("education")["fsm"]
    c = records.census
    in_proc = _in_proceedings(cohort, c["person"])
    lsoa = world.residences.lsoa[world.residence_index_at(
        world.home_person[c["person"].to_numpy()], c["census_day"].to_numpy())]
    quintile = world.areas.lsoa_quintile[lsoa].astype(np.int64)
    year = c["academic_year"].str[:4].astype(int).to_numpy() + 1
    expected = fsm_probability(quintile, in_proc, year, spec)
    for group in (True, False):
        m = in_proc == group
        assert abs(c["fsm"][m].mean() - expected[m].mean()) < 0.03
    assert c["fsm"][in_proc].mean() > c["fsm"][~in_proc].mean() + 0.15


def test_sen_absence_exclusions_higher_in_proceedings(small_extract, records):
    _, _, cohort = small_extract
    spec = load_params("education")
    c = records.census
    per_child = c.drop_duplicates("person")
    in_proc = _in_proceedings(cohort, per_child["person"])
    for group, key in ((True, "in_proceedings"), (False, "comparison")):
        share = per_child["sen"][in_proc == group].value_counts(normalize=True)
        for level in ("sen_support", "ehcp"):
            assert abs(share.get(level, 0.0) - spec["sen"][key][level]) < 0.04
    rows_in = _in_proceedings(cohort, c["person"])
    rate = c.groupby(rows_in).apply(lambda d: d["sessions_absent"].sum()
                                    / d["sessions_possible"].sum(), include_groups=False)
    assert 1.5 < rate[True] / rate[False] < 2.6
    assert 0.035 < rate[False] < 0.075
    assert c["suspensions"][rows_in].mean() > 2.5 * c["suspensions"][~rows_in].mean()


def test_attainment_gaps(small_extract, records):
    _, _, cohort = small_extract
    at = load_params("education")["attainment"]
    a = records.attainment
    in_proc = _in_proceedings(cohort, a["person"])
    ks2 = a["key_stage"] == "KS2"
    pass_in = a["ks2_expected_standard"][ks2 & in_proc].astype(float).mean()
    pass_out = a["ks2_expected_standard"][ks2 & ~in_proc].astype(float).mean()
    assert 0.45 < pass_out < 0.7
    assert abs(pass_in / pass_out - at["ks2_in_proceedings_ratio"]) < 0.15
    a8_in = a["attainment8"][~ks2 & in_proc].mean()
    a8_out = a["attainment8"][~ks2 & ~in_proc].mean()
    assert 40 < a8_out < 52
    assert a8_in < 0.55 * a8_out
    # Results go with needs: pupils with EHC plans do worse than those without needs.
    sen = records.census.drop_duplicates("person").set_index("person")["sen"]
    level = sen.reindex(a["person"]).to_numpy()
    assert (a["attainment8"][~ks2 & (level == "ehcp")].mean()
            < a["attainment8"][~ks2 & (level == "none")].mean() - 5)
