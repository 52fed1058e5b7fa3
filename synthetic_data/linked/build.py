"""From the world and its proceedings to the linked universe's tables, in three views.

The order is the real one: each provider records people its own way (``identities``), the
trusted third party matches every identifier file to the population index (``ttp``), the
project's extract keeps the records of its cohort, and the TRE receives de-identified content
with ALFs (``tre``). The answer key keeps the truth behind every step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.capture.apply import record_counts
from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.params import load_params
from synthetic_data.linkage.alf import anonymised_linking_field
from synthetic_data.linkage.pairs import labelled_pairs
from synthetic_data.linkage.tre import tre_view
from synthetic_data.linkage.ttp import SAFE_STATUSES, PopulationIndex, PreparedIndex, link_to_index
from synthetic_data.linked.cla import simulate_looked_after
from synthetic_data.linked.cohort import Cohort, build_cohort
from synthetic_data.linked.deaths import death_registrations
from synthetic_data.linked.education import simulate_education
from synthetic_data.linked.familyman import court_records
from synthetic_data.linked.health import simulate_health
from synthetic_data.linked.identities import capture_identities, home_spells
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.proceedings.records import record_ids
from synthetic_data.world.geography import dfj_areas
from synthetic_data.world.people import World

IDENTIFIER_FILES = {  # identifier file -> (source in capture.yaml, id column)
    "cafcass_people": ("cafcass", "cafcass_person_id"),
    "familyman_parties": ("familyman", "party_id"),
    "health_patients": ("health", "health_patient_id"),
    "education_pupils": ("education", "pupil_id"),
    "cla_children": ("cla", "cla_child_id"),
    "death_registrations": ("deaths", "death_id"),
}
# Sources whose project extract is the cohort: records the TTP matched to someone else are not
# extracted, as a real extract is drawn by ALF.
EXTRACTED_BY_ALF = ("health_patients", "education_pupils", "cla_children", "death_registrations")


def linked_tables(world: World, book: CaseBook, cafcass: dict[str, pd.DataFrame], chunk: int,
                  project_key: str, sample: np.ndarray, rng: np.random.Generator
                  ) -> dict[str, pd.DataFrame]:
    """Every linked-source table (identifiable, tre and answer key) of one chunk.

    ``cafcass`` holds the chunk's Cafcass tables; its people are recaptured here so that every
    source goes through the same capture model. ``sample`` is the extract's comparison sample
    (:func:`~synthetic_data.linked.cohort.draw_comparison_sample`).
    """
    everyone = build_cohort(world, book, load_params("linkage"), sample, rng)
    # People the index does not hold have no records in the extract's linked sources.
    cohort = everyone.restricted(everyone.in_index)
    outside_index = everyone.persons[~everyone.in_index]
    position = _positions(world)
    tables: dict[str, pd.DataFrame] = {}
    people: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}  # file -> (records, persons)

    cafcass_key = cafcass["cafcass_person_key"]
    c_people = cafcass["cafcass_people"]
    truth = pd.Series(cafcass_key["person_id"].to_numpy(),
                      index=cafcass_key["cafcass_person_id"].to_numpy())
    c_persons = position.reindex(truth.reindex(c_people["cafcass_person_id"]).to_numpy()
                                 ).to_numpy(dtype=np.int64)
    c_days = _days(c_people["first_case_received_date"])
    people["cafcass_people"] = (_recapture(c_people, world, c_persons, c_days, "cafcass", rng),
                                c_persons)
    tables["cafcass_people"] = people["cafcass_people"][0]

    # The trusted third party sees the family justice file first: who it links there decides
    # who an analyst will count as a comparator, which the health figures are calibrated on.
    # Loaded into the TTP's database once for both passes: loading costs more than a pass.
    with PreparedIndex(population_index(world, outside_index)) as index:
        return _linked_sources(world, book, cafcass, chunk, project_key, cohort, index, people,
                               tables, rng)


def _linked_sources(world: World, book: CaseBook, cafcass: dict[str, pd.DataFrame], chunk: int,
                    project_key: str, cohort: Cohort, index: PreparedIndex,
                    people: dict[str, tuple[pd.DataFrame, np.ndarray]],
                    tables: dict[str, pd.DataFrame], rng: np.random.Generator
                    ) -> dict[str, pd.DataFrame]:
    """Link the Cafcass file, make and link every other source, de-identify: ``tables`` (which
    holds the recaptured Cafcass people) gains each table as it is made, and is returned."""
    cafcass_links = _link(world, {"cafcass_people": people["cafcass_people"]}, project_key, index)
    safe = cafcass_links["alf_sts_cd"].isin(SAFE_STATUSES).to_numpy()
    seen_in_proceedings = np.unique(cafcass_links["matched"].to_numpy()[safe])

    court = court_records(world, book, load_params("familyman"), dfj_areas(), chunk, rng)
    tables.update(_court_tables(court, cafcass, chunk, world, rng, people))
    health = simulate_health(world, cohort, load_params("health"), rng, seen_in_proceedings)
    tables.update(_health_tables(health, world, cohort, chunk, rng, people))
    education = simulate_education(world, cohort, load_params("education"), rng)
    tables.update(_education_tables(education, world, chunk, rng, people))
    episodes = simulate_looked_after(world, cohort, book, load_params("cla"), rng)
    tables.update(_cla_tables(episodes, world, chunk, rng, people))
    deaths = death_registrations(world, cohort, load_params("deaths"), rng)
    tables.update(_death_tables(deaths, world, chunk, rng, people))

    others = {file: value for file, value in people.items() if file != "cafcass_people"}
    links = pd.concat([cafcass_links, _link(world, others, project_key, index)], ignore_index=True)
    extract = _extract_filter(links, cohort, world, project_key)
    tables.update(tre_view(tables, cafcass, links, extract, world, project_key))
    tables.update(_answer_key(links, people, world, cohort, project_key))
    tables["linkage_pair_sample"] = labelled_pairs(
        tables["cafcass_people"], people["cafcass_people"][1], tables["health_patients"],
        people["health_patients"][1], rng)
    return tables


# ------------------------------------------------------------------------------ providers

def _positions(world: World) -> pd.Series:
    return pd.Series(np.arange(world.size), index=world.person_id)


def _days(dates: pd.Series) -> np.ndarray:
    values = pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)
    return np.where(pd.isna(dates).to_numpy(), NO_DATE, values)


def _captured_columns(world: World, persons: np.ndarray, days: np.ndarray, source: str,
                      rng: np.random.Generator) -> pd.DataFrame:
    rec = capture_identities(world, persons, days, source, rng).records
    dob = rec["date_of_birth"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "nhs_number": rec["nhs_number"].to_numpy(), "forename": rec["forename"].to_numpy(),
        "surname": rec["surname"].to_numpy(),
        "date_of_birth": np.where(dob == NO_DATE, np.datetime64("NaT"),
                                  dob.astype("datetime64[D]")),
        "sex": rec["sex"].to_numpy(), "postcode": rec["postcode"].to_numpy()})


def _recapture(frame: pd.DataFrame, world: World, persons: np.ndarray, days: np.ndarray,
               source: str, rng: np.random.Generator) -> pd.DataFrame:
    out = frame.copy()
    captured = _captured_columns(world, persons, days, source, rng)
    for col in captured.columns:
        if col in out.columns:
            out[col] = captured[col].to_numpy()
    return out


def _identifier_file(id_column: str, ids: np.ndarray, world: World, persons: np.ndarray,
                     days: np.ndarray, source: str, rng: np.random.Generator,
                     nhs: bool = True) -> pd.DataFrame:
    captured = _captured_columns(world, persons, days, source, rng)
    if not nhs:
        captured = captured.drop(columns="nhs_number")
    captured.insert(0, id_column, ids)
    return captured


def _records_per_person(persons: np.ndarray, source: str, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Each person's records in a source: (person of each record, record number 0..k-1)."""
    counts = record_counts(persons.size, source, rng)
    owner = np.repeat(persons, counts)
    number = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, number


def _assign_records(event_person: np.ndarray, owner: np.ndarray,
                    record_ids: np.ndarray, split: np.ndarray | None,
                    rng: np.random.Generator) -> np.ndarray:
    """The record each event is filed under: one of its person's records.

    With ``split`` (each event's position in its person's time order, 0..1) a person's later
    events go to later records, as when a child starts a new school under a new pupil record.
    """
    uniq, first, n_records = np.unique(owner, return_index=True, return_counts=True)
    pos = np.searchsorted(uniq, event_person)
    n_rec = n_records[pos]
    pick = (split * n_rec).astype(np.int64).clip(max=n_rec - 1) if split is not None else (
        rng.random(event_person.size) * n_rec).astype(np.int64)
    return record_ids[first[pos] + pick]


def _court_tables(court, cafcass, chunk, world, rng, people) -> dict[str, pd.DataFrame]:
    cases = court.cases
    hash_of = pd.Series(cases["case_number_hash"].to_numpy(), index=cases["case_no"].to_numpy())
    parties = court.parties
    party_ids = record_ids("FP", chunk, len(parties), rng, width=9)
    persons = parties["person"].to_numpy(dtype=np.int64)
    ident = _identifier_file("party_id", party_ids, world, persons,
                             parties["record_day"].to_numpy(dtype=np.int64), "familyman", rng,
                             nhs=False)
    ident.insert(1, "case_number_hash", hash_of.reindex(parties["case_no"]).to_numpy())
    ident.insert(2, "party_role", parties["party_role"].to_numpy())
    people["familyman_parties"] = (ident, persons)
    events = court.events
    return {
        "familyman_cases": pd.DataFrame({
            "case_number_hash": cases["case_number_hash"], "case_type": cases["case_type"],
            "court_code": cases["court_code"], "issue_date": _dates(cases["issue_day"]),
            "disposal_date": _dates(cases["disposal_day"])}),
        "familyman_events": pd.DataFrame({
            "case_number_hash": hash_of.reindex(events["case_no"]).to_numpy(),
            "event_date": _dates(events["event_day"]), "event_category": events["event_category"],
            "event_type": events["event_type"]}),
        "familyman_parties": ident,
    }


def _health_tables(health, world, cohort: Cohort, chunk, rng, people) -> dict[str, pd.DataFrame]:
    owner, number = _records_per_person(cohort.persons, "health", rng)
    ids = record_ids("H", chunk, owner.size, rng, width=9)
    reg = health.registrations
    first_reg = reg.drop_duplicates("person").set_index("person")["start_day"]
    start = first_reg.reindex(owner).fillna(world.start_day).to_numpy(dtype=np.int64)
    start = np.maximum(start, world.start_day)
    later = start + (rng.random(owner.size) * np.maximum(world.end_day - start, 1)).astype(np.int64)
    days = np.where(number == 0, start, later)
    ident = _identifier_file("health_patient_id", ids, world, owner, days, "health", rng)
    people["health_patients"] = (ident, owner)

    def filed(persons: np.ndarray) -> np.ndarray:
        return _assign_records(persons, owner, ids, None, rng)

    chapters = load_params("health")["chapters"]
    adm, ed, mat = health.admissions, health.attendances, health.maternity
    in_extract = np.zeros(world.size, dtype=bool)
    in_extract[cohort.persons] = True
    register = health.births
    baby = register["baby"].to_numpy(dtype=np.int64)
    baby_ids = np.full(baby.size, None, dtype=object)
    baby_ids[in_extract[baby]] = filed(baby[in_extract[baby]])
    birth_ids = record_ids("B", chunk, len(register), rng, width=9)
    mother_ids = filed(register["mother"].to_numpy(dtype=np.int64))
    # A birth in the period has one id, one mother record and one baby record in both tables.
    row_of = pd.Series(np.arange(len(register)), index=baby).reindex(
        mat["baby"].to_numpy(dtype=np.int64)).to_numpy()
    # GP registrations stay with the first record: the practice list holds one registration.
    first_id = pd.Series(ids[number == 0], index=owner[number == 0])
    return {
        "health_patients": ident,
        "health_admissions": pd.DataFrame({
            "spell_id": record_ids("S", chunk, len(adm), rng, width=9),
            "health_patient_id": filed(adm["person"].to_numpy(dtype=np.int64)),
            "admission_date": _dates(adm["admission_day"]),
            "discharge_date": _dates(adm["discharge_day"]),
            "admission_method": adm["method"].to_numpy(),
            "diagnosis_code": adm["diagnosis_code"].to_numpy(),
            "diagnosis_chapter": adm["diagnosis_code"].str[0].map(chapters).to_numpy()}),
        "health_ed_attendances": pd.DataFrame({
            "attendance_id": record_ids("A", chunk, len(ed), rng, width=9),
            "health_patient_id": filed(ed["person"].to_numpy(dtype=np.int64)),
            "attendance_date": _dates(ed["attendance_day"]),
            "diagnosis_code": ed["diagnosis_code"].to_numpy(),
            "diagnosis_chapter": ed["diagnosis_code"].str[0].map(chapters).to_numpy()}),
        "health_gp_registrations": pd.DataFrame({
            "health_patient_id": first_id.reindex(reg["person"]).to_numpy(),
            "practice_code": np.char.add("GP", np.char.zfill(
                reg["practice"].to_numpy().astype(str), 5)).astype(object),
            "start_date": _dates(reg["start_day"]), "end_date": _dates(reg["end_day"])}),
        "health_births": pd.DataFrame({
            "birth_id": birth_ids, "mother_patient_id": mother_ids, "baby_patient_id": baby_ids,
            "birth_date": _dates(register["birth_day"])}),
        "health_maternity": pd.DataFrame({
            "birth_id": birth_ids[row_of],
            "mother_patient_id": mother_ids[row_of],
            "baby_patient_id": baby_ids[row_of],
            "birth_date": _dates(mat["birth_day"]),
            "gestation_weeks": mat["gestation_weeks"].to_numpy(dtype=np.int64),
            "preterm": mat["gestation_weeks"].to_numpy() < 37,
            "smoking_at_booking": mat["smoking_at_booking"].to_numpy(dtype=bool),
            "booking_gestation_weeks": mat["booking_weeks"].to_numpy(dtype=np.int64)}),
    }


def _education_tables(education, world, chunk, rng, people) -> dict[str, pd.DataFrame]:
    census = education.census.sort_values(["person", "census_day"], kind="stable",
                                          ignore_index=True)
    pupils = np.unique(census["person"].to_numpy(dtype=np.int64))
    owner, number = _records_per_person(pupils, "education", rng)
    ids = record_ids("U", chunk, owner.size, rng, width=9)
    first_day = census.groupby("person")["census_day"].min()
    last_day = census.groupby("person")["census_day"].max()
    span = (last_day - first_day).reindex(owner).to_numpy()
    k = pd.Series(number).groupby(owner).transform("max").to_numpy() + 1
    days = first_day.reindex(owner).to_numpy() + (span * number / k).astype(np.int64)
    ident = _identifier_file("pupil_id", ids, world, owner, days, "education", rng, nhs=False)
    people["education_pupils"] = (ident, owner)
    person = census["person"].to_numpy(dtype=np.int64)
    rank = census.groupby("person").cumcount().to_numpy()
    size = census.groupby("person")["census_day"].transform("size").to_numpy()
    census_ids = _assign_records(person, owner, ids, rank / size, rng)
    att = education.attainment
    att = att[np.isin(att["person"].to_numpy(dtype=np.int64), owner)]  # pupils on the census only
    att_ids = _assign_records(att["person"].to_numpy(dtype=np.int64), owner, ids,
                              np.full(len(att), 0.999), rng)
    return {
        "education_pupils": ident,
        "education_census": pd.DataFrame({
            "pupil_id": census_ids, "academic_year": census["academic_year"].to_numpy(),
            "census_date": _dates(census["census_day"]), "ncy": census["ncy"].to_numpy(),
            "school_id": census["school"].to_numpy(), "fsm": census["fsm"].to_numpy(),
            "sen": census["sen"].to_numpy(),
            "sessions_possible": census["sessions_possible"].to_numpy(),
            "sessions_absent": census["sessions_absent"].to_numpy(),
            "suspensions": census["suspensions"].to_numpy(),
            "permanent_exclusion": census["permanent_exclusion"].to_numpy()}),
        "education_attainment": pd.DataFrame({
            "pupil_id": att_ids, "key_stage": att["key_stage"].to_numpy(),
            "academic_year": att["academic_year"].to_numpy(),
            "ks2_expected_standard": att["ks2_expected_standard"].to_numpy(),
            "attainment8": att["attainment8"].to_numpy()}),
    }


def _cla_tables(episodes, world, chunk, rng, people) -> dict[str, pd.DataFrame]:
    episodes = episodes.sort_values(["person", "episode_start"], kind="stable", ignore_index=True)
    children = np.unique(episodes["person"].to_numpy(dtype=np.int64))
    owner, number = _records_per_person(children, "cla", rng)
    ids = record_ids("L", chunk, owner.size, rng, width=8)
    first = episodes.groupby("person")["episode_start"].min()
    days = first.reindex(owner).to_numpy(dtype=np.int64)
    ident = _identifier_file("cla_child_id", ids, world, owner, days, "cla", rng, nhs=False)
    la = world.la_at(owner, days)
    ident["la_code"] = np.where(la >= 0, world.las["la_code"].to_numpy()[la.clip(min=0)], None)
    people["cla_children"] = (ident, owner)
    person = episodes["person"].to_numpy(dtype=np.int64)
    rank = episodes.groupby("person").cumcount().to_numpy()
    size = episodes.groupby("person")["episode_start"].transform("size").to_numpy()
    return {
        "cla_children": ident,
        "cla_episodes": pd.DataFrame({
            "episode_id": record_ids("E", chunk, len(episodes), rng, width=9),
            "cla_child_id": _assign_records(person, owner, ids, rank / size, rng),
            "episode_start": _dates(episodes["episode_start"]),
            "episode_end": _dates(episodes["episode_end"]),
            "legal_status": episodes["legal_status"].to_numpy(),
            "placement_type": episodes["placement_type"].to_numpy(),
            "reason_ceased": episodes["reason_ceased"].to_numpy()}),
    }


def _death_tables(deaths, world, chunk, rng, people) -> dict[str, pd.DataFrame]:
    persons = deaths["person"].to_numpy(dtype=np.int64)
    ids = record_ids("D", chunk, persons.size, rng, width=8)
    ident = _identifier_file("death_id", ids, world, persons,
                             deaths["death_day"].to_numpy(dtype=np.int64), "deaths", rng)
    ident["date_of_death"] = _dates(deaths["death_day"])
    ident["registration_date"] = _dates(deaths["registration_day"])
    ident["cause_chapter"] = deaths["cause_chapter"].to_numpy()
    people["death_registrations"] = (ident, persons)
    return {"death_registrations": ident}


def _dates(days) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64)
    return np.where(d == NO_DATE, np.datetime64("NaT"), d.astype("datetime64[D]"))



# ------------------------------------------------------------------- trusted third party

def _link(world: World, people: dict, project_key: str, index: PreparedIndex) -> pd.DataFrame:
    """Identifier files through the trusted third party in one pass (each record is matched on
    its own, so files may go in separate passes)."""
    frames = []
    for file, (records, persons) in people.items():
        id_col = IDENTIFIER_FILES[file][1]
        dob = records["date_of_birth"]
        dob_days = _days(dob)
        frames.append(pd.DataFrame({
            "source": file, "record_id": records[id_col].to_numpy(), "truth": persons,
            "forename": records["forename"].to_numpy(), "surname": records["surname"].to_numpy(),
            "sex": records["sex"].to_numpy(), "date_of_birth": dob_days,
            "nhs_number": records["nhs_number"].to_numpy() if "nhs_number" in records else None,
            "postcode": records["postcode"].to_numpy()}))
    sent = pd.concat(frames, ignore_index=True)
    result = link_to_index(sent[["forename", "surname", "sex", "date_of_birth", "nhs_number",
                                 "postcode"]], index)
    matched = result["person"].to_numpy(dtype=np.int64)
    matched_id = np.where(matched >= 0, world.person_id[matched.clip(min=0)], -1)
    alf = anonymised_linking_field(matched_id, project_key)
    return pd.DataFrame({
        "source": sent["source"], "record_id": sent["record_id"], "truth": sent["truth"],
        "matched": matched, "alf_pe": np.where(matched >= 0, alf, -1),
        "alf_sts_cd": result["alf_sts_cd"].to_numpy(dtype=np.int64),
        "alf_mtch_pct": result["alf_mtch_pct"].to_numpy(dtype=float)})


def population_index(world: World, outside: np.ndarray) -> PopulationIndex:
    """The register the trusted third party matches to: everyone it holds, every address.

    ``outside`` holds the positions of the people the register misses. Text columns that repeat
    (names, sex, postcodes) are passed as categoricals: building them costs a fraction of
    converting millions of strings, and the matcher standardises each distinct value once.
    """
    held = np.ones(world.size, dtype=bool)
    held[np.asarray(outside, dtype=np.int64)] = False
    kept = np.flatnonzero(held)
    people = pd.DataFrame({"person": kept.astype(np.int64),
                           "forename": _categorical(world.forename, kept),
                           "surname": _categorical(world.surname, kept),
                           "sex": _categorical(world.sex, kept),
                           "dob": world.dob[kept].astype(np.int64),
                           "nhs_number": pd.Series(world.nhs_number[kept], dtype=object)})
    who, idx = home_spells(world, kept)
    who = kept[who]
    codes, postcodes = pd.factorize(world.residences.postcode)
    codes = codes[idx]
    # One row per (person, postcode), first occurrence kept, in the order of the spells. A
    # stable sort finds repeats several times faster than hashing 8 million keys.
    key = who * np.int64(len(postcodes) + 1) + codes
    order = np.argsort(key, kind="stable")
    first = np.ones(key.size, dtype=bool)
    first[order[1:]] = key[order[1:]] != key[order[:-1]]
    return PopulationIndex(people=people, postcodes=pd.DataFrame({
        "person": who[first].astype(np.int64),
        "postcode": pd.Categorical.from_codes(codes[first], categories=postcodes)}))


def _categorical(values: np.ndarray, rows: np.ndarray) -> pd.Categorical:
    """``values[rows]`` as a categorical over the distinct values of ``values``."""
    codes, uniques = pd.factorize(values)
    return pd.Categorical.from_codes(codes[rows], categories=uniques)


def _extract_filter(links: pd.DataFrame, cohort: Cohort, world: World,
                    project_key: str) -> np.ndarray:
    """Which records the project extract holds: family justice records, and the linked sources'
    records whose ALF belongs to the cohort (matched family justice people or the sample)."""
    fj = links["source"].isin(("cafcass_people", "familyman_parties")).to_numpy()
    comparison = cohort.persons[cohort.comparison]
    cohort_persons = np.union1d(links.loc[fj & (links["matched"] >= 0), "matched"].to_numpy(),
                                comparison)
    by_alf = links["source"].isin(EXTRACTED_BY_ALF).to_numpy()
    return fj | (by_alf & np.isin(links["matched"].to_numpy(), cohort_persons))


def _answer_key(links: pd.DataFrame, people: dict, world: World, cohort: Cohort,
                project_key: str) -> dict[str, pd.DataFrame]:
    truth_id = world.person_id[links["truth"].to_numpy(dtype=np.int64)]
    matched = links["matched"].to_numpy()
    matched_id = np.where(matched >= 0, world.person_id[matched.clip(min=0)], 0)
    linked_sources = links["source"] != "cafcass_people"
    return {
        "record_person_key": pd.DataFrame({
            "source": links.loc[linked_sources, "source"].to_numpy(),
            "record_id": links.loc[linked_sources, "record_id"].to_numpy(),
            "person_id": truth_id[linked_sources.to_numpy()]}),
        "ttp_links": pd.DataFrame({
            "source": links["source"].to_numpy(), "record_id": links["record_id"].to_numpy(),
            "person_id": truth_id,
            "matched_person_id": pd.arrays.IntegerArray(matched_id.astype(np.int64),
                                                        mask=matched < 0),
            "alf_sts_cd": links["alf_sts_cd"].to_numpy(),
            "alf_mtch_pct": links["alf_mtch_pct"].to_numpy(),
            "true_alf_pe": anonymised_linking_field(truth_id, project_key),
            "correct": pd.arrays.BooleanArray(matched_id == truth_id, mask=matched < 0)}),
        "cohort_truth": pd.DataFrame({
            "person_id": world.person_id[cohort.persons],
            "alf_pe": anonymised_linking_field(world.person_id[cohort.persons], project_key),
            "in_cases": cohort.in_cases, "comparison_sample": cohort.comparison,
            "group": cohort.group}),
    }
