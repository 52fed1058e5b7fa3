"""Realism of the linked universe: published associations, found the way an analyst finds them.

Every figure is computed from the ``tre/`` view as an analyst in a TRE would: people in
proceedings are the ALFs of Cafcass records the trusted third party matched safely (status 1, 4
or 39); comparators are the other adults of the extract's population spine (GP registrations).
Linkage error is therefore part of what is checked, as it is part of every real study. The
trusted third party's own quality is checked against the answer key.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthetic_data.params import load_params
from synthetic_data.realism import Dataset, NoData, require, row
from synthetic_data.ttp import SAFE_STATUSES

LINKED = "linked health"
TTP = "trusted third party"


def _safe_alfs(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    ok = frame[f"{prefix}alf_sts_cd"].isin(SAFE_STATUSES) & frame[f"{prefix}alf_pe"].notna()
    return frame.loc[ok, f"{prefix}alf_pe"].astype("int64")


def _groups(ds: Dataset) -> dict[str, set[int]]:
    def build() -> pd.DataFrame:
        parties = require(ds.table("tre_cafcass_case_parties"), "tre_cafcass_case_parties")
        cases = require(ds.table("tre_cafcass_cases"), "tre_cafcass_cases")
        spine = require(ds.table("tre_health_patients"), "tre_health_patients")
        births = require(ds.table("tre_health_maternity"), "tre_health_maternity")
        public = set(cases.loc[cases["law_type"] == "public", "case_id_pe"].astype("int64"))
        p = parties[parties["case_id_pe"].astype("int64").isin(public)]
        parents = p[p["relationship"].isin(["mother", "father"])]
        children = p[p["party_role"] == "subject_child"]
        infant_cases = set(children.loc[children["age_at_application"] == 0, "case_id_pe"]
                           .astype("int64"))
        infant_mothers = parents[(parents["relationship"] == "mother")
                                 & parents["case_id_pe"].astype("int64").isin(infant_cases)]
        in_cafcass = set(_safe_alfs(parties))
        cutoff = ds.end - pd.DateOffset(years=16)
        adults = spine[pd.to_datetime(spine["wob"]) <= cutoff]
        comparators = set(_safe_alfs(adults)) - in_cafcass
        mothers = set(_safe_alfs(births, "mother_"))
        return pd.DataFrame({"group": ["pl_parent", "pl_infant_mother", "comparison_adult",
                                       "comparison_mother", "pl_infant"],
                             "alfs": [set(_safe_alfs(parents)), set(_safe_alfs(infant_mothers)),
                                      comparators, comparators & mothers,
                                      set(_safe_alfs(children[children["age_at_application"] == 0]))]})
    frame = ds.cached("linked_groups", build)
    return dict(zip(frame["group"], frame["alfs"], strict=True))


def _adult_contacts(ds: Dataset) -> pd.DataFrame:
    """Admissions and attendances of people aged 16 or over (the published measures' ages)."""
    def build() -> pd.DataFrame:
        adm = require(ds.table("tre_health_admissions"), "tre_health_admissions")
        ed = require(ds.table("tre_health_ed_attendances"), "tre_health_ed_attendances")
        spine = require(ds.table("tre_health_patients"), "tre_health_patients")
        wob = spine.dropna(subset=["alf_pe"]).drop_duplicates("alf_pe").set_index("alf_pe")["wob"]
        both = pd.concat([
            adm.rename(columns={"admission_date": "date"}).assign(setting="admission"),
            ed.rename(columns={"attendance_date": "date"}).assign(setting="ed")])
        both = both[["alf_pe", "alf_sts_cd", "diagnosis_code", "date", "setting"]]
        born = pd.to_datetime(wob.reindex(both["alf_pe"]).to_numpy())
        return both[(both["date"].to_numpy() >= born + pd.DateOffset(years=16))]
    return ds.cached("adult_contacts", build)


def _with_condition(ds: Dataset, codes: str | None) -> set[int]:
    contacts = _adult_contacts(ds)
    if codes is None:  # any emergency department attendance
        return set(_safe_alfs(contacts[contacts["setting"] == "ed"]))
    return set(_safe_alfs(contacts[contacts["diagnosis_code"].str.match(codes)]))


CONDITION_CODES = {  # ICD-10 code patterns an analyst would use for each condition
    "mental_health": r"^F(?!1)", "substance_use": r"^F1", "injury": r"^[ST]",
}


def associations(ds: Dataset) -> list[dict[str, Any]]:
    groups = _groups(ds)
    params = load_params("health")
    rows = []
    figures = {**{c: (CONDITION_CODES[c], params["conditions"][c]) for c in CONDITION_CODES},
               "emergency_department": (None, params["emergency_department"]["any_attendance"])}
    for name, (codes, targets) in figures.items():
        having = _with_condition(ds, codes)
        for group in ("pl_parent", "comparison_adult", "pl_infant_mother", "comparison_mother"):
            if group.startswith(("pl_infant", "comparison_mother")) and name in (
                    "injury", "emergency_department"):
                continue
            members = groups[group]
            if not members:
                raise NoData(f"no {group} in the extract")
            value = len(members & having) / len(members)
            rows.append(row("associations", f"{name.replace('_', ' ')}: {group.replace('_', ' ')}",
                            "B", LINKED, targets[group], value, x=group,
                            note=f"{len(members):,} people"))
    return rows


def maternity(ds: Dataset) -> list[dict[str, Any]]:
    births = require(ds.table("tre_health_maternity"), "tre_health_maternity")
    infants = _groups(ds)["pl_infant"]
    in_proc = births["baby_alf_pe"].astype("Int64").isin(list(infants)).fillna(False).astype(bool)
    m = load_params("health")["maternity"]
    rows = []
    for name, column, test in (("preterm", "preterm", lambda s: s),
                               ("smoking_at_booking", "smoking_at_booking", lambda s: s),
                               ("first_trimester_booking", "booking_gestation_weeks",
                                lambda s: s < 13)):
        for key, mask in (("in_proceedings", in_proc), ("other", ~in_proc)):
            values = test(births.loc[mask, column]).astype(bool)
            rows.append(row("maternity", f"{name.replace('_', ' ')}: {key.replace('_', ' ')}",
                            "B", LINKED, m[name][key], float(values.mean()), x=key,
                            note=f"{int(mask.sum()):,} births"))
    return rows


TTP_TARGETS = {  # identifier file: (published share given an ALF, source)
    "health_patients": (0.999, "Lyons et al. 2009: 99.9 % sensitivity for GP data"),
    "cla_children": (0.952, "Lyons et al. 2009: 95.2 % for a social services dataset"),
    "cafcass_people": (0.80, "Johnson et al. 2020: 80 % of Cafcass Cymru records given an ALF"),
}


def ttp_quality(ds: Dataset) -> list[dict[str, Any]]:
    links = ds.table("ttp_links")
    if links is None:
        raise NoData("the answer key is not readable")
    rows = []
    safe = links["alf_sts_cd"].isin(SAFE_STATUSES)
    for source, (target, cite) in TTP_TARGETS.items():
        mine = links[links["source"] == source]
        if mine.empty:
            continue
        rows.append(row("linkage", f"records given a safe ALF: {source}", "B", TTP, target,
                        float(safe[mine.index].mean()), x=source, note=cite))
    correct = links.loc[safe, "correct"].astype(bool)
    rows.append(row("linkage", "precision of safe matches (all sources)", "B", TTP, 0.998,
                    float(correct.mean()), x="all", tolerance=0.01,
                    note="Lyons et al. 2009: specificity above 99.8 %"))
    return rows


LINKED_CHECKS = (
    (LINKED, "B", "Associations", associations),
    (LINKED, "B", "Maternity", maternity),
    (TTP, "B", "Trusted third party", ttp_quality),
)

