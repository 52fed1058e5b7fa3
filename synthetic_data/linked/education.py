"""Education: the January school census and key stage results of the extract's children.

Each child of the extract has a census row for every academic year in which they are in
reception to year 11 and alive on census day within the data period, at a school near home.
One latent ability per child drives special educational needs, absence, suspensions and
results, so they correlate as in the National Pupil Database; each measure's group rates come
from ``params/education.yaml``, with children in proceedings at the published gaps of children
looked after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from synthetic_data.core.params import interpolate_by_year
from synthetic_data.linked.cohort import Cohort
from synthetic_data.world.people import ROLE_CHILD, World

SEN_LEVELS = np.array(["none", "sen_support", "ehcp"], dtype=object)


@dataclass
class EducationRecords:
    """School census rows and key stage results, by world person (positions)."""

    # person, academic_year, census_day, ncy, school, fsm, sen, sessions_possible,
    # sessions_absent, suspensions, permanent_exclusion
    census: pd.DataFrame
    # person, key_stage, academic_year, result_day, ks2_expected_standard, attainment8
    attainment: pd.DataFrame


@dataclass
class _Pupils:
    """The extract's children with the draws that stay with them through school."""

    person: np.ndarray
    in_proceedings: np.ndarray
    entry_year: np.ndarray  # academic year (starting September) of reception
    ability: np.ndarray  # standard normal
    sen: np.ndarray  # index into SEN_LEVELS
    fsm_latent: np.ndarray  # standard normal
    frailty: np.ndarray  # gamma, mean 1: who gets suspended


def simulate_education(world: World, cohort: Cohort, params: dict,
                       rng: np.random.Generator) -> EducationRecords:
    pupils = _pupils(world, cohort, params, rng)
    return EducationRecords(census=_census(world, pupils, params, rng),
                            attainment=_attainment(world, pupils, params, rng))


def _pupils(world: World, cohort: Cohort, params: dict, rng: np.random.Generator) -> _Pupils:
    is_child = world.role[cohort.persons] == ROLE_CHILD
    person = cohort.persons[is_child]
    in_proc = cohort.in_cases[is_child]
    n = person.size
    ability = rng.standard_normal(n)
    return _Pupils(person=person, in_proceedings=in_proc,
                   entry_year=reception_year(world.dob[person]), ability=ability,
                   sen=_sen(in_proc, ability, params["sen"], rng),
                   fsm_latent=rng.standard_normal(n),
                   frailty=rng.gamma(params["exclusions"]["frailty_shape"],
                                     1 / params["exclusions"]["frailty_shape"], n))


def reception_year(dob: np.ndarray) -> np.ndarray:
    """Academic year (by its first calendar year) a child starts reception.

    Children start in the September after their fourth birthday, so those born January to
    August start at four and those born September to December at almost five.
    """
    d = dob.astype("int64").astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return year + np.where(month >= 9, 5, 4)


def census_day(census_year: np.ndarray, spec: dict) -> np.ndarray:
    """The census day of each calendar year: the first given weekday on or after a day."""
    first = (census_year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (
        spec["census_month"] - 1)
    d = first.astype("datetime64[D]").astype(np.int64) + spec["census_earliest_day"] - 1
    weekday = (d + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return d + (spec["census_weekday"] - weekday) % 7


def date_in_year(year: np.ndarray, month_day: str) -> np.ndarray:
    """Days since the epoch of a given 'MM-DD' in each calendar year."""
    month, dd = (int(x) for x in month_day.split("-"))
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64) + dd - 1


def academic_year_label(start_year: np.ndarray) -> np.ndarray:
    """'2015/16' for the year starting September 2015."""
    years = np.arange(start_year.min(initial=2000), start_year.max(initial=2000) + 1)
    labels = np.array([f"{y}/{(y + 1) % 100:02d}" for y in years], dtype=object)
    return labels[start_year - years[0]]


def _sen(in_proc: np.ndarray, ability: np.ndarray, spec: dict,
         rng: np.random.Generator) -> np.ndarray:
    """Need fixed per child: low values of a latent tied to (low) ability mean SEN."""
    rho = spec["ability_correlation"]
    latent = rho * ability + np.sqrt(1 - rho**2) * rng.standard_normal(ability.size)
    ehcp = np.where(in_proc, spec["in_proceedings"]["ehcp"], spec["comparison"]["ehcp"])
    support = np.where(in_proc, spec["in_proceedings"]["sen_support"],
                       spec["comparison"]["sen_support"])
    u = ndtr(latent)
    return np.where(u < ehcp, 2, np.where(u < ehcp + support, 1, 0))


def fsm_probability(quintile: np.ndarray, in_proc: np.ndarray, census_year: np.ndarray,
                    spec: dict) -> np.ndarray:
    """Chance of eligibility: quintile rate, moved by the year's national odds and the group's."""
    base = np.array([spec["by_quintile_reference_year"][q] for q in range(1, 6)])[quintile - 1]
    by_year = _by_year(spec["all_pupils_by_census_year"], census_year)
    ref = _by_year(spec["all_pupils_by_census_year"], np.array([spec["reference_year"]]))[0]
    odds = base / (1 - base) * (by_year / (1 - by_year)) / (ref / (1 - ref))
    odds = odds * np.where(in_proc, spec["in_proceedings_odds_ratio"], 1.0)
    return odds / (1 + odds)


def _by_year(anchors: dict, years: np.ndarray) -> np.ndarray:
    """Anchor figures interpolated to each year (flat beyond the first and last)."""
    if years.size == 0:
        return np.zeros(0)
    span = range(int(years.min()), int(years.max()) + 1)
    table = interpolate_by_year({int(k): v for k, v in anchors.items()}, span)
    return np.array([table[y] for y in span])[years - span.start]


def _census(world: World, pupils: _Pupils, params: dict,
            rng: np.random.Generator) -> pd.DataFrame:
    spec = params["census"]
    first, last = spec["first_ncy"], spec["last_ncy"]
    years = last - first + 1
    who = np.repeat(np.arange(pupils.person.size), years)
    ncy = np.tile(np.arange(first, last + 1), pupils.person.size)
    start_year = pupils.entry_year[who] + ncy
    cday = census_day(start_year + 1, spec)
    person = pupils.person[who]
    keep = (cday >= world.start_day) & (cday <= world.end_day)
    keep[keep] = world.alive_on(person[keep], cday[keep])
    # Pupils are placed by home address: a child with none known (abroad) is not in the census.
    res = np.full(who.size, -1, dtype=np.int64)
    res[keep] = world.residence_index_at(world.home_person[person[keep]], cday[keep])
    keep &= res >= 0
    who, ncy, start_year, cday, person, res = (
        who[keep], ncy[keep], start_year[keep], cday[keep], person[keep], res[keep])
    n = who.size
    lsoa = world.residences.lsoa[res].astype(np.int64)
    primary = ncy <= spec["last_primary_ncy"]
    school = np.where(primary,
                      spec["primary_school_offset"] + lsoa // spec["primary_small_areas_per_school"],
                      spec["secondary_school_offset"]
                      + lsoa // spec["secondary_small_areas_per_school"])
    in_proc = pupils.in_proceedings[who]
    ability = pupils.ability[who]
    census_year = start_year + 1

    fs = params["fsm"]
    quintile = world.areas.lsoa_quintile[lsoa].astype(np.int64)
    rho = fs["persistence"]
    u = ndtr(rho * pupils.fsm_latent[who] + np.sqrt(1 - rho**2) * rng.standard_normal(n))
    fsm = u < fsm_probability(quintile, in_proc, census_year, fs)

    ab = params["absence"]
    lo, hi = ab["sessions_possible"]
    possible = rng.integers(lo, hi + 1, n)
    slope = ab["ability_slope"]
    mean = _by_year(ab["mean_rate_by_census_year"], census_year) * np.where(
        in_proc, ab["in_proceedings_ratio"], 1.0) * np.exp(-slope * ability - slope**2 / 2)
    mean = np.clip(mean, ab["min_child_rate"], ab["max_child_rate"])
    k = ab["beta_concentration"]
    absent = rng.binomial(possible, rng.beta(k * mean, k * (1 - mean)))

    ex = params["exclusions"]
    phase_rate = np.where(primary, ex["suspensions_per_pupil"]["primary"],
                          ex["suspensions_per_pupil"]["secondary"])
    s = ex["ability_slope"]
    ratio = ex["in_proceedings_ratio"]
    rate = phase_rate * pupils.frailty[who] * np.exp(-s * ability - s**2 / 2) * np.where(
        in_proc, ratio["suspensions"], 1.0)
    pex_p = np.where(primary, ex["permanent_exclusion_chance"]["primary"],
                     ex["permanent_exclusion_chance"]["secondary"]) * np.where(
        in_proc, ratio["permanent_exclusion"], 1.0)
    out = pd.DataFrame({
        "person": person, "academic_year": academic_year_label(start_year),
        "census_day": cday, "ncy": ncy, "school": school, "fsm": fsm,
        "sen": SEN_LEVELS[pupils.sen[who]], "sessions_possible": possible,
        "sessions_absent": absent, "suspensions": rng.poisson(rate),
        "permanent_exclusion": rng.random(n) < pex_p})
    return out.sort_values(["person", "census_day"], kind="stable", ignore_index=True)


def _attainment(world: World, pupils: _Pupils, params: dict,
                rng: np.random.Generator) -> pd.DataFrame:
    """KS2 at the end of year 6, KS4 at the end of year 11, for those alive on results day."""
    at = params["attainment"]
    rho = at["ability_correlation"]
    frames = []
    for stage, ncy in (("KS2", params["census"]["last_primary_ncy"]),
                       ("KS4", params["census"]["last_ncy"])):
        start_year = pupils.entry_year + ncy
        result = date_in_year(start_year + 1, at["result_month_day"][stage])
        label = academic_year_label(start_year)
        keep = (result >= world.start_day) & (result <= world.end_day)
        keep[keep] = world.alive_on(pupils.person[keep], result[keep])
        if stage == "KS2":
            keep &= ~np.isin(label, at["ks2_cancelled_years"])
        idx = np.flatnonzero(keep)
        in_proc = pupils.in_proceedings[idx]
        score = rho * pupils.ability[idx] + np.sqrt(1 - rho**2) * rng.standard_normal(idx.size)
        summer = start_year[idx] + 1
        if stage == "KS2":
            p = _by_year(at["ks2_expected_all_pupils"], summer) * np.where(
                in_proc, at["ks2_in_proceedings_ratio"], 1.0)
            expected = pd.array(score > ndtri(1 - p), dtype="boolean")
            a8 = np.full(idx.size, np.nan)
        else:
            mean = _by_year(at["attainment8_all_pupils"], summer) * np.where(
                in_proc, at["attainment8_in_proceedings_ratio"], 1.0)
            sd = np.where(in_proc, at["attainment8_sd"]["in_proceedings"],
                          at["attainment8_sd"]["comparison"])
            a8 = np.round(np.clip(mean + sd * score, 0.0, 90.0) * 2) / 2
            expected = pd.array([pd.NA] * idx.size, dtype="boolean")
        frames.append(pd.DataFrame({
            "person": pupils.person[idx], "key_stage": stage, "academic_year": label[idx],
            "result_day": result[idx], "ks2_expected_standard": expected, "attainment8": a8}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["person", "result_day"], kind="stable", ignore_index=True)
