"""One weighted choice per row, for corruptions that pick among several ways to go wrong.

A row's options are columns of a weight matrix (the fields a household member's value could be
copied into, the valid one-digit slips of a date); a zero weight marks an option that cannot
apply, and a row with none is left alone.
"""

from __future__ import annotations

import numpy as np


def pick(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row, with probability proportional to ``weights``; -1 if all zero."""
    total = weights.sum(axis=1)
    cumulative = np.cumsum(weights, axis=1)
    target = rng.random(weights.shape[0]) * total
    chosen = (cumulative <= target[:, None]).sum(axis=1)
    return np.where(total > 0, np.minimum(chosen, weights.shape[1] - 1), -1)
