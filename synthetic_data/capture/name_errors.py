"""Corruptions of who a record names: the wrong forename or surname, or someone else's details.

Each function takes the record, the rows drawn at the source's rate and the random generator,
changes the rows it can apply to, and returns them (the registry in ``corruptions`` names them
and fixes their order).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synthetic_data.capture.choice import pick
from synthetic_data.capture.record import Record
from synthetic_data.capture.spelling import (
    keyboard_applicable,
    keyboard_strings,
    phonetic_matches,
    phonetic_strings,
    typo_strings,
)
from synthetic_data.capture.text import lengths, present
from synthetic_data.core.dates import NO_DATE
from synthetic_data.world.names import nickname_of


def baby_name(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A newborn not yet named is entered as "Baby <surname>" (the rate is zero past 28 days)."""
    forename = record.values["forename"]
    baby = record.settings.baby_forename
    rows = rows[present(forename[rows]) & (forename[rows] != baby)]
    forename[rows] = baby
    return rows


def twin_confusion(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A twin recorded under the co-twin's forename: same surname, date of birth and address."""
    return record.copy_context("forename", "twin_forename", rows)


def household_copy(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A household member's forename or date of birth entered on this person's record."""
    forename = record.values["forename"][rows]
    other_name = record.context("household_forename", rows)
    dob = record.values["date_of_birth"][rows]
    other_dob = record.truth["household_dob"][rows]
    can = {
        "forename": present(forename) & present(other_name) & (forename != other_name),
        "date_of_birth": (dob != NO_DATE) & (other_dob != NO_DATE) & (dob != other_dob),
    }
    fields = list(record.settings.household_fields)
    weights = np.column_stack([can[f] * record.settings.household_fields[f] for f in fields])
    which = pick(weights.astype(np.float64), rng)
    other = {"forename": other_name, "date_of_birth": other_dob}
    for index, field in enumerate(fields):
        chosen = which == index
        record.values[field][rows[chosen]] = other[field][chosen]
    return rows[which >= 0]


def surname_change(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A woman recorded under a current or former partner's surname."""
    rows = rows[record.truth["sex"][rows] == "F"]
    return record.copy_context("surname", "partner_surname", rows)


def name_swap(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Forename and surname entered the wrong way round."""
    forename, surname = record.values["forename"], record.values["surname"]
    first, last = forename[rows], surname[rows]
    rows = rows[present(first) & present(last) & (first != last)]
    forename[rows], surname[rows] = surname[rows], forename[rows].copy()
    return rows


def nickname(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A forename recorded as its short form or nickname (William as Bill)."""
    forename = record.values["forename"]
    current = forename[rows]
    short = nickname_of(current, rng)
    changed = present(current) & (short != current)
    forename[rows[changed]] = short[changed]
    return rows[changed]


def _spelling(
    record: Record,
    rows: np.ndarray,
    rng: np.random.Generator,
    applicable: Callable[[np.ndarray], np.ndarray],
    edit: Callable[[np.ndarray, np.random.Generator], np.ndarray],
) -> np.ndarray:
    """Apply one spelling edit to the forename or the surname, chosen by ``spelling_fields``."""
    fields = list(record.settings.spelling_fields)
    weights = np.column_stack([
        applicable(record.values[f][rows]) * record.settings.spelling_fields[f] for f in fields
    ])
    which = pick(weights.astype(np.float64), rng)
    for index, field in enumerate(fields):
        chosen = rows[which == index]
        if chosen.size:
            record.values[field][chosen] = edit(record.values[field][chosen], rng)
    return rows[which >= 0]


def phonetic(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sound-alike spelling (Stephen as Stefen, Catherine as Katherine, Phillip as Philip)."""
    rules = record.settings.phonetic_rules
    return _spelling(
        record, rows, rng,
        lambda values: phonetic_matches(values, rules).any(axis=1),
        lambda values, g: phonetic_strings(values, rules, g),
    )


def keyboard(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A neighbouring key hit instead of the right one, on a UK QWERTY keyboard."""
    return _spelling(record, rows, rng, keyboard_applicable, keyboard_strings)


def typo(record: Record, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One letter inserted, deleted, substituted or transposed."""
    return _spelling(record, rows, rng, lambda values: lengths(values) >= 2, typo_strings)
