"""Checks on the reference data shipped in synthetic_data/reference/.

The expected figures are the published totals recorded in
synthetic_data/reference/SOURCES.md, so these tests fail if a file is truncated,
replaced by a different vintage or edited by mistake.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "synthetic_data" / "reference"

N_ENGLAND = 153
N_WALES = 22
N_LA = N_ENGLAND + N_WALES
N_AGES = 18  # single years of age 0-17

# Which HMCTS region labels (as used in dfj_area_courts.csv) are compatible with
# each ONS region in la.csv. HMCTS places Hampshire and the Isle of Wight in its
# South West region, so South East LAs may map to a "South West" court.
HMCTS_REGIONS_FOR_ONS_REGION = {
    "North East": {"North East"},
    "Yorkshire and The Humber": {"North East"},
    "North West": {"North West"},
    "East Midlands": {"Midlands"},
    "West Midlands": {"Midlands"},
    "East of England": {"South East"},
    "London": {"London"},
    "South East": {"South East", "South West"},
    "South West": {"South West"},
    "Wales": {"Wales"},
}


def _read(name: str) -> pd.DataFrame:
    path = REFERENCE_DIR / name
    assert path.is_file(), f"missing reference file: {path}"
    return pd.read_csv(path, dtype={"la_code": str, "dfj_area_id": str})


@pytest.fixture(scope="module")
def la() -> pd.DataFrame:
    return _read("la.csv")


@pytest.fixture(scope="module")
def child_population() -> pd.DataFrame:
    return _read("child_population.csv")


@pytest.fixture(scope="module")
def syoa() -> pd.DataFrame:
    return _read("child_population_syoa_2020.csv")


@pytest.fixture(scope="module")
def deprivation() -> pd.DataFrame:
    return _read("la_deprivation.csv")


@pytest.fixture(scope="module")
def dfj_courts() -> pd.DataFrame:
    return _read("dfj_area_courts.csv")


@pytest.fixture(scope="module")
def la_dfj() -> pd.DataFrame:
    return _read("la_dfj_area.csv")


def test_sources_documented():
    text = (REFERENCE_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for name in [
        "la.csv",
        "child_population.csv",
        "child_population_syoa_2020.csv",
        "la_deprivation.csv",
        "dfj_area_courts.csv",
        "la_dfj_area.csv",
    ]:
        assert name in text, f"{name} is not described in SOURCES.md"
    assert "Open Government Licence v3.0" in text


# --- la.csv -----------------------------------------------------------------


def test_la_counts_and_codes(la):
    assert len(la) == N_LA
    assert la["la_code"].is_unique
    assert la["la_name"].notna().all()
    counts = la["country"].value_counts().to_dict()
    assert counts == {"England": N_ENGLAND, "Wales": N_WALES}
    england = la["country"] == "England"
    assert la.loc[england, "la_code"].str.match(r"^E(06|08|09|10)\d{6}$").all()
    assert la.loc[~england, "la_code"].str.match(r"^W06\d{6}$").all()
    assert (la.loc[~england, "region_name"] == "Wales").all()
    assert la.loc[england, "region_name"].nunique() == 9
    assert la.loc[england, "dfe_la_number"].notna().all()


# --- child_population.csv -------------------------------------------------


def test_child_population_totals(child_population, la):
    cp = child_population
    assert len(cp) == 1977
    assert not cp.duplicated(["year", "la_code"]).any()
    assert (cp["population_0_17"] > 0).all()

    england_2024 = cp[(cp["year"] == 2024) & cp["la_code"].str.startswith("E")]
    assert len(england_2024) == N_ENGLAND
    assert england_2024["population_0_17"].sum() == 12_183_016

    england_2023 = cp[(cp["year"] == 2023) & cp["la_code"].str.startswith("E")]
    assert england_2023["population_0_17"].sum() == 12_059_476

    wales = cp[cp["la_code"].str.startswith("W")]
    assert set(wales["year"]) == {2020}
    assert len(wales) == N_WALES
    assert wales["population_0_17"].sum() == 629_872

    # Every current LA has a denominator in its latest year.
    assert set(england_2024["la_code"]) == set(la.loc[la["country"] == "England", "la_code"])
    assert set(wales["la_code"]) == set(la.loc[la["country"] == "Wales", "la_code"])


# --- child_population_syoa_2020.csv ---------------------------------------


def test_syoa_shape_and_totals(syoa, la):
    assert len(syoa) == N_LA * N_AGES
    assert set(syoa["year"]) == {2020}
    assert set(syoa["sex"]) == {"persons"}
    assert set(syoa["age"]) == set(range(N_AGES))
    assert not syoa.duplicated(["la_code", "age"]).any()
    assert set(syoa["la_code"]) == set(la["la_code"])
    assert (syoa.groupby("la_code").size() == N_AGES).all()
    assert (syoa["population"] >= 0).all()

    totals = syoa.groupby(syoa["la_code"].str[0])["population"].sum().to_dict()
    assert totals == {"E": 12_093_288, "W": 629_872}


def test_syoa_wales_matches_child_population(syoa, child_population):
    per_la_syoa = syoa[syoa["la_code"].str.startswith("W")].groupby("la_code")["population"].sum()
    wales = child_population[child_population["la_code"].str.startswith("W")]
    per_la_cp = wales.set_index("la_code")["population_0_17"]
    pd.testing.assert_series_equal(
        per_la_syoa.sort_index(), per_la_cp.sort_index(), check_names=False
    )


# --- la_deprivation.csv ---------------------------------------------------


def test_deprivation(deprivation, la):
    dep = deprivation
    assert len(dep) == N_LA
    assert dep["la_code"].is_unique
    assert set(dep["la_code"]) == set(la["la_code"])

    deciles = [f"lsoas_decile_{i}" for i in range(1, 11)]
    quintiles = [f"lsoas_quintile_{i}" for i in range(1, 6)]
    assert (dep[deciles].sum(axis=1) == dep["n_lsoa"]).all()
    assert (dep[quintiles].sum(axis=1) == dep["n_lsoa"]).all()
    for q in range(1, 6):
        pair = dep[f"lsoas_decile_{2 * q - 1}"] + dep[f"lsoas_decile_{2 * q}"]
        assert (pair == dep[f"lsoas_quintile_{q}"]).all()

    totals = dep.groupby(dep["la_code"].str[0])["n_lsoa"].sum().to_dict()
    assert totals == {"E": 32_844, "W": 1_909}

    # Published spot checks.
    by_name = dep.set_index("la_name")
    assert by_name.loc["Middlesbrough", "n_lsoa"] == 86
    assert by_name.loc["Middlesbrough", "pct_lsoas_most_deprived_decile"] == pytest.approx(48.8)
    assert by_name.loc["Hartlepool", "n_lsoa"] == 58
    assert by_name.loc["Hartlepool", "pct_lsoas_most_deprived_decile"] == pytest.approx(36.2)


# --- dfj_area_courts.csv ----------------------------------------------------


def test_dfj_area_courts(dfj_courts):
    assert len(dfj_courts) == 70
    assert dfj_courts["court_code"].is_unique
    assert dfj_courts["dfj_area_id"].nunique() == 44  # 43 areas + HIGH_COURT
    areas = dfj_courts.loc[dfj_courts["dfj_area_id"] != "HIGH_COURT"]
    assert areas["hmcts_region"].notna().all()
    welsh = set(areas.loc[areas["hmcts_region"] == "Wales", "dfj_area_id"])
    assert welsh == {"NORTH_WALES", "SOUTH_EAST_WALES", "SWANSEA"}
    # Each area has a single HMCTS region.
    assert (areas.groupby("dfj_area_id")["hmcts_region"].nunique() == 1).all()


# --- la_dfj_area.csv (documented assumption) --------------------------------


def test_la_dfj_area_columns(la_dfj):
    assert list(la_dfj.columns) == [
        "la_code",
        "la_name",
        "dfj_area_id",
        "dfj_area_name",
        "mapping_basis",
    ]
    assert la_dfj.notna().all().all()


def test_la_dfj_area_covers_every_la_once(la_dfj, la):
    assert len(la_dfj) == N_LA
    assert la_dfj["la_code"].is_unique
    assert set(la_dfj["la_code"]) == set(la["la_code"])
    names = la.set_index("la_code")["la_name"]
    assert (la_dfj["la_name"] == la_dfj["la_code"].map(names)).all()


def test_la_dfj_area_ids_exist(la_dfj, dfj_courts):
    known = dfj_courts.drop_duplicates("dfj_area_id").set_index("dfj_area_id")["dfj_area_name"]
    assert "HIGH_COURT" not in set(la_dfj["dfj_area_id"])
    assert la_dfj["dfj_area_id"].isin(known.index).all()
    assert (la_dfj["dfj_area_name"] == la_dfj["dfj_area_id"].map(known)).all()


def test_la_dfj_area_country_consistent(la_dfj, la, dfj_courts):
    area_region = dfj_courts.drop_duplicates("dfj_area_id").set_index("dfj_area_id")["hmcts_region"]
    merged = la_dfj.merge(la[["la_code", "country", "region_name"]], on="la_code")
    merged["hmcts_region"] = merged["dfj_area_id"].map(area_region)
    is_wales = merged["country"] == "Wales"
    assert (merged.loc[is_wales, "hmcts_region"] == "Wales").all()
    assert (merged.loc[~is_wales, "hmcts_region"] != "Wales").all()
    bad = merged[
        [
            hm not in HMCTS_REGIONS_FOR_ONS_REGION[ons]
            for ons, hm in zip(merged["region_name"], merged["hmcts_region"], strict=True)
        ]
    ]
    assert bad.empty, bad[["la_name", "region_name", "dfj_area_id", "hmcts_region"]]


def test_every_dfj_area_has_an_la(la_dfj, dfj_courts):
    areas = set(dfj_courts["dfj_area_id"]) - {"HIGH_COURT"}
    assert len(areas) == 43
    assert areas == set(la_dfj["dfj_area_id"])
    counts = la_dfj["dfj_area_id"].value_counts()
    assert counts.min() >= 1
    assert counts.sum() == N_LA


def test_la_dfj_area_basis_values(la_dfj):
    allowed = {
        "court in LA",
        "same county",
        "nearest DFJ court",
        "county named in DFJ area",
        "same police area",
    }
    assert set(la_dfj["mapping_basis"]) <= allowed
