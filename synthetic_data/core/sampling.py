"""Small vectorised sampling tools shared by the simulation layers.

Each replaces what would otherwise be a per-row Python loop: weighted choice of n people within
each group, stochastic rounding of expected counts, and stratified draws that hit a target mean
closely at classroom scale.
"""

from __future__ import annotations

import numpy as np


def stochastic_round(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round each expected count up with probability equal to its fraction (unbiased, low noise)."""
    expected = np.asarray(expected, dtype=float)
    base = np.floor(expected)
    return (base + (rng.random(expected.shape) < expected - base)).astype(np.int64)


def systematic_round(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer counts whose running total never strays more than one from the expected one.

    Systematic sampling: one random offset shared by all cells, so the counts of many small
    cells (authorities in a year) add up to their expected total, where independent rounding
    would let the total wander by several per cent.
    """
    cumulative = np.floor(np.cumsum(np.asarray(expected, dtype=float)) + rng.random())
    return np.diff(np.r_[0.0, cumulative]).astype(np.int64)


def weighted_pick_per_group(
    group: np.ndarray, weight: np.ndarray, wanted: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Indices of ``wanted[g]`` candidates drawn without replacement in each group ``g``.

    Efraimidis-Spirakis keys (``U ** (1/w)``, here as ``log(U)/w``) turn weighted sampling without
    replacement into a sort, so every group is served in one vectorised pass. ``group`` holds
    small non-negative integers indexing ``wanted``. Groups with fewer candidates than wanted
    give all they have.
    """
    if group.size == 0:
        return np.empty(0, dtype=np.int64)
    positive = weight > 0
    key = np.full(group.size, np.inf)
    key[positive] = -np.log(rng.random(int(positive.sum()))) / weight[positive]
    order = np.lexsort((key, group))
    g_sorted = group[order]
    starts = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(g_sorted.size) - starts
    keep = (rank < wanted[g_sorted]) & np.isfinite(key[order])
    return np.sort(order[keep])


def stratified_uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniforms, one in each of ``n`` equal strata, in random order.

    Quantile draws from these hit a distribution's mean far more closely than independent draws,
    so yearly figures match their targets even for a few hundred cases.
    """
    if n == 0:
        return np.empty(0)
    u = (np.arange(n) + rng.random(n)) / n
    return rng.permutation(u)


def lognormal_with_mean(mean: np.ndarray, sdlog: float, u: np.ndarray) -> np.ndarray:
    """Quantile ``u`` of a log-normal with the given arithmetic mean and sd(log)."""
    from scipy.special import ndtri

    mu = np.log(mean) - sdlog**2 / 2
    return np.exp(mu + sdlog * ndtri(np.clip(u, 1e-9, 1 - 1e-9)))


def piecewise_exponential_time(
    start_age_years: np.ndarray,
    band_edges: np.ndarray,
    annual_probability: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Years until an event from ``start_age_years`` under a yearly probability that varies by age.

    ``band_edges`` are the lower ages of each band (ascending, first 0); the last band runs on.
    Returns ``inf`` where the drawn time is beyond 150 years.
    """
    hazard = -np.log1p(-np.asarray(annual_probability, dtype=float))
    target = -np.log(rng.random(start_age_years.size))
    t = np.full(start_age_years.size, np.inf)
    remaining = target.copy()
    age = start_age_years.astype(float).copy()
    done = np.zeros(start_age_years.size, dtype=bool)
    for b in range(len(band_edges)):
        upper = band_edges[b + 1] if b + 1 < len(band_edges) else 150.0
        in_band = (~done) & (age < upper)
        span = np.where(in_band, upper - age, 0.0)
        capacity = span * hazard[b]
        hit = in_band & (remaining <= capacity)
        t[hit] = (age[hit] + remaining[hit] / hazard[b]) - start_age_years[hit]
        done |= hit
        remaining = np.where(in_band & ~hit, remaining - capacity, remaining)
        age = np.where(in_band & ~hit, upper, age)
    return t


def choose(probabilities: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` category indices drawn from one probability vector."""
    cdf = np.cumsum(np.asarray(probabilities, dtype=float))
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(n), side="right").clip(max=cdf.size - 1)


def choose_rows(probabilities: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per element, from the probability row ``probabilities[rows[i]]``."""
    cdf = np.cumsum(np.asarray(probabilities, dtype=float), axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(rows.size)
    return (u[:, None] >= cdf[rows]).sum(axis=1).clip(max=cdf.shape[1] - 1)


def exact_share(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """True for a random set of each group of people with the same chance, sized to the chance.

    Independent coin flips let a calibrated group's share wander by a standard error (about 1.5
    points for a few hundred people), more than a published figure's tolerance allows at the
    classroom scale. Drawing exactly ``n * p`` of each group (rounded stochastically) pins the
    share; people whose chances are all different are drawn as by coin flips.
    """
    p = np.asarray(p, dtype=float)
    values, group = np.unique(p, return_inverse=True)
    wanted = stochastic_round(np.bincount(group, minlength=values.size) * values, rng)
    order = np.lexsort((rng.random(p.size), group))
    starts = np.searchsorted(group[order], np.arange(values.size))
    rank = np.empty(p.size, dtype=np.int64)
    rank[order] = np.arange(p.size) - starts[group[order]]
    return rank < wanted[group]
