"""The world: families of England and Wales, the truth every record is a view of.

Mothers are simulated first. Each starts her family in an authority, at an age that depends on
how deprived her area is, has further children after gamma-distributed intervals, sometimes with
a new partner (so half-siblings arise), sometimes twins; she moves house, sometimes to another
authority; partnerships end; people die. The number of mothers starting families is set from
the target births of each authority, so the children of each age in each authority and year
come out as ONS counts them.

Everything is column arrays (numpy) indexed by position; ``person_id`` values are assigned at the
end. Parameters come from ``params/world.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, year_start
from synthetic_data.core.identifiers import draw_nhs_numbers
from synthetic_data.core.sampling import (
    choose_rows,
    piecewise_exponential_time,
    stochastic_round,
)
from synthetic_data.world.geography import SmallAreas
from synthetic_data.world.names import NamePools
from synthetic_data.world.population import base_totals, target_births

ETHNIC_GROUPS = ("White", "Mixed", "Black", "Asian", "Other")
MIXED = 1
ROLE_MOTHER, ROLE_FATHER, ROLE_CHILD, ROLE_RELATIVE = 0, 1, 2, 3
ROLES = ("mother", "father", "child", "relative")
MAX_PARITY = 8


def read_only(record: object) -> None:
    """Make every array field of a frozen dataclass read-only, so that code which would change a
    World in place (rather than make a new one) fails where it tries, not tables later."""
    for value in vars(record).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False


@dataclass(frozen=True, eq=False)
class Residences:
    """Address spells: who lived in which small area from when until when.

    Sorted by person, then start day (``World.residence_index_at`` searches them that way).
    """

    person: np.ndarray  # person index
    lsoa: np.ndarray  # small-area index
    postcode: np.ndarray
    date_from: np.ndarray
    date_to: np.ndarray  # NO_DATE where still living there at the end of the period

    def __post_init__(self) -> None:
        read_only(self)


@dataclass(frozen=True, eq=False)
class World:
    """The simulated population. Arrays are indexed by person position (0..n-1).

    A World is never changed once made, so a table made from it cannot fall out of step with
    another made earlier. The two steps that extend it return a new World sharing the arrays they
    leave alone: ``add_people`` (relatives who join through a court case, taking their NHS
    numbers from ``nhs_reserve``) and ``give_test_range_numbers_first``. Lookups it needs often
    (``residence_key``, ``home_person``) are worked out once per World.
    """

    las: pd.DataFrame
    areas: SmallAreas
    start_day: int
    end_day: int
    person_id: np.ndarray
    role: np.ndarray
    sex: np.ndarray  # "M" / "F"
    dob: np.ndarray
    dod: np.ndarray  # NO_DATE if alive at the end
    ethnicity: np.ndarray  # index into ETHNIC_GROUPS
    forename: np.ndarray
    surname: np.ndarray
    nhs_number: np.ndarray
    mother: np.ndarray  # person index or -1
    father: np.ndarray  # person index or -1
    birth_order: np.ndarray  # for children: the mother's maternity number (1 = first)
    multiple_birth: np.ndarray  # bool
    mother_teen_first_birth: np.ndarray  # for mothers: first child before 20
    partnerships: pd.DataFrame  # mother, father (indices), start, end (days)
    residences: Residences
    nhs_reserve: np.ndarray  # valid NHS numbers no one holds yet, for people who join later
    # Chance that someone joining later lives in an area as deprived as the person they join
    # (world.yaml moves.keep_quintile_within_la, as for moves within an authority).
    keep_quintile_within_la: float

    def __post_init__(self) -> None:
        read_only(self)

    @property
    def size(self) -> int:
        return int(self.person_id.size)

    @cached_property
    def residence_key(self) -> np.ndarray:
        """One sortable number per residence spell: its person, then its start day."""
        r = self.residences
        return r.person.astype(np.int64) * 100_000 + (r.date_from.astype(np.int64) + 30_000)

    def residence_index_at(self, persons: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index into ``residences`` of each person's address on each day (-1 if none).

        A child lives at its mother's address: pass mothers for children.
        """
        r = self.residences
        key_q = persons.astype(np.int64) * 100_000 + (days.astype(np.int64) + 30_000)
        pos = np.searchsorted(self.residence_key, key_q, side="right") - 1
        ok = (pos >= 0) & (r.person[pos.clip(min=0)] == persons)
        return np.where(ok, pos, -1)

    @cached_property
    def home_person(self) -> np.ndarray:
        """The person whose address a person shares: the mother for children, else themselves."""
        return np.where(self.role == ROLE_CHILD, self.mother, np.arange(self.size))

    def la_at(self, persons: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Authority index (into ``las``) where each person lived on each day (-1 if unknown)."""
        home = self.home_person[persons]
        idx = self.residence_index_at(home, days)
        return np.where(idx >= 0, self.areas.lsoa_la[self.residences.lsoa[idx.clip(min=0)]], -1)

    def quintile_at(self, persons: np.ndarray, days: np.ndarray) -> np.ndarray:
        home = self.home_person[persons]
        idx = self.residence_index_at(home, days)
        q = self.areas.lsoa_quintile[self.residences.lsoa[idx.clip(min=0)]]
        return np.where(idx >= 0, q, 3)

    def alive_on(self, persons: np.ndarray, days: np.ndarray) -> np.ndarray:
        born = self.dob[persons] <= days
        dead = (self.dod[persons] != NO_DATE) & (self.dod[persons] <= days)
        return born & ~dead


# --------------------------------------------------------------------------------------------
# Building the world, one step per function, in the order they run (see build_world).
# --------------------------------------------------------------------------------------------


def build_world(
    las: pd.DataFrame,
    areas: SmallAreas,
    pools: NamePools,
    params: dict,
    start_day: int,
    end_day: int,
    scale: float,
    rng: np.random.Generator,
    id_offset: int = 0,
) -> World:
    """Simulate the families of the given authorities between two dates at the given scale."""
    start_year = int(np.datetime64(start_day, "D").astype("datetime64[Y]").astype(int) + 1970)
    end_year = int(np.datetime64(end_day, "D").astype("datetime64[Y]").astype(int) + 1970)
    first_cohort = start_year - 18
    burn_in = int(params["population"]["burn_in_years"])
    birth_years = range(first_cohort - burn_in, end_year + 1)
    window = range(start_year, end_year + 1)
    births_target = target_births(las, birth_years, window, scale)

    mothers = _draw_mothers(las, areas, params, births_target, birth_years, rng)
    maternities = _draw_maternities(mothers, params, end_day, rng)
    mothers, maternities = _thin_to_target(
        mothers, maternities, births_target, birth_years, first_cohort, end_day, rng
    )
    partners = _draw_partnerships(mothers, maternities, params, year_start(first_cohort), end_day, rng)
    return _assemble(
        las, areas, pools, params, mothers, maternities, partners,
        year_start(first_cohort), start_day, end_day, rng, id_offset,
    )


def _draw_mothers(
    las: pd.DataFrame,
    areas: SmallAreas,
    params: dict,
    births_target: np.ndarray,
    birth_years: range,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Women starting a family: where, when, how deprived, at what age, of which ethnic group.

    Drawn generously (a quarter more than needed); ``_thin_to_target`` removes the surplus per
    authority once the children they have are known.
    """
    births = params["births"]
    # First-order guess of children per mother, from the continuation probabilities.
    cont = np.array(births["continue_after_parity"], dtype=float)
    children_per_mother = 1 + np.cumprod(cont).sum()
    expected_mothers = births_target / children_per_mother * 1.25
    counts = stochastic_round(expected_mothers, rng)
    la_index = np.repeat(np.repeat(np.arange(len(las)), len(birth_years)), counts.ravel())
    year = np.repeat(np.tile(np.array(birth_years), len(las)), counts.ravel())
    n = la_index.size
    first_birth = np.array([year_start(int(y)) for y in birth_years], dtype=np.int64)
    first_birth_day = first_birth[year - birth_years.start] + (rng.random(n) * 365).astype(np.int64)

    lsoa = areas.random_lsoa_in(la_index, rng)
    quintile = areas.lsoa_quintile[lsoa]
    age_params = params["mother_age_at_first_birth"]
    shares = np.array([age_params["shares_by_quintile"][q] for q in range(1, 6)], dtype=float)
    band = choose_rows(shares, quintile.astype(np.int64) - 1, rng)
    bands = np.array(age_params["bands"], dtype=float)
    age = bands[band, 0] + rng.random(n) * (bands[band, 1] - bands[band, 0] + 1)
    dob = first_birth_day - (age * DAYS_PER_YEAR).astype(np.int64)

    region = las["region_name"].to_numpy()[la_index]
    eth = params["ethnicity"]
    region_names = sorted(eth["mother_shares_by_region"])
    region_shares = np.array([eth["mother_shares_by_region"][r] for r in region_names])
    region_row = np.searchsorted(np.array(region_names), region)
    ethnicity = choose_rows(region_shares, region_row, rng)
    return {
        "la": la_index,
        "lsoa": lsoa,
        "quintile": quintile,
        "first_birth_day": first_birth_day,
        "dob": dob,
        "teen": age < 20,
        "ethnicity": ethnicity,
        "region_row": region_row,
    }


def _draw_maternities(
    mothers: dict[str, np.ndarray], params: dict, end_day: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Each mother's births: how many, and when (a matrix, one column per maternity)."""
    births = params["births"]
    n = mothers["la"].size
    cont = np.array(births["continue_after_parity"], dtype=float)
    cap = births["continue_probability_cap"]
    mult = np.ones(n)
    mult = np.where(mothers["teen"], mult * births["continue_multiplier_teen_first_birth"], mult)
    mult = np.where(
        mothers["quintile"] == 1, mult * births["continue_multiplier_most_deprived"], mult
    )
    parity = np.ones(n, dtype=np.int64)
    for p in range(MAX_PARITY - 1):
        going_on = (parity == p + 1) & (rng.random(n) < np.minimum(cont[p] * mult, cap))
        parity += going_on
    gaps = births["interval_min_years"] + rng.gamma(
        births["interval_gamma_shape"], births["interval_gamma_scale"], size=(n, MAX_PARITY)
    )
    gaps[:, 0] = 0.0
    days = mothers["first_birth_day"][:, None] + (np.cumsum(gaps, axis=1) * DAYS_PER_YEAR).astype(
        np.int64
    )
    age_at = (days - mothers["dob"][:, None]) / DAYS_PER_YEAR
    order = np.arange(MAX_PARITY)[None, :]
    valid = (order < parity[:, None]) & (age_at < births["max_age_at_birth"]) & (days <= end_day)
    twins = valid & (rng.random((n, MAX_PARITY)) < births["twin_share_of_maternities"])
    return {"day": days, "valid": valid, "twins": twins}


def _thin_to_target(
    mothers: dict[str, np.ndarray],
    maternities: dict[str, np.ndarray],
    births_target: np.ndarray,
    birth_years: range,
    first_cohort: int,
    end_day: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Drop surplus mothers so each authority's children born in the window match the target.

    Also drops mothers none of whose children are born in the window (they never appear).
    """
    first_day = year_start(first_cohort)
    in_window = maternities["valid"] & (maternities["day"] >= first_day)
    kids = (in_window * (1 + maternities["twins"])).sum(axis=1)
    n_la = births_target.shape[0]
    realised = np.bincount(mothers["la"], weights=kids, minlength=n_la)
    wanted = births_target[:, first_cohort - birth_years.start :].sum(axis=1)
    keep_share = np.divide(wanted, realised, out=np.zeros(n_la), where=realised > 0).clip(max=1)
    keep = (rng.random(kids.size) < keep_share[mothers["la"]]) & (kids > 0)
    return (
        {k: v[keep] for k, v in mothers.items()},
        {k: v[keep] for k, v in maternities.items()},
    )


def _draw_partnerships(
    mothers: dict[str, np.ndarray],
    maternities: dict[str, np.ndarray],
    params: dict,
    first_day: int,
    end_day: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Which partnership each maternity belongs to, and when each partnership starts and ends."""
    p = params["partnerships"]
    n = mothers["la"].size
    new_father = rng.random((n, MAX_PARITY)) < np.where(
        mothers["teen"][:, None],
        p["new_father_at_next_birth"] * p["new_father_multiplier_teen_first_birth"],
        p["new_father_at_next_birth"],
    )
    new_father[:, 0] = False
    partnership_no = np.cumsum(new_father, axis=1)  # 0, 0, 1, 1, 2 ...
    valid = maternities["valid"]
    in_world = valid & (maternities["day"] >= first_day)

    # One row per (mother, partnership number) that has at least one child in the world.
    mother_rep = np.repeat(np.arange(n), MAX_PARITY)
    pno = partnership_no.ravel()
    day = maternities["day"].ravel()
    ok = valid.ravel()
    key = mother_rep[ok] * MAX_PARITY + pno[ok]
    uniq, inverse = np.unique(key, return_inverse=True)
    first_child = np.full(uniq.size, np.iinfo(np.int64).max)
    last_child = np.full(uniq.size, np.iinfo(np.int64).min)
    np.minimum.at(first_child, inverse, day[ok])
    np.maximum.at(last_child, inverse, day[ok])
    has_world_child = np.zeros(uniq.size, dtype=bool)
    has_world_child[inverse[in_world.ravel()[ok]]] = True
    p_mother = uniq // MAX_PARITY
    p_no = uniq % MAX_PARITY
    is_last = np.r_[p_mother[1:] != p_mother[:-1], True]
    next_first = np.r_[first_child[1:], 0]

    lo, hi = p["start_before_first_child_years"]
    start = first_child - ((lo + rng.random(uniq.size) * (hi - lo)) * DAYS_PER_YEAR).astype(np.int64)
    # A partnership followed by another ends between its last child and the next one's first.
    end_between = last_child + (rng.random(uniq.size) * (next_first - last_child)).astype(np.int64)
    slo, shi = p["separation_after_last_child_years"]
    end_after = last_child + ((slo + rng.random(uniq.size) * (shi - slo)) * DAYS_PER_YEAR).astype(
        np.int64
    )
    ends_at_all = rng.random(uniq.size) < p["last_partnership_ends"]
    end = np.where(is_last, np.where(ends_at_all, end_after, NO_DATE), end_between)
    end = np.where(end > end_day, NO_DATE, end)
    # The next partnership cannot start before the previous one ended.
    prev_end = np.r_[NO_DATE, end[:-1]]
    same_mother_prev = np.r_[False, p_mother[1:] == p_mother[:-1]]
    start = np.where(same_mother_prev & (prev_end != NO_DATE), np.maximum(start, prev_end + 1), start)
    sole = rng.random(uniq.size) < p["sole_registration_share"]
    return {
        "mother": p_mother,
        "number": p_no,
        "start": start,
        "end": end,
        "has_father": ~sole,
        "keep": has_world_child,
        "partnership_of_maternity": partnership_no,
        "key": uniq,
    }


def _assemble(
    las: pd.DataFrame,
    areas: SmallAreas,
    pools: NamePools,
    params: dict,
    mothers: dict[str, np.ndarray],
    maternities: dict[str, np.ndarray],
    partners: dict[str, np.ndarray],
    first_day: int,
    start_day: int,
    end_day: int,
    rng: np.random.Generator,
    id_offset: int,
) -> World:
    """Lay out people (mothers, fathers, children), their residences, deaths, names and ids."""
    n_m = mothers["la"].size
    births = params["births"]

    # Fathers: one per kept partnership with a registered father.
    keep_p = partners["keep"]
    p_idx = np.flatnonzero(keep_p)
    with_father = p_idx[partners["has_father"][p_idx]]
    n_f = with_father.size
    father_of_partnership = np.full(partners["key"].size, -1, dtype=np.int64)
    father_of_partnership[with_father] = n_m + np.arange(n_f)

    # Children: one per in-world maternity, two for twins.
    valid = maternities["valid"] & (maternities["day"] >= first_day)
    m_rows, m_cols = np.nonzero(valid)
    twin = maternities["twins"][m_rows, m_cols]
    rep = 1 + twin.astype(np.int64)
    c_mother = np.repeat(m_rows, rep)
    c_order = np.repeat(m_cols, rep) + 1
    c_dob = np.repeat(maternities["day"][m_rows, m_cols], rep)
    c_multiple = np.repeat(twin, rep)
    c_pkey = c_mother * MAX_PARITY + partners["partnership_of_maternity"][c_mother, c_order - 1]
    c_partnership = np.searchsorted(partners["key"], c_pkey)
    c_father = father_of_partnership[c_partnership]
    n_c = c_mother.size
    n = n_m + n_f + n_c

    role = np.concatenate([
        np.full(n_m, ROLE_MOTHER, np.int8), np.full(n_f, ROLE_FATHER, np.int8),
        np.full(n_c, ROLE_CHILD, np.int8),
    ])
    sex = np.concatenate([
        np.full(n_m, "F", object), np.full(n_f, "M", object),
        np.where(rng.random(n_c) < births["male_share"], "M", "F").astype(object),
    ])
    # Twins are often the same sex: the second twin sometimes takes the first one's sex.
    second_twin = np.flatnonzero(c_multiple[1:] & c_multiple[:-1] & (c_dob[1:] == c_dob[:-1])
                                 & (c_mother[1:] == c_mother[:-1])) + 1
    same = second_twin[rng.random(second_twin.size) < births["second_twin_same_sex_share"]]
    sex[n_m + n_f + same] = sex[n_m + n_f + same - 1]

    p = params["partnerships"]
    f_mother = partners["mother"][with_father]
    gap = rng.normal(p["father_age_gap_mean"], p["father_age_gap_sd"], n_f)
    f_dob = mothers["dob"][f_mother] - (gap * DAYS_PER_YEAR).astype(np.int64)
    # A father older than a young mother by less than the gap drawn is still old enough to be
    # one: he is at least the minimum age when the partnership starts.
    youngest = partners["start"][with_father] - int(p["father_min_age_at_start"] * DAYS_PER_YEAR)
    f_dob = np.minimum(f_dob, youngest)
    dob = np.concatenate([mothers["dob"], f_dob, c_dob]).astype(np.int64)

    # Ethnicity: fathers mostly share the mother's group; children of two groups are Mixed.
    eth = params["ethnicity"]
    region_names = sorted(eth["mother_shares_by_region"])
    region_shares = np.array([eth["mother_shares_by_region"][r] for r in region_names])
    f_eth = np.where(
        rng.random(n_f) < eth["father_same_group"],
        mothers["ethnicity"][f_mother],
        choose_rows(region_shares, mothers["region_row"][f_mother], rng),
    )
    c_m_eth = mothers["ethnicity"][c_mother]
    c_f_eth = np.where(c_father >= 0, f_eth[(c_father - n_m).clip(min=0)], c_m_eth)
    c_eth = np.where(c_m_eth == c_f_eth, c_m_eth, MIXED)
    ethnicity = np.concatenate([mothers["ethnicity"], f_eth, c_eth]).astype(np.int8)

    mother = np.concatenate([np.full(n_m + n_f, -1), c_mother]).astype(np.int64)
    father = np.concatenate([np.full(n_m + n_f, -1), c_father]).astype(np.int64)
    birth_order = np.concatenate([np.zeros(n_m + n_f, np.int8), c_order.astype(np.int8)])
    multiple = np.concatenate([np.zeros(n_m + n_f, bool), c_multiple])

    partnerships = pd.DataFrame({
        "mother": partners["mother"][with_father],
        "father": father_of_partnership[with_father],
        "start": partners["start"][with_father],
        "end": partners["end"][with_father],
    })

    residences = _residences(las, areas, params, mothers, partnerships, maternities, first_day,
                             end_day, rng)
    last_birth = np.where(maternities["valid"], maternities["day"], np.iinfo(np.int64).min).max(1)
    dod = _deaths(params, dob, role, last_birth, partnerships, n_m, end_day, rng)

    # Names: forenames by sex, birth year and ethnic group; children take the father's surname
    # when he is registered (most of the time), otherwise the mother's.
    birth_year = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)
    eth_names = np.array(ETHNIC_GROUPS, dtype=object)[ethnicity]
    forename = pools.forenames(sex, birth_year, eth_names, rng)
    surname = pools.surnames(eth_names, rng)
    takes_father = (father >= 0) & (rng.random(n) < params["partnerships"]["child_takes_father_surname"])
    child_rows = np.arange(n_m + n_f, n)
    surname[child_rows] = np.where(
        takes_father[child_rows], surname[father[child_rows].clip(min=0)],
        surname[mother[child_rows]],
    )
    all_nhs = draw_nhs_numbers(n + int(n * params["identifiers"]["nhs_reserve_share"]) + 10, rng)
    nhs, reserve = all_nhs[:n], all_nhs[n:]
    person_id = id_offset + 1 + rng.permutation(n).astype(np.int64)
    teen = np.concatenate([mothers["teen"], np.zeros(n_f + n_c, bool)])

    return World(
        las=las, areas=areas, start_day=start_day, end_day=end_day, person_id=person_id,
        role=role, sex=sex, dob=dob, dod=dod, ethnicity=ethnicity, forename=forename,
        surname=surname, nhs_number=nhs, mother=mother, father=father, birth_order=birth_order,
        multiple_birth=multiple, mother_teen_first_birth=teen, partnerships=partnerships,
        residences=residences, nhs_reserve=reserve,
        keep_quintile_within_la=float(params["moves"]["keep_quintile_within_la"]),
    )


def add_people(
    world: World,
    sex: np.ndarray,
    dob: np.ndarray,
    ethnicity: np.ndarray,
    surname: np.ndarray,
    near: np.ndarray,
    since: np.ndarray,
    years_at_address: tuple[float, float],
    pools: NamePools,
    rng: np.random.Generator,
) -> World:
    """The world with relatives (grandparents, aunts, uncles) who enter the story through a court
    case: a new World; ``world`` is left as it was.

    Each lives in the same authority as the person ``near`` them on day ``since`` and has lived
    there for ``years_at_address`` (fewest, most; drawn evenly). They take positions
    ``world.size`` onwards, in the order given: appending keeps every position-indexed array
    and the residence order valid.
    """
    k = sex.size
    pos = np.arange(world.size, world.size + k)
    reserve = world.nhs_reserve
    if reserve.size < k:
        raise RuntimeError("NHS number reserve exhausted; raise identifiers.nhs_reserve_share in world.yaml")
    eth_names = np.array(ETHNIC_GROUPS, dtype=object)[ethnicity]
    birth_year = dob.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    forename = pools.forenames(sex, birth_year, eth_names, rng)
    la = world.la_at(near, since).clip(min=0)
    similar = rng.random(k) < world.keep_quintile_within_la
    lsoa = np.where(similar,
                    world.areas.random_lsoa_in_quintile(la, world.quintile_at(near, since), rng),
                    world.areas.random_lsoa_in(la, rng))
    postcode = world.areas.postcode(lsoa, rng)
    moved_in = since - (rng.uniform(*years_at_address, k) * DAYS_PER_YEAR).astype(np.int64)
    r = world.residences
    residences = Residences(
        person=np.concatenate([r.person, pos]),
        lsoa=np.concatenate([r.lsoa, lsoa]),
        postcode=np.concatenate([r.postcode, postcode]),
        date_from=np.concatenate([r.date_from, moved_in]),
        date_to=np.concatenate([r.date_to, np.full(k, NO_DATE, np.int64)]),
    )
    return replace(
        world,
        person_id=np.concatenate([world.person_id, pos + 1 + int(world.person_id.min()) - 1]),
        role=np.concatenate([world.role, np.full(k, ROLE_RELATIVE, np.int8)]),
        sex=np.concatenate([world.sex, sex]),
        dob=np.concatenate([world.dob, dob]),
        dod=np.concatenate([world.dod, np.full(k, NO_DATE, np.int64)]),
        ethnicity=np.concatenate([world.ethnicity, ethnicity.astype(np.int8)]),
        forename=np.concatenate([world.forename, forename]),
        surname=np.concatenate([world.surname, surname]),
        nhs_number=np.concatenate([world.nhs_number, reserve[:k]]),
        mother=np.concatenate([world.mother, np.full(k, -1)]),
        father=np.concatenate([world.father, np.full(k, -1)]),
        birth_order=np.concatenate([world.birth_order, np.zeros(k, np.int8)]),
        multiple_birth=np.concatenate([world.multiple_birth, np.zeros(k, bool)]),
        mother_teen_first_birth=np.concatenate([world.mother_teen_first_birth, np.zeros(k, bool)]),
        residences=residences,
        nhs_reserve=reserve[k:],
    )


def _residences(
    las: pd.DataFrame,
    areas: SmallAreas,
    params: dict,
    mothers: dict[str, np.ndarray],
    partnerships: pd.DataFrame,
    maternities: dict[str, np.ndarray],
    first_day: int,
    end_day: int,
    rng: np.random.Generator,
) -> Residences:
    """Address histories: mothers move now and then; fathers share them while partnered."""
    mv = params["moves"]
    n_m = mothers["la"].size
    start = np.minimum(mothers["first_birth_day"], first_day) - 365
    years = (end_day - start) / DAYS_PER_YEAR
    n_moves = np.minimum(rng.poisson(mv["moves_per_year"] * years), 20)
    total = int(n_moves.sum())
    who = np.repeat(np.arange(n_m), n_moves)
    when = start[who] + (rng.random(total) * (end_day - start[who])).astype(np.int64)
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    seq = np.arange(total) - np.searchsorted(who, who, side="left")

    # Where each spell is: walk the k-th moves of all mothers together.
    lsoa_spells = np.empty(total, dtype=np.int64)
    current = mothers["lsoa"].copy()
    pop_weight = base_totals(las).to_numpy()
    region = las["region_name"].to_numpy()
    for k in range(int(seq.max()) + 1 if total else 0):
        rows = np.flatnonzero(seq == k)
        movers = who[rows]
        cur_la = areas.lsoa_la[current[movers]]
        u = rng.random(rows.size)
        within_la = u < mv["share_within_la"]
        within_region = (~within_la) & (u < mv["share_within_la"] + mv["share_within_region"])
        new_la = cur_la.copy()
        new_la[within_region] = _pick_la_in_region(region, pop_weight, cur_la[within_region], rng)
        anywhere = ~(within_la | within_region)
        new_la[anywhere] = _pick_la(pop_weight, int(anywhere.sum()), rng)
        keep_q = within_la & (rng.random(rows.size) < mv["keep_quintile_within_la"])
        new_lsoa = areas.random_lsoa_in(new_la, rng)
        same_q = areas.random_lsoa_in_quintile(new_la, areas.lsoa_quintile[current[movers]], rng)
        new_lsoa = np.where(keep_q, same_q, new_lsoa)
        lsoa_spells[rows] = new_lsoa
        current[movers] = new_lsoa

    person = np.concatenate([np.arange(n_m), who])
    lsoa = np.concatenate([mothers["lsoa"], lsoa_spells])
    date_from = np.concatenate([start, when])
    order = np.lexsort((date_from, person))
    person, lsoa, date_from = person[order], lsoa[order], date_from[order]
    # Two moves on one day: only the second address counts.
    superseded = np.r_[(person[1:] == person[:-1]) & (date_from[1:] == date_from[:-1]), False]
    person, lsoa, date_from = person[~superseded], lsoa[~superseded], date_from[~superseded]
    date_to = np.r_[date_from[1:] - 1, NO_DATE]
    date_to[np.r_[person[1:] != person[:-1], True]] = NO_DATE

    # Fathers: the mother's spells clipped to the partnership, then their own address after it.
    f_person, f_lsoa, f_from, f_to = _father_spells(
        areas, las, mv, partnerships, person, lsoa, date_from, date_to, end_day, pop_weight, rng
    )
    person = np.concatenate([person, f_person])
    lsoa = np.concatenate([lsoa, f_lsoa])
    date_from = np.concatenate([date_from, f_from])
    date_to = np.concatenate([date_to, f_to])
    order = np.lexsort((date_from, person))
    postcode = areas.postcode(lsoa[order], rng)
    return Residences(
        person=person[order], lsoa=lsoa[order], postcode=postcode,
        date_from=date_from[order].astype(np.int64), date_to=date_to[order].astype(np.int64),
    )


def _father_spells(areas, las, mv, partnerships, m_person, m_lsoa, m_from, m_to, end_day,
                   pop_weight, rng):
    spells = pd.DataFrame({"mother": m_person, "lsoa": m_lsoa, "from": m_from, "to": m_to})
    joined = partnerships.reset_index(names="p").merge(spells, on="mother", how="inner")
    p_end = np.where(joined["end"].to_numpy() == NO_DATE, end_day, joined["end"].to_numpy())
    s_to = np.where(joined["to"].to_numpy() == NO_DATE, end_day, joined["to"].to_numpy())
    lo = np.maximum(joined["start"].to_numpy(), joined["from"].to_numpy())
    hi = np.minimum(p_end, s_to)
    overlap = lo <= hi
    j = joined[overlap]
    f_person = j["father"].to_numpy()
    f_lsoa = j["lsoa"].to_numpy()
    f_from = lo[overlap]
    f_to = np.where(hi[overlap] >= end_day, NO_DATE, hi[overlap])
    # After a separation the father moves out, usually within the same authority.
    ended = partnerships[partnerships["end"] != NO_DATE]
    mothers_la_at_end = _la_of_spells(areas, m_person, m_lsoa, m_from,
                                      ended["mother"].to_numpy(), ended["end"].to_numpy())
    stay = rng.random(len(ended)) < mv["father_stays_in_la_after_separation"]
    region = las["region_name"].to_numpy()
    new_la = np.where(stay, mothers_la_at_end,
                      _pick_la_in_region(region, pop_weight, mothers_la_at_end, rng))
    # Deprivation clusters: a father who moves out usually stays in a similar area.
    mothers_lsoa_at_end = _lsoa_of_spells(m_person, m_lsoa, m_from, ended["mother"].to_numpy(),
                                          ended["end"].to_numpy())
    similar = rng.random(len(ended)) < mv["keep_quintile_within_la"]
    own_lsoa = np.where(
        similar,
        areas.random_lsoa_in_quintile(new_la, areas.lsoa_quintile[mothers_lsoa_at_end], rng),
        areas.random_lsoa_in(new_la, rng))
    return (
        np.concatenate([f_person, ended["father"].to_numpy()]),
        np.concatenate([f_lsoa, own_lsoa]),
        np.concatenate([f_from, ended["end"].to_numpy() + 1]),
        np.concatenate([f_to, np.full(len(ended), NO_DATE)]),
    )


def _lsoa_of_spells(person, lsoa, date_from, query_person, query_day):
    key = person.astype(np.int64) * 100_000 + date_from + 30_000
    q = query_person.astype(np.int64) * 100_000 + query_day + 30_000
    pos = (np.searchsorted(key, q, side="right") - 1).clip(min=0)
    return lsoa[pos]


def _la_of_spells(areas, person, lsoa, date_from, query_person, query_day):
    return areas.lsoa_la[_lsoa_of_spells(person, lsoa, date_from, query_person, query_day)]


def _pick_la(weight: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(weight) / weight.sum()
    return np.searchsorted(cdf, rng.random(n), side="right").clip(max=weight.size - 1)


def _pick_la_in_region(region: np.ndarray, weight: np.ndarray, current_la: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """A new authority in the same region as each current one, weighted by child population."""
    out = current_la.copy()
    for name in np.unique(region[current_la]):
        members = np.flatnonzero(region == name)
        rows = np.flatnonzero(region[current_la] == name)
        out[rows] = members[_pick_la(weight[members], rows.size, rng)]
    return out


def _deaths(params, dob, role, last_birth, partnerships, n_m, end_day, rng) -> np.ndarray:
    """Date of death, or NO_DATE for those alive at the end of the period.

    Parents are alive at the birth of their last child (a mother survives her last maternity; a
    father survives the start of his partnership), so deaths are drawn from then on.
    """
    bands = params["deaths"]["annual_probability"]
    edges = np.array([b["ages"][0] for b in bands], dtype=float)
    probs = np.array([b["p"] for b in bands], dtype=float)
    from_day = dob.copy()
    from_day[:n_m] = last_birth
    fathers = partnerships["father"].to_numpy()
    from_day[fathers] = np.maximum(from_day[fathers], partnerships["start"].to_numpy())
    start_age = (from_day - dob) / DAYS_PER_YEAR
    t = piecewise_exponential_time(start_age, edges, probs, rng)
    death = from_day + np.where(np.isfinite(t), t * DAYS_PER_YEAR, 1e7).astype(np.int64)
    return np.where(death <= end_day, death, NO_DATE).astype(np.int64)


def give_test_range_numbers_first(world: World, priority: np.ndarray) -> World:
    """The world with the NHS numbers of the 999 test range handed to the people who appear in
    records first (``priority``): a new World; ``world`` is left as it was.

    The 999 block has about 909,000 valid numbers, fewer than a classroom world holds; the rest
    come from the neighbouring unissued 9xx blocks. People in court records are the ones whose
    numbers learners see and check, so they get the official test range. The set of numbers,
    and so their uniqueness, does not change.
    """
    numbers = world.nhs_number
    block = np.array([n[:3] for n in numbers], dtype=object) if numbers.size else numbers
    order_numbers = np.argsort(-block.astype(np.int64), kind="stable")  # 999 first, as drawn
    first = np.zeros(world.size, dtype=bool)
    first[priority] = True
    order_people = np.r_[np.flatnonzero(first), np.flatnonzero(~first)]
    reassigned = np.empty_like(numbers)
    reassigned[order_people] = numbers[order_numbers]
    return replace(world, nhs_number=reassigned)

