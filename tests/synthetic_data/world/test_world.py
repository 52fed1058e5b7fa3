"""The world layer on its own: families, addresses, deaths and population, built directly.

Small worlds (Wales, scale 0.02, 2008-04 to 2012-03) build in well under a second.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from synthetic_data.core.config import GenerationConfig
from synthetic_data.core.dates import DAYS_PER_YEAR, year_start
from synthetic_data.core.identifiers import is_valid_nhs_number
from synthetic_data.core.params import load_params
from synthetic_data.world.geography import build_small_areas, local_authorities
from synthetic_data.world.names import NamePools
from synthetic_data.world.people import (
    NO_DATE,
    ROLE_CHILD,
    ROLE_FATHER,
    ROLE_MOTHER,
    World,
    add_people,
    build_world,
    give_test_range_numbers_first,
)
from synthetic_data.world.population import target_children
from synthetic_data.world.tables import population_table

SCALE = 0.02
CONFIG = GenerationConfig(region="wales", start="2008-04", end="2012-03", scale=SCALE)
ARRAYS = ("person_id", "role", "sex", "dob", "dod", "ethnicity", "forename", "surname",
          "nhs_number", "mother", "father", "birth_order", "multiple_birth",
          "mother_teen_first_birth")


@pytest.fixture(scope="module")
def setting():
    las = local_authorities("wales")
    params = load_params("world")
    areas = build_small_areas(las, params["geography"]["postcodes_per_lsoa"])
    return las, areas, NamePools.build(), params


def make_world(setting, seed: int, scale: float = SCALE) -> World:
    las, areas, pools, params = setting
    return build_world(las, areas, pools, params, CONFIG.start_day, CONFIG.end_day, scale,
                       np.random.default_rng(seed))


@pytest.fixture(scope="module")
def world(setting) -> World:
    return make_world(setting, 11)


@pytest.fixture(scope="module")
def kids(world) -> np.ndarray:
    out = np.flatnonzero(world.role == ROLE_CHILD)
    assert out.size > 5000
    return out


# ---------------------------------------------------------------------- relationships


def test_mothers_and_fathers_have_their_roles(world, kids):
    assert (world.mother[kids] >= 0).all()
    assert (world.role[world.mother[kids]] == ROLE_MOTHER).all()
    fathers = world.father[kids]
    assert (world.role[fathers[fathers >= 0]] == ROLE_FATHER).all()
    assert (fathers >= 0).mean() > 0.8
    assert (world.sex[world.mother[kids]] == "F").all()
    assert (world.sex[fathers[fathers >= 0]] == "M").all()
    adults = np.flatnonzero(world.role != ROLE_CHILD)
    assert (world.mother[adults] == -1).all() and (world.father[adults] == -1).all()


def test_every_mother_and_father_has_a_child(world, kids):
    mothers = np.flatnonzero(world.role == ROLE_MOTHER)
    fathers = np.flatnonzero(world.role == ROLE_FATHER)
    assert np.isin(mothers, world.mother[kids]).all()
    assert np.isin(fathers, world.father[kids]).all()


def test_mothers_are_13_to_50_at_each_birth(world, kids):
    age = (world.dob[kids] - world.dob[world.mother[kids]]) / DAYS_PER_YEAR
    assert age.min() >= 13
    assert age.max() <= 50


def test_twins_share_mother_and_date_of_birth(world, kids):
    frame = pd.DataFrame({"mother": world.mother[kids], "dob": world.dob[kids],
                          "twin": world.multiple_birth[kids]})
    births = frame.groupby(["mother", "dob"])["twin"].agg(["size", "all", "any"])
    assert set(births["size"]) <= {1, 2}
    assert (births["all"] == (births["size"] == 2)).all()
    assert (births["any"] == births["all"]).all()
    assert (births["size"] == 2).sum() > 20, "no twins in the small world"


def test_birth_order_counts_up_per_mother(world, kids):
    frame = pd.DataFrame({"mother": world.mother[kids], "dob": world.dob[kids],
                          "order": world.birth_order[kids].astype(int)})
    frame = frame.sort_values(["mother", "dob"], kind="stable")
    step = frame.groupby("mother")["order"].diff().dropna()
    same_day = frame.groupby("mother")["dob"].diff().dropna() == 0
    assert (step[same_day] == 0).all()
    assert (step[~same_day] >= 1).all()


def test_half_siblings_exist_but_are_a_minority(world, kids):
    frame = pd.DataFrame({"mother": world.mother[kids], "father": world.father[kids]})
    size = frame.groupby("mother").size()
    several = size[size >= 2].index
    fathers = frame[frame["father"] >= 0].groupby("mother")["father"].nunique()
    fathers = fathers.reindex(several, fill_value=0)
    half = (fathers >= 2).sum()
    assert half > 0
    assert half / len(several) < 0.30


def test_deaths_come_after_birth(world):
    died = world.dod != NO_DATE
    assert died.any()
    assert (world.dod[died] >= world.dob[died]).all()
    assert (world.dod[died] <= world.end_day).all()


def test_mothers_are_alive_at_each_birth(world, kids):
    mum = world.mother[kids]
    dead = world.dod[mum] != NO_DATE
    assert (world.dod[mum][dead] >= world.dob[kids][dead]).all()


def test_children_are_born_within_the_cohort_window(world, kids):
    first_cohort = int(CONFIG.start[:4]) - 18
    assert world.dob[kids].min() >= year_start(first_cohort)
    assert world.dob[kids].max() <= CONFIG.end_day


def test_sex_ratio_at_birth(world, kids):
    share = load_params("world")["births"]["male_share"]
    observed = (world.sex[kids] == "M").mean()
    assert set(np.unique(world.sex[kids])) == {"M", "F"}
    assert abs(observed - share) < 4 * math.sqrt(share * (1 - share) / kids.size)


# ------------------------------------------------------------------------- population


def test_children_per_year_match_the_target(setting, world):
    las = setting[0]
    years = CONFIG.calendar_years
    realised = population_table(world, years).groupby("year")["children"].sum()
    target = target_children(las, years, SCALE).groupby("year")["children"].sum()
    ratio = realised / target
    assert list(ratio.index) == list(years)
    assert ((ratio - 1).abs() < 0.05).all(), ratio.to_dict()


def test_population_table_counts_each_authority_and_age(setting, world):
    las = setting[0]
    pop = population_table(world, [2010])
    assert len(pop) == len(las) * 18
    assert set(pop["age"]) == set(range(18))
    # Every authority has children of every age at this scale.
    assert (pop.groupby("la_code")["children"].sum() > 0).all()


def test_teenage_first_births_are_more_common_in_the_most_deprived_areas(world):
    r = world.residences
    mothers = np.flatnonzero(world.role == ROLE_MOTHER)
    first_spell = np.searchsorted(r.person, mothers)
    assert (r.person[first_spell] == mothers).all()
    quintile = world.areas.lsoa_quintile[r.lsoa[first_spell]]
    teen = world.mother_teen_first_birth[mothers]
    q1, q5 = teen[quintile == 1].mean(), teen[quintile == 5].mean()
    assert q1 > 2 * q5, (q1, q5)


# -------------------------------------------------------------------------- residences


def test_residence_spells_are_sorted_valid_and_do_not_overlap(world):
    r = world.residences
    open_end = r.date_to == NO_DATE
    bad = ~open_end & (r.date_to < r.date_from)
    assert not bad.any(), (
        f"{int(bad.sum())} spells end before they start, e.g. person "
        f"{r.person[bad][:3].tolist()} from {r.date_from[bad][:3].tolist()} "
        f"to {r.date_to[bad][:3].tolist()}")
    same = r.person[1:] == r.person[:-1]
    assert (np.diff(r.person) >= 0).all(), "spells are not grouped by person"
    assert (r.date_from[1:][same] > r.date_from[:-1][same]).all(), \
        "a person's spells are not in strictly increasing order of start"
    assert not (same & open_end[:-1]).any(), "an open spell is followed by another"
    assert (r.date_to[:-1][same] < r.date_from[1:][same]).all(), "spells overlap"


def test_every_mother_has_an_address_at_each_birth(world, kids):
    idx = world.residence_index_at(world.mother[kids], world.dob[kids])
    assert (idx >= 0).all()
    assert (world.residences.person[idx] == world.mother[kids]).all()


def test_registered_fathers_live_with_the_mother_at_each_birth(world, kids):
    # A father shares the mother's address while they are partners, and every child is born
    # within its parents' partnership.
    with_father = kids[world.father[kids] >= 0]
    day = world.dob[with_father]
    m = world.residence_index_at(world.mother[with_father], day)
    f = world.residence_index_at(world.father[with_father], day)
    assert (m >= 0).all()
    assert (f >= 0).all(), f"{int((f < 0).sum())} fathers have no address at their child's birth"
    assert (world.residences.lsoa[m] == world.residences.lsoa[f]).all()


# ------------------------------------------------------------------------- determinism


def test_same_seed_same_world(setting, world):
    again = make_world(setting, 11)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(world, name), err_msg=name)
    for name in ("person", "lsoa", "postcode", "date_from", "date_to"):
        np.testing.assert_array_equal(getattr(again.residences, name),
                                      getattr(world.residences, name), err_msg=name)
    pd.testing.assert_frame_equal(again.partnerships, world.partnerships)


def test_different_seed_different_world(setting, world):
    other = make_world(setting, 12)
    assert not (other.size == world.size and (other.dob == world.dob).all())
    assert set(other.nhs_number[:100]) != set(world.nhs_number[:100])


# ------------------------------------------------------------------------ identifiers


def test_nhs_numbers_are_unique_and_valid(world):
    assert len(set(world.nhs_number.tolist())) == world.size
    assert is_valid_nhs_number(world.nhs_number).all()
    assert all(n.startswith("999") for n in world.nhs_number[:1000])


def test_person_ids_are_unique(world):
    assert np.unique(world.person_id).size == world.size
    assert world.person_id.min() >= 1


def test_teenage_first_time_mothers_have_more_later_babies(world, kids):
    """Recurrence runs through later babies: the youngest mothers must have the most of them,
    which is what makes them the group most at risk of returning to court."""
    per_mother = np.bincount(world.mother[kids], minlength=world.size)
    mothers = np.flatnonzero(world.role == ROLE_MOTHER)
    first = np.full(world.size, np.iinfo(np.int64).max)
    np.minimum.at(first, world.mother[kids], world.dob[kids])
    age = (first[mothers] - world.dob[mothers]) / DAYS_PER_YEAR
    teen = per_mother[mothers][age < 20].mean()
    thirties = per_mother[mothers][age >= 30].mean()
    assert teen > 1.15 * thirties, (teen, thirties)


# ---------------------------------------------------------------- a World is not changed


def test_a_world_cannot_be_changed_in_place(world):
    with pytest.raises(dataclasses.FrozenInstanceError):
        world.nhs_number = world.nhs_number[::-1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        world.residences.postcode = world.residences.postcode[::-1]
    # Nor its arrays: a write into one fails where it is made.
    with pytest.raises(ValueError, match="read-only"):
        world.dob[0] = world.dob[0] + 1
    with pytest.raises(ValueError, match="read-only"):
        world.residences.date_to[:1] = 0


def test_add_people_returns_a_new_world_and_leaves_the_old_one_alone(setting, world):
    pools = setting[2]
    before = {name: getattr(world, name).copy() for name in ARRAYS}
    spells, reserve = world.residences.person.size, world.nhs_reserve.copy()
    home_before = world.home_person  # a lookup worked out on the old world stays its own
    near = np.flatnonzero(world.role == ROLE_MOTHER)[:5]
    since = np.full(5, CONFIG.end_day - 100)
    grown = add_people(world, sex=np.array(["F", "M", "F", "M", "F"], dtype=object),
                       dob=world.dob[near] - 9_000, ethnicity=world.ethnicity[near],
                       surname=world.surname[near], near=near, since=since, years_at_address=(1, 10),
                       pools=pools, rng=np.random.default_rng(3))

    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(world, name), before[name], err_msg=name)
    assert world.residences.person.size == spells and world.home_person is home_before
    np.testing.assert_array_equal(world.nhs_reserve, reserve)

    new = np.arange(world.size, world.size + 5)
    assert grown.size == world.size + 5 and grown.home_person.size == grown.size
    assert (grown.home_person[new] == new).all()
    assert (grown.nhs_number[new] == reserve[:5]).all()
    np.testing.assert_array_equal(grown.nhs_reserve, reserve[5:])
    assert np.unique(grown.person_id).size == grown.size
    # Each relative has one address, in the authority of the person they joined.
    assert (grown.la_at(new, since) == world.la_at(near, since)).all()
    spell = grown.residence_index_at(new, since)
    assert (spell >= world.residences.person.size).all()


def test_add_people_names_an_exhausted_nhs_reserve(setting, world):
    empty = dataclasses.replace(world, nhs_reserve=world.nhs_reserve[:0])
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(RuntimeError, match="reserve"):
        add_people(empty, sex=np.array(["F"], dtype=object), dob=world.dob[:1],
                   ethnicity=world.ethnicity[:1], surname=world.surname[:1], near=one,
                   since=np.full(1, CONFIG.end_day), years_at_address=(1, 10), pools=setting[2],
                   rng=np.random.default_rng(0))


def test_test_range_numbers_go_first_to_the_people_in_records(world):
    priority = np.flatnonzero(world.role == ROLE_FATHER)[:50]
    numbers = world.nhs_number.copy()
    given = give_test_range_numbers_first(world, priority)
    np.testing.assert_array_equal(world.nhs_number, numbers)
    assert sorted(given.nhs_number.tolist()) == sorted(numbers.tolist())
    assert all(n.startswith("999") for n in given.nhs_number[priority])
    assert given.dob is world.dob and given.residences is world.residences
