"""Forenames, surnames and nicknames for the synthetic population.

Names matter to learners because record linkage, duplicate detection and data-quality exercises
all hinge on them: who shares a surname, which forenames are fashionable for which birth cohort,
how the same child turns up as "William" in one record and "Bill" in another. So names here vary
with sex, decade of birth and ethnic group, the way they do in England and Wales.

Every list comes from ``params/names.yaml`` or from the list data of Faker's locale providers (read
straight from the provider classes, never through one Faker call per person). The lists are turned
into weighted pools once; people are then named in bulk with numpy, which keeps tens of millions of
people to seconds. Pools depend on the installed Faker version: the same version and the same
random state give the same names.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from synthetic_data.core.params import load_params, validate_params

SEXES: tuple[str, ...] = ("F", "M")

# Plain Latin script: letters, with single hyphens, apostrophes or spaces between parts, starting
# with a capital that is not followed by another capital (drops typos such as "COmfort" and
# upper-case romanisations that were not title-cased).
LATIN_NAME = re.compile(r"[A-Z](?![A-Z])[A-Za-z]*(?:['\- ][A-Za-z]+)*")

# Pool k occupies (k, k + 1] of one float64 axis; below 2**20 pools the gap between k + 1 and the
# largest k + u (u < _BELOW_ONE) is wider than float64 spacing, so a draw never leaves its pool.
_MAX_POOLS = 2**20
_BELOW_ONE = 1.0 - 1e-9

_DEFAULT_FORENAME_ATTRIBUTES: Mapping[str, str] = {
    "M": "first_names_male",
    "F": "first_names_female",
}
_DEFAULT_SURNAME_ATTRIBUTE = "last_names"


def load_names_params() -> dict:
    """``names.yaml`` as the run uses it, checked (shared: adjust a deep copy before building)."""
    return load_params("names")


# --- Reading and weighting lists (runs once per build, over lists of names, never over people) ---


def _tidy(weights: pd.Series, title_case: bool) -> pd.Series:
    """Normalise a name→weight list: tidy spacing, keep plain Latin script, drop repeats.

    Faker's lists include accented and non-Latin spellings, stray spaces and the odd repeat; the
    data set promises plain Latin names, so anything else is dropped rather than transliterated
    (a transliteration would invent spellings nobody uses).
    """
    names = [" ".join(str(name).split()) for name in weights.index]
    if title_case:
        names = [name.title() for name in names]
    tidy = pd.Series(weights.to_numpy(dtype=np.float64), index=pd.Index(names, dtype=object))
    keep = np.array([LATIN_NAME.fullmatch(name) is not None for name in names], dtype=bool)
    tidy = tidy[keep & (tidy.to_numpy() > 0)]
    tidy = tidy[~tidy.index.duplicated(keep="first")]
    return tidy / tidy.sum()


@cache
def _faker_list(locale: str, attribute: str, title_case: bool) -> pd.Series:
    """One Faker provider list as a normalised name→probability Series (cached; never mutated).

    OrderedDict lists carry Faker's own frequency weights; plain tuples and lists are equally
    weighted, which is all Faker says about them.
    """
    module = importlib.import_module(f"faker.providers.person.{locale}")
    raw = getattr(module.Provider, attribute, None)
    if raw is None:
        raise ValueError(f"Faker locale {locale!r} has no person list {attribute!r}")
    if isinstance(raw, Mapping):
        weights = pd.Series(list(raw.values()), index=list(raw.keys()), dtype=np.float64)
    else:
        weights = pd.Series(1.0, index=list(raw), dtype=np.float64)
    tidy = _tidy(weights, title_case)
    if tidy.empty:
        raise ValueError(f"Faker list {locale}.{attribute} has no plain Latin-script names")
    return tidy


def _rank_weighted(names: Sequence[str], exponent: float) -> pd.Series:
    """Weight a list written in rank order by rank ** -exponent (popular names first).

    Lists written into the YAML are checked strictly when it is loaded, unlike Faker's: each
    name plain Latin script and none repeated (names.yaml's schema).
    """
    index = pd.Index([str(name) for name in names], dtype=object)
    weights = np.arange(1, len(index) + 1, dtype=np.float64) ** -float(exponent)
    return pd.Series(weights / weights.sum(), index=index)


def _mix(parts: Sequence[tuple[pd.Series, float]], what: str) -> pd.Series:
    """Mixture of name→probability lists; shares are relative and renormalised.

    A name in several lists gets the sum of its shares, as a mixture should. The result is sorted
    by name so that a pool never depends on the order its sources were listed in.
    """
    parts = [(names, share) for names, share in parts if share > 0]
    if not parts:
        raise ValueError(f"names.yaml gives no names for {what}")
    total = sum(share for _, share in parts)
    scaled = pd.concat([names * (share / total) for names, share in parts])
    mixed = scaled.groupby(level=0, sort=True).sum()
    return mixed / mixed.sum()


def _source_list(source: Mapping[str, Any], sex: str | None, exponent: float) -> pd.Series | None:
    """The list one YAML source gives for a sex (``None`` for surnames), or None if it has none."""
    title_case = bool(source.get("title_case", False))
    if "locale" in source:
        if sex is None:
            attribute = source.get("attribute", _DEFAULT_SURNAME_ATTRIBUTE)
        else:
            attribute = source.get("attributes", _DEFAULT_FORENAME_ATTRIBUTES).get(sex)
        return None if attribute is None else _faker_list(source["locale"], attribute, title_case)
    if "names" in source:
        names = source["names"] if sex is None else source["names"].get(sex)
        return None if names is None else _rank_weighted(names, exponent)
    raise ValueError(f"names.yaml source needs locale, names or ethnicity: {dict(source)}")


def _group_mixture(section: Mapping[str, Any], group: str, sex: str | None, exponent: float) -> pd.Series:
    """The locale mixture for one ethnic group (and sex), following ``ethnicity:`` references
    (never circular: the loader checks, ``core.param_checks.check_names``)."""
    parts = []
    for source in section[group]["sources"]:
        if "ethnicity" in source:
            names = _group_mixture(section, source["ethnicity"], sex, exponent)
        else:
            names = _source_list(source, sex, exponent)
        if names is not None:
            parts.append((names, float(source["share"])))
    return _mix(parts, f"{group} {sex or 'surnames'}")


# --- Sampling many people from many pools at once ---


@dataclass(frozen=True, eq=False)
class _PoolTable:
    """Many weighted pools laid end to end, so one ``searchsorted`` samples every person.

    Pool k's cumulative probabilities are shifted to (k, k + 1]; a person drawn from pool k with
    uniform u looks up k + u. No loop over pools or people is needed when sampling.
    """

    names: np.ndarray  # object array of all pools' names, pool after pool
    cum: np.ndarray  # float64, pool k's cumulative probabilities shifted by k
    ends: np.ndarray  # int64, one past each pool's last name (for inspection)

    @classmethod
    def from_pools(cls, pools: Sequence[pd.Series]) -> _PoolTable:
        if len(pools) >= _MAX_POOLS:
            raise ValueError(f"too many name pools ({len(pools)}) for float64 offsets")
        cums = []
        for k, pool in enumerate(pools):
            cum = np.cumsum(pool.to_numpy(dtype=np.float64))
            cum /= cum[-1]
            cum[-1] = 1.0
            cums.append(cum + k)
        names = np.concatenate([pool.index.to_numpy(dtype=object) for pool in pools])
        ends = np.cumsum([len(pool) for pool in pools]).astype(np.int64)
        return cls(names=names, cum=np.concatenate(cums), ends=ends)

    def sample(self, pool_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One name per entry of ``pool_index``, each drawn from that pool's weights.

        The uniform is shrunk by ``_BELOW_ONE`` so that k + u can never round up to k + 1 (which
        would land in the next pool); the bias this adds is of order 1e-9 and touches only the
        last name of each pool.
        """
        u = rng.random(pool_index.shape[0])
        u *= _BELOW_ONE
        u += pool_index
        return self.names[np.searchsorted(self.cum, u, side="right")]

    def pool(self, k: int) -> pd.Series:
        """Pool k as a name→probability Series (for inspection and teaching material)."""
        start = 0 if k == 0 else int(self.ends[k - 1])
        cum = self.cum[start : self.ends[k]] - k
        return pd.Series(np.diff(cum, prepend=0.0), index=self.names[start : self.ends[k]])


def _codes(values: Any, categories: Sequence[str], what: str) -> np.ndarray:
    """Map labels to positions in ``categories`` by hashing (``pd.factorize``), not per row.

    pandas string and categorical columns are factorised as they are, which is several times
    faster than converting them to Python objects first.
    """
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if not isinstance(values, pd.api.extensions.ExtensionArray):
        values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values)
    lookup = {label: i for i, label in enumerate(categories)}
    unknown = [label for label in uniques if label not in lookup]
    if unknown or (codes < 0).any():
        shown = unknown[:5] if unknown else ["missing"]
        raise ValueError(f"{what} must be one of {list(categories)}; got {shown}")
    mapping = np.array([lookup[label] for label in uniques], dtype=np.int64)
    return mapping[codes]


def _decade_index(birth_year: Any, decades: Sequence[int]) -> np.ndarray:
    """Position of each birth year's decade in ``decades``, clamping to the first and last.

    Years are whole numbers in a narrow range, so a lookup table over that range replaces a
    binary search per person.
    """
    years = np.asarray(birth_year) if isinstance(birth_year, np.ndarray) else None
    if years is None or years.dtype.kind not in "iu":
        as_float = pd.Series(birth_year).to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(as_float).all():
            raise ValueError("birth_year must be known for everyone (found missing values)")
        years = np.floor(as_float)
    years = years.astype(np.int64, copy=False)
    if years.size == 0:
        return years
    low = int(years.min())
    span = np.arange(low, int(years.max()) + 1)
    lookup = np.searchsorted(np.asarray(decades), span, side="right") - 1
    lookup = np.clip(lookup, 0, len(decades) - 1).astype(np.int64)
    return lookup[years - low]


@dataclass(frozen=True, eq=False)
class NamePools:
    """Weighted forename and surname pools, built once and sampled in bulk.

    Forename pools exist per (sex, decade of birth, ethnic group); surname pools per ethnic group.
    Build with :meth:`build`; the constructor is for the build only.
    """

    ethnicities: tuple[str, ...]
    decades: tuple[int, ...]
    forename_table: _PoolTable  # pools ordered by (sex in SEXES, decade, ethnicity)
    surname_table: _PoolTable  # pools ordered by ethnicity

    @classmethod
    def build(cls, params: dict | None = None) -> NamePools:
        """Build every pool from parsed ``names.yaml`` (``None``: the file as the run uses it);
        a dict of the caller's own is checked as the file would be."""
        params = load_names_params() if params is None else validate_params("names", params)
        ethnicities = tuple(params["ethnicities"])
        exponent = float(params["rank_weights"]["exponent"])
        era_lists = params["era_forenames"]["decades"]
        decades = tuple(sorted(int(decade) for decade in era_lists))
        local = {
            (sex, group): _group_mixture(params["forenames"], group, sex, exponent)
            for sex in SEXES
            for group in ethnicities
        }
        forename_pools = []
        for sex in SEXES:
            for decade in decades:
                era = _rank_weighted(era_lists[decade][sex], exponent)
                for group in ethnicities:
                    share = float(params["era_share"][group]["share"])
                    parts = [(era, share), (local[sex, group], 1.0 - share)]
                    forename_pools.append(_mix(parts, f"{sex} {decade}s {group}"))
        surname_pools = [
            _group_mixture(params["surnames"], group, None, exponent) for group in ethnicities
        ]
        return cls(
            ethnicities=ethnicities,
            decades=decades,
            forename_table=_PoolTable.from_pools(forename_pools),
            surname_table=_PoolTable.from_pools(surname_pools),
        )

    def forenames(
        self,
        sex: np.ndarray,
        birth_year: np.ndarray,
        ethnicity: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """One forename per person (object array), drawn from their (sex, decade, group) pool.

        ``sex`` holds "M"/"F"; birth years outside the listed decades use the nearest one.
        """
        sex_code = _codes(sex, SEXES, "sex")
        decade_index = _decade_index(birth_year, self.decades)
        group_code = _codes(ethnicity, self.ethnicities, "ethnicity")
        if not sex_code.shape == decade_index.shape == group_code.shape:
            raise ValueError("sex, birth_year and ethnicity must have the same length")
        n_groups = len(self.ethnicities)
        pool_index = (sex_code * len(self.decades) + decade_index) * n_groups + group_code
        return self.forename_table.sample(pool_index, rng)

    def surnames(self, ethnicity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One surname per person (object array), drawn from their ethnic group's pool."""
        return self.surname_table.sample(_codes(ethnicity, self.ethnicities, "ethnicity"), rng)

    def forename_pool(self, sex: str, decade: int, ethnicity: str) -> pd.Series:
        """The name→probability pool behind :meth:`forenames`, for checks and teaching."""
        decade_index = int(_decade_index([decade], self.decades)[0])
        k = (SEXES.index(sex) * len(self.decades) + decade_index) * len(self.ethnicities)
        return self.forename_table.pool(k + self.ethnicities.index(ethnicity))

    def surname_pool(self, ethnicity: str) -> pd.Series:
        """The name→probability pool behind :meth:`surnames`."""
        return self.surname_table.pool(self.ethnicities.index(ethnicity))


# --- Nicknames, for the capture-error model ---


def _packaged_nicknames() -> Mapping[str, Sequence[str]]:
    """The YAML nickname table as the run uses it (the loader reads the file once)."""
    return load_names_params()["nicknames"]


def nickname_of(
    forenames: np.ndarray,
    rng: np.random.Generator,
    nicknames: Mapping[str, Sequence[str]] | None = None,
) -> np.ndarray:
    """A nickname for each forename that has one (chosen at random), the forename itself otherwise.

    Applies to every row it is given: the capture-error model chooses which rows to pass. Matching
    is exact (``"William"``, not ``"william"``); missing values pass through. Lookups are done
    once per distinct name, not per row. ``nicknames`` defaults to the table in ``names.yaml``.
    """
    table = _packaged_nicknames() if nicknames is None else nicknames
    values = np.asarray(forenames, dtype=object)
    codes, uniques = pd.factorize(values)
    counts = np.array([len(table.get(name, ())) for name in uniques], dtype=np.int64)
    flat = np.array([short for name in uniques for short in table.get(name, ())], dtype=object)
    starts = np.cumsum(counts) - counts
    known = codes >= 0
    has_nickname = np.zeros(values.shape[0], dtype=bool)
    has_nickname[known] = counts[codes[known]] > 0
    rows = np.flatnonzero(has_nickname)
    row_codes = codes[rows]
    pick = (rng.random(rows.size) * counts[row_codes]).astype(np.int64)
    out = values.copy()
    out[rows] = flat[starts[row_codes] + pick]
    return out
