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
import pyarrow as pa
import pyarrow.compute as pc

from synthetic_data.output.schema import TABLES_BY_NAME
from synthetic_data.output.schema_linked import PERSON_RECORD_IDS, RECORD_IDS
from synthetic_data.world.people import World

CAFCASS_TABLES = ("cafcass_cases", "cafcass_applications", "cafcass_case_parties",
                  "cafcass_relationships", "cafcass_hearings", "cafcass_orders")


def tre_view(tables: dict[str, pd.DataFrame], cafcass: dict[str, pd.DataFrame],
             links: pd.DataFrame, extract: np.ndarray, world: World,
             project_key: str) -> dict[str, pd.DataFrame]:
    """``tre_<name>`` for every provider table of the chunk."""
    sources = dict(tables)
    sources.update({name: cafcass[name] for name in CAFCASS_TABLES})
    link = LinkLookup(links, extract)
    lsoa_of = _lsoa_lookup(world)
    out = {}
    for name, frame in sources.items():
        spec = TABLES_BY_NAME.get(f"tre_{name}")
        if spec is not None:
            out[spec.name] = de_identify(frame, spec.column_names, link, lsoa_of, project_key)
    return out


# The identifier file each person record id column refers to: ids are looked up among that
# file's records only (ids are unique across files, so the answer is the same, and the hash
# table built for each lookup is a fraction of the size).
ID_SOURCE = {"cafcass_person_id": "cafcass_people", "adult_person_id": "cafcass_people",
             "child_person_id": "cafcass_people", "party_id": "familyman_parties",
             "health_patient_id": "health_patients", "mother_patient_id": "health_patients",
             "baby_patient_id": "health_patients", "pupil_id": "education_pupils",
             "cla_child_id": "cla_children", "death_id": "death_registrations"}


class LinkLookup:
    """What the trusted third party returned for each record id, and whether it is extracted.

    Looked up with Arrow's hash join, a few times faster than a pandas index for string ids;
    a record id the TTP was not sent gets row -1.
    """

    def __init__(self, links: pd.DataFrame, extract: np.ndarray) -> None:
        self._ids = pa.array(links["record_id"].to_numpy(dtype=object), type=pa.large_string(),
                             from_pandas=True)
        self._source = links["source"].to_numpy(dtype=object)
        self._by_source: dict[str, tuple[np.ndarray, pa.Array]] = {}
        self.extracted = np.asarray(extract, dtype=bool)
        self.alf_pe = links["alf_pe"].to_numpy(dtype=np.int64)
        self.alf_sts_cd = links["alf_sts_cd"].to_numpy(dtype=np.int64)
        self.alf_mtch_pct = links["alf_mtch_pct"].to_numpy(dtype=float)

    def rows(self, values: pd.Series, column: str | None = None) -> np.ndarray:
        """Row of each id in the links (-1 if absent or missing); ``column`` names the id column,
        to search only its identifier file's records."""
        ids = pa.array(values, from_pandas=True)
        if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
            ids = ids.cast(pa.large_string())  # all-missing columns come as nulls
        rows, value_set = self._candidates(ID_SOURCE.get(column))
        found = pc.index_in(ids.cast(pa.large_string()), value_set=value_set)
        at = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return at if rows is None else np.where(at >= 0, rows[at.clip(min=0)], -1)

    def _candidates(self, source: str | None) -> tuple[np.ndarray | None, pa.Array]:
        """(rows of the links, their ids) for one identifier file; every row if ``source`` is
        None or sent nothing."""
        if source is None:
            return None, self._ids
        if source not in self._by_source:
            rows = np.flatnonzero(self._source == source)
            self._by_source[source] = (rows, self._ids.take(pa.array(rows)))
        rows, ids = self._by_source[source]
        return (rows, ids) if rows.size else (None, self._ids)


def de_identify(frame: pd.DataFrame, columns: list[str], link: LinkLookup,
                lsoa_of: pd.Series, project_key: str) -> pd.DataFrame:
    person_cols = [c for c in frame.columns if c in PERSON_RECORD_IDS]
    keep = np.ones(len(frame), dtype=bool)
    rows: dict[str, np.ndarray] = {}
    if person_cols:  # a row is extracted only if its (first) person record is
        at = link.rows(frame[person_cols[0]], person_cols[0])
        keep = (at >= 0) & link.extracted[at.clip(min=0)]
        rows[person_cols[0]] = at[keep]
    frame = frame.loc[keep]
    out: dict[str, object] = {}
    for col in frame.columns:
        values = frame[col]
        if col in RECORD_IDS:
            out[f"{col}_pe"] = encrypt_ids(values, project_key, col)
            if col in PERSON_RECORD_IDS:
                at = rows[col] if col in rows else link.rows(values, col)
                out.update(_link_columns(PERSON_RECORD_IDS[col], link, at))
        elif col == "date_of_birth":
            out["wob"] = week_of_birth(values)
        elif col == "postcode":
            out["lsoa_code"] = lsoa_of.reindex(values).to_numpy()
        else:
            # The column's own array: no round trip through Python objects for strings.
            out[col] = values.array
    return pd.DataFrame({c: out[c] for c in columns})


def _link_columns(prefix: str, link: LinkLookup, at: np.ndarray) -> dict[str, object]:
    """The ALF, status and score the trusted third party returned for each person record (rows
    ``at`` of the links): all missing for a record it was not sent, the ALF also where it found
    no match."""
    sent = at >= 0
    row = at.clip(min=0)
    alf = np.where(sent, link.alf_pe[row], 0)
    matched = alf > 0
    status = np.where(sent, link.alf_sts_cd[row], 0)
    return {
        f"{prefix}alf_pe": pd.arrays.IntegerArray(np.where(matched, alf, 0), mask=~matched),
        f"{prefix}alf_sts_cd": pd.arrays.IntegerArray(status, mask=~sent),
        f"{prefix}alf_mtch_pct": np.where(sent, link.alf_mtch_pct[row], np.nan),
    }


def encrypt_ids(values: pd.Series, project_key: str, column: str) -> pd.array:
    """A keyed hash of each id: equal ids stay equal within the project, and nothing else.

    Hashed value by value (``categorize=False``): ids are mostly distinct, so hashing the
    distinct values first only adds a factorisation; the hashes are the same either way.
    """
    key = hashlib.sha256(f"{project_key}:{column}".encode()).hexdigest()[:16]
    present = values.notna().to_numpy()
    hashed = pd.util.hash_array(values.fillna("").astype(str).to_numpy(dtype=object),
                                hash_key=key, categorize=False)
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
