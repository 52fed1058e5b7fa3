"""What reaches the trusted research environment: the provider tables, de-identified by rule.

The rule itself is in ``schema_linked.tre_version``; this module applies it to data: names and
NHS numbers go, a date of birth becomes the Monday of its week, a postcode its small area, every
id is encrypted for the project (a keyed hash, so ids join inside the TRE and nowhere else), and
each person record carries the ALF, status and score the trusted third party returned. Records
outside the project's extract never arrive.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from synthetic_data.schema import TABLES_BY_NAME
from synthetic_data.schema_linked import PERSON_RECORD_IDS, RECORD_IDS
from synthetic_data.world import World

CAFCASS_TABLES = ("cafcass_cases", "cafcass_applications", "cafcass_case_parties",
                  "cafcass_relationships", "cafcass_hearings", "cafcass_orders")


def tre_view(tables: dict[str, pd.DataFrame], cafcass: dict[str, pd.DataFrame],
             links: pd.DataFrame, extract: np.ndarray, world: World,
             project_key: str) -> dict[str, pd.DataFrame]:
    """``tre_<name>`` for every provider table of the chunk."""
    sources = dict(tables)
    sources.update({name: cafcass[name] for name in CAFCASS_TABLES})
    link = links.assign(extracted=extract).set_index("record_id")
    lsoa_of = _lsoa_lookup(world)
    out = {}
    for name, frame in sources.items():
        spec = TABLES_BY_NAME.get(f"tre_{name}")
        if spec is not None:
            out[spec.name] = de_identify(frame, spec.column_names, link, lsoa_of, project_key)
    return out


def de_identify(frame: pd.DataFrame, columns: list[str], link: pd.DataFrame,
                lsoa_of: pd.Series, project_key: str) -> pd.DataFrame:
    person_cols = [c for c in frame.columns if c in PERSON_RECORD_IDS]
    keep = np.ones(len(frame), dtype=bool)
    if person_cols:  # a row is extracted only if its (first) person record is
        extracted = link["extracted"].reindex(frame[person_cols[0]]).to_numpy()
        keep = np.asarray(pd.Series(extracted).fillna(False), dtype=bool)
    frame = frame.loc[keep]
    out: dict[str, object] = {}
    for col in frame.columns:
        values = frame[col]
        if col in RECORD_IDS:
            out[f"{col}_pe"] = encrypt_ids(values, project_key, col)
            if col in PERSON_RECORD_IDS:
                prefix = PERSON_RECORD_IDS[col]
                info = link.reindex(values)
                matched = info["alf_pe"].to_numpy() > 0
                out[f"{prefix}alf_pe"] = pd.arrays.IntegerArray(
                    np.where(matched, info["alf_pe"].fillna(0).to_numpy(), 0).astype(np.int64),
                    mask=~matched)
                sent = info["alf_sts_cd"].notna().to_numpy()
                out[f"{prefix}alf_sts_cd"] = pd.arrays.IntegerArray(
                    info["alf_sts_cd"].fillna(0).to_numpy().astype(np.int64), mask=~sent)
                out[f"{prefix}alf_mtch_pct"] = info["alf_mtch_pct"].to_numpy()
        elif col == "date_of_birth":
            out["wob"] = week_of_birth(values)
        elif col == "postcode":
            out["lsoa_code"] = lsoa_of.reindex(values).to_numpy()
        else:
            out[col] = values.to_numpy()
    return pd.DataFrame({c: out[c] for c in columns})


def encrypt_ids(values: pd.Series, project_key: str, column: str) -> pd.array:
    """A keyed hash of each id: equal ids stay equal within the project, and nothing else."""
    key = hashlib.sha256(f"{project_key}:{column}".encode()).hexdigest()[:16]
    present = values.notna().to_numpy()
    hashed = pd.util.hash_array(values.fillna("").astype(str).to_numpy(dtype=object),
                                hash_key=key, categorize=True)
    ints = (hashed >> np.uint64(1)).astype(np.int64)
    return pd.arrays.IntegerArray(ints, mask=~present)


def week_of_birth(dates: pd.Series) -> np.ndarray:
    """The Monday of the week each date falls in (SAIL's WOB)."""
    days = pd.to_datetime(dates).to_numpy().astype("datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return days - weekday.astype("timedelta64[D]")


def _lsoa_lookup(world: World) -> pd.Series:
    areas = world.areas
    table = areas.postcode_table()
    lsoa = np.arange(table.size) // areas.postcodes_per_lsoa
    lookup = pd.Series(areas.lsoa_code[lsoa], index=table)
    # A postcode string can (rarely) be shared by two fake areas: the first one is kept.
    return lookup[~lookup.index.duplicated()]
