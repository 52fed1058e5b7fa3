"""The map the world lives on: real local authorities, their DFJ areas, and fake small areas.

Local authorities, regions and deprivation are real (ONS, MHCLG, Welsh Government; see
``reference/SOURCES.md``). Small areas and postcodes are invented, in shapes that can never be
real: LSOA-like codes numbered from 900000 (real ones stop near 040000) and postcodes whose area
letters (Q, V, X) no real postcode starts with. Each fake area carries the deprivation quintile
mix of its authority's real LSOAs, so deprivation is right without pointing at a real place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from synthetic_data.core.errors import InputError

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
REGIONS = ("england", "wales", "both")

_POSTCODE_AREA_FIRST = "QVX"
_POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTUWY"
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # real inward codes never use C I K M O V


_POSTCODE_CACHE: dict[int, np.ndarray] = {}


@cache
def read_reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / name, dtype={"dfe_la_number": "string"})


def local_authorities(region: str = "both") -> pd.DataFrame:
    """The 153 English and 22 Welsh children's-services authorities in the chosen region.

    Columns: la_code, la_name, region_name, country, dfj_area_id, dfj_area_name, n_lsoa,
    quintile_1..quintile_5 (count of real LSOAs in each deprivation quintile) and
    pct_most_deprived_quintile. Sorted by la_code so every run sees the same order.
    """
    if region not in REGIONS:
        raise InputError(f"unknown region {region!r}: choose england, wales or both")
    la = read_reference("la.csv")[["la_code", "la_name", "region_name", "country"]]
    dfj = read_reference("la_dfj_area.csv")[["la_code", "dfj_area_id", "dfj_area_name"]]
    dep = read_reference("la_deprivation.csv")
    dep = dep[["la_code", "n_lsoa", "pct_lsoas_most_deprived_quintile"]
              + [f"lsoas_quintile_{q}" for q in range(1, 6)]]
    dep = dep.rename(columns={f"lsoas_quintile_{q}": f"quintile_{q}" for q in range(1, 6)})
    dep = dep.rename(columns={"pct_lsoas_most_deprived_quintile": "pct_most_deprived_quintile"})
    out = la.merge(dfj, on="la_code", how="left", validate="1:1").merge(
        dep, on="la_code", how="left", validate="1:1"
    )
    if region != "both":
        out = out[out["country"].str.lower() == region]
    return out.sort_values("la_code", ignore_index=True)


def dfj_areas() -> pd.DataFrame:
    """Designated Family Judge areas and their courts (HMCTS configuration)."""
    return read_reference("dfj_area_courts.csv").copy()


@dataclass(frozen=True)
class SmallAreas:
    """Fake LSOA-like areas and their postcodes, vectorised for sampling.

    ``lsoa_la`` maps each area to the index of its authority in the ``local_authorities`` frame;
    ``la_lsoa_start``/``la_lsoa_count`` give each authority's contiguous slice of areas.
    """

    lsoa_code: np.ndarray
    lsoa_la: np.ndarray
    lsoa_quintile: np.ndarray
    lsoa_decile: np.ndarray
    la_lsoa_start: np.ndarray
    la_lsoa_count: np.ndarray
    postcodes_per_lsoa: int

    def frame(self, las: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "lsoa_code": self.lsoa_code,
                "la_code": las["la_code"].to_numpy()[self.lsoa_la],
                "imd_quintile": self.lsoa_quintile.astype("int8"),
                "imd_decile": self.lsoa_decile.astype("int8"),
            }
        )

    def random_lsoa_in(self, la_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One area drawn uniformly within each given authority (so quintiles follow its mix)."""
        start = self.la_lsoa_start[la_index]
        count = self.la_lsoa_count[la_index]
        return start + (rng.random(la_index.size) * count).astype(np.int64)

    def random_lsoa_in_quintile(
        self, la_index: np.ndarray, quintile: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """An area within the authority of the given quintile where it has one, else any area."""
        out = self.random_lsoa_in(la_index, rng)
        # Rejection sampling: a few rounds find a matching quintile for nearly everyone.
        for _ in range(8):
            wrong = self.lsoa_quintile[out] != quintile
            if not wrong.any():
                break
            out[wrong] = self.random_lsoa_in(la_index[wrong], rng)
        return out

    def postcode(self, lsoa: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A postcode-like string for an address in each given area."""
        which = (rng.random(lsoa.size) * self.postcodes_per_lsoa).astype(np.int64)
        return self.postcode_table()[lsoa * self.postcodes_per_lsoa + which]

    def postcode_table(self) -> np.ndarray:
        """Every area's postcodes, area-major: built once, then indexed (strings are slow)."""
        table = _POSTCODE_CACHE.get(id(self))
        if table is None:
            n = self.lsoa_code.size
            lsoa = np.repeat(np.arange(n), self.postcodes_per_lsoa)
            which = np.tile(np.arange(self.postcodes_per_lsoa), n)
            table = postcode_strings(lsoa, which, self.lsoa_la)
            _POSTCODE_CACHE.clear()
            _POSTCODE_CACHE[id(self)] = table
        return table


def postcode_strings(lsoa: np.ndarray, which: np.ndarray, lsoa_la: np.ndarray) -> np.ndarray:
    """Deterministic postcode of the ``which``-th address point in each area.

    Outward code: an area (first letter Q, V or X, never used by real postcodes) per authority and
    a district per area; inward code: digit and two letters, as in real postcodes.
    """
    la = lsoa_la[lsoa]
    area = np.array(
        [f"{a}{b}" for a in _POSTCODE_AREA_FIRST for b in _POSTCODE_LETTERS], dtype=object
    )
    outward_area = area[la % area.size]
    district = (lsoa % 97) + 1
    unit = lsoa * 7919 + which * 104729
    digit = unit % 10
    l1 = np.array(list(_INWARD_LETTERS), dtype=object)[(unit // 10) % len(_INWARD_LETTERS)]
    l2 = np.array(list(_INWARD_LETTERS), dtype=object)[(unit // 200) % len(_INWARD_LETTERS)]
    return (
        outward_area + district.astype(str).astype(object) + " " + digit.astype(str).astype(object)
        + l1 + l2
    ).astype(object)


def build_small_areas(las: pd.DataFrame, postcodes_per_lsoa: int) -> SmallAreas:
    """One fake area per real LSOA of each authority, with the real quintile (and decile) counts.

    Built without randomness: area ``k`` of an authority takes the quintiles in order, so the
    same authorities always give the same areas, whatever the seed or scale.
    """
    counts = las[[f"quintile_{q}" for q in range(1, 6)]].to_numpy(dtype=np.int64)
    n_per_la = counts.sum(axis=1)
    la_index = np.repeat(np.arange(len(las)), n_per_la)
    quintile = np.concatenate([np.repeat(np.arange(1, 6), row) for row in counts])
    # Deciles: split each quintile's areas between its two deciles alternately.
    rank_in_q = np.concatenate(
        [np.concatenate([np.arange(c) for c in row]) for row in counts]
    )
    decile = 2 * quintile - 1 + (rank_in_q % 2)
    start = np.concatenate([[0], np.cumsum(n_per_la)[:-1]])
    country_prefix = np.where(las["country"].to_numpy() == "Wales", "W01", "E01")[la_index]
    serial = 900000 + np.arange(la_index.size)
    codes = np.char.add(country_prefix.astype(str), serial.astype(str)).astype(object)
    return SmallAreas(
        lsoa_code=codes,
        lsoa_la=la_index,
        lsoa_quintile=quintile.astype(np.int8),
        lsoa_decile=decile.astype(np.int8),
        la_lsoa_start=start,
        la_lsoa_count=n_per_la,
        postcodes_per_lsoa=postcodes_per_lsoa,
    )
