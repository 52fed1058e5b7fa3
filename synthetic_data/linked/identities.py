"""The true identifiers behind each record, with the context a capture error can draw on.

A record is made for a person on a day: the address is the one they lived at that day (a
child's is its mother's), and the context holds what real errors copy from: the address before
the last move, a partner's surname, the mother's details on a child's record, a twin's forename.
``synthetic_data.capture`` turns this truth into what the source actually wrote down.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.capture.apply import Captured, capture
from synthetic_data.core.dates import NO_DATE
from synthetic_data.world.people import ETHNIC_GROUPS, ROLE_CHILD, ROLE_MOTHER, World
from synthetic_data.world.tables import lexsort_pair

WHITE = ETHNIC_GROUPS.index("White")


def identity_truth(world: World, persons: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    """One row per record: the person's true identifiers on the record's day, and context."""
    persons = np.asarray(persons, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    home = world.home_person[persons]
    res = world.residence_index_at(home, days)
    r = world.residences
    postcode = np.where(res >= 0, r.postcode[res.clip(min=0)], None)
    prev = res - 1
    has_prev = (res > 0) & (r.person[prev.clip(min=0)] == home)
    previous_postcode = np.where(has_prev, r.postcode[prev.clip(min=0)], None)
    quintile = world.quintile_at(persons, days)

    is_child = world.role[persons] == ROLE_CHILD
    mother = np.where(is_child, world.mother[persons], -1)
    household_forename = np.where(mother >= 0, world.forename[mother.clip(min=0)], None)
    household_dob = np.where(mother >= 0, world.dob[mother.clip(min=0)], NO_DATE)
    text = {  # kept as Python objects: capture reads them as such (pandas would make Arrow
        # strings of them, at a cost per row, only for capture to turn them back)
        "forename": world.forename[persons],
        "surname": world.surname[persons],
        "sex": world.sex[persons],
        "nhs_number": world.nhs_number[persons],
        "postcode": postcode,
        "previous_postcode": previous_postcode,
        "partner_surname": _partner_surname(world, persons, days),
        "household_forename": household_forename,
        "twin_forename": _twin_forename(world, persons),
    }
    text = {name: pd.Series(np.asarray(values, dtype=object), dtype=object, copy=False)
            for name, values in text.items()}
    return pd.DataFrame({
        "person": persons,
        "forename": text["forename"],
        "surname": text["surname"],
        "sex": text["sex"],
        "dob": world.dob[persons].astype(np.int64),
        "nhs_number": text["nhs_number"],
        "postcode": text["postcode"],
        "minority": world.ethnicity[persons] != WHITE,
        "deprived": quintile == 1,
        "age_days_at_record": days - world.dob[persons],
        "previous_postcode": text["previous_postcode"],
        "partner_surname": text["partner_surname"],
        "household_forename": text["household_forename"],
        "household_dob": household_dob.astype(np.int64),
        "twin_forename": text["twin_forename"],
    }, copy=False)


def capture_identities(world: World, persons: np.ndarray, days: np.ndarray, source: str,
                       rng: np.random.Generator) -> Captured:
    """What ``source`` records about each person on each day, errors and all."""
    return capture(identity_truth(world, persons, days), source, rng)


def _partner_surname(world: World, persons: np.ndarray, days: np.ndarray) -> np.ndarray:
    """For mothers: the surname of the partner of the latest partnership begun by that day."""
    out = np.full(persons.size, None, dtype=object)
    pt = world.partnerships
    if pt.empty:
        return out
    order = lexsort_pair(pt["start"].to_numpy(), pt["mother"].to_numpy())
    p_mother = pt["mother"].to_numpy()[order].astype(np.int64)
    p_start = pt["start"].to_numpy()[order].astype(np.int64)
    p_father = pt["father"].to_numpy()[order].astype(np.int64)
    is_mother = world.role[persons] == ROLE_MOTHER
    key_p = p_mother * 200_000 + (p_start + 100_000)
    key_q = persons * 200_000 + (days + 100_000)
    pos = np.searchsorted(key_p, key_q, side="right") - 1
    ok = is_mother & (pos >= 0) & (p_mother[pos.clip(min=0)] == persons)
    out[ok] = world.surname[p_father[pos[ok]]]
    return out


def _twin_forename(world: World, persons: np.ndarray) -> np.ndarray:
    """The co-twin's forename for twins (children of one mother born on the same day)."""
    out = np.full(persons.size, None, dtype=object)
    twins = np.flatnonzero(world.multiple_birth)
    if twins.size == 0:
        return out
    order = np.lexsort((twins, world.dob[twins], world.mother[twins]))
    twins = twins[order]
    same_next = (world.mother[twins[1:]] == world.mother[twins[:-1]]) & (
        world.dob[twins[1:]] == world.dob[twins[:-1]])
    co = np.full(world.size, -1, dtype=np.int64)
    first, second = twins[:-1][same_next], twins[1:][same_next]
    co[first] = second
    co[second] = first
    partner = co[persons]
    out[partner >= 0] = world.forename[partner[partner >= 0]]
    return out


def home_spells(world: World, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every address spell of each person's home (a child's are its mother's).

    Returns (position in ``persons``, index into ``world.residences``), one pair per spell,
    grouped by person in the order given.
    """
    home = world.home_person[persons]
    r_person = world.residences.person
    order = np.argsort(r_person, kind="stable")
    lo = np.searchsorted(r_person[order], home, side="left")
    hi = np.searchsorted(r_person[order], home, side="right")
    count = hi - lo
    who = np.repeat(np.arange(persons.size), count)
    rank = np.arange(who.size) - np.repeat(np.cumsum(count) - count, count)
    return who, order[np.repeat(lo, count) + rank]
