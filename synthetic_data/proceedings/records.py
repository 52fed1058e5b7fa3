"""From truth to records: the tables a Cafcass-like case system, and the answer key, would hold.

The recording quirks live here and only here: ethnicity missing (mostly before 2017), newborns
recorded as "Baby <surname>", late entries that revise published monthly figures, NHS numbers
rarely held. Parameters: ``params/recording.yaml``. Every table returned matches its definition
in ``schema.py``. Each table is made by one function below; ``cafcass_tables`` calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic_data.capture.apply import record_counts
from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, calendar_year
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.world.people import ETHNIC_GROUPS, World
from synthetic_data.world.tables import date_or_none

SERVICE = {"England": "Cafcass", "Wales": "Cafcass Cymru"}


def record_ids(prefix: str, chunk: int, n: int, rng: np.random.Generator, width: int = 8) -> np.ndarray:
    """Opaque, unique references: random numbers, so their order reveals nothing."""
    numbers = rng.choice(10**width, size=n, replace=False) if n else np.empty(0, np.int64)
    # f"{prefix}{chunk:02d}{x:0{width}d}" for every x, written as digit bytes all at once.
    head = np.frombuffer(f"{prefix}{chunk:02d}".encode("ascii"), dtype=np.uint8)
    chars = np.empty((numbers.size, head.size + width), dtype=np.uint8)
    chars[:, :head.size] = head
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    chars[:, head.size:] = np.asarray(numbers, dtype=np.int64)[:, None] // powers % 10 + ord("0")
    size = chars.shape[1]
    return chars.view(f"S{size}").reshape(-1).astype(f"U{size}").astype(object)


def person_records(appearances: pd.DataFrame, rng: np.random.Generator,
                   params: dict | None = None) -> pd.DataFrame:
    """Which Cafcass record each person's case was entered under.

    ``appearances`` holds case_no, person and day (the case's receipt). A person in m cases
    has k records (``records_per_person`` of the cafcass capture source, at most m): the
    first case and all but the last k-1 share the first record, and each of the last k-1 cases
    opened a new one, as when a returning person is not found on the system. Returns one row
    per person and case with ``record`` numbered 0.. in order of person, then first day.
    """
    seen = appearances.drop_duplicates(["person", "case_no"]).sort_values(
        ["person", "day", "case_no"], kind="stable", ignore_index=True)
    person = seen["person"].to_numpy(dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    n_cases = np.diff(np.r_[starts, person.size])
    k = np.minimum(record_counts(starts.size, "cafcass", rng, params), n_cases)
    rank = np.arange(person.size) - np.repeat(starts, n_cases)
    within = np.maximum(0, rank - np.repeat(n_cases - k, n_cases))
    new_record = np.r_[True, (person[1:] != person[:-1]) | (within[1:] != within[:-1])]
    return pd.DataFrame({"person": person, "case_no": seen["case_no"].to_numpy(),
                         "day": seen["day"].to_numpy(dtype=np.int64),
                         "record": np.cumsum(new_record) - 1})


@dataclass(frozen=True)
class PersonRecords:
    """The Cafcass person records of a chunk, and which record each case's party is under."""

    persons: np.ndarray  # world position behind each record, in record order
    first_day: np.ndarray  # receipt day of the case each record was made at
    person_ref: np.ndarray  # cafcass_person_id of each record
    by_case: pd.Series  # cafcass_person_id by (person, case_no)

    def ref_of(self, person: np.ndarray, case_no: pd.Series | np.ndarray) -> np.ndarray:
        """The record a case's party was entered under."""
        return self.by_case.reindex(pd.MultiIndex.from_arrays(
            [np.asarray(person, dtype=np.int64), np.asarray(case_no)])).to_numpy()


def cafcass_tables(world: World, book: CaseBook, params: dict, chunk: int,
                   rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The identifiable Cafcass tables and the answer-key tables that explain them.

    The steps run in the order they draw random numbers (case ids, entry days, person records
    and their ids, missing ethnicity, then hearing, order and application ids): the same order
    gives the same data.
    """
    cases = book.frame("cases").sort_values("case_no", kind="stable", ignore_index=True)
    children, adults = book.frame("children"), book.frame("adults")
    case_id = record_ids("C", chunk, len(cases), rng)
    case_id_of = pd.Series(case_id, index=cases["case_no"].to_numpy())

    table_cases = cases_table(world, cases, case_id, params["late_recording"], rng)
    records = cafcass_person_records(cases, children, adults, chunk, rng)
    people = people_table(world, records, children, params["ethnicity"], rng)
    parties = parties_table(world, cases, children, adults, case_id_of, records)
    relationships = relationships_table(book.frame("relationships"), case_id_of, records)
    hearings = hearings_table(book.frame("hearings"), case_id_of, chunk, rng)
    orders = orders_table(book.frame("orders"), case_id_of, records, chunk, rng)
    applications = applications_table(book.frame("applications"), case_id_of, chunk, rng)
    return {
        "cafcass_cases": table_cases,
        "cafcass_applications": applications,
        "cafcass_people": people,
        "cafcass_case_parties": parties,
        "cafcass_relationships": relationships,
        "cafcass_hearings": hearings,
        "cafcass_orders": orders,
        "cafcass_published_demand": published_demand(table_cases, params),
        "cafcass_person_key": person_key(world, records),
        "cafcass_case_truth": case_truth(world, cases, children, case_id),
    }


def recorded_days(issue: np.ndarray, end_day: int, late_p: dict,
                  rng: np.random.Generator) -> np.ndarray:
    """The day each case was entered on the system: within days of receipt, some much later.

    Nothing is recorded after the end of the period (when the data were extracted): a case
    received in its last days was entered within the days left.
    """
    n = issue.size
    late = rng.random(n) < late_p["share_late"]
    lo, hi = np.where(late, late_p["late_days"][0], late_p["on_time_days"][0]), np.where(
        late, late_p["late_days"][1], late_p["on_time_days"][1])
    left = np.maximum(end_day - issue, 0)
    hi = np.minimum(hi, left)
    lo = np.minimum(lo, hi)
    return issue + lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)


def cases_table(world: World, cases: pd.DataFrame, case_id: np.ndarray, late_p: dict,
                rng: np.random.Generator) -> pd.DataFrame:
    """One row per case: where, when received, entered and finished, and what was asked for."""
    issue = cases["issue_day"].to_numpy(dtype=np.int64)
    final = cases["final_day"].to_numpy(dtype=np.int64)
    recorded = recorded_days(issue, world.end_day, late_p, rng)
    la_codes = world.las["la_code"].to_numpy()
    la_index = cases["la_index"].to_numpy(dtype=np.int64)
    dfj = world.las["dfj_area_id"].to_numpy()
    is_private = cases["law_type"].to_numpy() == "private"
    return pd.DataFrame({
        "case_id": case_id,
        "law_type": cases["law_type"].to_numpy(),
        "service": pd.Series(cases["country"]).map(SERVICE).to_numpy(),
        "la_code": la_codes[la_index],
        "dfj_area_id": dfj[la_index],
        "received_date": date_or_none(issue),
        "recorded_date": date_or_none(recorded),
        "final_order_date": date_or_none(final),
        "case_status": np.where(final == NO_DATE, "open", "closed"),
        "duration_weeks": np.where(final == NO_DATE, np.nan, np.round((final - issue) / 7, 1)),
        "primary_application": cases["primary_application"].to_numpy(),
        "previous_cases": cases["prior_cases"].to_numpy(dtype=np.int64),
        "domestic_abuse_alleged": pd.array(
            np.where(is_private, cases["da_alleged"].to_numpy(), None), dtype="boolean"),
        "alleged_victim": cases["da_victim"].to_numpy(),
    }).sort_values("case_id", ignore_index=True)


def cafcass_person_records(cases: pd.DataFrame, children: pd.DataFrame, adults: pd.DataFrame,
                           chunk: int, rng: np.random.Generator) -> PersonRecords:
    """A record per person, made at their first case; a later case sometimes makes a second
    record instead of finding the first (params/capture.yaml, cafcass duplicates)."""
    appearances = pd.concat([
        pd.DataFrame({"case_no": children["case_no"], "person": children["person"]}),
        pd.DataFrame({"case_no": adults["case_no"], "person": adults["person"]}),
    ])
    appearances["day"] = cases.set_index("case_no")["issue_day"].reindex(
        appearances["case_no"]).to_numpy()
    record_of_case = person_records(appearances, rng)
    first = record_of_case.drop_duplicates("record")  # sorted by record: person, then day
    persons = first["person"].to_numpy(dtype=np.int64)
    person_ref = record_ids("P", chunk, persons.size, rng, width=9)
    by_case = pd.Series(person_ref[record_of_case["record"].to_numpy()],
                        index=pd.MultiIndex.from_arrays([record_of_case["person"].to_numpy(),
                                                         record_of_case["case_no"].to_numpy()]))
    return PersonRecords(persons, first["day"].to_numpy(dtype=np.int64), person_ref, by_case)


def people_table(world: World, records: PersonRecords, children: pd.DataFrame, eth_p: dict,
                 rng: np.random.Generator) -> pd.DataFrame:
    """The person records with the true identifiers, as at the first case.

    The linked-sources step recaptures the identifiers through Cafcass's capture model
    (params/capture.yaml: "Baby" newborns, missing NHS numbers, typos ...); ethnicity is left
    missing here, more often before the 2017 change in recording.
    """
    persons, first_day = records.persons, records.first_day
    year = calendar_year(first_day)
    missing = rng.random(persons.size) < np.where(
        year < eth_p["change_year"], eth_p["missing_before_2017"], eth_p["missing_from_2017"])
    ethnicity = np.array(ETHNIC_GROUPS, dtype=object)[world.ethnicity[persons]]
    ethnicity = np.where(missing, None, ethnicity)

    is_child = np.isin(persons, children["person"].to_numpy())
    home = world.home_person[persons]
    res = world.residence_index_at(home, first_day)
    postcode = np.where(res >= 0, world.residences.postcode[res.clip(min=0)], None)
    return pd.DataFrame({
        "cafcass_person_id": records.person_ref,
        "person_type": np.where(is_child, "child", "adult"),
        "forename": world.forename[persons],
        "surname": world.surname[persons],
        "sex": world.sex[persons],
        "date_of_birth": date_or_none(world.dob[persons]),
        "ethnicity": ethnicity,
        "nhs_number": world.nhs_number[persons],
        "postcode": postcode,
        "first_case_received_date": date_or_none(first_day),
    }).sort_values("cafcass_person_id", ignore_index=True)


def parties_table(world: World, cases: pd.DataFrame, children: pd.DataFrame,
                  adults: pd.DataFrame, case_id_of: pd.Series,
                  records: PersonRecords) -> pd.DataFrame:
    """Subject children and adults of each case, with ages at the case's receipt."""
    issue_of = cases.set_index("case_no")["issue_day"]
    c_issue = issue_of.reindex(children["case_no"]).to_numpy(dtype=np.int64)
    c_person = children["person"].to_numpy(dtype=np.int64)
    a_issue = issue_of.reindex(adults["case_no"]).to_numpy(dtype=np.int64)
    a_person = adults["person"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "case_id": np.concatenate([case_id_of.reindex(children["case_no"]).to_numpy(),
                                   case_id_of.reindex(adults["case_no"]).to_numpy()]),
        "cafcass_person_id": np.concatenate([records.ref_of(c_person, children["case_no"]),
                                             records.ref_of(a_person, adults["case_no"])]),
        "party_role": np.concatenate([np.full(c_person.size, "subject_child", object),
                                      adults["party_role"].to_numpy()]),
        "relationship": np.concatenate([np.full(c_person.size, None, object),
                                        adults["relationship"].to_numpy()]),
        "age_at_application": np.floor(np.concatenate([
            (c_issue - world.dob[c_person]), (a_issue - world.dob[a_person])]) / DAYS_PER_YEAR
        ).astype(np.int64),
        "age_at_application_days": np.concatenate([c_issue - world.dob[c_person],
                                                   a_issue - world.dob[a_person]]),
        "final_outcome": np.concatenate([children["outcome"].to_numpy(),
                                         np.full(a_person.size, None, object)]),
    }).sort_values(["case_id", "party_role", "cafcass_person_id"], ignore_index=True)


def relationships_table(rel: pd.DataFrame, case_id_of: pd.Series,
                        records: PersonRecords) -> pd.DataFrame:
    """How each adult party is related to each child of the case, by their records."""
    return pd.DataFrame({
        "case_id": case_id_of.reindex(rel["case_no"]).to_numpy(),
        "adult_person_id": records.ref_of(rel["adult"].to_numpy(dtype=np.int64), rel["case_no"]),
        "child_person_id": records.ref_of(rel["child"].to_numpy(dtype=np.int64), rel["case_no"]),
        "relationship": rel["relationship"].to_numpy(),
    }).drop_duplicates().sort_values(["case_id", "adult_person_id", "child_person_id"],
                                     ignore_index=True)


def hearings_table(hearings: pd.DataFrame, case_id_of: pd.Series, chunk: int,
                   rng: np.random.Generator) -> pd.DataFrame:
    """One row per hearing, with its own reference."""
    hearings = hearings.sort_values(["case_no", "day"], kind="stable", ignore_index=True)
    return pd.DataFrame({
        "hearing_id": record_ids("H", chunk, len(hearings), rng),
        "case_id": case_id_of.reindex(hearings["case_no"]).to_numpy(),
        "hearing_date": date_or_none(hearings["day"].to_numpy(dtype=np.int64)),
        "hearing_type": hearings["hearing_type"].to_numpy(),
    }).sort_values("hearing_id", ignore_index=True)


def orders_table(orders: pd.DataFrame, case_id_of: pd.Series, records: PersonRecords,
                 chunk: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per order about a child, under the child's record in that case."""
    orders = orders.sort_values(["case_no", "day", "person"], kind="stable", ignore_index=True)
    return pd.DataFrame({
        "order_id": record_ids("O", chunk, len(orders), rng),
        "case_id": case_id_of.reindex(orders["case_no"]).to_numpy(),
        "cafcass_person_id": records.ref_of(orders["person"].to_numpy(dtype=np.int64),
                                            orders["case_no"]),
        "order_type": orders["order_type"].to_numpy(),
        "order_date": date_or_none(orders["day"].to_numpy(dtype=np.int64)),
        "is_final": orders["is_final"].to_numpy(dtype=bool),
    }).sort_values("order_id", ignore_index=True)


def applications_table(apps: pd.DataFrame, case_id_of: pd.Series, chunk: int,
                       rng: np.random.Generator) -> pd.DataFrame:
    """One row per application: a case's first, and any made during it."""
    apps = apps.sort_values(["case_no", "day"], kind="stable", ignore_index=True)
    return pd.DataFrame({
        "application_id": record_ids("A", chunk, len(apps), rng),
        "case_id": case_id_of.reindex(apps["case_no"]).to_numpy(),
        "application_type": apps["application_type"].to_numpy(),
        "application_date": date_or_none(apps["day"].to_numpy(dtype=np.int64)),
    }).sort_values("application_id", ignore_index=True)


def person_key(world: World, records: PersonRecords) -> pd.DataFrame:
    """Answer key: the world person behind each Cafcass record."""
    return pd.DataFrame({"cafcass_person_id": records.person_ref,
                         "person_id": world.person_id[records.persons]}).sort_values(
        "cafcass_person_id", ignore_index=True)


def case_truth(world: World, cases: pd.DataFrame, children: pd.DataFrame,
               case_id: np.ndarray) -> pd.DataFrame:
    """Answer key: how each case arose (a fresh family, or one coming back, and why)."""
    is_private = cases["law_type"].to_numpy() == "private"
    first_child = children.drop_duplicates("case_no").set_index("case_no")["person"]
    mum = world.mother[first_child.reindex(cases["case_no"]).to_numpy(dtype=np.int64)]
    route = np.where(~cases["returning"].to_numpy(dtype=bool), "fresh",
                     np.where(is_private, "returning_family", cases["return_reason"].to_numpy()))
    return pd.DataFrame({
        "case_id": case_id,
        "mother_id": pd.array(np.where(mum >= 0, world.person_id[mum.clip(min=0)], None),
                              dtype="Int64"),
        "return_route": route,
        "return_reason": np.where(is_private & cases["returning"].to_numpy(dtype=bool),
                                  cases["return_reason"].to_numpy(), None),
    }).sort_values("case_id", ignore_index=True)


def published_demand(cases: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Monthly counts as first published (entries in by the publication date) and as revised."""
    lag = params["late_recording"]["publication_lag_days"]
    received = cases["received_date"].to_numpy().astype("datetime64[D]")
    month = received.astype("datetime64[M]")
    publication = (month + 1).astype("datetime64[D]") + lag
    in_time = cases["recorded_date"].to_numpy().astype("datetime64[D]") <= publication
    frame = pd.DataFrame({
        "month": month.astype(str),
        "service": cases["service"].to_numpy(),
        "law_type": cases["law_type"].to_numpy(),
        "first_published": in_time.astype(np.int64),
        "revised": np.ones(len(cases), dtype=np.int64),
    })
    return frame.groupby(["month", "service", "law_type"], as_index=False).sum().sort_values(
        ["month", "service", "law_type"], ignore_index=True)
