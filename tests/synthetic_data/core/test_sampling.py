"""The vectorised sampling tools: exact counts where promised, the right averages where not.

Statistical checks use fixed seeds and tolerances of several standard errors, so they fail only
when a tool is wrong, not by bad luck.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthetic_data.core.sampling import (
    choose,
    choose_rows,
    exact_share,
    lognormal_with_mean,
    piecewise_exponential_time,
    stochastic_round,
    stratified_uniform,
    weighted_pick_per_group,
)
from synthetic_data.proceedings.casebook import assign_by_quota, draw_durations_days

# --------------------------------------------------------------- weighted_pick_per_group


def test_pick_returns_exactly_the_wanted_count_per_group():
    rng = np.random.default_rng(1)
    group = rng.integers(0, 5, 2000)
    weight = rng.random(2000) + 0.1
    wanted = np.array([0, 1, 10, 50, 100])
    picked = weighted_pick_per_group(group, weight, wanted, rng)
    assert np.bincount(group[picked], minlength=5).tolist() == wanted.tolist()
    assert np.unique(picked).size == picked.size, "picked without replacement"
    assert (np.diff(picked) > 0).all(), "indices come back sorted"


def test_pick_gives_everyone_when_a_group_has_fewer_than_wanted():
    group = np.array([0, 0, 0, 1, 1, 2])
    weight = np.ones(6)
    wanted = np.array([10, 1, 5])
    picked = weighted_pick_per_group(group, weight, wanted, np.random.default_rng(2))
    counts = np.bincount(group[picked], minlength=3)
    assert counts.tolist() == [3, 1, 1]
    assert {0, 1, 2, 5} <= set(picked.tolist())


def test_pick_never_takes_a_zero_weight_candidate():
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(4), 50)
    weight = rng.random(200)
    weight[rng.random(200) < 0.5] = 0.0
    wanted = np.full(4, 40)  # more than the positive-weight candidates of each group
    picked = weighted_pick_per_group(group, weight, wanted, rng)
    assert (weight[picked] > 0).all()
    positive = np.bincount(group[weight > 0], minlength=4)
    assert np.bincount(group[picked], minlength=4).tolist() == np.minimum(positive, 40).tolist()


def test_pick_prefers_higher_weights():
    rng = np.random.default_rng(4)
    # One group of 100: half weight 1, half weight 4; pick 10, many times.
    group = np.zeros(100, dtype=np.int64)
    weight = np.r_[np.ones(50), np.full(50, 4.0)]
    heavy = 0
    trials = 400
    for _ in range(trials):
        picked = weighted_pick_per_group(group, weight, np.array([10]), rng)
        heavy += int((picked >= 50).sum())
    share = heavy / (10 * trials)
    # Without replacement the heavy share is a little below 4/5; uniform picking would give 1/2.
    assert 0.72 < share < 0.82, share


def test_pick_of_nothing():
    out = weighted_pick_per_group(np.empty(0, np.int64), np.empty(0), np.array([3]),
                                  np.random.default_rng(0))
    assert out.size == 0


# ----------------------------------------------------------------------- stochastic_round


def test_stochastic_round_is_integer_and_adjacent():
    rng = np.random.default_rng(5)
    expected = rng.random(1000) * 20
    rounded = stochastic_round(expected, rng)
    assert rounded.dtype.kind == "i"
    assert ((rounded == np.floor(expected)) | (rounded == np.ceil(expected))).all()
    whole = np.array([0.0, 3.0, 7.0])
    assert stochastic_round(whole, rng).tolist() == [0, 3, 7]


def test_stochastic_round_is_unbiased():
    rng = np.random.default_rng(6)
    for value in (0.3, 2.5, 7.9):
        draws = stochastic_round(np.full(200_000, value), rng)
        frac = value - math.floor(value)
        se = math.sqrt(frac * (1 - frac) / draws.size)
        assert abs(draws.mean() - value) < 5 * se, (value, draws.mean())


def test_stochastic_round_keeps_the_shape():
    out = stochastic_round(np.full((3, 4), 1.5), np.random.default_rng(0))
    assert out.shape == (3, 4)


# ------------------------------------------------------------- stratified draws and means


def test_stratified_uniform_has_one_draw_per_stratum():
    n = 500
    u = stratified_uniform(n, np.random.default_rng(7))
    assert np.sort(np.floor(u * n).astype(int)).tolist() == list(range(n))
    assert not (np.diff(u) > 0).all(), "draws come in random order, not sorted"
    assert stratified_uniform(0, np.random.default_rng(7)).size == 0


@pytest.mark.parametrize("seed", range(5))
def test_stratified_lognormal_mean_is_close_to_target(seed):
    rng = np.random.default_rng(seed)
    target, sdlog = 30.0, 0.6
    draws = lognormal_with_mean(np.full(300, target), sdlog, stratified_uniform(300, rng))
    assert abs(draws.mean() / target - 1) < 0.02
    assert (draws > 0).all()


def test_lognormal_with_mean_quantiles():
    # The median of a log-normal with mean m and sd(log) s is m * exp(-s^2 / 2).
    median = lognormal_with_mean(np.array([10.0]), 0.5, np.array([0.5]))[0]
    assert median == pytest.approx(10 * math.exp(-0.125), rel=1e-9)


def test_durations_hit_the_mean_and_add_extra_weeks():
    rng = np.random.default_rng(8)
    extra = np.zeros(300)
    days = draw_durations_days(30.0, extra, 0.5, rng)
    assert days.dtype.kind == "i" and (days >= 7).all()
    assert abs(days.mean() / 7 / 30.0 - 1) < 0.02
    longer = draw_durations_days(30.0, np.full(300, 10.0), 0.5, np.random.default_rng(8))
    assert np.allclose(longer - days, 70, atol=1)


def test_durations_are_at_least_a_week():
    days = draw_durations_days(0.2, np.zeros(100), 0.5, np.random.default_rng(9))
    assert (days == 7).all()


# ------------------------------------------------------------------------ assign_by_quota


def test_quota_gives_exact_counts():
    rng = np.random.default_rng(10)
    shares = np.array([0.5, 0.3, 0.2])
    out = assign_by_quota(shares, {}, 1000, rng)
    assert np.bincount(out, minlength=3).tolist() == [500, 300, 200]


def test_quota_rounds_to_n_without_losing_anyone():
    rng = np.random.default_rng(11)
    shares = np.array([1 / 3, 1 / 3, 1 / 3])
    out = assign_by_quota(shares, {0: np.ones(10)}, 10, rng)
    counts = np.bincount(out, minlength=3)
    assert counts.sum() == 10 and (out >= 0).all()
    assert sorted(counts.tolist()) == [3, 3, 4]


def test_quota_steers_weighted_categories_to_high_weight_people():
    rng = np.random.default_rng(12)
    n = 1000
    weight = np.where(np.arange(n) < 100, 50.0, 1.0)  # the first 100 lean to category 1
    shares = np.array([0.6, 0.1, 0.3])
    out = assign_by_quota(shares, {1: weight}, n, rng)
    assert np.bincount(out, minlength=3).tolist() == [600, 100, 300]
    in_cat1 = out == 1
    assert in_cat1[:100].mean() > 0.6, "high-weight people should mostly get category 1"
    assert in_cat1[100:].mean() < 0.05
    # The other categories are shared out regardless of weight.
    rest = out[100:][out[100:] != 1]
    assert abs((rest == 0).mean() - 2 / 3) < 0.06


def test_quota_fills_weighted_categories_first_in_order():
    rng = np.random.default_rng(13)
    n = 200
    w = np.where(np.arange(n) < 40, 1000.0, 1e-6)
    out = assign_by_quota(np.array([0.2, 0.2, 0.6]), {0: w, 1: w}, n, rng)
    # Category 0 takes the 40 high-weight people; category 1 then draws from the rest.
    assert (out[:40] == 0).all()
    assert (out[40:] != 0).all()
    assert np.bincount(out, minlength=3).tolist() == [40, 40, 120]


# --------------------------------------------------------------- piecewise_exponential_time


def test_piecewise_exponential_with_constant_hazard_is_exponential():
    rng = np.random.default_rng(14)
    p = 0.1
    n = 100_000
    t = piecewise_exponential_time(np.full(n, 20.0), np.array([0.0, 10.0, 40.0]),
                                   np.array([p, p, p]), rng)
    rate = -math.log1p(-p)
    finite = t[np.isfinite(t)]
    assert finite.size > 0.999 * n
    assert abs(finite.mean() * rate - 1) < 0.02
    # Memorylessness: the median is log(2) / rate.
    assert abs(np.median(finite) * rate - math.log(2)) < 0.02
    assert (finite >= 0).all()


def test_piecewise_exponential_follows_the_band_hazards():
    rng = np.random.default_rng(15)
    n = 200_000
    # Very likely in the first year of age, then almost never.
    t = piecewise_exponential_time(np.zeros(n), np.array([0.0, 1.0]), np.array([0.5, 1e-6]), rng)
    within_first = (t < 1).mean()
    assert abs(within_first - 0.5) < 0.01
    # Starting past the risky band, the event is rare.
    late = piecewise_exponential_time(np.full(n, 2.0), np.array([0.0, 1.0]),
                                      np.array([0.5, 1e-6]), rng)
    assert (late < 10).mean() < 0.001


def test_piecewise_exponential_zero_hazard_never_happens():
    t = piecewise_exponential_time(np.zeros(1000), np.array([0.0]), np.array([0.0]),
                                   np.random.default_rng(16))
    assert np.isinf(t).all()


# ------------------------------------------------------------------------------ choose


def test_choose_follows_probabilities():
    rng = np.random.default_rng(17)
    p = np.array([0.1, 0.0, 0.6, 0.3])
    draws = choose(p, 100_000, rng)
    freq = np.bincount(draws, minlength=4) / draws.size
    assert freq[1] == 0
    assert np.allclose(freq, p, atol=0.01)


def test_choose_rows_uses_each_rows_probabilities():
    rng = np.random.default_rng(18)
    table = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    rows = np.repeat([0, 1, 2], 10_000)
    out = choose_rows(table, rows, rng)
    assert (out[rows == 0] == 0).all()
    assert (out[rows == 1] == 2).all()
    assert abs((out[rows == 2] == 1).mean() - 0.5) < 0.02
    assert not (out[rows == 2] == 2).any()


# --------------------------------------------------------------- exact_share


def test_exact_share_draws_each_groups_share_to_within_one_person():
    rng = np.random.default_rng(3)
    p = np.r_[np.full(997, 0.104), np.full(501, 0.3), np.zeros(50), np.ones(20)]
    p = p[rng.permutation(p.size)]
    drawn = exact_share(p, rng)
    for chance, n in ((0.104, 997), (0.3, 501)):
        assert abs(drawn[p == chance].sum() - chance * n) < 1
    assert not drawn[p == 0].any() and drawn[p == 1].all()


def test_exact_share_is_a_coin_flip_for_people_with_their_own_chances():
    rng = np.random.default_rng(4)
    p = rng.random(20000) * 0.5
    shares = np.array([exact_share(p, rng)[p < 0.1].mean() for _ in range(20)])
    # Each person is drawn with their own chance: the low-chance people average about 0.05.
    assert abs(shares.mean() - p[p < 0.1].mean()) < 0.005
    assert exact_share(np.array([]), rng).size == 0
