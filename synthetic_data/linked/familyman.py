"""Family court records (FamilyMan-like): the same proceedings as the court, not Cafcass, saw them.

The court has its own case numbers (published only hashed, as in Data First), its own dates
(issue a few days before Cafcass hears of a case) and its own party records: one per person per
case, so the same person appears under many party ids and must be deduplicated before analysis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic_data.core.dates import NO_DATE
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.world.people import World


@dataclass
class CourtRecords:
    cases: pd.DataFrame  # case_no, case_number_hash, case_type, court_code, issue_day, disposal_day
    events: pd.DataFrame  # case_no, event_day, event_category, event_type
    parties: pd.DataFrame  # case_no, person, party_role, record_day


def court_records(world: World, book: CaseBook, params: dict, courts: pd.DataFrame, chunk: int,
                  rng: np.random.Generator) -> CourtRecords:
    cases = book.frame("cases").sort_values("case_no", kind="stable", ignore_index=True)
    n = len(cases)
    lo, hi = params["issue"]["court_issue_before_cafcass_days"]
    issue = cases["issue_day"].to_numpy(dtype=np.int64) - rng.integers(lo, hi + 1, n)
    # A case about a newborn is issued no earlier than the birth: the court cannot issue
    # proceedings about a child before it is born, however soon Cafcass hears of them.
    children = book.frame("children")
    born = pd.Series(world.dob[children["person"].to_numpy(dtype=np.int64)]).groupby(
        children["case_no"].to_numpy(dtype=np.int64)).max()
    issue = np.maximum(issue, born.reindex(cases["case_no"].to_numpy(dtype=np.int64))
                       .fillna(NO_DATE).to_numpy(dtype=np.int64))
    final = cases["final_day"].to_numpy(dtype=np.int64)
    dfj = world.las["dfj_area_id"].to_numpy()[cases["la_index"].to_numpy(dtype=np.int64)]
    court = _court_of_area(dfj, courts, params["courts"]["centre_court_weight"], rng)
    numbers = _case_numbers(cases["case_no"].to_numpy(dtype=np.int64), chunk)
    table = pd.DataFrame({
        "case_no": cases["case_no"].to_numpy(dtype=np.int64),
        "case_number_hash": numbers,
        "case_type": pd.Series(cases["law_type"]).map(params["case_types"]).to_numpy(),
        "court_code": court,
        "issue_day": issue,
        "disposal_day": final,
    })
    return CourtRecords(cases=table, events=_events(book, table, params, world.end_day, rng),
                        parties=_parties(book, table, params))


def _court_of_area(dfj: np.ndarray, courts: pd.DataFrame, centre_weight: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Each case goes to one of its DFJ area's family courts, the first (the centre) most often."""
    by_area = {a: g["court_code"].astype(str).to_numpy(dtype=object)
               for a, g in courts.groupby("dfj_area_id", sort=True)}
    out = np.empty(dfj.size, dtype=object)
    for area in np.unique(dfj):
        rows = np.flatnonzero(dfj == area)
        options = by_area.get(area, np.array(["UNKNOWN"], dtype=object))
        weights = np.r_[centre_weight, np.ones(options.size - 1)]
        out[rows] = options[rng.choice(options.size, rows.size, p=weights / weights.sum())]
    return out


def _case_numbers(case_no: np.ndarray, chunk: int) -> np.ndarray:
    """Hashed court case numbers: the hash Data First publishes instead of the number itself."""
    return np.array([hashlib.sha256(f"FM{chunk:02d}{c:09d}".encode()).hexdigest()[:20]
                     for c in case_no], dtype=object)


def _events(book: CaseBook, cases: pd.DataFrame, params: dict, end_day: int,
            rng: np.random.Generator) -> pd.DataFrame:
    """The case's events up to the extract (an allocation due after the period's end has not
    happened yet)."""
    hearings = book.frame("hearings")
    apps = book.frame("applications")
    orders = book.frame("orders").drop_duplicates(["case_no", "order_type", "day"])
    lo, hi = params["administrative_events"]["allocation_days"]
    closed = cases[cases["disposal_day"] != NO_DATE]
    frames = [
        pd.DataFrame({"case_no": apps["case_no"], "event_day": apps["day"],
                      "event_category": "application", "event_type": apps["application_type"]}),
        pd.DataFrame({"case_no": hearings["case_no"], "event_day": hearings["day"],
                      "event_category": "hearing", "event_type": hearings["hearing_type"]}),
        pd.DataFrame({"case_no": orders["case_no"], "event_day": orders["day"],
                      "event_category": "order", "event_type": orders["order_type"]}),
        pd.DataFrame({"case_no": cases["case_no"], "event_day": cases["issue_day"].to_numpy()
                      + rng.integers(lo, hi + 1, len(cases)),
                      "event_category": "administrative", "event_type": "allocation"}),
        pd.DataFrame({"case_no": closed["case_no"], "event_day": closed["disposal_day"],
                      "event_category": "administrative", "event_type": "case_closed"}),
    ]
    out = pd.concat(frames, ignore_index=True)
    out["case_no"] = out["case_no"].astype(np.int64)
    out["event_day"] = out["event_day"].astype(np.int64)
    out = out[out["event_day"] <= end_day]
    return out.sort_values(["case_no", "event_day", "event_category", "event_type"],
                           kind="stable", ignore_index=True)


def _parties(book: CaseBook, cases: pd.DataFrame, params: dict) -> pd.DataFrame:
    children = book.frame("children")
    adults = book.frame("adults")
    parties = pd.concat([
        pd.DataFrame({"case_no": children["case_no"], "person": children["person"],
                      "party_role": "subject_child"}),
        pd.DataFrame({"case_no": adults["case_no"], "person": adults["person"],
                      "party_role": adults["party_role"]}),
    ], ignore_index=True)
    parties["case_no"] = parties["case_no"].astype(np.int64)
    parties["person"] = parties["person"].astype(np.int64)
    parties["party_role"] = parties["party_role"].map(params["party_roles"])
    issue = pd.Series(cases["issue_day"].to_numpy(), index=cases["case_no"].to_numpy())
    parties["record_day"] = issue.reindex(parties["case_no"]).to_numpy()
    return parties.sort_values(["case_no", "party_role", "person"], kind="stable",
                               ignore_index=True)
