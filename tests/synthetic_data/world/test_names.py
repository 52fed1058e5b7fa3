"""Names: pools by sex, era and ethnic group, bulk sampling, and nicknames."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest

from synthetic_data.world.names import NamePools, load_names_params, nickname_of

LATIN = re.compile(r"[A-Za-z' \-]+")
GROUPS = ["White", "Mixed", "Black", "Asian", "Other"]
GIRLS_2010S = ["Olivia", "Amelia", "Isla", "Ava", "Emily", "Poppy", "Isabella"]


@pytest.fixture(scope="module")
def pools() -> NamePools:
    return NamePools.build()


def _people(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["F", "M"], dtype=object), size=n)
    birth_year = rng.integers(1940, 2026, size=n)
    ethnicity = rng.choice(np.array(GROUPS, dtype=object), size=n)
    return sex, birth_year, ethnicity


def _same(value: str, n: int) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _forenames(pools: NamePools, sex: str, year: int, group: str, n: int, seed: int) -> pd.Series:
    names = pools.forenames(
        _same(sex, n), np.full(n, year), _same(group, n), np.random.default_rng(seed)
    )
    return pd.Series(names)


def test_deterministic_for_the_same_random_state(pools):
    sex, year, group = _people(5000)
    first = pools.forenames(sex, year, group, np.random.default_rng(11))
    again = pools.forenames(sex, year, group, np.random.default_rng(11))
    other = pools.forenames(sex, year, group, np.random.default_rng(12))
    assert np.array_equal(first, again)
    assert (first != other).mean() > 0.5
    assert np.array_equal(
        pools.surnames(group, np.random.default_rng(11)),
        pools.surnames(group, np.random.default_rng(11)),
    )


def test_one_plain_latin_name_per_person(pools):
    sex, year, group = _people(50_000)
    rng = np.random.default_rng(1)
    for names in (pools.forenames(sex, year, group, rng), pools.surnames(group, rng)):
        assert names.shape == (50_000,)
        assert all(isinstance(name, str) and name and LATIN.fullmatch(name) for name in set(names))


def test_every_pool_name_is_plain_latin(pools):
    names = set(pools.forename_table.names) | set(pools.surname_table.names)
    assert all(LATIN.fullmatch(name) and name == name.strip() for name in names)


def test_pools_are_probability_distributions(pools):
    for group in GROUPS:
        assert pools.surname_pool(group).sum() == pytest.approx(1.0)
        assert pools.forename_pool("F", 1990, group).sum() == pytest.approx(1.0)
        assert pools.forename_pool("M", 1990, group).index.is_unique


def test_forenames_depend_on_sex(pools):
    for group in GROUPS:
        girls = _forenames(pools, "F", 1995, group, 20_000, seed=2)
        boys = _forenames(pools, "M", 1995, group, 20_000, seed=3)
        top_boys = boys.value_counts().index[:100]
        assert girls.isin(top_boys).mean() < 0.01, group
        assert not set(girls.value_counts().index[:20]) & set(top_boys), group


def test_forenames_depend_on_era(pools):
    born_2015 = _forenames(pools, "F", 2015, "White", 20_000, seed=4).isin(GIRLS_2010S).mean()
    born_1975 = _forenames(pools, "F", 1975, "White", 20_000, seed=4).isin(GIRLS_2010S).mean()
    assert born_2015 > 0.15
    assert born_2015 > 10 * born_1975
    older = _forenames(pools, "M", 1965, "White", 20_000, seed=5)
    assert older.value_counts().index[0] in {"David", "Paul", "Andrew", "Mark", "John"}


def test_birth_years_outside_the_listed_decades_clamp(pools):
    for outside, inside in [(1901, 1955), (2100, 2024)]:
        assert np.array_equal(
            _forenames(pools, "F", outside, "Mixed", 2000, seed=6),
            _forenames(pools, "F", inside, "Mixed", 2000, seed=6),
        )


def test_surnames_depend_on_ethnicity(pools):
    rng = np.random.default_rng(7)
    top = {
        group: set(pd.Series(pools.surnames(_same(group, 20_000), rng)).value_counts().index[:20])
        for group in GROUPS
    }
    assert len(top["Asian"] & top["White"]) <= 2
    assert len(top["Black"] & top["Asian"]) <= 4  # Muslim family names are shared by some
    assert "Smith" in top["White"]
    assert "Khan" in top["Asian"]


def test_forenames_depend_on_ethnicity(pools):
    white = _forenames(pools, "M", 2015, "White", 20_000, seed=8).value_counts().index[:20]
    asian = _forenames(pools, "M", 2015, "Asian", 20_000, seed=8).value_counts().index[:20]
    assert len(set(white) & set(asian)) <= 5


def test_accepts_pandas_columns(pools):
    sex, year, group = _people(3000)
    plain = pools.forenames(sex, year, group, np.random.default_rng(9))
    frame = pd.DataFrame({"sex": sex, "year": year, "group": group})
    from_pandas = pools.forenames(
        frame["sex"].astype("category"),
        frame["year"],
        frame["group"].astype("str"),
        np.random.default_rng(9),
    )
    assert np.array_equal(plain, from_pandas)


def test_rejects_unknown_or_missing_values(pools):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="ethnicity"):
        pools.surnames(np.array(["White", "Unknown"], dtype=object), rng)
    with pytest.raises(ValueError, match="ethnicity"):
        pools.surnames(np.array(["White", None], dtype=object), rng)
    with pytest.raises(ValueError, match="sex"):
        pools.forenames(np.array(["X"], dtype=object), np.array([1990]), _same("White", 1), rng)
    with pytest.raises(ValueError, match="birth_year"):
        pools.forenames(_same("F", 1), np.array([np.nan]), _same("White", 1), rng)


def test_yaml_drives_the_mixture():
    params = copy.deepcopy(load_names_params())
    params["era_share"]["White"]["share"] = 1.0
    names = pd.Series(
        NamePools.build(params).forenames(
            _same("F", 5000), np.full(5000, 1994), _same("White", 5000), np.random.default_rng(0)
        )
    )
    assert set(names) <= set(params["era_forenames"]["decades"][1990]["F"])


def test_yaml_documents_sources_and_shares():
    params = load_names_params()
    assert params["ethnicities"] == GROUPS
    assert "ONS, Baby names in England and Wales" in params["era_forenames"]["source"]
    for decade, lists in params["era_forenames"]["decades"].items():
        assert 20 <= len(lists["F"]) <= 30 and 20 <= len(lists["M"]) <= 30, decade
    for group in GROUPS:
        assert params["era_share"][group]["why"]
        assert params["forenames"][group]["why"] and params["surnames"][group]["why"]
    assert len(params["nicknames"]) >= 60


def test_nickname_of():
    forenames = np.array(
        ["William", "Zebedee", "William", "Elizabeth", None, "Olivia"], dtype=object
    )
    out = nickname_of(forenames, np.random.default_rng(0))
    nicknames = load_names_params()["nicknames"]
    assert out[0] in nicknames["William"] and out[2] in nicknames["William"]
    assert out[1] == "Zebedee"
    assert out[3] in nicknames["Elizabeth"]
    assert out[4] is None
    assert forenames[0] == "William"  # input left as it was
    assert np.array_equal(out, nickname_of(forenames, np.random.default_rng(0)))


def test_nickname_of_uses_every_listed_form():
    out = nickname_of(_same("Robert", 4000), np.random.default_rng(1))
    assert set(out) == {"Rob", "Bob", "Bobby", "Robbie"}
    custom = nickname_of(
        np.array(["Ann", "Bo"], dtype=object), np.random.default_rng(1), {"Ann": ["Annie"]}
    )
    assert custom.tolist() == ["Annie", "Bo"]
