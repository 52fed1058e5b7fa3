"""How many cases and applications the data holds, against the published volumes (A2).

Yearly volumes are parameters of the simulation, so their targets are read through the same
functions the simulation uses (the report and the generator can never read the parameter files
differently); the published figures that are not parameters (applications started, the care
rate) come from ``targets.yaml``. Volumes are scaled by the dataset's scale and restricted to
the countries it covers.
"""

from __future__ import annotations

import pandas as pd

from synthetic_data.core.params import load_params
from synthetic_data.proceedings.private_law import annual_volumes as private_annual_volumes
from synthetic_data.proceedings.public_law import annual_volumes as public_annual_volumes
from synthetic_data.realism.frames import Dataset, NoData, cases, fy_label, require, row, skipped
from synthetic_data.realism.targets import published

PUBLIC_VOLUMES = "public law volumes"
PRIVATE_VOLUMES = "private law volumes"
APPLICATIONS = "applications"
CARE_RATE_FIGURES = {"care_applications_per_10000": "Care applications"}


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
                               "Care (s31) applications received, England", PUBLIC_VOLUMES,
                               "params/public_law.yaml volumes.england_by_fy x scale")


def public_volumes_wales(ds: Dataset) -> list[dict]:
    """Cafcass Cymru care applications over the period."""
    return _period_volume_row(
        ds, "public", "public_cases_wales",
        "Care (s31) applications received, Wales, all full FYs", PUBLIC_VOLUMES,
        "wales_anchor_applications x England's index relative to the anchor FY x scale, summed "
        "over FYs (yearly Welsh counts are small at classroom scale)")


def private_volumes_england(ds: Dataset) -> list[dict]:
    """Private law cases received in England per FY against the interpolated anchors (A2)."""
    return _yearly_volume_rows(ds, "private", "private_cases_england",
                               "Private law cases received, England", PRIVATE_VOLUMES,
                               "params/private_law.yaml volumes.england_anchors interpolated x "
                               "scale")


def private_volumes_wales(ds: Dataset) -> list[dict]:
    """Cafcass Cymru private law cases over the period, against the flat yearly figure (A2)."""
    return _period_volume_row(ds, "private", "private_cases_wales",
                              "Private law cases received, Wales, all full FYs",
                              PRIVATE_VOLUMES, "wales_per_fy x number of full FYs x scale")


def applications_started(ds: Dataset) -> list[dict]:
    """Applications (not cases) started in England and Wales in a calendar year (A2, MoJ): a
    private law case may ask for several orders and a public law case adds emergency protection
    and placement applications to its s31 application, so applications outnumber cases."""
    pub = published("applications_started")
    year = pub["year"]
    if ds.countries != ["England", "Wales"]:
        return []
    figure = f"Applications started, England and Wales, {year}"
    if not (ds.start <= pd.Timestamp(f"{year}-01-01") and pd.Timestamp(f"{year}-12-31") <= ds.end):
        return [skipped(f"applications_started_{law}", f"{figure} ({law} law)", pub["bullet"],
                        APPLICATIONS, value * ds.scale, f"{year} is not wholly inside the period",
                        x=str(year)) for law, value in pub["value"].items()]
    apps = require(ds.table("cafcass_applications"), "cafcass_applications")
    law = apps["case_id"].map(cases(ds).set_index("case_id")["law_type"])
    in_year = pd.to_datetime(apps["application_date"]).dt.year == year
    return [row(f"applications_started_{law_type}", f"{figure} ({law_type} law)", pub["bullet"],
                APPLICATIONS, value * ds.scale, int((in_year & (law == law_type)).sum()),
                x=str(year), note=pub["source"] + "; counted by application date x scale")
            for law_type, value in pub["value"].items()]


def care_rate_per_10000(ds: Dataset) -> list[dict]:
    """Care applications per 10,000 children in England (A2's headline rate): the published rate
    counts applications, not children, so cases are counted here."""
    pub = published("care_rate_per_10000")
    if "England" not in ds.countries:
        return []
    if pub["fy"] not in ds.full_fys:
        reason = f"{fy_label(pub['fy'])} is not wholly inside the period"
        return [skipped(check, f"{CARE_RATE_FIGURES[check]}, England {fy_label(pub['fy'])}",
                        pub["bullet"], PUBLIC_VOLUMES, pub["value"], reason,
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
            PUBLIC_VOLUMES, pub["value"], applications / children * 10_000,
            x=fy_label(fy), tolerance=pub["tolerance"],
            note=pub["source"] + "; applications (cases) received in the FY, the unit the "
                 "published rate counts"),
    ]
