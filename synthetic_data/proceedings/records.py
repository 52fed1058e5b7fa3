"""From truth to records: the tables a Cafcass-like case system, and the answer key, would hold.

The recording quirks live here and only here: ethnicity missing (mostly before 2017), newborns
recorded as "Baby <surname>", late entries that revise published monthly figures, NHS numbers
rarely held. Parameters: ``params/recording.yaml``. Every table returned matches its definition
in ``schema.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, calendar_year
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.world.geography import dfj_areas
from synthetic_data.world.people import ETHNIC_GROUPS, ROLE_CHILD, ROLES, World

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


def _date_or_none(days: np.ndarray) -> np.ndarray:
    """int days to datetime64[D] with NaT for the NO_DATE sentinel."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    out[np.asarray(days) == NO_DATE] = np.datetime64("NaT")
    return out


def person_records(appearances: pd.DataFrame, rng: np.random.Generator,
                   params: dict | None = None) -> pd.DataFrame:
    """Which Cafcass record each person's case was entered under.

    ``appearances`` holds case_no, person and day (the case's receipt). A person in m cases
    has k records (``records_per_person`` of the cafcass capture source, at most m): the
    first case and all but the last k-1 share the first record, and each of the last k-1 cases
    opened a new one, as when a returning person is not found on the system. Returns one row
    per person and case with ``record`` numbered 0.. in order of person, then first day.
    """
    from synthetic_data.capture.apply import record_counts

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


def cafcass_tables(world: World, book: CaseBook, params: dict, chunk: int,
                   rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The identifiable Cafcass tables and the answer-key tables that explain them."""
    cases = book.frame("cases").sort_values("case_no", kind="stable", ignore_index=True)
    children = book.frame("children")
    adults = book.frame("adults")
    rel = book.frame("relationships")
    n_cases = len(cases)
    case_id = record_ids("C", chunk, n_cases, rng)
    case_id_of = pd.Series(case_id, index=cases["case_no"].to_numpy())

    issue = cases["issue_day"].to_numpy(dtype=np.int64)
    final = cases["final_day"].to_numpy(dtype=np.int64)
    late_p = params["late_recording"]
    late = rng.random(n_cases) < late_p["share_late"]
    lo, hi = np.where(late, late_p["late_days"][0], late_p["on_time_days"][0]), np.where(
        late, late_p["late_days"][1], late_p["on_time_days"][1])
    # Nothing is recorded after the end of the period (when the data were extracted): a case
    # received in its last days was entered within the days left.
    left = np.maximum(world.end_day - issue, 0)
    hi = np.minimum(hi, left)
    lo = np.minimum(lo, hi)
    recorded = issue + lo + (rng.random(n_cases) * (hi - lo + 1)).astype(np.int64)
    la_codes = world.las["la_code"].to_numpy()
    la_index = cases["la_index"].to_numpy(dtype=np.int64)
    dfj = world.las["dfj_area_id"].to_numpy()
    is_private = cases["law_type"].to_numpy() == "private"
    table_cases = pd.DataFrame({
        "case_id": case_id,
        "law_type": cases["law_type"].to_numpy(),
        "service": pd.Series(cases["country"]).map(SERVICE).to_numpy(),
        "la_code": la_codes[la_index],
        "dfj_area_id": dfj[la_index],
        "received_date": _date_or_none(issue),
        "recorded_date": _date_or_none(recorded),
        "final_order_date": _date_or_none(final),
        "case_status": np.where(final == NO_DATE, "open", "closed"),
        "duration_weeks": np.where(final == NO_DATE, np.nan, np.round((final - issue) / 7, 1)),
        "primary_application": cases["primary_application"].to_numpy(),
        "previous_cases": cases["prior_cases"].to_numpy(dtype=np.int64),
        "domestic_abuse_alleged": pd.array(
            np.where(is_private, cases["da_alleged"].to_numpy(), None), dtype="boolean"),
        "alleged_victim": cases["da_victim"].to_numpy(),
    })

    # People: a record per person, made at their first case; a later case sometimes makes a
    # second record instead of finding the first (params/capture.yaml, cafcass duplicates).
    appearances = pd.concat([
        pd.DataFrame({"case_no": children["case_no"], "person": children["person"]}),
        pd.DataFrame({"case_no": adults["case_no"], "person": adults["person"]}),
    ])
    appearances["day"] = cases.set_index("case_no")["issue_day"].reindex(
        appearances["case_no"]).to_numpy()
    record_of_case = person_records(appearances, rng)
    first = record_of_case.drop_duplicates("record")  # sorted by record: person, then day
    persons = first["person"].to_numpy(dtype=np.int64)
    first_day = first["day"].to_numpy(dtype=np.int64)
    n_people = persons.size
    person_ref = record_ids("P", chunk, n_people, rng, width=9)
    ref_by_case = pd.Series(person_ref[record_of_case["record"].to_numpy()],
                            index=pd.MultiIndex.from_arrays([record_of_case["person"].to_numpy(),
                                                             record_of_case["case_no"].to_numpy()]))

    def ref_of(person: np.ndarray, case_no: pd.Series | np.ndarray) -> np.ndarray:
        """The record a case's party was entered under."""
        return ref_by_case.reindex(pd.MultiIndex.from_arrays(
            [np.asarray(person, dtype=np.int64), np.asarray(case_no)])).to_numpy()

    eth_p = params["ethnicity"]
    year = calendar_year(first_day)
    missing = rng.random(n_people) < np.where(
        year < eth_p["change_year"], eth_p["missing_before_2017"], eth_p["missing_from_2017"])
    ethnicity = np.array(ETHNIC_GROUPS, dtype=object)[world.ethnicity[persons]]
    ethnicity = np.where(missing, None, ethnicity)

    # True identifiers: the linked-sources step recaptures them through Cafcass's capture model
    # (params/capture.yaml: "Baby" newborns, missing NHS numbers, typos ...).
    is_child = np.isin(persons, children["person"].to_numpy())
    home = world.home_person()[persons]
    res = world.residence_index_at(home, first_day)
    postcode = np.where(res >= 0, world.residences.postcode[res.clip(min=0)], None)
    table_people = pd.DataFrame({
        "cafcass_person_id": person_ref,
        "person_type": np.where(is_child, "child", "adult"),
        "forename": world.forename[persons],
        "surname": world.surname[persons],
        "sex": world.sex[persons],
        "date_of_birth": _date_or_none(world.dob[persons]),
        "ethnicity": ethnicity,
        "nhs_number": world.nhs_number[persons],
        "postcode": postcode,
        "first_case_received_date": _date_or_none(first_day),
    }).sort_values("cafcass_person_id", ignore_index=True)

    # Parties: subject children and adults, with ages at the case's receipt.
    issue_of = cases.set_index("case_no")["issue_day"]
    c_issue = issue_of.reindex(children["case_no"]).to_numpy(dtype=np.int64)
    c_person = children["person"].to_numpy(dtype=np.int64)
    a_issue = issue_of.reindex(adults["case_no"]).to_numpy(dtype=np.int64)
    a_person = adults["person"].to_numpy(dtype=np.int64)
    parties = pd.DataFrame({
        "case_id": np.concatenate([case_id_of.reindex(children["case_no"]).to_numpy(),
                                   case_id_of.reindex(adults["case_no"]).to_numpy()]),
        "cafcass_person_id": np.concatenate([ref_of(c_person, children["case_no"]),
                                             ref_of(a_person, adults["case_no"])]),
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

    relationships = pd.DataFrame({
        "case_id": case_id_of.reindex(rel["case_no"]).to_numpy(),
        "adult_person_id": ref_of(rel["adult"].to_numpy(dtype=np.int64), rel["case_no"]),
        "child_person_id": ref_of(rel["child"].to_numpy(dtype=np.int64), rel["case_no"]),
        "relationship": rel["relationship"].to_numpy(),
    }).drop_duplicates().sort_values(["case_id", "adult_person_id", "child_person_id"],
                                     ignore_index=True)

    hearings = book.frame("hearings").sort_values(["case_no", "day"], kind="stable",
                                                  ignore_index=True)
    table_hearings = pd.DataFrame({
        "hearing_id": record_ids("H", chunk, len(hearings), rng),
        "case_id": case_id_of.reindex(hearings["case_no"]).to_numpy(),
        "hearing_date": _date_or_none(hearings["day"].to_numpy(dtype=np.int64)),
        "hearing_type": hearings["hearing_type"].to_numpy(),
    })
    orders = book.frame("orders").sort_values(["case_no", "day", "person"], kind="stable",
                                              ignore_index=True)
    table_orders = pd.DataFrame({
        "order_id": record_ids("O", chunk, len(orders), rng),
        "case_id": case_id_of.reindex(orders["case_no"]).to_numpy(),
        "cafcass_person_id": ref_of(orders["person"].to_numpy(dtype=np.int64), orders["case_no"]),
        "order_type": orders["order_type"].to_numpy(),
        "order_date": _date_or_none(orders["day"].to_numpy(dtype=np.int64)),
        "is_final": orders["is_final"].to_numpy(dtype=bool),
    })
    apps = book.frame("applications").sort_values(["case_no", "day"], kind="stable",
                                                  ignore_index=True)
    table_apps = pd.DataFrame({
        "application_id": record_ids("A", chunk, len(apps), rng),
        "case_id": case_id_of.reindex(apps["case_no"]).to_numpy(),
        "application_type": apps["application_type"].to_numpy(),
        "application_date": _date_or_none(apps["day"].to_numpy(dtype=np.int64)),
    })

    # Answer key: the person behind each record, and how each case arose.
    key = pd.DataFrame({"cafcass_person_id": person_ref,
                        "person_id": world.person_id[persons]}).sort_values(
        "cafcass_person_id", ignore_index=True)
    first_child = children.drop_duplicates("case_no").set_index("case_no")["person"]
    mum = world.mother[first_child.reindex(cases["case_no"]).to_numpy(dtype=np.int64)]
    route = np.where(~cases["returning"].to_numpy(dtype=bool), "fresh",
                     np.where(is_private, "returning_family", cases["return_reason"].to_numpy()))
    truth = pd.DataFrame({
        "case_id": case_id,
        "mother_id": pd.array(np.where(mum >= 0, world.person_id[mum.clip(min=0)], None),
                              dtype="Int64"),
        "return_route": route,
        "return_reason": np.where(is_private & cases["returning"].to_numpy(dtype=bool),
                                  cases["return_reason"].to_numpy(), None),
    })
    demand = published_demand(table_cases, params)
    return {
        "cafcass_cases": table_cases.sort_values("case_id", ignore_index=True),
        "cafcass_applications": table_apps.sort_values("application_id", ignore_index=True),
        "cafcass_people": table_people,
        "cafcass_case_parties": parties,
        "cafcass_relationships": relationships,
        "cafcass_hearings": table_hearings.sort_values("hearing_id", ignore_index=True),
        "cafcass_orders": table_orders.sort_values("order_id", ignore_index=True),
        "cafcass_published_demand": demand,
        "cafcass_person_key": key,
        "cafcass_case_truth": truth.sort_values("case_id", ignore_index=True),
    }


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


def world_tables(world: World) -> dict[str, dict[str, np.ndarray | pa.Array]]:
    """The answer key's view of the world itself, as column arrays (these tables are large;
    text columns are Arrow strings already)."""
    pid = world.person_id
    mother = world.mother
    father = world.father
    is_child = world.role == ROLE_CHILD
    order = np.argsort(pid, kind="stable")

    def nullable_id(index: np.ndarray) -> pd.arrays.IntegerArray:
        values = np.where(index >= 0, pid[index.clip(min=0)], 0).astype(np.int64)
        return pd.arrays.IntegerArray(values, mask=index < 0)

    people = {
        "person_id": pid,
        "date_of_birth": _date_or_none(world.dob),
        "date_of_death": _date_or_none(world.dod),
        "nhs_number": world.nhs_number,
        "mother_id": nullable_id(mother),
        "father_id": nullable_id(father),
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
    pt = world.partnerships
    partnerships = {
        "partnership_id": np.arange(1, len(pt) + 1, dtype=np.int64) + int(pid.min()) - 1,
        "mother_id": pid[pt["mother"].to_numpy()],
        "father_id": pid[pt["father"].to_numpy()],
        "start_date": _date_or_none(pt["start"].to_numpy()),
        "end_date": _date_or_none(pt["end"].to_numpy()),
    }
    r = world.residences
    date_from, date_to, lived = lifetime_spells(world)
    r_order = lived[lexsort_pair(date_from[lived], pid[r.person[lived]])]
    residences = {
        "person_id": pid[r.person],
        "date_from": _date_or_none(date_from),
        "date_to": _date_or_none(date_to),
        "imd_quintile": world.areas.lsoa_quintile[r.lsoa].astype(np.int64),
    }
    residences = {k: v[r_order] for k, v in residences.items()}
    lsoa = r.lsoa[r_order]
    residences.update({
        "la_code": _labels_at(world.las["la_code"].to_numpy(), world.areas.lsoa_la[lsoa]),
        "lsoa_code": _labels_at(world.areas.lsoa_code, lsoa),
        "postcode": _text(r.postcode, r_order),
    })
    return {"world_people": people, "world_partnerships": partnerships,
            "world_residences": residences}


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
    las = world.las[["la_code", "la_name", "region_name", "country", "dfj_area_id",
                     "dfj_area_name", "pct_most_deprived_quintile"]].copy()
    dfj = dfj_areas()[["dfj_area_id", "dfj_area_name", "court_code", "court_name",
                       "hmcts_region"]]
    return {"local_authorities": las, "dfj_areas": dfj, "lsoa": world.areas.frame(world.las)}
