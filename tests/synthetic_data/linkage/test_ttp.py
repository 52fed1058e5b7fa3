"""The trusted third party: matching stages, match quality against the truth, ALFs, bad input.

A small index is built here: households sharing a surname and an address history, names from the
project's name pools, valid NHS numbers, twins, and one register entry duplicated. Records are
copies of index people with corruptions written out in each test, or people not in the index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.errors import InputError
from synthetic_data.core.identifiers import draw_nhs_numbers, format_nhs_number
from synthetic_data.linkage.ttp import (
    STATUS,
    PopulationIndex,
    PreparedIndex,
    anonymised_linking_field,
    link_to_index,
)
from synthetic_data.world.names import NamePools

N_PEOPLE = 20_000
N_ABSENT = 2_000
GROUPS = np.array(["White", "Mixed", "Black", "Asian", "Other"], dtype=object)
LETTERS = np.array(list("ABCDEFGHJKLMNPRSTUWXYZ"), dtype=object)


def _postcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    area = rng.choice(np.array(["Q", "V", "X"], dtype=object), n) + rng.choice(LETTERS, n)
    district = rng.integers(1, 40, n).astype(str).astype(object)
    unit = rng.integers(0, 10, n).astype(str).astype(object)
    return area + district + " " + unit + rng.choice(LETTERS, n) + rng.choice(LETTERS, n)


def _population(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People in households of 1-4 sharing surname and two addresses (current first)."""
    pools = NamePools.build()
    sizes = rng.choice([1, 2, 3, 4], size=n, p=[0.3, 0.3, 0.25, 0.15])
    household = np.repeat(np.arange(n), sizes)[:n]
    n_house = int(household.max()) + 1
    group = rng.choice(GROUPS, n_house, p=[0.8, 0.04, 0.05, 0.09, 0.02])
    sex = rng.choice(np.array(["F", "M"], dtype=object), n)
    dob = rng.integers(-9_000, 19_000, n).astype(np.int64)
    people = pd.DataFrame(
        {
            "person": 1_000 + 3 * np.arange(n, dtype=np.int64),
            "forename": pools.forenames(sex, 1970 + dob // 365, group[household], rng),
            "surname": pools.surnames(group, rng)[household],
            "sex": sex,
            "dob": dob,
            "nhs_number": draw_nhs_numbers(n, rng).astype(object),
        }
    )
    addresses = _postcodes(2 * n_house, rng).reshape(n_house, 2)
    postcodes = pd.DataFrame(
        {
            "person": np.repeat(people["person"].to_numpy(), 2),
            "postcode": addresses[np.repeat(household, 2), np.tile([0, 1], n)],
        }
    )
    return people, postcodes


@pytest.fixture(scope="module")
def world() -> dict:
    """Index people, absent people, and the special cases (twins, a duplicated entry)."""
    rng = np.random.default_rng(20240501)
    people, postcodes = _population(N_PEOPLE + N_ABSENT + 1, rng)
    spare_nhs_number = people["nhs_number"].iloc[-1]  # valid, and nobody else's
    absent = people.iloc[N_PEOPLE:-1].reset_index(drop=True)
    absent_postcodes = postcodes[postcodes["person"].isin(absent["person"])]
    people = people.iloc[:N_PEOPLE].copy()
    postcodes = postcodes[postcodes["person"].isin(people["person"])]
    # Twins: rows 0 and 1 share surname, date of birth, sex and addresses; forenames differ.
    twin_a, twin_b = people.index[0], people.index[1]
    people.loc[twin_b, ["surname", "dob", "sex"]] = people.loc[twin_a, ["surname", "dob", "sex"]]
    people.loc[twin_a, "forename"], people.loc[twin_b, "forename"] = "Oliver", "Harry"
    postcodes = pd.concat(
        [postcodes[postcodes["person"] != people.loc[twin_b, "person"]],
         postcodes[postcodes["person"] == people.loc[twin_a, "person"]].assign(
             person=people.loc[twin_b, "person"])],
        ignore_index=True,
    )
    # A duplicated register entry: row 2 appears again under a new id and NHS number.
    duplicate = people.loc[[people.index[2]]].assign(person=10**8, nhs_number=spare_nhs_number)
    people = pd.concat([people, duplicate], ignore_index=True)
    postcodes = pd.concat(
        [postcodes, postcodes[postcodes["person"] == people.loc[2, "person"]].assign(person=10**8)],
        ignore_index=True,
    )
    return {
        "index": PopulationIndex(people, postcodes.reset_index(drop=True)),
        "absent": absent,
        "absent_postcodes": absent_postcodes,
    }


def _records(people: pd.DataFrame, postcodes: pd.DataFrame) -> pd.DataFrame:
    """Exact copies of people's identifiers, with their current (first) postcode."""
    current = postcodes.groupby("person", sort=False)["postcode"].first()
    return pd.DataFrame(
        {
            "forename": people["forename"].to_numpy(dtype=object),
            "surname": people["surname"].to_numpy(dtype=object),
            "sex": people["sex"].to_numpy(dtype=object),
            "date_of_birth": people["dob"].to_numpy(dtype=np.int64),
            "nhs_number": people["nhs_number"].to_numpy(dtype=object),
            "postcode": current.reindex(people["person"]).to_numpy(dtype=object),
        }
    )


def _sample(world: dict, n: int, seed: int) -> pd.DataFrame:
    """n ordinary index people (not the twins or the duplicated entry)."""
    people = world["index"].people.iloc[3:N_PEOPLE]
    return people.sample(n, random_state=seed)


def _typo(name: str) -> str:
    """Replace the letter after the first with another: a single keying error."""
    middle = len(name) // 2
    return name[:middle] + ("X" if name[middle].upper() != "X" else "Z") + name[middle + 1:]


def _link(world: dict, records: pd.DataFrame) -> pd.DataFrame:
    return link_to_index(records, world["index"])


def test_exact_copies_with_nhs_number_match_at_stage_one(world):
    people = _sample(world, 500, 1)
    result = _link(world, _records(people, world["index"].postcodes))
    assert (result["alf_sts_cd"] == 1).all()
    assert (result["person"].to_numpy() == people["person"].to_numpy()).all()
    assert (result["alf_mtch_pct"] == 1.0).all()


def test_spaced_nhs_numbers_still_match_at_stage_one(world):
    people = _sample(world, 50, 2)
    records = _records(people, world["index"].postcodes)
    records["nhs_number"] = format_nhs_number(records["nhs_number"].to_numpy(), "spaced")
    assert (_link(world, records)["alf_sts_cd"] == 1).all()


def test_exact_demographics_without_nhs_number_match_at_stage_two(world):
    people = _sample(world, 500, 3)
    records = _records(people, world["index"].postcodes)
    records["nhs_number"] = None
    records["forename"] = records["forename"].str.upper()  # standardising makes case irrelevant
    result = _link(world, records)
    assert (result["alf_sts_cd"] == 4).all()
    assert (result["person"].to_numpy() == people["person"].to_numpy()).all()


def test_old_postcode_counts_at_stage_two(world):
    people = _sample(world, 200, 4)
    postcodes = world["index"].postcodes
    records = _records(people, postcodes)
    records["nhs_number"] = None
    records["postcode"] = postcodes.groupby("person")["postcode"].last().reindex(people["person"]).to_numpy()
    assert (_link(world, records)["alf_sts_cd"] == 4).all()


@pytest.mark.parametrize("corruption", ["surname_typo", "forename_typo", "day_month_swap", "new_postcode"])
def test_corrupted_records_are_found_by_the_probabilistic_stage(world, corruption):
    people = _sample(world, 400, 5)
    records = _records(people, world["index"].postcodes)
    records["nhs_number"] = None
    if corruption == "surname_typo":
        records["surname"] = [_typo(s) for s in records["surname"]]
    elif corruption == "forename_typo":
        records["forename"] = [_typo(s) for s in records["forename"]]
    elif corruption == "day_month_swap":
        dates = pd.to_datetime(records["date_of_birth"], unit="D")
        keep = (dates.dt.day <= 12) & (dates.dt.day != dates.dt.month)
        swapped = pd.to_datetime(
            pd.DataFrame({"year": dates.dt.year, "month": dates.dt.day, "day": dates.dt.month})[keep]
        )
        records, people = records[keep.to_numpy()].copy(), people[keep.to_numpy()]
        records["date_of_birth"] = (swapped - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    else:
        records["postcode"] = _postcodes(len(records), np.random.default_rng(6))
    result = _link(world, records)
    assert result["alf_sts_cd"].isin([39, 35]).mean() > 0.9
    assert not result["alf_sts_cd"].isin([1, 4]).any()
    matched = result["person"] != -1
    assert (result["person"][matched].to_numpy() == people["person"].to_numpy()[matched]).all()
    scores = result.loc[matched, "alf_mtch_pct"]
    assert scores.between(0.5, 1.0).all()


def test_nhs_number_with_a_wrong_date_of_birth_is_probabilistic(world):
    people = _sample(world, 100, 7)
    records = _records(people, world["index"].postcodes)
    records["date_of_birth"] += 1
    result = _link(world, records)
    assert (result["alf_sts_cd"] == 39).all()
    assert (result["person"].to_numpy() == people["person"].to_numpy()).all()


def test_twins_are_not_confused(world):
    index = world["index"]
    twins = index.people.iloc[:2]
    records = _records(twins, index.postcodes)
    records["nhs_number"] = None
    records["postcode"] = None  # no stage 2: the probabilistic stage must tell them apart
    records["forename"] = ["Olivr", "Hary"]
    result = _link(world, records)
    assert result["person"].tolist() == twins["person"].tolist()


def test_people_absent_from_the_index_are_mostly_unmatched(world):
    present = _sample(world, 2_000, 8)
    records = pd.concat(
        [_records(present, world["index"].postcodes),
         _records(world["absent"], world["absent_postcodes"])],
        ignore_index=True,
    )
    records["nhs_number"] = None  # absent people's numbers are not in the index anyway
    truth = np.r_[present["person"].to_numpy(), np.full(len(world["absent"]), -1)]
    result = _link(world, records)
    person = result["person"].to_numpy()
    matched = person != -1
    assert (person[matched] == truth[matched]).mean() > 0.99  # precision
    assert (matched[truth == -1]).mean() < 0.01


def test_a_tie_between_two_index_entries_is_unmatched(world):
    people = world["index"].people
    duplicated = people[people["person"] == 10**8]
    records = _records(duplicated, world["index"].postcodes)
    records["nhs_number"] = None
    result = _link(world, records)
    assert result["alf_sts_cd"].tolist() == [99]
    assert result["person"].tolist() == [-1]
    # With the NHS number, stage 1 tells the two entries apart.
    records["nhs_number"] = duplicated["nhs_number"].to_numpy()
    assert _link(world, records)["person"].tolist() == [10**8]


def test_too_little_to_match_on_is_unmatched(world):
    people = _sample(world, 20, 9)
    records = _records(people, world["index"].postcodes)
    records["date_of_birth"] = NO_DATE
    records["nhs_number"] = None
    assert (_link(world, records)["alf_sts_cd"] == 99).all()


def test_a_record_with_nothing_is_status_99_with_no_score(world):
    records = pd.DataFrame(
        {"forename": [None], "surname": [None], "sex": [None], "date_of_birth": [NO_DATE],
         "nhs_number": [None], "postcode": [None]}
    )
    result = _link(world, records)
    assert result["alf_sts_cd"].tolist() == [99]
    assert result["person"].tolist() == [-1]
    assert np.isnan(result["alf_mtch_pct"].iloc[0])


def test_result_is_aligned_typed_and_deterministic(world):
    people = _sample(world, 1_000, 10)
    records = _records(people, world["index"].postcodes)
    records.loc[::3, "nhs_number"] = None
    records.loc[::5, "surname"] = [_typo(s) for s in records.loc[::5, "surname"]]
    records.index = np.arange(len(records))[::-1] * 2  # an index that is not 0..n-1
    first, second = _link(world, records), _link(world, records)
    pd.testing.assert_frame_equal(first, second)
    assert first.to_numpy().tobytes() == second.to_numpy().tobytes()
    assert first.index.equals(records.index)
    assert first.dtypes.astype(str).tolist() == ["int64", "int64", "float64"]
    assert set(first["alf_sts_cd"]) <= set(STATUS)
    assert (first["person"].to_numpy() == people["person"].to_numpy()).mean() > 0.99


def test_a_prepared_index_links_several_files_as_fresh_loads_do(world):
    """One load for several files: each result is the one a fresh load gives, whatever came
    before it (new names and postcodes from an earlier file, categorical index columns)."""
    first = _records(_sample(world, 800, 12), world["index"].postcodes)
    first.loc[::4, "forename"] = [_typo(s) for s in first.loc[::4, "forename"]]
    first.loc[::7, "postcode"] = "zz9 9zz"
    second = _records(_sample(world, 800, 13), world["index"].postcodes)
    second.loc[::3, "nhs_number"] = None
    second.loc[::5, "surname"] = [_typo(s) for s in second.loc[::5, "surname"]]
    expected = [_link(world, first), _link(world, second)]
    people = world["index"].people.assign(
        forename=pd.Categorical(world["index"].people["forename"]),
        sex=pd.Categorical(world["index"].people["sex"]))
    postcodes = world["index"].postcodes.assign(
        postcode=pd.Categorical(world["index"].postcodes["postcode"]))
    with PreparedIndex(PopulationIndex(people, postcodes)) as prepared:
        got = [link_to_index(first, prepared), link_to_index(second, prepared),
               link_to_index(first, prepared)]
    for result, want in zip(got, [*expected, expected[0]], strict=True):
        pd.testing.assert_frame_equal(result, want)


def test_missing_column_raises_an_input_error_naming_it(world):
    records = _records(_sample(world, 5, 11), world["index"].postcodes).drop(columns="postcode")
    with pytest.raises(InputError, match="postcode"):
        _link(world, records)
    bad_index = PopulationIndex(world["index"].people.drop(columns="dob"), world["index"].postcodes)
    with pytest.raises(InputError, match="dob"):
        link_to_index(_records(_sample(world, 5, 11), world["index"].postcodes), bad_index)


def test_alf_is_project_specific_stable_ten_digit_and_collision_free():
    ids = np.arange(2_000_000, dtype=np.int64) * 3 + 7
    alf_a = anonymised_linking_field(ids, "project-a")
    assert alf_a.dtype == np.int64
    assert np.array_equal(alf_a, anonymised_linking_field(ids, "project-a"))
    assert ((alf_a >= 10**9) & (alf_a < 10**10)).all()
    assert np.unique(alf_a).size == ids.size
    alf_b = anonymised_linking_field(ids[:10_000], "project-b")
    assert (alf_b != alf_a[:10_000]).mean() > 0.999
    assert anonymised_linking_field(np.array([-1]), "project-a").tolist() == [-1]
