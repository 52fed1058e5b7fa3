"""What every realism check counts from: the dataset, the frames shared between themes, and the
shape of a result row.

Checks count each figure from the generated tables exactly as an analyst would, so several
themes need the same derived frames (cases with their country and financial year, subject
children, each mother's first case). They are built once per dataset here and cached on it, so
that a theme never imports another theme and the report reads each table once.

A figure the dataset cannot show (a year outside its period, an answer key that is not readable)
raises :class:`NoData` or gives a :func:`skipped` row: it stays in the report with a note, rather
than being dropped or crashing the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synthetic_data.api import load, manifest
from synthetic_data.core.dates import DAYS_PER_YEAR
from synthetic_data.core.errors import InputError
from synthetic_data.realism.targets import tolerance

# Relative: a figure passes when |generated - target| <= TOLERANCE * |target|, unless it says
# otherwise.
TOLERANCE = tolerance("default")
COLUMNS = ("check", "figure", "bullet", "group", "x", "target", "generated", "tolerance",
           "passed", "note")
COUNTRIES = {"england": ["England"], "wales": ["Wales"], "both": ["England", "Wales"]}
# Report groups that checks of more than one module fill.
RECURRENCE = "recurrent care proceedings"


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


# ---------------------------------------------------------------- financial years
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


# ---------------------------------------------------------------- rows
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


def skipped(check: str, figure: str, bullet: str, group: str, target: float, reason: str,
            x: str = "") -> dict[str, Any]:
    """A row that keeps the target of a figure this dataset cannot show, with the reason."""
    return row(check, figure, bullet, group, target, float("nan"), x=x,
               note=f"skipped: {reason}")


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
