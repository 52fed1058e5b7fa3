"""Realism of the linked universe: published associations, found the way an analyst finds them.

Every figure is computed from the ``tre/`` view as an analyst in a TRE would: people in
proceedings are the ALFs of Cafcass records the trusted third party matched safely (status 1, 4
or 39); comparators are the other adults of the extract's population spine (GP registrations).
Linkage error is therefore part of what is checked, as it is part of every real study. The
trusted third party's own quality is checked against the answer key. Published figures are in
``targets.yaml``; the associations the generator is tuned to are read from
``params/health.yaml``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR
from synthetic_data.core.params import load_params
from synthetic_data.linkage.ttp import SAFE_STATUSES
from synthetic_data.realism.frames import Dataset, NoData, require, row
from synthetic_data.realism.targets import published

LINKED = "linked health"
TTP = "trusted third party"


def _safe_alfs(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    ok = frame[f"{prefix}alf_sts_cd"].isin(SAFE_STATUSES) & frame[f"{prefix}alf_pe"].notna()
    return frame.loc[ok, f"{prefix}alf_pe"].astype("int64")


def linked_groups(ds: Dataset) -> dict[str, set[int]]:
    """The ALFs of each group the associations compare: parents and infants in public law, the
    mothers of those infants, and comparison adults and mothers (the rest of the spine)."""
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
    groups = linked_groups(ds)
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


def near_proceedings(ds: Dataset) -> list[dict[str, Any]]:
    """Share of people in Cafcass records (safely linked) with a contact within 2 years of their
    first application, counting only applications whose whole window lies in the period."""
    pub = published("near_proceedings")
    years = pub["within_years"]
    parties = require(ds.table("tre_cafcass_case_parties"), "tre_cafcass_case_parties")
    cases = require(ds.table("tre_cafcass_cases"), "tre_cafcass_cases")
    linked = parties[parties["alf_sts_cd"].isin(SAFE_STATUSES) & parties["alf_pe"].notna()]
    received = cases.set_index("case_id_pe")["received_date"]
    first = pd.DataFrame({"alf_pe": linked["alf_pe"].astype("int64").to_numpy(),
                          "date": linked["case_id_pe"].map(received).to_numpy()}
                         ).groupby("alf_pe")["date"].min()
    first = first[(first >= ds.start + pd.DateOffset(years=years))
                  & (first <= ds.end - pd.DateOffset(years=years))]
    if first.empty:
        raise NoData(f"no first application lies {years} years inside the period")
    contacts = {
        "emergency department attendance": require(
            ds.table("tre_health_ed_attendances"), "tre_health_ed_attendances"
        ).rename(columns={"attendance_date": "date"}),
        "hospital admission": require(ds.table("tre_health_admissions"), "tre_health_admissions"
                                      ).rename(columns={"admission_date": "date"})}
    rows = []
    for name, frame in contacts.items():
        mine = frame[frame["alf_pe"].isin(first.index) & frame["alf_sts_cd"].isin(SAFE_STATUSES)]
        anchor = mine["alf_pe"].astype("int64").map(first)
        gap = (pd.to_datetime(mine["date"]) - anchor).dt.days.abs()
        near = set(mine.loc[gap.to_numpy() <= years * DAYS_PER_YEAR, "alf_pe"].astype("int64"))
        rows.append(row("near proceedings", f"{name} within {years} years of the application",
                        pub["bullet"], LINKED, pub["value"][name], len(near) / len(first), x=name,
                        note=f"{pub['source']}; {len(first):,} people, adults and children, "
                             "first application in the data"))
    return rows


def teenage_first_births(ds: Dataset) -> list[dict[str, Any]]:
    """Share of mothers under 21 at their first birth, found as an analyst finds it: the first
    birth in the births register, the mother's week of birth, and comparators standardised to
    the mothers in proceedings by single year of age at the birth and deprivation quintile."""
    pub = published("teenage_first_births")
    register = require(ds.table("tre_health_births"), "tre_health_births")
    spine = require(ds.table("tre_health_patients"), "tre_health_patients")
    lsoa = require(ds.table("lsoa"), "lsoa").set_index("lsoa_code")["imd_quintile"]
    births = register[register["mother_alf_sts_cd"].isin(SAFE_STATUSES)
                      & register["mother_alf_pe"].notna()].copy()
    births["mother"] = births["mother_alf_pe"].astype("int64")
    births["birth_date"] = pd.to_datetime(births["birth_date"])
    patients = spine.dropna(subset=["alf_pe"]).drop_duplicates("alf_pe")
    patients = patients.assign(alf=patients["alf_pe"].astype("int64")).set_index("alf")
    wob = pd.to_datetime(births["mother"].map(patients["wob"]))
    births["age"] = (births["birth_date"] - wob).dt.days / DAYS_PER_YEAR
    births["quintile"] = births["mother"].map(patients["lsoa_code"]).map(lsoa)
    births = births.dropna(subset=["age"])  # a mother recorded without a date of birth
    first_age = births.groupby("mother")["age"].min()
    lo, hi = pub["fys"]
    start = max(pd.Timestamp(f"{lo}-04-01"), ds.start)
    end = min(pd.Timestamp(f"{hi + 1}-03-31"), ds.end)
    window = births[(births["birth_date"] >= start) & (births["birth_date"] <= end)]
    groups = linked_groups(ds)
    in_proceedings = window[window["mother"].isin(groups["pl_infant_mother"])
                            & window["baby_alf_pe"].astype("Int64").isin(list(groups["pl_infant"]))
                            .fillna(False).astype(bool)]
    comparators = window[window["mother"].isin(groups["comparison_adult"])]
    if in_proceedings.empty or comparators.empty:
        raise NoData(f"no mothers of infants in proceedings with a birth in {start:%Y}-{end:%Y}")
    rows = []
    strata = ["year_of_age", "quintile"]
    frames = {}
    for name, frame in (("in", in_proceedings), ("comparison", comparators)):
        frame = frame.sort_values("birth_date").drop_duplicates("mother")
        frame = frame.assign(year_of_age=np.floor(frame["age"]).astype("int64"),
                             young=frame["mother"].map(first_age) < pub["under"])
        frames[name] = frame.dropna(subset=["quintile"])
    weights = frames["in"].groupby(strata).size()
    rates = frames["comparison"].groupby(strata)["young"].mean().reindex(weights.index)
    matched = weights[rates.notna()]
    values = {"mothers of infants in proceedings": float(frames["in"]["young"].mean()),
              "comparison mothers matched on age and deprivation":
                  float((matched * rates.dropna()).sum() / matched.sum())}
    notes = {"mothers of infants in proceedings": f"{len(frames['in']):,} mothers",
             "comparison mothers matched on age and deprivation":
                 f"{len(frames['comparison']):,} comparison mothers, standardised to the mothers "
                 f"in proceedings ({matched.sum() / weights.sum():.0%} of whom have comparators "
                 "of their year of age and quintile)"}
    for name, target in pub["value"].items():
        rows.append(row("teenage first births", f"under {pub['under']} at first birth: {name}",
                        pub["bullet"], LINKED, target, values[name], x=name,
                        note=f"{pub['source']}; births {start:%Y-%m}-{end:%Y-%m}; {notes[name]}"))
    return rows


def maternity(ds: Dataset) -> list[dict[str, Any]]:
    births = require(ds.table("tre_health_maternity"), "tre_health_maternity")
    infants = linked_groups(ds)["pl_infant"]
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


# Identifier files with a published share given an ALF: target safe_alf_<file>.
TTP_SOURCES = ("health_patients", "cla_children", "cafcass_people")


def ttp_quality(ds: Dataset) -> list[dict[str, Any]]:
    links = ds.table("ttp_links")
    if links is None:
        raise NoData("the answer key is not readable")
    rows = []
    safe = links["alf_sts_cd"].isin(SAFE_STATUSES)
    for source in TTP_SOURCES:
        pub = published(f"safe_alf_{source}")
        mine = links[links["source"] == source]
        if mine.empty:
            continue
        rows.append(row("linkage", f"records given a safe ALF: {source}", pub["bullet"], TTP,
                        pub["value"], float(safe[mine.index].mean()), x=source,
                        note=pub["source"]))
    precision = published("safe_match_precision")
    correct = links.loc[safe, "correct"].astype(bool)
    rows.append(row("linkage", "precision of safe matches (all sources)", precision["bullet"],
                    TTP, precision["value"], float(correct.mean()), x="all",
                    tolerance=precision["tolerance"], note=precision["source"]))
    return rows


BIAS_SOURCES = ("cafcass_people", "familyman_parties", "cla_children", "education_pupils")
BIAS_GROUPS = {  # label: (group, reference group), each named and picked from the links frame
    "ethnic minority to White": (
        ("ethnic minority", lambda f: f["ethnicity"].notna() & (f["ethnicity"] != "White")),
        ("White", lambda f: f["ethnicity"] == "White")),
    "most to least deprived quintile": (
        ("most deprived quintile", lambda f: f["imd_quintile"] == 1),
        ("least deprived quintile", lambda f: f["imd_quintile"] == 5)),
}
BIAS_NOISE_Z = 2.5  # standard errors of sampling noise, as the other small-group checks allow


def bias_band() -> tuple[float, float]:
    """The ratio of missed matches the check is centred on, and the relative tolerance that
    reaches the top of the published band (the band is symmetric about its centre)."""
    pub = published("linkage_bias")
    return pub["value"], (pub["band"][1] - pub["value"]) / pub["value"]


def bias_tolerance(missed: float, n: int, missed_ref: float, n_ref: float) -> tuple[float, str]:
    """The band 1.0 to 2.0 widened by the ratio's sampling noise, as a tolerance around 1.5.

    A small source (children looked after at classroom scale: a few thousand records, a few
    per cent missed) has a ratio whose noise alone spans a tenth of its value, so a band
    meant for the generator's assumption would fail it on some seeds and not others.
    """
    centre, band = bias_band()
    if not (0 < missed < 1 and 0 < missed_ref < 1 and n and n_ref):
        return band, ""
    # The ratio's standard error on the log scale, from the two shares and their sizes.
    se = math.sqrt((1 - missed) / (n * missed) + (1 - missed_ref) / (n_ref * missed_ref))
    upper = centre * (1 + band) * math.exp(BIAS_NOISE_Z * se)
    tolerance = upper / centre - 1
    return tolerance, (f"; widened to {tolerance:.0%} by {BIAS_NOISE_Z} standard errors of the ratio "
                       f"({n:,} and {n_ref:,} records)")


def _links_by_group(ds: Dataset) -> pd.DataFrame:
    """Each TTP decision with the true person's ethnic group and deprivation quintile (of the
    last address the world gives them)."""
    def build() -> pd.DataFrame:
        links = ds.table("ttp_links")
        if links is None:
            raise NoData("the answer key is not readable")
        people = require(ds.table("world_people"), "world_people").set_index("person_id")
        homes = require(ds.table("world_residences"), "world_residences")
        last = homes.sort_values(["person_id", "date_from"]).drop_duplicates("person_id", keep="last")
        quintile = last.set_index("person_id")["imd_quintile"]
        frame = links[["source", "person_id", "alf_sts_cd", "correct"]].copy()
        frame["safe"] = frame["alf_sts_cd"].isin(SAFE_STATUSES)
        frame["right"] = frame["safe"] & frame["correct"].fillna(False).astype(bool)
        frame["ethnicity"] = frame["person_id"].map(people["ethnicity"])
        # A child lives at its mother's address (world_residences holds adults only).
        home = frame["person_id"].map(people["mother_id"]).where(
            ~frame["person_id"].isin(quintile.index), frame["person_id"])
        frame["imd_quintile"] = home.map(quintile)
        return frame
    return ds.cached("links_by_group", build)


def ttp_quality_by_group(ds: Dataset) -> list[dict[str, Any]]:
    """Precision of safe matches within each group, and how much more often the groups the
    literature names are missed: the linkage bias analysts must allow for."""
    frame = _links_by_group(ds)
    precision, bias = published("safe_match_precision"), published("linkage_bias")
    rows = []
    for pair in BIAS_GROUPS.values():
        for name, pick in pair:
            safe = frame[pick(frame) & frame["safe"]]
            rows.append(row("linkage by group", f"precision of safe matches: {name}", "B/F", TTP,
                            precision["value"],
                            float(safe["right"].mean()) if len(safe) else float("nan"),
                            x=name, tolerance=precision["tolerance"],
                            note=f"all sources; {len(safe):,} safe matches; {precision['source']}"))
    for source in BIAS_SOURCES:
        mine = frame[frame["source"] == source]
        if mine.empty:
            continue
        for label, ((_, group), (_, reference)) in BIAS_GROUPS.items():
            in_group, in_reference = mine.loc[group(mine), "right"], mine.loc[reference(mine), "right"]
            missed, missed_ref = 1 - in_group.mean(), 1 - in_reference.mean()
            ratio = missed / missed_ref if missed_ref > 0 else float("nan")
            tolerance, why = bias_tolerance(missed, len(in_group), missed_ref, len(in_reference))
            rows.append(row("linkage by group", f"missed matches, {label}: {source}", bias["bullet"],
                            TTP, bias["value"], ratio, x=source, tolerance=tolerance,
                            note=f"missed {missed:.1%} against {missed_ref:.1%}; {bias['source']}: "
                                 f"{bias['tolerance_why']}{why}"))
    return rows


LINKED_CHECKS = (
    (LINKED, "B", "Associations", associations),
    (LINKED, "B", "Maternity", maternity),
    (LINKED, "B", "Near proceedings", near_proceedings),
    (LINKED, "B", "Teenage first births", teenage_first_births),
    (TTP, "B", "Trusted third party", ttp_quality),
    (TTP, "F", "Trusted third party by group", ttp_quality_by_group),
)

