"""The truth about proceedings, gathered as the simulation runs, before any recording quirks.

Public and private law simulations append rows here, keyed by person *positions* in the world;
``records.py`` later turns them into the tables a Cafcass-like case system would hold. Keeping
the two apart means the truth is never lost, only kept in the answer key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthetic_data.core.sampling import lognormal_with_mean, stratified_uniform

PART_TABLES = {
    # table: columns (all numpy arrays of equal length within a part)
    "cases": ("case_no", "law_type", "country", "la_index", "issue_day", "final_day",
              "primary_application", "returning", "prior_cases", "da_alleged", "da_victim",
              "return_reason"),
    "children": ("case_no", "person", "outcome", "outcome_day"),
    "adults": ("case_no", "person", "party_role", "relationship"),
    "relationships": ("case_no", "adult", "child", "relationship"),
    "hearings": ("case_no", "day", "hearing_type"),
    "orders": ("case_no", "person", "order_type", "day", "is_final"),
    "applications": ("case_no", "application_type", "day"),
}


@dataclass
class CaseBook:
    """Append-only store of proceedings; each append is a dict of equal-length arrays."""

    parts: dict[str, list[dict[str, np.ndarray]]] = field(
        default_factory=lambda: {name: [] for name in PART_TABLES}
    )
    next_case_no: int = 1

    def new_case_numbers(self, n: int) -> np.ndarray:
        out = np.arange(self.next_case_no, self.next_case_no + n, dtype=np.int64)
        self.next_case_no += n
        return out

    def add(self, table: str, **columns: np.ndarray) -> None:
        expected = PART_TABLES[table]
        if set(columns) != set(expected):
            raise ValueError(f"{table}: expected columns {expected}, got {tuple(columns)}")
        lengths = {np.asarray(v).size for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"{table}: columns of unequal length {lengths}")
        self.parts[table].append({k: np.asarray(v) for k, v in columns.items()})

    def frame(self, table: str) -> pd.DataFrame:
        parts = self.parts[table]
        if not parts:
            return pd.DataFrame({c: [] for c in PART_TABLES[table]})
        return pd.DataFrame(
            {c: np.concatenate([p[c] for p in parts]) for c in PART_TABLES[table]}
        )


def draw_durations_days(
    mean_weeks: float, extra_weeks: np.ndarray, sdlog: float, rng: np.random.Generator
) -> np.ndarray:
    """Days from issue to final order: log-normal around the year's mean, stratified.

    Stratified quantiles keep each year's mean on its published figure even with a few hundred
    cases, so a learner's year-on-year comparison shows the real trend, not sampling noise.
    """
    u = stratified_uniform(extra_weeks.size, rng)
    weeks = lognormal_with_mean(np.full(extra_weeks.size, mean_weeks), sdlog, u) + extra_weeks
    return np.maximum(np.round(weeks * 7), 7).astype(np.int64)


def hearing_schedule(
    case_no: np.ndarray,
    issue_day: np.ndarray,
    final_day: np.ndarray,
    end_day: int,
    params: dict,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Hearings of each case: a first hearing, further ones every few weeks, and a final one.

    ``params`` is a law type's ``hearings`` section: ``first_hearing_days``,
    ``weeks_per_further_hearing``, ``further_hearings_span_share``, ``further_hearing_jitter``,
    ``pre_final_hearing_days``, ``pre_final_min_span_days`` and ``names`` (first, further,
    pre-final, final). Hearings after the end of the period are not yet
    held and are left out. Cases shorter than the first hearing go straight to the final one.
    """
    lo, hi = params["first_hearing_days"]
    weeks_per_further = params["weeks_per_further_hearing"]
    names = params["names"]
    first = issue_day + lo + (rng.random(issue_day.size) * (hi - lo + 1)).astype(np.int64)
    first = np.minimum(first, final_day)
    span = np.maximum(final_day - first, 0)
    n_further = np.floor(span / (weeks_per_further * 7)).astype(np.int64)
    has_pre_final = span > params["pre_final_min_span_days"]
    rows_case, rows_day, rows_type = [case_no], [first], [np.full(case_no.size, names[0], object)]
    # Further hearings, evenly spaced with jitter between the first and the pre-final one.
    idx = np.repeat(np.arange(case_no.size), n_further)
    k = np.arange(idx.size) - np.searchsorted(idx, idx, side="left") + 1
    jitter = params["further_hearing_jitter"]
    frac = (k + rng.uniform(-jitter, jitter, idx.size)) / (n_further[idx] + 1)
    rows_case.append(case_no[idx])
    rows_day.append(first[idx] + (frac * span[idx] * params["further_hearings_span_share"]).astype(np.int64))
    rows_type.append(np.full(idx.size, names[1], object))
    pre = np.flatnonzero(has_pre_final)
    rows_case.append(case_no[pre])
    pre_lo, pre_hi = params["pre_final_hearing_days"]
    rows_day.append(final_day[pre] - pre_lo - (rng.random(pre.size) * (pre_hi - pre_lo + 1)).astype(np.int64))
    rows_type.append(np.full(pre.size, names[2], object))
    distinct_final = final_day > first
    fin = np.flatnonzero(distinct_final)
    rows_case.append(case_no[fin])
    rows_day.append(final_day[fin])
    rows_type.append(np.full(fin.size, names[3], object))
    case = np.concatenate(rows_case)
    day = np.concatenate(rows_day)
    kind = np.concatenate(rows_type)
    held = day <= end_day
    order = np.lexsort((day[held], case[held]))
    return {"case_no": case[held][order], "day": day[held][order], "hearing_type": kind[held][order]}


def assign_by_quota(
    shares: np.ndarray, weights: dict[int, np.ndarray], n: int, rng: np.random.Generator
) -> np.ndarray:
    """Give ``n`` people categories in exactly the given shares, steering who gets which.

    Categories listed in ``weights`` are filled first, each by weighted sampling without
    replacement among those not yet assigned (so newborns lean towards placement orders, say);
    the rest are shared at random. Exact counts keep each year's published shares even at small
    scale, while the weights carry the published associations.
    """
    counts = np.floor(shares * n).astype(np.int64)
    remainder = n - counts.sum()
    if remainder > 0:
        frac = shares * n - counts
        extra = rng.choice(shares.size, size=remainder, replace=False, p=frac / frac.sum()) \
            if frac.sum() > 0 else rng.choice(shares.size, size=remainder)
        np.add.at(counts, extra, 1)
    out = np.full(n, -1, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    for category, w in weights.items():
        idx = np.flatnonzero(free)
        if idx.size == 0 or counts[category] == 0:
            continue
        key = -np.log(rng.random(idx.size)) / np.maximum(w[idx], 1e-12)
        take = idx[np.argsort(key, kind="stable")[: counts[category]]]
        out[take] = category
        free[take] = False
    rest = np.flatnonzero(free)
    others = np.array([c for c in range(shares.size) if c not in weights], dtype=np.int64)
    pool = np.repeat(others, counts[others])
    out[rest] = rng.permutation(pool)[: rest.size]
    return out
