"""The linked universe: TRE de-identification, the trusted third party, associations, bias."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from synthetic_data.api import load
from synthetic_data.output.databases import schema_and_table
from synthetic_data.output.schema import TABLES
from synthetic_data.output.schema_linked import RECORD_IDS
from synthetic_data.realism.frames import Dataset
from synthetic_data.realism.linked import associations, maternity, ttp_quality

TRE_TABLES = [t.name for t in TABLES if t.view == "tre"]
IDENTIFIER_COLUMNS = {"forename", "surname", "nhs_number", "postcode", "date_of_birth",
                      "person_id"}


def test_every_provider_table_has_a_tre_version_without_identifiers():
    provider = {t.name for t in TABLES if t.view == "identifiable"} - {"cafcass_published_demand"}
    assert {f"tre_{name}" for name in provider} == set(TRE_TABLES)
    for t in TABLES:
        if t.view == "tre":
            assert not IDENTIFIER_COLUMNS & set(t.column_names), t.name
            assert not set(RECORD_IDS) & set(t.column_names), t.name


def test_tiny_dataset_tre_holds_no_identifier_value(tiny_dataset):
    """No record id, NHS number, postcode or person_id of another view appears in tre/."""
    secrets: set[str] = set()
    for t in TABLES:
        if t.view != "identifiable" or t.name == "cafcass_published_demand":
            continue
        frame = load(t.name, tiny_dataset)
        for col in t.column_names:
            if col in RECORD_IDS or col in ("nhs_number", "postcode"):
                secrets |= set(frame[col].dropna().astype(str))
    person_ids = set(load("world_people", tiny_dataset)["person_id"].astype(str))
    assert secrets and person_ids
    for name in TRE_TABLES:
        frame = load(name, tiny_dataset)
        for col in frame.columns:
            values = set(frame[col].dropna().astype(str))
            assert not values & secrets, f"{name}.{col} holds identifiable values"
            if col.endswith("_pe"):
                assert not values & person_ids, f"{name}.{col} holds person ids"


def test_week_of_birth_is_a_monday_and_within_a_week_of_the_recorded_date(tiny_dataset):
    tre = load("tre_cafcass_people", tiny_dataset)
    wob = tre["wob"].dropna()
    assert (wob.dt.dayofweek == 0).all()


def test_databases_hold_the_files_rows_under_a_schema_per_source(tiny_dataset):
    for view in ("identifiable", "tre", "answer_key"):
        path = tiny_dataset / view / f"{view}.duckdb"
        con = duckdb.connect(str(path), read_only=True)
        try:
            for t in TABLES:
                if t.view not in (view, "reference"):
                    continue
                schema, name = schema_and_table(t.name, t.view)
                n = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
                assert n == len(load(t.name, tiny_dataset)), (view, t.name)
        finally:
            con.close()
    con = duckdb.connect(str(tiny_dataset / "tre" / "tre.duckdb"), read_only=True)
    schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata")
               .fetchall()}
    con.close()
    assert {"cafcass", "familyman", "health", "education", "cla", "deaths", "reference"} <= schemas


def test_a_different_project_key_gives_different_alfs_for_the_same_people(tmp_path):
    from synthetic_data.api import generate

    settings = {"scale": 0.01, "region": "wales", "start": "2016-04", "end": "2017-03",
                "seed": 3, "progress": False}
    a = generate(tmp_path / "a", **settings)
    from synthetic_data.core.config import GenerationConfig
    from synthetic_data.pipeline import generate as run

    b = run(GenerationConfig(out=tmp_path / "b", scale=0.01, region="wales", start="2016-04",
                             end="2017-03", seed=3, progress=False, project_key="another"))
    alf_a = load("cohort_truth", a)[["person_id", "alf_pe"]]
    alf_b = load("cohort_truth", b)[["person_id", "alf_pe"]]
    both = alf_a.merge(alf_b, on="person_id")
    assert len(both) == len(alf_a)
    assert (both["alf_pe_x"] != both["alf_pe_y"]).mean() > 0.999
    # Same key, same ALFs: the TRE tables of a are joinable to each other.
    parties = load("tre_cafcass_people", a)["alf_pe"].dropna()
    assert parties.isin(alf_a["alf_pe"]).mean() > 0.99


@pytest.mark.slow
def test_trusted_third_party_quality_is_in_the_published_ranges(classroom_dataset):
    rows = pd.DataFrame(ttp_quality(Dataset.open(classroom_dataset)))
    from synthetic_data.realism.registry import judge

    judged = judge(rows.assign(tolerance=rows["tolerance"].astype(float)))
    assert judged["passed"].all(), judged[["figure", "target", "generated"]].to_string()


@pytest.mark.slow
@pytest.mark.parametrize("check", [associations, maternity],
                         ids=["associations", "maternity"])
def test_published_associations_are_found_in_the_tre_within_10_percent(classroom_dataset, check):
    from synthetic_data.realism.registry import judge

    rows = pd.DataFrame(check(Dataset.open(classroom_dataset)))
    judged = judge(rows.assign(tolerance=rows["tolerance"].astype(float)))
    assert judged["passed"].all(), judged[["figure", "target", "generated"]].to_string()


@pytest.mark.slow
@pytest.mark.slow
def test_comparison_group_includes_unlinked_people_in_proceedings(classroom_dataset):
    """Comparison figures are met on comparators as an analyst finds them, so the observed
    comparison group must really contain people in proceedings whose records went unlinked
    (otherwise the calibration in health.py would be doing nothing)."""
    from synthetic_data.realism.linked import linked_groups

    comparators = linked_groups(Dataset.open(classroom_dataset))["comparison_adult"]
    truth = load("cohort_truth", classroom_dataset).dropna(subset=["alf_pe"])
    in_cases = truth.loc[truth["alf_pe"].isin(list(comparators)), "in_cases"]
    assert 0.005 < in_cases.mean() < 0.10, in_cases.mean()


@pytest.mark.slow
def test_valid_nhs_numbers_in_every_source_come_from_the_test_range(classroom_dataset):
    """Learners see the NHS numbers of the extract's people, comparison sample included: every
    number that passes the check digit must be from the official 999 test range."""
    from synthetic_data.core.identifiers import is_valid_nhs_number

    for name in ("cafcass_people", "health_patients", "death_registrations"):
        numbers = load(name, classroom_dataset)["nhs_number"].dropna().str.replace(" ", "")
        valid = numbers[is_valid_nhs_number(numbers)]
        assert len(valid) > 0, name
        outside = valid[~valid.str.startswith("999")]
        assert outside.empty, f"{name}: {len(outside)} valid numbers outside 999, e.g. {outside.iloc[0]}"


@pytest.mark.slow
def test_an_analyst_sees_fewer_safe_links_for_minority_and_deprived_adults(classroom_dataset):
    """What linkage_09 teaches must be there to find in the TRE: Cafcass adults from
    ethnic-minority groups and the most deprived quintile get a safe ALF measurably less often."""
    people = load("tre_cafcass_people", classroom_dataset)
    quintile = load("lsoa", classroom_dataset).set_index("lsoa_code")["imd_quintile"]
    adults = people[people["person_type"] == "adult"].assign(
        safe=lambda f: f["alf_sts_cd"].isin([1, 4, 39]),
        quintile=lambda f: f["lsoa_code"].map(quintile))
    by_quintile = adults.groupby("quintile")["safe"].mean()
    assert by_quintile[1] < by_quintile[5] - 0.03, by_quintile
    recorded = adults.dropna(subset=["ethnicity"])
    by_group = recorded.groupby(recorded["ethnicity"] == "White")["safe"].mean()
    assert by_group[False] < by_group[True] - 0.05, by_group


def test_linkage_bias_runs_in_the_published_direction(classroom_dataset):
    """Ethnic-minority people and those in the most deprived areas are matched less often."""
    links = load("ttp_links", classroom_dataset)
    people = load("world_people", classroom_dataset)[["person_id", "ethnicity"]]
    cafcass = links[links["source"].isin(["cafcass_people", "familyman_parties",
                                          "education_pupils"])].merge(people, on="person_id")
    safe = cafcass["alf_sts_cd"].isin([1, 4, 39]) & cafcass["correct"].fillna(False).astype(bool)
    by_group = safe.groupby(cafcass["ethnicity"] == "White").mean()
    assert by_group[False] < by_group[True], by_group

    ident = load("cafcass_people", classroom_dataset)
    key = load("cafcass_person_key", classroom_dataset)
    truth = load("world_people", classroom_dataset).set_index("person_id")
    rec = ident.merge(key, on="cafcass_person_id")
    t = truth.reindex(rec["person_id"])
    exact = np.ones(len(rec), dtype=bool)
    for col in ("forename", "surname", "sex"):
        exact &= rec[col].astype(str).to_numpy() == t[col].astype(str).to_numpy()
    exact &= (rec["date_of_birth"].to_numpy() == t["date_of_birth"].to_numpy())
    lsoa = load("lsoa", classroom_dataset).set_index("lsoa_code")["imd_quintile"]
    residences = load("world_residences", classroom_dataset)
    by_postcode = residences.drop_duplicates("postcode").set_index("postcode")["imd_quintile"]
    quintile = by_postcode.reindex(rec["postcode"]).to_numpy()
    deprived = quintile == 1
    known = ~np.isnan(quintile.astype(float))
    assert lsoa.notna().all()
    assert exact[known & deprived].mean() < exact[known & ~deprived].mean()
    minority = t["ethnicity"].to_numpy() != "White"
    assert exact[minority].mean() < exact[~minority].mean()


def test_no_event_in_any_source_is_dated_after_the_period(tiny_dataset):
    """An extract holds what had happened by its end: no admission, attendance, hearing, court
    event or census after it (dates of birth may be mistyped into the future, so are left out)."""
    from synthetic_data.api import manifest

    end = pd.Timestamp(manifest(tiny_dataset)["config"]["end"] + "-01") + pd.offsets.MonthEnd(0)
    checked = 0
    for t in TABLES:
        if t.view != "identifiable":
            continue
        frame = load(t.name, tiny_dataset)
        for col in t.columns:
            if col.dtype == "date" and col.name != "date_of_birth":
                late = pd.to_datetime(frame[col.name]) > end
                assert not late.any(), f"{t.name}.{col.name}: {int(late.sum())} after {end:%Y-%m-%d}"
                checked += 1
    assert checked > 20
