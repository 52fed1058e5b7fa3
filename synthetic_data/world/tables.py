"""The world as output tables: the answer key's people, partnerships and addresses, the child
population of each authority, and the reference tables of authorities and areas.

These tables describe the truth itself, not any source's record of it, so they are made from the
world alone. The people and residence tables run to millions of rows: their text columns are
built as Arrow strings from codes, without a Python object per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE
from synthetic_data.world.geography import dfj_areas
from synthetic_data.world.people import ETHNIC_GROUPS, ROLE_CHILD, ROLES, World


def date_or_none(days: np.ndarray) -> np.ndarray:
    """int days to datetime64[D] with NaT for the NO_DATE sentinel."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    out[np.asarray(days) == NO_DATE] = np.datetime64("NaT")
    return out


def world_tables(world: World) -> dict[str, dict[str, np.ndarray | pa.Array]]:
    """The answer key's view of the world itself, as column arrays (these tables are large;
    text columns are Arrow strings already)."""
    return {"world_people": people_columns(world),
            "world_partnerships": partnership_columns(world),
            "world_residences": residence_columns(world)}


def people_columns(world: World) -> dict[str, np.ndarray | pa.Array]:
    """Everyone in the world, by person_id: dates, family links, names."""
    pid = world.person_id
    is_child = world.role == ROLE_CHILD
    order = np.argsort(pid, kind="stable")

    def nullable_id(index: np.ndarray) -> pd.arrays.IntegerArray:
        values = np.where(index >= 0, pid[index.clip(min=0)], 0).astype(np.int64)
        return pd.arrays.IntegerArray(values, mask=index < 0)

    people = {
        "person_id": pid,
        "date_of_birth": date_or_none(world.dob),
        "date_of_death": date_or_none(world.dod),
        "nhs_number": world.nhs_number,
        "mother_id": nullable_id(world.mother),
        "father_id": nullable_id(world.father),
        "birth_order": pd.arrays.IntegerArray(world.birth_order.astype(np.int64),
                                              mask=~is_child),
        "multiple_birth": world.multiple_birth,
        "teenage_first_birth": world.mother_teen_first_birth,
    }
    people = {k: v[order] for k, v in people.items()}
    people.update({  # text columns as Arrow strings, built from codes (millions of rows)
        "role": _labels_at(ROLES, world.role[order]),
        "sex": _text(world.sex, order),
        "ethnicity": _labels_at(ETHNIC_GROUPS, world.ethnicity[order]),
        "forename": _text(world.forename, order),
        "surname": _text(world.surname, order),
    })
    return people


def partnership_columns(world: World) -> dict[str, np.ndarray]:
    """Couples with a registered father, numbered from the chunk's first person_id."""
    pid = world.person_id
    pt = world.partnerships
    return {
        "partnership_id": np.arange(1, len(pt) + 1, dtype=np.int64) + int(pid.min()) - 1,
        "mother_id": pid[pt["mother"].to_numpy()],
        "father_id": pid[pt["father"].to_numpy()],
        "start_date": date_or_none(pt["start"].to_numpy()),
        "end_date": date_or_none(pt["end"].to_numpy()),
    }


def residence_columns(world: World) -> dict[str, np.ndarray | pa.Array]:
    """Each address spell as lived (see ``lifetime_spells``), by person and start date."""
    pid = world.person_id
    r = world.residences
    date_from, date_to, lived = lifetime_spells(world)
    r_order = lived[lexsort_pair(date_from[lived], pid[r.person[lived]])]
    residences = {
        "person_id": pid[r.person],
        "date_from": date_or_none(date_from),
        "date_to": date_or_none(date_to),
        "imd_quintile": world.areas.lsoa_quintile[r.lsoa].astype(np.int64),
    }
    residences = {k: v[r_order] for k, v in residences.items()}
    lsoa = r.lsoa[r_order]
    residences.update({
        "la_code": _labels_at(world.las["la_code"].to_numpy(), world.areas.lsoa_la[lsoa]),
        "lsoa_code": _labels_at(world.areas.lsoa_code, lsoa),
        "postcode": _text(r.postcode, r_order),
    })
    return residences


def lifetime_spells(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each address spell as lived: (date_from, date_to, rows kept).

    The world keeps a household's addresses as one history (a child lives wherever its mother's
    history says, even after her death), so a parent's history may run before their birth or
    after their death. A person lived at an address only while alive: a spell starts no earlier
    than the birth, one running at the death ends on it, and spells wholly outside the life, or
    starting after the end of the period, are dropped.
    """
    r = world.residences
    dob, dod = world.dob[r.person].astype(np.int64), world.dod[r.person].astype(np.int64)
    never = np.iinfo(np.int64).max
    death = np.where(dod == NO_DATE, never, dod)
    date_from = np.maximum(r.date_from.astype(np.int64), dob)
    to = np.where(r.date_to == NO_DATE, never, r.date_to.astype(np.int64))
    lived = np.flatnonzero((date_from <= np.minimum(death, world.end_day)) & (to >= dob))
    date_to = np.where(to > death, dod, r.date_to.astype(np.int64))
    return date_from, date_to, lived


def _labels_at(labels, codes: np.ndarray) -> pa.Array:
    """``labels[codes]`` as Arrow strings, without a Python object per row (null where a code
    is negative)."""
    codes = np.asarray(codes, dtype=np.int64)
    indices = pa.array(codes, mask=codes < 0)
    return pa.array(np.asarray(labels, dtype=object), type=pa.string(), from_pandas=True
                    ).take(indices)


def _text(values: np.ndarray, order: np.ndarray) -> pa.Array:
    """``values[order]`` as Arrow strings: each distinct value converted once (names, sexes
    and postcodes repeat across millions of rows)."""
    codes, uniques = pd.factorize(values)
    return _labels_at(np.asarray(uniques, dtype=object), codes[order])


def lexsort_pair(secondary: np.ndarray, primary: np.ndarray) -> np.ndarray:
    """``np.lexsort((secondary, primary))`` for two integer keys, a few times faster (the
    residences of a full-scale run are millions of rows): one stable sort of a combined key,
    whenever that fits in int64, which it does for any real run."""
    first = np.asarray(primary, dtype=np.int64)
    second = np.asarray(secondary, dtype=np.int64)
    if first.size == 0:
        return np.lexsort((second, first))
    span = int(second.max()) - int(second.min()) + 1
    if (int(first.max()) - int(first.min()) + 1) * span >= 2**62:
        return np.lexsort((second, first))
    return np.argsort((first - first.min()) * span + (second - second.min()), kind="stable")


def population_table(world: World, years: range) -> pd.DataFrame:
    """Children 0-17 living in each authority at each mid-year (30 June), by age."""
    kids = np.flatnonzero(world.role == ROLE_CHILD)
    frames = []
    for year in years:
        mid = int((np.datetime64(f"{year}-06-30") - np.datetime64("1970-01-01")).astype(int))
        k = kids[(world.dob[kids] <= mid) & (world.dob[kids] > mid - int(18 * DAYS_PER_YEAR) - 2)]
        k = k[world.alive_on(k, np.full(k.size, mid))]
        age = np.floor((mid - world.dob[k]) / DAYS_PER_YEAR).astype(np.int64)
        k, age = k[age <= 17], age[age <= 17]
        la = world.la_at(k, np.full(k.size, mid))
        ok = la >= 0
        counts = np.bincount(la[ok] * 18 + age[ok], minlength=len(world.las) * 18)
        frames.append(pd.DataFrame({
            "year": year,
            "la_code": np.repeat(world.las["la_code"].to_numpy(), 18),
            "age": np.tile(np.arange(18), len(world.las)),
            "children": counts.astype(np.int64),
        }))
    return pd.concat(frames, ignore_index=True)


def reference_tables(world: World) -> dict[str, pd.DataFrame]:
    """Authorities, designated family judge areas and small areas, as learners look them up."""
    las = world.las[["la_code", "la_name", "region_name", "country", "dfj_area_id",
                     "dfj_area_name", "pct_most_deprived_quintile"]].copy()
    dfj = dfj_areas()[["dfj_area_id", "dfj_area_name", "court_code", "court_name",
                       "hmcts_region"]]
    return {"local_authorities": las, "dfj_areas": dfj, "lsoa": world.areas.frame(world.las)}
