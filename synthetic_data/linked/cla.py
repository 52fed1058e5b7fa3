"""Children looked after: SSDA903-like episodes of the children in public law proceedings.

A local authority's return records each child's periods of care as episodes: a new episode
starts whenever the legal status or placement changes, on the day the previous one ends. The
episodes here follow the case truth (``CaseBook``): accommodation under s20 before some
applications, an emergency protection order, the interim care order until the final hearing,
then whatever the final order means for the child (a care order keeps them looked after until
18, a placement order usually ends in adoption, a special guardianship or child arrangements
order ends the period). Rates and codes live in ``params/cla.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE
from synthetic_data.linked.cohort import Cohort
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.world.people import ROLE_CHILD, World

INF = np.int64(2**40)  # "not ended yet" while episodes are being built
IN_CARE_OUTCOMES = ("care_order", "placement_order")
COLUMNS = ("person", "episode_start", "episode_end", "legal_status", "placement_type",
           "reason_ceased")


def simulate_looked_after(world: World, cohort: Cohort, book: CaseBook, params: dict,
                          rng: np.random.Generator) -> pd.DataFrame:
    rows = _child_cases(world, cohort, book)
    segments = _segments(world, rows, params, rng)
    segments = _cap(world, rows, segments)
    pieces = _placements(world, rows, _split_moves(world, segments, params, rng), params, rng)
    return _within_period(world, rows, pieces)


def _child_cases(world: World, cohort: Cohort, book: CaseBook) -> pd.DataFrame:
    """One row per child and public law case, in order of issue, with its interim orders."""
    cases = book.frame("cases")
    cases = cases.loc[cases["law_type"] == "public", ["case_no", "issue_day", "final_day"]]
    children = book.frame("children").merge(cases, on="case_no")
    person = children["person"].to_numpy(dtype=np.int64)
    children = children[np.isin(person, cohort.persons) & (world.role[person] == ROLE_CHILD)]
    orders = book.frame("orders")
    for kind, name in (("emergency_protection_order", "epo_day"),
                       ("interim_care_order", "ico_day")):
        first = orders[orders["order_type"] == kind].groupby(["case_no", "person"])["day"].min()
        children = children.merge(first.rename(name).reset_index(), how="left",
                                  on=["case_no", "person"])
    rows = children.sort_values(["person", "issue_day", "case_no"], kind="stable",
                                ignore_index=True)
    rows["issue_day"] = rows["issue_day"].astype(np.int64)
    final = rows["final_day"].to_numpy(dtype=np.int64)
    rows["final"] = np.where(final == NO_DATE, INF, final)
    same = rows["person"].to_numpy()[1:] == rows["person"].to_numpy()[:-1]
    prev_final = np.full(len(rows), np.iinfo(np.int64).min // 2)
    prev_final[1:][same] = rows["final"].to_numpy()[:-1][same]
    prev_care = np.zeros(len(rows), dtype=bool)
    prev_care[1:][same] = np.isin(rows["outcome"].to_numpy()[:-1][same], IN_CARE_OUTCOMES)
    rows["prev_final"], rows["prev_care"] = prev_final, prev_care
    return rows


def _segments(world: World, rows: pd.DataFrame, params: dict,
              rng: np.random.Generator) -> pd.DataFrame:
    """Spells of one legal status (and phase) per child and case, before caps and moves.

    ``seq`` orders the spells of one case; ``reason`` is how the spell ends if nothing
    follows it on the same day (a following spell makes it X1 later).
    """
    n = len(rows)
    issue = rows["issue_day"].to_numpy()
    final = rows["final"].to_numpy()
    outcome = rows["outcome"].to_numpy()
    epo = rows["epo_day"].notna().to_numpy()
    ico = rows["ico_day"].notna().to_numpy()
    ico_day = np.where(ico, rows["ico_day"].fillna(0).to_numpy(dtype=np.int64), INF)
    dob = world.dob[rows["person"].to_numpy()].astype(np.int64)
    parts: list[dict[str, np.ndarray]] = []

    def add(mask, start, end, legal, phase, reason, seq):
        idx = np.flatnonzero(mask)
        parts.append({"row": idx, "start": np.broadcast_to(start, n)[idx],
                      "end": np.broadcast_to(end, n)[idx],
                      "legal": np.full(idx.size, legal, object),
                      "phase": np.full(idx.size, phase, object),
                      "reason": np.broadcast_to(np.asarray(reason, object), n)[idx],
                      "seq": np.full(idx.size, seq)})

    end_reason = _final_order_reason(outcome, params["final_order_reason"], rng)
    s20 = params["s20"]
    lo, hi = s20["days_before_application"]
    has_s20 = (rng.random(n) < s20["share_before_application"]) & ~rows["prev_care"].to_numpy()
    s20_start = np.maximum(issue - rng.integers(lo, hi + 1, n),
                           np.maximum(dob, rows["prev_final"].to_numpy()))
    s20_end = np.where(epo, issue, np.minimum(ico_day, final))
    add(has_s20, s20_start, s20_end, "V2", "interim", end_reason, 0)

    lapse = issue + params["emergency_protection"]["days_without_interim_order"]
    l2_end = np.where(ico, ico_day, np.minimum(lapse, final))
    add(epo, issue, l2_end, "L2", "interim",
        np.where(l2_end < final, "E13", end_reason).astype(object), 1)
    add(ico, ico_day, final, "C1", "interim", end_reason, 2)

    decided = final < INF
    co = params["care_order"]
    lo, hi = co["return_home_days"]
    home = rng.random(n) < co["return_home_share"]
    care_end = np.where(home, final + rng.integers(lo, hi + 1, n), INF)
    add(decided & (outcome == "care_order"), final, care_end, "C2", "care",
        np.where(home, "E13", "E8").astype(object), 3)

    po = params["placement_order"]
    placed = decided & (outcome == "placement_order")
    adopted = rng.random(n) < po["adopted_share"]
    lo, hi = po["days_to_placement_with_adopters"]
    match = final + rng.integers(lo, hi + 1, n)
    lo, hi = po["days_placed_to_adoption_order"]
    adoption = match + rng.integers(lo, hi + 1, n)
    lo, hi = po["days_to_revocation"]
    revoked = final + rng.integers(lo, hi + 1, n)
    add(placed, final, np.where(adopted, match, revoked), "E1", "awaiting_adoption", "X1", 4)
    how = np.where(rng.random(n) < po["consent_dispensed_share"], "E12", "E11").astype(object)
    add(placed & adopted, match, adoption, "E1", "adoption", how, 5)
    add(placed & ~adopted, revoked, INF, "C2", "care", "E8", 6)
    return pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def _final_order_reason(outcome: np.ndarray, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """How a period of care ends at the final order, by the child's outcome."""
    sgo = np.where(rng.random(outcome.size) < spec["sgo_former_foster_carer_share"], "E43", "E44")
    codes = {k: v for k, v in spec.items() if isinstance(v, str)}
    code = pd.Series(outcome, dtype=object).map(codes).fillna("E8").to_numpy(dtype=object)
    return np.where(code == "sgo", sgo, code).astype(object)


def _cap(world: World, rows: pd.DataFrame, seg: pd.DataFrame) -> pd.DataFrame:
    """End each case's spells at the child's next case, 18th birthday or death.

    A child still looked after when new proceedings begin stays looked after: the next case's
    first spell continues the period (X1).
    """
    n = len(rows)
    first = np.full(n, INF)
    np.minimum.at(first, seg["row"].to_numpy(), seg["start"].to_numpy())
    person = rows["person"].to_numpy()
    # Earliest first spell among this child's later cases.
    later = pd.Series(first[::-1]).groupby(person[::-1]).cummin().to_numpy()[::-1]
    nxt = np.full(n, INF)
    same = person[1:] == person[:-1]
    nxt[:-1][same] = later[1:][same]
    dob = world.dob[person].astype(np.int64)
    adult = dob + int(18 * DAYS_PER_YEAR)
    dod = world.dod[person].astype(np.int64)
    death = np.where(dod == NO_DATE, INF, dod)
    cap = np.minimum(np.minimum(nxt, adult), death)
    why = np.where(cap == death, "E2", np.where(cap == adult, "E8", "X1")).astype(object)

    r = seg["row"].to_numpy()
    end = seg["end"].to_numpy()
    capped = end > cap[r]
    seg = seg.assign(end=np.minimum(end, cap[r]),
                     reason=np.where(capped, why[r], seg["reason"].to_numpy()))
    return seg[seg["end"] > seg["start"]].reset_index(drop=True)


def _split_moves(world: World, seg: pd.DataFrame, params: dict,
                 rng: np.random.Generator) -> pd.DataFrame:
    """Placement moves cut long spells into episodes at random days within the period."""
    rate = seg["phase"].map(params["placement_moves"]["per_year"]).fillna(0.0).to_numpy()
    start = seg["start"].to_numpy()
    end = seg["end"].to_numpy()
    span = np.clip(np.minimum(end, world.end_day) - start, 0, None)
    moves = rng.poisson(rate * span / DAYS_PER_YEAR)
    owner = np.repeat(np.arange(len(seg)), moves)
    cut = start[owner] + (rng.random(owner.size) * span[owner]).astype(np.int64)
    point_seg = np.concatenate([np.arange(len(seg)), owner])
    point_day = np.concatenate([start, cut])
    order = np.lexsort((point_day, point_seg))
    point_seg, point_day = point_seg[order], point_day[order]
    last = np.ones(point_seg.size, dtype=bool)
    last[:-1] = point_seg[1:] != point_seg[:-1]
    piece_end = np.where(last, end[point_seg], np.roll(point_day, -1))
    out = seg.iloc[point_seg].reset_index(drop=True)
    out["start"], out["end"] = point_day, piece_end
    out["reason"] = np.where(last, out["reason"].to_numpy(), "X1").astype(object)
    return out[out["end"] > out["start"]].reset_index(drop=True)


def _placements(world: World, rows: pd.DataFrame, pieces: pd.DataFrame, params: dict,
                rng: np.random.Generator) -> pd.DataFrame:
    """Placement type by phase and age at the start of each episode."""
    spec = params["placement_types"]
    person = rows["person"].to_numpy()[pieces["row"].to_numpy()]
    age = (pieces["start"].to_numpy() - world.dob[person].astype(np.int64)) / DAYS_PER_YEAR
    band = np.searchsorted(np.asarray(spec["age_bands"], float), age, side="right") - 1
    band = np.clip(band, 0, len(spec["age_bands"]) - 1)
    phase = pieces["phase"].to_numpy()
    u = rng.random(len(pieces))
    placement = np.full(len(pieces), None, dtype=object)
    for name, table in spec.items():
        if name == "age_bands":
            continue
        codes = np.array(list(table), dtype=object)
        probs = np.array([table[c] for c in codes], dtype=float)  # codes x bands
        cum = np.cumsum(probs / probs.sum(axis=0), axis=0)
        mask = phase == name
        pick = (u[mask][None, :] > cum[:, band[mask]]).sum(axis=0)
        placement[mask] = codes[np.minimum(pick, codes.size - 1)]
    adoption = phase == "adoption"
    with_carer = rng.random(len(pieces)) < params["placement_order"][
        "with_current_foster_carer_share"]
    placement[adoption] = np.where(with_carer[adoption], "A5", "A6")
    return pieces.assign(person=person, placement=placement)


def _within_period(world: World, rows: pd.DataFrame, pieces: pd.DataFrame) -> pd.DataFrame:
    """Episodes as a return shows them: X1 between touching episodes, clipped to the period."""
    pieces = pieces.sort_values(["person", "start", "seq"], kind="stable", ignore_index=True)
    person = pieces["person"].to_numpy()
    start = pieces["start"].to_numpy()
    end = pieces["end"].to_numpy()
    reason = pieces["reason"].to_numpy().copy()
    touching = np.zeros(len(pieces), dtype=bool)
    touching[:-1] = (person[1:] == person[:-1]) & (start[1:] == end[:-1])
    reason[touching] = "X1"
    keep = (end > world.start_day) & (start <= world.end_day)
    open_ = end > world.end_day
    out = pd.DataFrame({
        "person": person, "episode_start": np.maximum(start, world.start_day),
        "episode_end": np.where(open_, NO_DATE, end),
        "legal_status": pieces["legal"].to_numpy(),
        "placement_type": pieces["placement"].to_numpy(),
        "reason_ceased": np.where(open_, None, reason)})
    return out[keep].reset_index(drop=True)
