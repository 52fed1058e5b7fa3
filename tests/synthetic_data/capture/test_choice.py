"""One weighted choice per row: never an option of weight 0, -1 where there is none."""

from __future__ import annotations

import numpy as np

from synthetic_data.capture.choice import pick


def test_pick_never_takes_a_zero_weight_and_marks_rows_without_options() -> None:
    weights = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
    chosen = np.array([pick(weights, np.random.default_rng(seed)) for seed in range(200)])
    assert (chosen[:, 0] == 1).all()
    assert (chosen[:, 1] == -1).all()
    assert set(chosen[:, 2]) == {0, 2}
    assert 0.55 < (chosen[:, 2] == 0).mean() < 0.8  # two thirds


def test_pick_of_no_rows() -> None:
    assert pick(np.zeros((0, 3)), np.random.default_rng(0)).size == 0
