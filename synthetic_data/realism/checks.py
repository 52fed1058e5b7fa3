"""Realism checks: each calibrated figure of a generated dataset beside the figure it reproduces.

The generator is tuned to published figures (the ``calibration`` bullets cited in the parameter
files, such as "A2" or "A7"). A parameter only says what the simulation aims at; whether the
data that comes out looks like the publication depends on everything the simulation does on the
way (siblings added to a case, families chosen by risk, cases still open at the end). So every
figure here is counted from the generated tables, exactly as an analyst would count it, and set
beside its target.

Targets come from two places and no other:

* the parameter files (``synthetic_data/params/*.yaml``) where a parameter *is* the published
  figure (volumes, age shares, durations, recording rates, party and abuse shares), so that
  the check follows the file the other figures are tuned in;
* :data:`PUBLISHED` below, for published figures that are not parameters: figures the
  simulation reproduces only indirectly (children per case, returners, recurrence, outcome
  mixes), each with its bullet and source.

Volumes are scaled by the dataset's scale and restricted to the countries it covers. A figure
the dataset cannot show (a year outside its period, an answer key that is not readable) is kept
as a row with no generated value and a note, rather than dropped or allowed to crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthetic_data.api import load, manifest
from synthetic_data.core.errors import InputError
from synthetic_data.core.params import interpolate_by_year, load_params
from synthetic_data.proceedings.private_law import annual_volumes as private_annual_volumes
from synthetic_data.proceedings.public_law import annual_volumes as public_annual_volumes
from synthetic_data.world.geography import local_authorities
from synthetic_data.world.population import target_children

TOLERANCE = 0.10  # relative: |generated - target| <= TOLERANCE * |target|
COLUMNS = ("check", "figure", "bullet", "group", "x", "target", "generated", "tolerance",
           "passed", "note")
DAYS_PER_YEAR = 365.25
COUNTRIES = {"england": ["England"], "wales": ["Wales"], "both": ["England", "Wales"]}

# Published figures that are not parameters of the simulation. Each names the calibration bullet
# and the source as cited in the parameter files; the fields beside "value" define the figure
# (which years, which cohort) so that the code holds no figure of its own.
PUBLISHED: dict[str, dict[str, Any]] = {
    "children_per_case": {
        "bullet": "A3", "value": {"public": 1.61, "private": 1.52},
        "source": "A3 as cited in params/public_law.yaml (1.56-1.65 children per public law "
                  "case) and params/private_law.yaml (29,801 children in 19,568 private law "
                  "cases, Apr-Sep 2023)"},
    "newborn_share_of_infants": {
        "bullet": "A4", "value": {2007: 0.32, 2016: 0.42},
        "source": "A4 as cited in params/public_law.yaml: newborns (under 7 days) were 32 % of "
                  "infant cases in 2007/08 and 42 % in 2016/17"},
    "no_order_by_ethnicity": {
        "bullet": "A5", "value": {"White": 0.04, "Mixed": 0.05, "Black": 0.09, "Asian": 0.15},
        "source": "A5 as cited in params/public_law.yaml: 'no order' outcomes 4 % White, 5 % "
                  "Mixed, 9 % Black, 15 % Asian"},
    "supervision_order_share": {
        "bullet": "A7", "value": {2010: 0.14, 2016: 0.15},
        "source": "A7 as cited in params/public_law.yaml: standalone supervision orders 14 % "
                  "(2010/11) and 15 % (2016/17)"},
    "sgo_share": {
        "bullet": "A7", "value": {2010: 0.11, 2016: 0.17},
        "source": "A7 as cited in params/public_law.yaml: SGOs 11 % rising to 17 % (Harwin et "
                  "al. 2019)"},
    "sgo_with_supervision_share": {
        "bullet": "A7", "value": {2010: 0.18, 2013: 0.35, 2016: 0.30},
        "source": "A7 as cited in params/public_law.yaml: share of SGOs with a supervision "
                  "order 18 % (2010/11), 35 % (2013/14), 30 % (2016/17) (Harwin et al. 2019)"},
    "removal_share": {
        "bullet": "A7", "value": 0.80,
        "outcomes": ["care_order", "placement_order", "special_guardianship_order",
                     "sgo_with_supervision_order", "child_arrangements_order",
                     "cao_with_supervision_order"],
        "source": "A7: about 4 in 5 children leave care proceedings removed from parental care "
                  "(care, placement or special guardianship order, or a child arrangements "
                  "order, which in public law places the child with another carer)"},
    "within_26_weeks": {
        "bullet": "A8", "value": {2016: 0.61},
        "source": "A8: MoJ Family Court Statistics Quarterly, care and supervision cases "
                  "disposed of within 26 weeks"},
    "applications_started": {
        "bullet": "A2", "year": 2019, "value": {"private": 54930, "public": 18393},
        "source": "A2: MoJ via Nuffield FJO/Family Law Hub 2021: 54,930 private law and 18,393 "
                  "public law applications were started in England and Wales in 2019; a case "
                  "may hold several (A1)"},
    "applicant_male": {
        "bullet": "A6", "value": 0.73,
        "source": "A6 as cited in params/private_law.yaml (Cusworth et al., Wales): men were "
                  "the applicant in 73 % of cases"},
    "respondent_female": {
        "bullet": "A6", "value": 0.68,
        "source": "A6 as cited in params/private_law.yaml (Cusworth et al., Wales): women were "
                  "the respondent in 68 % of cases"},
    "applicant_deprivation": {
        "bullet": "A6", "value": {1: 0.30, 5: 0.13},
        "source": "A6 as cited in params/private_law.yaml: applicants lived in the most "
                  "deprived quintile in 30 % of cases and the least deprived in 13 % (England "
                  "2019/20)"},
    "returners": {
        "bullet": "A10", "value": 0.30, "fy": 2016,
        "source": "A10 as cited in params/private_law.yaml (Halliday, Green & Marsh 2017): "
                  "30 % of applications had been to court before"},
    "returns_within_2_years": {
        "bullet": "A10", "value": 0.63, "fy": 2016, "within_years": 2,
        "source": "A10 as cited in params/private_law.yaml (Halliday, Green & Marsh 2017): "
                  "63 % of returns came within 2 years"},
    "returners_two_or_more": {
        "bullet": "A10", "value": 0.33, "fy": 2016,
        "source": "A10 as cited in params/private_law.yaml (Halliday, Green & Marsh 2017): "
                  "almost a third of returners had 2 or more earlier cases"},
    "recurrent_mothers": {
        "bullet": "A10", "value": 0.24, "cohort_fys": [2007, 2014], "within_years": 7,
        "source": "A10 as cited in params/public_law.yaml: about 1 in 4 mothers return to care "
                  "proceedings within 7 years (first proceedings 2007-14)"},
    "recurrent_young_mothers": {
        "bullet": "A10", "value": 0.33, "tolerance": 0.20,
        "tolerance_why": "a small group (about 300 mothers at classroom scale, so one standard "
                         "error is about 3 points, 9 % of the figure): tolerance 20 %",
        "cohort_fys": [2007, 2014], "within_years": 7,
        "mother_age_under": 20,
        "source": "A10 as cited in params/public_law.yaml: 1 in 3 of the youngest mothers "
                  "return within 7 years"},
    "care_rate_per_10000": {
        "bullet": "A2", "value": 9.2, "fy": 2013, "population_year": 2013,
        "source": "A2 as cited in params/public_law.yaml: care application rates per 10,000 "
                  "children around a national 9.2 in 2013/14 (England)"},
}


# ---------------------------------------------------------------- the dataset
@dataclass(repr=False)
class Dataset:
    """A generated dataset with its configuration, tables loaded once and on demand."""

    data_dir: Path
    config: dict
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Dataset({str(self.data_dir)!r})"

    @classmethod
    def open(cls, data_dir: str | Path) -> Dataset:
        return cls(Path(data_dir), manifest(data_dir)["config"])

    @property
    def scale(self) -> float:
        return float(self.config["scale"])

    @property
    def region(self) -> str:
        return str(self.config["region"])

    @property
    def countries(self) -> list[str]:
        return COUNTRIES[self.region]

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.config["start"] + "-01")

    @property
    def end(self) -> pd.Timestamp:
        """Last day of the period (the end month is inclusive)."""
        return pd.Timestamp(self.config["end"] + "-01") + pd.offsets.MonthEnd(0)

    @property
    def full_fys(self) -> list[int]:
        """Financial years lying wholly inside the period: only these have a full year's count."""
        last_day = pd.Timedelta(days=1)
        return [fy for fy in range(self.start.year - 1, self.end.year + 1)
                if fy_start(fy) >= self.start and fy_start(fy + 1) - last_day <= self.end]

    def table(self, name: str) -> pd.DataFrame | None:
        """The table, or None where it is not in the dataset or not readable (the answer key)."""
        if name not in self._tables:
            try:
                self._tables[name] = load(name, self.data_dir)
            except (InputError, OSError):
                self._tables[name] = None
        return self._tables[name]

    def cached(self, key: str, build: Callable[[], pd.DataFrame | None]) -> pd.DataFrame | None:
        if key not in self._tables:
            self._tables[key] = build()
        return self._tables[key]


class NoData(Exception):
    """Raised by a check when the dataset cannot show its figure; the reason becomes the note."""


def fy_start(fy: int) -> pd.Timestamp:
    return pd.Timestamp(year=fy, month=4, day=1)


def fy_of(dates: pd.Series) -> pd.Series:
    """Financial year (April to March) of each date, keyed by the year it starts in."""
    return (dates.dt.year - (dates.dt.month < 4).astype(int)).astype("Int64")


def fy_label(fy: int) -> str:
    return f"{fy}/{(fy + 1) % 100:02d}"


def nearest_fy(ds: Dataset, wanted: int, max_gap: int = 1) -> int:
    """The full FY closest to ``wanted``; a figure from a year further away would mislead."""
    if not ds.full_fys:
        raise NoData("no financial year lies wholly inside the period")
    best = min(ds.full_fys, key=lambda fy: (abs(fy - wanted), fy))
    if abs(best - wanted) > max_gap:
        raise NoData(f"{fy_label(wanted)} is outside the period")
    return best


def require(frame: pd.DataFrame | None, what: str) -> pd.DataFrame:
    if frame is None:
        raise NoData(f"{what} is missing or not readable in this dataset")
    return frame


def share(mask: pd.Series) -> float:
    """Share of True in a boolean series; NaN (no data) when it is empty."""
    return float(mask.mean()) if len(mask) else float("nan")


def row(check: str, figure: str, bullet: str, group: str, target: float, generated: float,
        x: str = "", tolerance: float = TOLERANCE, note: str = "") -> dict[str, Any]:
    return {"check": check, "figure": figure, "bullet": bullet, "group": group, "x": x,
            "target": float(target), "generated": float(generated), "tolerance": tolerance,
            "note": note}


# ---------------------------------------------------------------- shared frames
def cases(ds: Dataset) -> pd.DataFrame:
    """Cases with their financial year and country (from the authority, as the simulation does)."""
    def build() -> pd.DataFrame:
        frame = require(ds.table("cafcass_cases"), "cafcass_cases").copy()
        las = require(ds.table("local_authorities"), "local_authorities")
        frame["country"] = frame["la_code"].map(las.set_index("la_code")["country"])
        frame["fy"] = fy_of(frame["received_date"])
        return frame
    return ds.cached("_cases", build)


def subject_children(ds: Dataset) -> pd.DataFrame:
    """One row per child in a case, with the case's law type, dates, FY and country."""
    def build() -> pd.DataFrame:
        parties = require(ds.table("cafcass_case_parties"), "cafcass_case_parties")
        kids = parties[parties["party_role"] == "subject_child"]
        cols = ["case_id", "law_type", "received_date", "fy", "country"]
        return kids.merge(cases(ds)[cols], on="case_id", how="left", validate="m:1")
    return ds.cached("_children", build)


def closed_public_children(ds: Dataset) -> pd.DataFrame:
    kids = subject_children(ds)
    outcome = kids["final_outcome"]
    return kids[(kids["law_type"] == "public") & outcome.notna() & (outcome != "open")]


def person_ids(ds: Dataset) -> pd.Series:
    """Ground-truth person_id by cafcass_person_id (answer key)."""
    key = require(ds.table("cafcass_person_key"), "cafcass_person_key")
    return ds.cached("_key", lambda: key.set_index("cafcass_person_id")["person_id"])


def true_people(ds: Dataset) -> pd.DataFrame:
    people = require(ds.table("world_people"), "world_people")
    return ds.cached("_people", lambda: people.set_index("person_id"))


# ---------------------------------------------------------------- population
def population_by_year(ds: Dataset) -> list[dict]:
    """Children 0-17 in reference/population against the ONS targets at the dataset's scale."""
    pop = require(ds.table("population"), "population")
    years = sorted(int(y) for y in pop["year"].unique())
    if not years:
        raise NoData("the population table is empty")
    las = local_authorities(ds.region)
    target = target_children(las, years, ds.scale).groupby("year")["children"].sum()
    generated = pop.groupby("year")["children"].sum()
    return [row("population_children", "Children aged 0-17 (mid-year)", "population",
                "population", target[y], generated.get(y, np.nan), x=str(y), tolerance=0.05,
                note="ONS mid-year estimates at the dataset's scale (population.target_children)")
            for y in years]


def population_by_region(ds: Dataset) -> list[dict]:
    """The same, by region, for the last year: the rates' denominators must be right locally."""
    pop = require(ds.table("population"), "population")
    if pop.empty:
        raise NoData("the population table is empty")
    year = int(pop["year"].max())
    las = local_authorities(ds.region)
    region_of = las.set_index("la_code")["region_name"]
    target = target_children(las, [year], ds.scale)
    target = target.groupby(target["la_code"].map(region_of))["children"].sum()
    this = pop[pop["year"] == year]
    generated = this.groupby(this["la_code"].map(region_of))["children"].sum()
    return [row("population_by_region", f"Children aged 0-17 by region, mid-{year}",
                "population", "population", target[r], generated.get(r, np.nan), x=str(r),
                note="ONS mid-year estimates at the dataset's scale")
            for r in target.index]


# ---------------------------------------------------------------- volumes (A2)
def _count_by_fy(ds: Dataset, law_type: str, country: str) -> pd.Series:
    frame = cases(ds)
    frame = frame[(frame["law_type"] == law_type) & (frame["country"] == country)]
    return frame.groupby("fy").size()


def _volume_targets(law_type: str, country: str, ds: Dataset) -> dict[int, float]:
    """Published yearly volumes at national scale, from the same function the simulation uses,
    so the report and the generator can never read the parameters differently."""
    if not ds.full_fys:
        raise NoData("no financial year lies wholly inside the period")
    annual = public_annual_volumes if law_type == "public" else private_annual_volumes
    fys = range(ds.full_fys[0], ds.full_fys[-1] + 1)
    volumes = annual(load_params(f"{law_type}_law"), fys, [country])
    return {fy: volumes[(country, fy)] for fy in ds.full_fys}


def _yearly_volume_rows(ds: Dataset, law_type: str, check: str, figure: str, group: str,
                        note: str) -> list[dict]:
    if "England" not in ds.countries:
        return []
    target = _volume_targets(law_type, "England", ds)
    counts = _count_by_fy(ds, law_type, "England")
    return [row(check, figure, "A2", group, target[fy] * ds.scale, counts.get(fy, 0),
                x=fy_label(fy), note=note)
            for fy in ds.full_fys]


def _period_volume_row(ds: Dataset, law_type: str, check: str, figure: str, group: str,
                       note: str) -> list[dict]:
    """Welsh volumes over the whole period: yearly counts are too small to judge."""
    if "Wales" not in ds.countries:
        return []
    target = sum(_volume_targets(law_type, "Wales", ds).values())
    generated = _count_by_fy(ds, law_type, "Wales").reindex(ds.full_fys, fill_value=0).sum()
    return [row(check, figure, "A2", group, target * ds.scale, generated,
                x=f"{fy_label(ds.full_fys[0])}-{fy_label(ds.full_fys[-1])}", note=note)]


def public_volumes_england(ds: Dataset) -> list[dict]:
    """s31 applications received in England per FY against the published series (A2)."""
    return _yearly_volume_rows(ds, "public", "public_cases_england",
                               "Care (s31) applications received, England", "public law volumes",
                               "params/public_law.yaml volumes.england_by_fy x scale")


def public_volumes_wales(ds: Dataset) -> list[dict]:
    """Cafcass Cymru care applications over the period."""
    return _period_volume_row(
        ds, "public", "public_cases_wales",
        "Care (s31) applications received, Wales, all full FYs", "public law volumes",
        "wales_anchor_applications x England's index relative to the anchor FY x scale, summed "
        "over FYs (yearly Welsh counts are small at classroom scale)")


def private_volumes_england(ds: Dataset) -> list[dict]:
    """Private law cases received in England per FY against the interpolated anchors (A2)."""
    return _yearly_volume_rows(ds, "private", "private_cases_england",
                               "Private law cases received, England", "private law volumes",
                               "params/private_law.yaml volumes.england_anchors interpolated x "
                               "scale")


def private_volumes_wales(ds: Dataset) -> list[dict]:
    """Cafcass Cymru private law cases over the period, against the flat yearly figure (A2)."""
    return _period_volume_row(ds, "private", "private_cases_wales",
                              "Private law cases received, Wales, all full FYs",
                              "private law volumes", "wales_per_fy x number of full FYs x scale")


def applications_started(ds: Dataset) -> list[dict]:
    """Applications (not cases) started in England and Wales in a calendar year (A2, MoJ): a
    private law case may ask for several orders and a public law case adds emergency protection
    and placement applications to its s31 application, so applications outnumber cases."""
    pub = PUBLISHED["applications_started"]
    year = pub["year"]
    if ds.countries != ["England", "Wales"]:
        return []
    figure = f"Applications started, England and Wales, {year}"
    if not (ds.start <= pd.Timestamp(f"{year}-01-01") and pd.Timestamp(f"{year}-12-31") <= ds.end):
        return [skipped(f"applications_started_{law}", f"{figure} ({law} law)", pub["bullet"],
                        "applications", value * ds.scale, f"{year} is not wholly inside the period",
                        x=str(year)) for law, value in pub["value"].items()]
    apps = require(ds.table("cafcass_applications"), "cafcass_applications")
    law = apps["case_id"].map(cases(ds).set_index("case_id")["law_type"])
    in_year = pd.to_datetime(apps["application_date"]).dt.year == year
    return [row(f"applications_started_{law_type}", f"{figure} ({law_type} law)", pub["bullet"],
                "applications", value * ds.scale, int((in_year & (law == law_type)).sum()),
                x=str(year), note=pub["source"] + "; counted by application date x scale")
            for law_type, value in pub["value"].items()]


CARE_RATE_FIGURES = {"care_applications_per_10000": "Care applications"}


def care_rate_per_10000(ds: Dataset) -> list[dict]:
    """Care applications per 10,000 children in England (A2's headline rate): the published rate
    counts applications, not children, so cases are counted here."""
    pub = PUBLISHED["care_rate_per_10000"]
    if "England" not in ds.countries:
        return []
    if pub["fy"] not in ds.full_fys:
        reason = f"{fy_label(pub['fy'])} is not wholly inside the period"
        return [skipped(check, f"{CARE_RATE_FIGURES[check]}, England {fy_label(pub['fy'])}",
                        pub["bullet"], "public law volumes", pub["value"], reason,
                        fy_label(pub["fy"])) for check in CARE_RATE_FIGURES]
    fy = pub["fy"]
    pop = require(ds.table("population"), "population")
    in_england = pop["la_code"].str.startswith("E") & (pop["year"] == pub["population_year"])
    children = pop.loc[in_england, "children"].sum()
    if not children:
        raise NoData(f"no population for mid-{pub['population_year']}")
    applications = int(_count_by_fy(ds, "public", "England").get(fy, 0))
    where = f"England {fy_label(fy)}, per 10,000 children at mid-{pub['population_year']}"
    return [
        row("care_applications_per_10000",
            f"{CARE_RATE_FIGURES['care_applications_per_10000']}, {where}", pub["bullet"],
            "public law volumes", pub["value"], applications / children * 10_000,
            x=fy_label(fy), tolerance=0.15,
            note=pub["source"] + "; applications (cases) received in the FY, the unit the "
                 "published rate counts"),
    ]


# ---------------------------------------------------------------- children (A3, A4)
def children_per_case(ds: Dataset) -> list[dict]:
    """Mean subject children per case: siblings are added in the simulation, not drawn as a mean."""
    pub = PUBLISHED["children_per_case"]
    per_case = subject_children(ds).groupby("case_id").size()
    law = cases(ds).set_index("case_id")["law_type"]
    rows = []
    for law_type, target in pub["value"].items():
        ids = law.index[law == law_type]
        generated = per_case.reindex(ids, fill_value=0).mean() if len(ids) else np.nan
        rows.append(row(f"children_per_case_{law_type}", f"Children per {law_type} law case",
                        pub["bullet"], "children per case", target, generated,
                        note=pub["source"]))
    return rows


def age_at_application(ds: Dataset) -> list[dict]:
    """Age bands of public law children at receipt against the A4 shares."""
    age = load_params("public_law")["age_at_application"]
    kids = subject_children(ds)
    ages = kids.loc[kids["law_type"] == "public", "age_at_application"]
    rows = []
    for (lo, hi), target in zip(age["bands"], age["child_shares"], strict=True):
        label = str(lo) if lo == hi else f"{lo}-{hi}"
        rows.append(row("age_at_application", "Share of public law children by age at receipt",
                        "A4", "age at application", target, share(ages.between(lo, hi)),
                        x=label, note="params/public_law.yaml age_at_application.child_shares; "
                                      "all public law children in the dataset"))
    return rows


def newborn_share_of_infants(ds: Dataset) -> list[dict]:
    """Among infants in public law, the share under 7 days old: babies removed at birth (A4)."""
    pub = PUBLISHED["newborn_share_of_infants"]
    kids = subject_children(ds)
    infants = kids[(kids["law_type"] == "public") & (kids["age_at_application"] == 0)]
    rows = []
    for year, target in pub["value"].items():
        figure = f"Newborns (under 7 days) among infants in care proceedings, {fy_label(year)}"
        try:
            fy = nearest_fy(ds, year)
        except NoData as err:
            rows.append(skipped("newborn_share_of_infants", figure, pub["bullet"],
                                "age at application", target, str(err), fy_label(year)))
            continue
        these = infants[infants["fy"] == fy]
        note = pub["source"] + ("" if fy == year else f"; compared with {fy_label(fy)}, the "
                                                      "nearest year in the data")
        rows.append(row("newborn_share_of_infants", figure, pub["bullet"], "age at application",
                        target, share(these["age_at_application_days"] < 7), x=fy_label(year),
                        note=note))
    return rows


# ---------------------------------------------------------------- orders (A5, A7)
def _outcome_share_by_fy(ds: Dataset, check: str, figure: str, key: str,
                         numerator: list[str], denominator: list[str] | None) -> list[dict]:
    """Share of closed public law children with an outcome in ``numerator``, by FY of receipt."""
    pub = PUBLISHED[key]
    kids = closed_public_children(ds)
    rows = []
    for year, target in pub["value"].items():
        label = f"{figure}, {fy_label(year)}"
        if year not in ds.full_fys:
            rows.append(skipped(check, label, pub["bullet"], "public law orders", target,
                                f"{fy_label(year)} is not wholly inside the period",
                                fy_label(year)))
            continue
        outcome = kids.loc[kids["fy"] == year, "final_outcome"]
        if denominator is not None:
            outcome = outcome[outcome.isin(denominator)]
        rows.append(row(check, label, pub["bullet"], "public law orders", target,
                        share(outcome.isin(numerator)), x=fy_label(year),
                        note=pub["source"] + "; children by FY of receipt, closed cases"))
    return rows


SGO = ["special_guardianship_order", "sgo_with_supervision_order"]


def order_shares(ds: Dataset) -> list[dict]:
    """Supervision orders, SGOs, and SGOs with supervision, by FY (A7)."""
    return (
        _outcome_share_by_fy(ds, "supervision_order_share", "Standalone supervision orders",
                             "supervision_order_share", ["supervision_order"], None)
        + _outcome_share_by_fy(ds, "sgo_share", "Special guardianship orders", "sgo_share",
                               SGO, None)
        + _outcome_share_by_fy(ds, "sgo_with_supervision_share",
                               "SGOs made with a supervision order (share of SGOs)",
                               "sgo_with_supervision_share", ["sgo_with_supervision_order"], SGO))


def removal_share(ds: Dataset) -> list[dict]:
    """Children leaving proceedings away from their parents (A7): the sum of the order mix, so a
    mix tuned year by year can still miss the overall figure."""
    pub = PUBLISHED["removal_share"]
    outcome = closed_public_children(ds)["final_outcome"]
    return [row("removal_share", "Children leaving proceedings removed from parental care",
                pub["bullet"], "public law orders", pub["value"],
                share(outcome.isin(pub["outcomes"])),
                note=pub["source"] + "; closed public law children, all years")]


def no_order_by_ethnicity(ds: Dataset) -> list[dict]:
    """'No order' outcomes by the child's true ethnic group (A5): recorded ethnicity is mostly
    missing before 2017, so the truth is the fair comparison."""
    pub = PUBLISHED["no_order_by_ethnicity"]
    figure = "Public law children ending with no order, by ethnic group"
    kids = closed_public_children(ds)
    try:
        ethnicity = kids["cafcass_person_id"].map(person_ids(ds)).map(
            true_people(ds)["ethnicity"])
    except NoData as err:
        return [skipped("no_order_by_ethnicity", figure, pub["bullet"], "public law orders",
                        target, str(err), group) for group, target in pub["value"].items()]
    no_order = kids["final_outcome"] == "no_order"
    return [row("no_order_by_ethnicity", figure, pub["bullet"], "public law orders", target,
                share(no_order[ethnicity == group]), x=group, tolerance=0.25,
                note=pub["source"] + "; true ethnicity from the answer key; tolerance 25 % "
                     "relative because these shares are small (a few hundred children per "
                     "group at classroom scale)")
            for group, target in pub["value"].items()]


# ---------------------------------------------------------------- durations (A8)
def _duration_rows(ds: Dataset, law_type: str) -> list[dict]:
    """Mean weeks to final order by FY of receipt, for FYs ending 3+ years before the period end
    so that cases still open do not pull the mean down."""
    durations = load_params(f"{law_type}_law")["durations"]
    anchors = {int(k): v for k, v in durations["mean_weeks_by_fy"].items()}
    settled = [fy for fy in ds.full_fys
               if fy_start(fy + 1) + pd.DateOffset(years=3) <= ds.end + pd.Timedelta(days=1)]
    if not settled:
        raise NoData("no financial year ends 3 years before the period end, so every year's "
                     "mean would be cut short by cases still open")
    frame = cases(ds)
    frame = frame[(frame["law_type"] == law_type) & frame["duration_weeks"].notna()]
    means = frame.groupby("fy")["duration_weeks"].mean()
    target = interpolate_by_year(anchors, settled)
    return [row(f"{law_type}_duration_weeks", f"Mean weeks to final order, {law_type} law",
                "A8", "durations", target[fy], means.get(fy, np.nan), x=fy_label(fy),
                note=f"params/{law_type}_law.yaml durations.mean_weeks_by_fy, by FY of receipt "
                     "(published by year of disposal)")
            for fy in settled]


def public_durations(ds: Dataset) -> list[dict]:
    return _duration_rows(ds, "public")


def private_durations(ds: Dataset) -> list[dict]:
    return _duration_rows(ds, "private")


def within_26_weeks(ds: Dataset) -> list[dict]:
    pub = PUBLISHED["within_26_weeks"]
    limit = load_params("public_law")["durations"]["limit_weeks"]
    frame = cases(ds)
    rows = []
    for year, target in pub["value"].items():
        figure = f"Care cases ending within {limit} weeks, {fy_label(year)}"
        if year not in ds.full_fys:
            rows.append(skipped("within_26_weeks", figure, pub["bullet"], "durations", target,
                                f"{fy_label(year)} is not wholly inside the period",
                                fy_label(year)))
            continue
        these = frame[(frame["law_type"] == "public") & (frame["fy"] == year)
                      & frame["duration_weeks"].notna()]
        rows.append(row("within_26_weeks", figure, pub["bullet"], "durations", target,
                        share(these["duration_weeks"] <= limit), x=fy_label(year),
                        tolerance=0.15, note=pub["source"] + "; by FY of receipt"))
    return rows


# ---------------------------------------------------------------- recording (A5)
def ethnicity_recording(ds: Dataset) -> list[dict]:
    """Missing ethnicity on child records, before and after routine collection began (A5): the
    gap learners must handle before any analysis by ethnic group."""
    rec = load_params("recording")["ethnicity"]
    people = require(ds.table("cafcass_people"), "cafcass_people")
    kids = people[people["person_type"] == "child"]
    before = kids["first_case_received_date"].dt.year < rec["change_year"]
    missing = kids["ethnicity"].isna()
    figure = "Child records with ethnicity missing, first seen"
    return [
        row("ethnicity_missing", f"{figure} before {rec['change_year']}", "A5",
            "ethnicity recording", rec["missing_before_2017"], share(missing[before]),
            x=f"before {rec['change_year']}", note="params/recording.yaml ethnicity"),
        row("ethnicity_missing", f"{figure} from {rec['change_year']}", "A5",
            "ethnicity recording", rec["missing_from_2017"], share(missing[~before]),
            x=f"from {rec['change_year']}", note="params/recording.yaml ethnicity"),
    ]


# ---------------------------------------------------------------- private law (A6, A9, A10)
def private_parties(ds: Dataset) -> pd.DataFrame:
    """One row per private law case: applicant and respondent with their recorded sex."""
    def build() -> pd.DataFrame:
        parties = require(ds.table("cafcass_case_parties"), "cafcass_case_parties")
        people = require(ds.table("cafcass_people"), "cafcass_people")
        sex = people.set_index("cafcass_person_id")["sex"]
        frame = cases(ds)
        frame = frame.loc[frame["law_type"] == "private",
                          ["case_id", "received_date", "fy", "country"]]
        for role in ("applicant", "respondent"):
            these = parties.loc[parties["party_role"] == role,
                                ["case_id", "cafcass_person_id", "relationship"]]
            these = these.drop_duplicates("case_id")
            these = these.rename(columns={"cafcass_person_id": role,
                                          "relationship": f"{role}_relationship"})
            frame = frame.merge(these, on="case_id", how="left", validate="1:1")
            frame[f"{role}_sex"] = frame[role].map(sex)
        return frame
    return ds.cached("_private_parties", build)


def party_shares(ds: Dataset) -> list[dict]:
    """Who applies against whom in private law (A6)."""
    frame = private_parties(ds)
    parents = ["mother", "father"]
    between = load_params("private_law")["parties"]["between_parents"]
    male, female = PUBLISHED["applicant_male"], PUBLISHED["respondent_female"]
    return [
        row("applicant_male", "Private law cases with a man as applicant", male["bullet"],
            "private law parties", male["value"], share(frame["applicant_sex"] == "M"),
            note=male["source"] + "; recorded sex of the applicant"),
        row("respondent_female", "Private law cases with a woman as respondent",
            female["bullet"], "private law parties", female["value"],
            share(frame["respondent_sex"] == "F"),
            note=female["source"] + "; recorded sex of the respondent"),
        row("between_parents", "Private law cases between the two parents", "A6",
            "private law parties", between,
            share(frame["applicant_relationship"].isin(parents)
                  & frame["respondent_relationship"].isin(parents)),
            note="params/private_law.yaml parties.between_parents"),
    ]


def _quintile_at(ds: Dataset, persons: pd.Series, dates: pd.Series) -> pd.Series:
    """Deprivation quintile of each Cafcass person's address on the date (answer key)."""
    return quintile_of(ds, persons.map(person_ids(ds)), dates)


def quintile_of(ds: Dataset, people: pd.Series, dates: pd.Series) -> pd.Series:
    """Deprivation quintile of each true person's address on the date (answer key residences;
    adults only, as a child lives at its mother's)."""
    residences = require(ds.table("world_residences"), "world_residences")
    left = pd.DataFrame({"row": people.index, "person_id": people.to_numpy(),
                         "date": dates.to_numpy()}).dropna(subset=["person_id"])
    left["person_id"] = left["person_id"].astype("int64")
    right = residences[residences["person_id"].isin(left["person_id"])]
    right = right[["person_id", "date_from", "date_to", "imd_quintile"]].sort_values("date_from")
    merged = pd.merge_asof(left.sort_values("date"), right, left_on="date",
                           right_on="date_from", by="person_id", direction="backward")
    current = merged["date_to"].isna() | (merged["date_to"] >= merged["date"])
    return merged.loc[current].set_index("row")["imd_quintile"].reindex(people.index)


def applicant_deprivation(ds: Dataset) -> list[dict]:
    """Applicants' deprivation quintile at the case's receipt (A6, England only: Welsh quintiles
    are a different index and cannot be pooled with England's).

    The quintile comes from the applicant's address history in the answer key on the day the
    case was received, not from the postcode in cafcass_people: that postcode is the one at the
    person's first case, and a returning applicant may have moved since. (On the classroom data
    the two ways agree to within a percentage point.)"""
    pub = PUBLISHED["applicant_deprivation"]
    if "England" not in ds.countries:
        return []
    frame = private_parties(ds)
    frame = frame[frame["country"] == "England"]
    quintile = _quintile_at(ds, frame["applicant"], frame["received_date"])
    known = quintile.dropna()
    names = {1: "most deprived quintile", 5: "least deprived quintile"}
    return [row(f"applicant_quintile_{q}", f"Private law applicants living in the {names[q]}, "
                "England", pub["bullet"], "private law parties", target,
                share(known == q), x=names[q],
                note=pub["source"] + "; the applicant's address on the day the case was "
                     "received (answer key residences via the person key), all years")
            for q, target in pub["value"].items()]


def domestic_abuse(ds: Dataset) -> list[dict]:
    """Allegations at safeguarding checks and who the alleged victim is (A9), as recorded."""
    da = load_params("private_law")["domestic_abuse"]
    frame = cases(ds)
    frame = frame[frame["law_type"] == "private"]
    alleged = frame["domestic_abuse_alleged"].astype("boolean").fillna(False).astype(bool)
    victims = frame.loc[alleged, "alleged_victim"]
    return [
        row("abuse_alleged", "Private law cases with domestic abuse alleged", "A9",
            "domestic abuse", da["allegation_share"], share(alleged),
            note="params/private_law.yaml domestic_abuse.allegation_share"),
        row("abuse_mother_victim", "Mother the alleged victim, where abuse is alleged", "A9",
            "domestic abuse", da["mother_alleged_victim"], share(victims == "mother"),
            note="params/private_law.yaml domestic_abuse.mother_alleged_victim"),
    ]


def private_families(ds: Dataset) -> pd.DataFrame:
    """Private law cases with their family (the mother and father, true ids) and the final order
    date of the same family's previous case."""
    def build() -> pd.DataFrame:
        parties = require(ds.table("cafcass_case_parties"), "cafcass_case_parties")
        key = person_ids(ds)
        frame = cases(ds)
        frame = frame.loc[frame["law_type"] == "private",
                          ["case_id", "received_date", "final_order_date", "fy",
                           "previous_cases"]]
        parents = parties[parties["relationship"].isin(["mother", "father"])
                          & parties["case_id"].isin(frame["case_id"])]
        parents = parents.assign(pid=parents["cafcass_person_id"].map(key))
        family = parents.pivot_table(index="case_id", columns="relationship", values="pid",
                                     aggfunc="first")
        frame = frame.merge(family, left_on="case_id", right_index=True, how="left")
        frame = frame.sort_values(["mother", "father", "received_date", "case_id"])
        same = (frame["mother"].eq(frame["mother"].shift())
                & frame["father"].eq(frame["father"].shift()))
        frame["previous_final"] = frame["final_order_date"].shift().where(same)
        return frame
    return ds.cached("_private_families", build)


RETURNERS = "private law returners"


def published_row(key: str, figure: str, group: str, measure: Callable[[], float],
                  note: str = "") -> dict[str, Any]:
    """A row for a figure in PUBLISHED; a dataset that cannot show it gives a skipped row that
    still carries the target."""
    pub = PUBLISHED[key]
    x = fy_label(pub["fy"]) if "fy" in pub else ""
    try:
        generated = measure()
    except NoData as err:
        return skipped(key, figure, pub["bullet"], group, pub["value"], str(err), x)
    return row(key, figure, pub["bullet"], group, pub["value"], generated, x=x,
               note=pub["source"] + note)


def private_cases_in(ds: Dataset, fy: int) -> pd.DataFrame:
    if fy not in ds.full_fys:
        raise NoData(f"{fy_label(fy)} is not wholly inside the period")
    frame = cases(ds)
    return frame[(frame["law_type"] == "private") & (frame["fy"] == fy)]


def returner_share(ds: Dataset) -> list[dict]:
    """Private law cases that had been to court before (A10). The simulation starts with no
    history, so cases before the period are unseen and the share builds up over its first
    years."""
    fy = PUBLISHED["returners"]["fy"]
    return [published_row(
        "returners", f"Private law cases that had been to court before, {fy_label(fy)}",
        RETURNERS, lambda: share(private_cases_in(ds, fy)["previous_cases"] > 0),
        note=f"; previous cases are counted from {ds.config['start']}, the start of the "
             "simulated period")]


def return_gaps(ds: Dataset) -> list[dict]:
    """How soon families come back: years from the previous case's final order (A10)."""
    pub = PUBLISHED["returns_within_2_years"]
    fy, within = pub["fy"], pub["within_years"]

    def measure() -> float:
        private_cases_in(ds, fy)
        fam = private_families(ds)
        fam = fam[(fam["fy"] == fy) & (fam["previous_cases"] > 0)
                  & fam["previous_final"].notna()]
        gap_years = (fam["received_date"] - fam["previous_final"]).dt.days / DAYS_PER_YEAR
        return share(gap_years <= within)

    return [published_row(
        "returns_within_2_years", f"Returning cases received within {within} years of the "
        f"family's previous final order, {fy_label(fy)}", RETURNERS, measure,
        note="; family = the same mother and father (answer key)")]


def repeat_returners(ds: Dataset) -> list[dict]:
    """Returners with two or more earlier cases (A10)."""
    fy = PUBLISHED["returners_two_or_more"]["fy"]

    # Three FYs centred on the published one: returners are a few hundred cases a year at
    # classroom scale, too few for a share of a share to settle within 10 % in one year.
    fys = [y for y in (fy - 1, fy, fy + 1) if y in ds.full_fys]

    def measure() -> float:
        if not fys:
            raise NoData(f"{fy_label(fy)} is not wholly inside the period")
        previous = pd.concat([private_cases_in(ds, y) for y in fys])["previous_cases"]
        return share(previous[previous > 0] >= 2)

    label = f"{fy_label(fys[0])}-{fy_label(fys[-1])}" if fys else fy_label(fy)
    return [published_row(
        "returners_two_or_more", f"Returners with 2 or more earlier cases, {label}",
        RETURNERS, measure, note="; earlier cases counted within the period only; three FYs "
                                 "centred on the published one, for a steadier share")]


# ---------------------------------------------------------------- recurrence (A10)
def mothers_first_cases(ds: Dataset) -> pd.DataFrame:
    """Each mother's first public law case in the data and the date of her next one."""
    truth = require(ds.table("cafcass_case_truth"), "cafcass_case_truth")
    frame = cases(ds)
    frame = frame.loc[frame["law_type"] == "public", ["case_id", "received_date", "fy"]]
    frame = frame.merge(truth[["case_id", "mother_id"]], on="case_id").dropna(subset=["mother_id"])
    frame = frame.sort_values(["mother_id", "received_date", "case_id"])
    frame["next_date"] = frame.groupby("mother_id")["received_date"].shift(-1)
    first = frame.drop_duplicates("mother_id").copy()
    dob = true_people(ds)["date_of_birth"]
    first["mother_age"] = (first["received_date"] - first["mother_id"].map(dob)).dt.days \
        / DAYS_PER_YEAR
    return first


RECURRENCE = "recurrent care proceedings"


def recurrence_row(ds: Dataset, key: str, label: str) -> dict[str, Any]:
    """Share of a cohort of mothers back in care proceedings within the figure's years."""
    pub = PUBLISHED[key]
    years = pub["within_years"]
    first_fy, last_fy = pub["cohort_fys"]
    figure = f"{label} within {years} years of their first case"
    try:
        first = mothers_first_cases(ds)
    except NoData as err:
        return skipped(key, figure, pub["bullet"], RECURRENCE, pub["value"], str(err))
    latest = ds.end - pd.DateOffset(years=years)
    cohort = first[(first["fy"] >= first_fy) & (first["fy"] <= last_fy)
                   & (first["received_date"] <= latest)]
    if "mother_age_under" in pub:
        cohort = cohort[cohort["mother_age"] < pub["mother_age_under"]]
    if cohort.empty:
        return skipped(key, figure, pub["bullet"], RECURRENCE, pub["value"],
                       f"no mother's first case in {fy_label(first_fy)}-{fy_label(last_fy)} "
                       f"lies {years} years before the period end")
    within = cohort["next_date"] <= cohort["received_date"] + pd.DateOffset(years=years)
    seen = f"{fy_label(int(cohort['fy'].min()))}-{fy_label(int(cohort['fy'].max()))}"
    return row(key, figure, pub["bullet"], RECURRENCE, pub["value"], share(within), x=seen,
               tolerance=pub.get("tolerance", 0.10),
               note=pub["source"] + "; first case within the data (proceedings before the "
                    "period are unseen); mother and her age from the answer key"
                    + (f"; {pub['tolerance_why']}" if "tolerance_why" in pub else ""))


def recurrent_mothers(ds: Dataset) -> list[dict]:
    """Mothers back in care proceedings within 7 years of their first (A10): the recurrence the
    simulation produces through later babies, not a rate it applies."""
    return [recurrence_row(ds, "recurrent_mothers", "Mothers back in care proceedings")]


def recurrent_young_mothers(ds: Dataset) -> list[dict]:
    """The same for the youngest mothers, whose risk A10 finds highest."""
    return [recurrence_row(ds, "recurrent_young_mothers",
                           "Mothers under 20 back in care proceedings")]


# ---------------------------------------------------------------- registry
def skipped(check: str, figure: str, bullet: str, group: str, target: float, reason: str,
            x: str = "") -> dict[str, Any]:
    return row(check, figure, bullet, group, target, float("nan"), x=x,
               note=f"skipped: {reason}")


# In report order: the data foundation, then public law, private law, and recurrence.
CHECKS: tuple[tuple[str, str, str, Callable[[Dataset], list[dict]]], ...] = (
    ("population", "population", "Children 0-17 by year", population_by_year),
    ("population", "population", "Children 0-17 by region", population_by_region),
    ("public law volumes", "A2", "Care applications, England", public_volumes_england),
    ("public law volumes", "A2", "Care applications, Wales", public_volumes_wales),
    ("public law volumes", "A2", "Care rate per 10,000 children", care_rate_per_10000),
    ("private law volumes", "A2", "Private law cases, England", private_volumes_england),
    ("private law volumes", "A2", "Private law cases, Wales", private_volumes_wales),
    ("applications", "A2", "Applications started", applications_started),
    ("children per case", "A3", "Children per case", children_per_case),
    ("age at application", "A4", "Age at application", age_at_application),
    ("age at application", "A4", "Newborns among infants", newborn_share_of_infants),
    ("public law orders", "A7", "Order shares", order_shares),
    ("public law orders", "A7", "Removal share", removal_share),
    ("public law orders", "A5", "No order by ethnicity", no_order_by_ethnicity),
    ("durations", "A8", "Public law durations", public_durations),
    ("durations", "A8", "Private law durations", private_durations),
    ("durations", "A8", "Within 26 weeks", within_26_weeks),
    ("ethnicity recording", "A5", "Ethnicity missing", ethnicity_recording),
    ("private law parties", "A6", "Parties", party_shares),
    ("private law parties", "A6", "Applicant deprivation", applicant_deprivation),
    ("domestic abuse", "A9", "Domestic abuse", domestic_abuse),
    (RETURNERS, "A10", "Returners", returner_share),
    (RETURNERS, "A10", "Return gaps", return_gaps),
    (RETURNERS, "A10", "Repeat returners", repeat_returners),
    (RECURRENCE, "A10", "Recurrent mothers", recurrent_mothers),
    (RECURRENCE, "A10", "Recurrent young mothers", recurrent_young_mothers),
)


def _all_checks() -> tuple:
    from synthetic_data.realism.linked import LINKED_CHECKS
    from synthetic_data.realism.mothers import MOTHER_CHECKS
    from synthetic_data.realism.newborns import NEWBORN_CHECKS

    return CHECKS + MOTHER_CHECKS + NEWBORN_CHECKS + LINKED_CHECKS


def run_check(ds: Dataset, entry: tuple[str, str, str, Callable[[Dataset], list[dict]]]
              ) -> list[dict]:
    """One check's rows; a dataset that cannot show the figure gives one skipped row."""
    group, bullet, name, check = entry
    try:
        return check(ds)
    except NoData as err:
        return [skipped(check.__name__, name, bullet, group, float("nan"), str(err))]


def judge(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``passed``: within tolerance relative to the target. No generated value never passes."""
    out = frame.copy()
    diff = (out["generated"] - out["target"]).abs()
    limit = out["tolerance"] * out["target"].abs()
    out["passed"] = (diff <= limit + 1e-12) & out["generated"].notna() & out["target"].notna()
    out["passed"] = out["passed"].astype(bool)
    no_data = out["generated"].isna() & ~out["note"].fillna("").str.startswith("skipped")
    out.loc[no_data, "note"] = "skipped: no generated data for this figure; " + \
        out.loc[no_data, "note"].fillna("")
    return out


def compute_checks(data_dir: str | Path) -> pd.DataFrame:
    """Every calibrated figure of the dataset beside its target, one row each, in report order."""
    ds = Dataset.open(data_dir)
    rows = [r for entry in _all_checks() for r in run_check(ds, entry)]
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "passed"])
    frame["tolerance"] = frame["tolerance"].astype(float)
    return judge(frame)[list(COLUMNS)]


def is_skipped(frame: pd.DataFrame) -> pd.Series:
    """Rows the dataset could not show (no generated value)."""
    return frame["generated"].isna()


YEAR_LABEL = re.compile(r"^\d{4}(/\d{2})?$")


def year_of(label: str) -> int | None:
    """The (starting) year of an x label such as '2013' or '2013/14'; None for a category."""
    return int(label[:4]) if YEAR_LABEL.match(str(label)) else None
