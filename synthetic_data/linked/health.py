"""Health: admissions, emergency department attendances, maternity and GP registrations.

Each adult of the extract has, for each condition, a chance of at least one recorded contact in
the period that depends on their group (``params/health.yaml``, calibration B), in proportion
to how long they can be seen in it; contacts fall on random days while they are alive and adult,
many of them, for people in proceedings, within two years of their first application; some in
the emergency department, some admitted. Children's contacts, maternity records and GP
registrations follow the same world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, day
from synthetic_data.core.sampling import exact_share
from synthetic_data.linked.cohort import Cohort, adult_window, child_window, mothers_with_births
from synthetic_data.linked.identities import home_spells
from synthetic_data.world.people import ROLE_CHILD, World

COMPARISON_ADULT, COMPARISON_MOTHER = "comparison_adult", "comparison_mother"
COMPARATORS = (COMPARISON_MOTHER, COMPARISON_ADULT)
# Groups whose published figure covers a subgroup as well: measure -> (subgroup, remainder).
NESTED = {"pl_parent": ("pl_infant_mother", "pl_parent"),
          COMPARISON_ADULT: (COMPARISON_MOTHER, COMPARISON_ADULT)}


@dataclass
class HealthEvents:
    """Health contacts of the extract, by world person (positions)."""

    admissions: pd.DataFrame  # person, admission_day, discharge_day, diagnosis_code, method, reason
    attendances: pd.DataFrame  # person, attendance_day, diagnosis_code, reason
    maternity: pd.DataFrame  # mother, baby, birth_day, gestation_weeks, smoking, booking_weeks
    births: pd.DataFrame  # mother, baby, birth_day: the register, back to its first year
    registrations: pd.DataFrame  # person, practice_code, lsoa, start_day, end_day


def simulate_health(world: World, cohort: Cohort, params: dict, rng: np.random.Generator,
                    seen_in_proceedings: np.ndarray | None = None) -> HealthEvents:
    """Health contacts of the extract.

    ``seen_in_proceedings`` holds the people whom the trusted third party safely linked to a
    family justice record. Published comparison figures describe comparators as an analyst
    finds them: everyone else in the extract, people in proceedings whose records were not
    linked included. So the comparison groups' shares are set on that observed group, with
    the unlinked people in proceedings keeping their own (higher) chances. Without it, the
    groups are taken as they truly are.
    """
    # Everyone aged 16 or over at some time in the period, children who grew up included: a
    # child of a family in proceedings as a young adult like an adult in private law, other
    # grown-up children like the comparison adults (ASSUMPTION).
    adults = cohort.persons
    adult_group = pd.Series(cohort.group).replace(
        {"child_in_proceedings": "prl_adult", "child_comparison": "comparison_adult"}).to_numpy()
    a_start, a_end = adult_window(world, adults)
    live = a_end > a_start
    adults, adult_group, a_start, a_end = adults[live], adult_group[live], a_start[live], a_end[live]
    anchor = cohort.first_case_day[live]
    observed = _observed_groups(world, adults, adult_group, seen_in_proceedings)
    near = params["near_proceedings"]
    cells = np.char.add(adult_group.astype(str), np.char.add("|", observed.astype(str)))

    def by_window(p: np.ndarray) -> np.ndarray:
        return scale_by_window(p, a_end - a_start, cells)

    def contacts_of(has: np.ndarray, reason: str, spec: dict) -> pd.DataFrame:
        return _contacts(adults[has], a_start[has], a_end[has], reason, spec, rng,
                         Clustering(anchor[has], near))

    contacts: list[pd.DataFrame] = []
    for reason, spec in params["conditions"].items():
        p = by_window(group_probabilities(spec, adult_group, observed))
        has = exact_share(p, rng)
        contacts.append(contacts_of(has, reason, spec))
    adult_contacts = pd.concat(contacts, ignore_index=True)

    # Other emergency attendances top each group up to its published share with any attendance.
    ed = params["emergency_department"]
    seen = np.isin(adults, adult_contacts.loc[adult_contacts["setting"] == "ed", "person"])
    top_up = _top_up(ed["any_attendance"], adult_group, seen, observed)
    more = exact_share(by_window(np.where(seen, 0.0, top_up)), rng)
    other_ed = contacts_of(more, "other", {"extra_contacts_mean": ed["extra_attendances_mean"],
                                           "ed_share": 1.0, "codes": ed["other_codes"]})
    oa = params["other_admissions"]
    admitted = exact_share(by_window(group_probabilities(oa, adult_group, observed)), rng)
    other_adm = contacts_of(admitted, "other", {"extra_contacts_mean": oa["extra_contacts_mean"],
                                                "ed_share": 0.0, "codes": oa["codes"]})
    frames = [adult_contacts, other_ed, other_adm, _children_contacts(world, cohort, params, rng)]
    allc = pd.concat(frames, ignore_index=True)

    register = births_register(world, cohort, params)
    maternity, stays = _maternity(world, cohort, register, params, rng)
    admissions = _admissions(pd.concat([allc[allc["setting"] == "admission"], stays],
                                       ignore_index=True), params, world, rng)
    attendances = allc[allc["setting"] == "ed"].rename(columns={"day": "attendance_day"})
    attendances = attendances[["person", "attendance_day", "diagnosis_code", "reason"]]
    attendances = attendances.sort_values(["person", "attendance_day"], kind="stable",
                                          ignore_index=True)
    return HealthEvents(admissions=admissions, attendances=attendances, maternity=maternity,
                        births=register,
                        registrations=_registrations(world, cohort, params))


def scale_by_window(p: np.ndarray, length: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Each person's chance of a contact in proportion to the years they can be seen, with the
    sum over each cell of people kept.

    A published share counts people with a contact at any time in the period; someone who
    enters the extract late (a child turning 16, a baby born in its last years) has fewer years
    in which to have one. Giving everyone the same chance would crowd late entrants' contacts
    into the last years, and yearly counts would rise with no change in anyone's risk. Windows
    are counted in started years, so each cell holds a few distinct chances and
    :func:`~synthetic_data.core.sampling.exact_share` still pins each group's share; a chance that
    would pass 1 is held there and the rest of its cell made up the difference.
    """
    p = np.asarray(p, dtype=float)
    years = np.maximum(np.ceil(np.asarray(length, dtype=float) / DAYS_PER_YEAR), 1.0)
    out = p.copy()
    for cell in np.unique(cells):
        members = cells == cell
        target, weight = p[members].sum(), p[members] * years[members]
        if target <= 0:
            continue
        capped = np.zeros(weight.size, dtype=bool)
        for _ in range(weight.size):
            free = weight[~capped].sum()
            factor = (target - capped.sum()) / free if free > 0 else 0.0
            newly = ~capped & (weight * factor > 1.0)
            if not newly.any():
                break
            capped |= newly
        out[members] = np.where(capped, 1.0, weight * factor)
    return out


def _observed_groups(world: World, adults: np.ndarray, group: np.ndarray,
                     seen_in_proceedings: np.ndarray | None) -> np.ndarray:
    """The group an analyst puts each adult in: anyone not linked to a family justice record is
    a comparator (a comparison mother if she gave birth in the period)."""
    if seen_in_proceedings is None:
        return group
    unseen = ~np.isin(adults, seen_in_proceedings) & ~np.isin(group, COMPARATORS)
    mothers = np.isin(adults, mothers_with_births(world))
    return np.where(unseen, np.where(mothers, COMPARISON_MOTHER, COMPARISON_ADULT), group)


def group_probabilities(spec: dict, group: np.ndarray, observed: np.ndarray | None = None
                        ) -> np.ndarray:
    """Each person's chance, where a nested measure's remainder makes the whole group's share.

    The published parents' figure includes the mothers of infants, who have their own figure;
    the rest of the parents get whatever share makes the whole group come out as published.
    Comparison figures are then met on the ``observed`` groups (see :func:`simulate_health`).
    """
    p = np.zeros(group.size)
    for name in np.unique(group):
        if name in spec:
            p[group == name] = spec[name]
    for whole, (sub, rest) in NESTED.items():
        n_sub, n_rest = (group == sub).sum(), (group == rest).sum()
        if whole in spec and sub in spec and n_rest:
            share = (spec[whole] * (n_sub + n_rest) - spec[sub] * n_sub) / n_rest
            p[group == rest] = float(np.clip(share, 0.0, 1.0))
    if observed is not None:
        for target, seen, free in _comparison_measures(group, observed):
            if target in spec and (seen & free).any():
                share = (spec[target] * seen.sum() - p[seen & ~free].sum()) / (seen & free).sum()
                p[free] = float(np.clip(share, 0.0, 1.0))
    return p


def _comparison_measures(group: np.ndarray, observed: np.ndarray
                         ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(measure, who an analyst counts in it, whose chance is free to meet it): mothers first,
    then all comparators, whose figure includes the mothers just set."""
    return [(COMPARISON_MOTHER, observed == COMPARISON_MOTHER, group == COMPARISON_MOTHER),
            (COMPARISON_ADULT, np.isin(observed, COMPARATORS), group == COMPARISON_ADULT)]


def _top_up(targets: dict, group: np.ndarray, seen: np.ndarray,
            observed: np.ndarray | None = None) -> np.ndarray:
    """Chance of another attendance for those not yet seen, so each measure meets its target."""
    out = np.zeros(group.size)
    for name in np.unique(group):
        whole = next((w for w, pair in NESTED.items() if name in pair), None)
        if whole is not None and whole in targets:
            members, target = np.isin(group, NESTED[whole]), targets[whole]
        elif name in targets:
            members, target = group == name, targets[name]
        else:
            continue
        already = float(seen[members].mean())
        out[group == name] = max(0.0, (target - already) / (1 - already)) if already < 1 else 0.0
    if observed is not None:
        reached = seen + (1 - seen) * out  # each person's chance of any attendance
        for target, counted, free in _comparison_measures(group, observed):
            todo = counted & free & ~seen
            if target in targets and todo.any():
                missing = targets[target] * counted.sum() - reached[counted & ~todo].sum()
                out[free & ~seen] = float(np.clip(missing / todo.sum(), 0.0, 1.0))
                reached = seen + (1 - seen) * out
    return out


@dataclass
class Clustering:
    """Where contacts gather: each person's first case (NO_DATE if none) and how closely."""

    anchor: np.ndarray
    spec: dict  # params["near_proceedings"]

    def days(self, who: np.ndarray, day: np.ndarray, start: np.ndarray, end: np.ndarray,
             setting: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move some contacts of people in proceedings to within the configured years of their
        first application, as crises gather around proceedings (Johnson et al. 2020)."""
        anchor = self.anchor[who]
        half = int(self.spec["within_years"] * DAYS_PER_YEAR)
        lo = np.maximum(start, anchor - half)
        hi = np.minimum(end, anchor + half)
        share = self.spec["contact_share"]
        chance = np.where(setting == "ed", share["ed"], share["admission"])
        move = (anchor != NO_DATE) & (hi > lo) & (rng.random(day.size) < chance)
        moved = lo + (rng.random(day.size) * np.maximum(hi - lo, 0)).astype(np.int64)
        return np.where(move, moved, day)


def _contacts(persons: np.ndarray, start: np.ndarray, end: np.ndarray, reason: str, spec: dict,
              rng: np.random.Generator, clustering: Clustering | None = None) -> pd.DataFrame:
    """At least one contact each, on random days of the window (near proceedings for some);
    ED or admitted."""
    n = 1 + rng.poisson(spec["extra_contacts_mean"], persons.size)
    who = np.repeat(np.arange(persons.size), n)
    span = (end - start)[who]
    day = start[who] + (rng.random(who.size) * span).astype(np.int64)
    setting = np.where(rng.random(who.size) < spec["ed_share"], "ed", "admission")
    if clustering is not None:
        day = clustering.days(who, day, start[who], end[who], setting, rng)
    codes = list(spec["codes"])
    weights = np.array([spec["codes"][c] for c in codes], dtype=float)
    code = np.array(codes, dtype=object)[rng.choice(len(codes), who.size, p=weights / weights.sum())]
    return pd.DataFrame({"person": persons[who], "day": day, "setting": setting,
                         "diagnosis_code": code, "reason": reason})


def _children_contacts(world: World, cohort: Cohort, params: dict,
                       rng: np.random.Generator) -> pd.DataFrame:
    ch = params["children"]
    kids = cohort.persons[world.role[cohort.persons] == ROLE_CHILD]
    in_proc = np.isin(kids, cohort.persons[cohort.in_cases])
    start, end = child_window(world, kids)
    live = end > start
    kids, in_proc, start, end = kids[live], in_proc[live], start[live], end[live]
    first_case = pd.Series(cohort.first_case_day, index=cohort.persons)
    anchor = first_case.reindex(kids).to_numpy(dtype=np.int64)
    near = params["near_proceedings"]
    frames = []
    for reason, codes, key in (("injury", ch["codes"], "injury"),
                               ("other", ch["other_codes"], "other_attendance")):
        p = np.where(in_proc, ch[key]["in_proceedings"], ch[key]["comparison"])
        has = exact_share(scale_by_window(p, end - start, in_proc), rng)
        frames.append(_contacts(kids[has], start[has], end[has], reason,
                                {**ch["contacts"][key], "codes": codes}, rng,
                                Clustering(anchor[has], near)))
    p = np.where(in_proc, ch["other_admission"]["in_proceedings"], ch["other_admission"]["comparison"])
    has = exact_share(scale_by_window(p, end - start, in_proc), rng)
    frames.append(_contacts(kids[has], start[has], end[has], "other",
                            {**ch["contacts"]["other_admission"], "codes": ch["other_codes"]}, rng,
                            Clustering(anchor[has], near)))
    return pd.concat(frames, ignore_index=True)


def _maternity(world: World, cohort: Cohort, register: pd.DataFrame, params: dict,
               rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A maternity record per birth of the ``register`` in the period (and the mother's stay)."""
    m = params["maternity"]
    in_period = register["birth_day"].to_numpy() >= world.start_day
    babies = np.sort(register["baby"].to_numpy(dtype=np.int64)[in_period])
    infant = np.zeros(world.size, dtype=bool)
    infant[cohort.persons[cohort.pl_infant]] = True
    key = np.where(infant[babies], "in_proceedings", "other")

    def chance(name: str) -> np.ndarray:
        return np.where(key == "in_proceedings", m[name]["in_proceedings"], m[name]["other"])

    n = babies.size
    preterm = exact_share(chance("preterm"), rng)
    lo, hi = np.where(preterm, m["preterm_weeks"][0], m["term_weeks"][0]), np.where(
        preterm, m["preterm_weeks"][1], m["term_weeks"][1])
    weeks = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    early = exact_share(chance("first_trimester_booking"), rng)
    blo, bhi = np.where(early, m["booking_weeks_first_trimester"][0], m["booking_weeks_late"][0]), \
        np.where(early, m["booking_weeks_first_trimester"][1], m["booking_weeks_late"][1])
    booking = blo + (rng.random(n) * (bhi - blo + 1)).astype(np.int64)
    mothers = world.mother[babies]
    # Twins share one maternity: one record per mother and day.
    frame = pd.DataFrame({
        "mother": mothers, "baby": babies, "birth_day": world.dob[babies].astype(np.int64),
        "gestation_weeks": weeks, "smoking_at_booking": exact_share(chance("smoking_at_booking"), rng),
        "booking_weeks": booking,
    }).sort_values(["mother", "birth_day", "baby"], kind="stable", ignore_index=True)
    stays = frame.drop_duplicates(["mother", "birth_day"])
    births = pd.DataFrame({
        "person": stays["mother"].to_numpy(), "day": stays["birth_day"].to_numpy(),
        "setting": "admission",
        "diagnosis_code": np.where(stays["gestation_weeks"].to_numpy() < 37, "O60", "O80"),
        "reason": "maternity"})
    return frame, births


def births_register(world: World, cohort: Cohort, params: dict) -> pd.DataFrame:
    """Every birth to a mother in the extract since the child health register began.

    Maternity records cover births in the period; the register reaches back decades, which is
    how an analyst finds a mother's age at her first birth (Griffiths et al. 2020).
    """
    in_extract = np.zeros(world.size, dtype=bool)
    in_extract[cohort.persons] = True
    first_day = day(params["births_register"]["records_from"])
    babies = np.flatnonzero((world.role == ROLE_CHILD) & (world.dob >= first_day)
                            & (world.dob <= world.end_day))
    babies = babies[in_extract[world.mother[babies]]]
    frame = pd.DataFrame({"mother": world.mother[babies], "baby": babies,
                          "birth_day": world.dob[babies].astype(np.int64)})
    return frame.sort_values(["mother", "birth_day", "baby"], kind="stable", ignore_index=True)


def _admissions(contacts: pd.DataFrame, params: dict, world: World,
                rng: np.random.Generator) -> pd.DataFrame:
    """Spells with their length of stay; a patient still in hospital at the end of the period
    has no discharge date yet.

    A patient is in one hospital at a time: a stay that would run past the patient's next
    admission ends that day (a transfer, or discharge and readmission), and one that would run
    past their death ends on it.
    """
    a = params["admission"]
    n = len(contacts)
    maternity = contacts["reason"].to_numpy() == "maternity"
    mean = np.where(maternity, a["maternity_stay_mean_days"], a["stay_mean_days"])
    stay = np.where(rng.random(n) < a["day_case_share"], 0, 1 + rng.geometric(1 / mean) - 1)
    stay = np.where(maternity, np.maximum(stay, 1), stay)
    method = np.where(maternity, "maternity",
                      np.where(contacts["reason"].to_numpy() == "other", "elective", "emergency"))
    out = pd.DataFrame({
        "person": contacts["person"].to_numpy(), "admission_day": contacts["day"].to_numpy(),
        "discharge_day": contacts["day"].to_numpy() + stay, "diagnosis_code":
        contacts["diagnosis_code"].to_numpy(), "method": method, "reason": contacts["reason"].to_numpy()})
    out = out.sort_values(["person", "admission_day"], kind="stable", ignore_index=True)
    person = out["person"].to_numpy(dtype=np.int64)
    admitted = out["admission_day"].to_numpy(dtype=np.int64)
    discharge = out["discharge_day"].to_numpy(dtype=np.int64)
    same_next = np.r_[person[1:] == person[:-1], False]
    next_day = np.r_[admitted[1:], 0]
    discharge = np.where(same_next, np.minimum(discharge, next_day), discharge)
    dod = world.dod[person]
    discharge = np.where(dod != NO_DATE, np.minimum(discharge, dod), discharge)
    out["discharge_day"] = np.where(discharge > world.end_day, NO_DATE, discharge)
    return out


def _registrations(world: World, cohort: Cohort, params: dict) -> pd.DataFrame:
    """GP registration spells: one per address spell (a child's are its mother's, from birth)."""
    persons = cohort.persons
    r = world.residences
    who, idx = home_spells(world, persons)
    p = persons[who]
    start = np.maximum(r.date_from[idx].astype(np.int64), world.dob[p].astype(np.int64))
    to = r.date_to[idx].astype(np.int64)
    dod = world.dod[p].astype(np.int64)
    end = np.where(dod != NO_DATE, np.where(to == NO_DATE, dod, np.minimum(to, dod)), to)
    keep = ((end == NO_DATE) | (end >= start)) & (start <= world.end_day) & (
        (end == NO_DATE) | (end >= world.start_day))
    lsoa = r.lsoa[idx]
    practice = lsoa // int(params["gp"]["small_areas_per_practice"])
    out = pd.DataFrame({"person": p, "practice": practice, "lsoa": lsoa,
                        "start_day": start, "end_day": end})[keep]
    return out.sort_values(["person", "start_day"], kind="stable", ignore_index=True)
