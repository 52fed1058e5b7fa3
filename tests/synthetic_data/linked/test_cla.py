"""Looked-after episodes: built from the case truth, non-overlapping, within life and period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE
from synthetic_data.core.params import load_params
from synthetic_data.linked.cla import COLUMNS, simulate_looked_after
from synthetic_data.proceedings.casebook import CaseBook

RANK = {"V2": 0, "L2": 1, "C1": 2, "C2": 3, "E1": 4}


@pytest.fixture(scope="module")
def episodes(small_extract) -> pd.DataFrame:
    world, book, cohort = small_extract
    return simulate_looked_after(world, cohort, book, load_params("cla"),
                                 np.random.default_rng(1))


def _public_children(book: CaseBook) -> pd.DataFrame:
    cases = book.frame("cases")
    return book.frame("children").merge(
        cases.loc[cases["law_type"] == "public", ["case_no", "issue_day", "final_day"]],
        on="case_no")


def test_deterministic_and_columns(small_extract, episodes):
    world, book, cohort = small_extract
    again = simulate_looked_after(world, cohort, book, load_params("cla"),
                                  np.random.default_rng(1))
    pd.testing.assert_frame_equal(episodes, again)
    assert tuple(episodes.columns) == COLUMNS
    assert len(episodes) > 200


def test_codes_are_documented(episodes):
    codes = load_params("cla")["codes"]
    assert set(episodes["legal_status"]) <= set(codes["legal_status"])
    assert set(episodes["placement_type"]) <= set(codes["placement_type"])
    assert set(episodes["reason_ceased"].dropna()) <= set(codes["reason_ceased"])


def test_only_children_in_public_law(small_extract, episodes):
    _, book, _ = small_extract
    assert set(episodes["person"]) <= set(_public_children(book)["person"])


def test_episodes_do_not_overlap_and_stay_in_life_and_period(small_extract, episodes):
    world = small_extract[0]
    person = episodes["person"].to_numpy()
    start = episodes["episode_start"].to_numpy()
    end = episodes["episode_end"].to_numpy()
    is_open = end == NO_DATE
    open_end = np.where(is_open, world.end_day + 1, end)
    assert (open_end > start).all()
    same = person[1:] == person[:-1]
    assert (start[1:][same] >= open_end[:-1][same]).all()
    assert (start[1:][same] >= start[:-1][same]).all()
    assert (start >= world.start_day).all() and (start <= world.end_day).all()
    assert (end[~is_open] <= world.end_day).all()
    assert (start >= world.dob[person]).all()
    dod = world.dod[person]
    dead = dod != NO_DATE
    assert (open_end[dead & ~is_open] <= dod[dead & ~is_open]).all()
    assert not (is_open & dead & (dod <= world.end_day)).any()
    adult = world.dob[person].astype(np.int64) + int(18 * DAYS_PER_YEAR)
    assert (open_end[~is_open] <= adult[~is_open]).all()
    # Open episodes have no reason; closed ones have one.
    assert episodes["reason_ceased"][is_open].isna().all()
    assert episodes["reason_ceased"][~is_open].notna().all()


def test_x1_means_the_next_episode_starts_that_day(episodes):
    person = episodes["person"].to_numpy()
    start = episodes["episode_start"].to_numpy()
    end = episodes["episode_end"].to_numpy()
    x1 = np.flatnonzero(episodes["reason_ceased"].to_numpy() == "X1")
    assert x1.size > 0
    assert (x1 + 1 < len(episodes)).all()
    assert (person[x1 + 1] == person[x1]).all() and (start[x1 + 1] == end[x1]).all()


def test_legal_status_sequence(episodes):
    """Within a period of care the status only moves on (V2, L2, C1, then C2 or E1), except
    that a child already under a care or placement order may come to new proceedings."""
    status = episodes["legal_status"].map(RANK).to_numpy()
    x1 = np.flatnonzero(episodes["reason_ceased"].to_numpy() == "X1")
    before, after = status[x1], status[x1 + 1]
    under_order = before >= RANK["C2"]
    assert (after[~under_order] >= before[~under_order]).all()
    assert (after[under_order] != RANK["V2"]).all()


def test_adoption_only_after_placement_order(episodes):
    adopted = episodes["reason_ceased"].isin(["E11", "E12"])
    assert adopted.sum() > 0
    assert (episodes["legal_status"][adopted] == "E1").all()
    assert episodes["placement_type"][adopted].isin(["A5", "A6"]).all()
    placed = episodes["placement_type"].isin(["A5", "A6"])
    assert (episodes["legal_status"][placed] == "E1").all()


def test_follows_the_case_truth(small_extract, episodes):
    world, book, _ = small_extract
    kids = _public_children(book)
    kids = kids[(kids["final_day"] != NO_DATE) & kids["final_day"].between(
        world.start_day + 400, world.end_day - 800)]
    # A child on a placement order has an E1 episode from the final order day.
    e1 = episodes[episodes["legal_status"] == "E1"]
    po = kids[kids["outcome"] == "placement_order"]
    starts = set(zip(e1["person"], e1["episode_start"], strict=True))
    hits = [(p, d) in starts for p, d in zip(po["person"], po["final_day"], strict=True)]
    assert np.mean(hits) > 0.9
    # Special guardianship ends the period with E43 or E44 on the final order day.
    ended = episodes[episodes["reason_ceased"].isin(["E43", "E44"])]
    sgo = kids[kids["outcome"] == "special_guardianship_order"]
    ends = set(zip(ended["person"], ended["episode_end"], strict=True))
    looked_after = set(episodes["person"])
    sgo = sgo[sgo["person"].isin(looked_after)]
    pairs = zip(sgo["person"], sgo["final_day"], strict=True)
    assert np.mean([(p, d) in ends for p, d in pairs]) > 0.8
    # Most adoptions follow the placement order by 9 to 18 months.
    ad = episodes[episodes["reason_ceased"].isin(["E11", "E12"])].merge(
        po[["person", "final_day"]], on="person")
    gap = (ad["episode_end"] - ad["final_day"]) / 30.44
    assert gap.between(8.5, 18.5).mean() > 0.8


def test_s20_share_near_configured(small_extract, episodes):
    _, book, _ = small_extract
    share = load_params("cla")["s20"]["share_before_application"]
    v2 = episodes[episodes["legal_status"] == "V2"]["person"].nunique()
    la = episodes["person"].nunique()
    assert 0.5 * share < v2 / la < 1.5 * share
