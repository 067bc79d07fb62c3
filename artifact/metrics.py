"""Memorization ratio and the learned-parameter statistics of Fig. 6."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from artifact.denoisers import pairwise_sq_distances

# A sample is memorized iff ||x - x^(1)|| < ||x - x^(2)|| / 3 (paper §4: c = 1/9 on squared distances).
MEMORIZATION_DISTANCE_RATIO = 1.0 / 3.0


def two_nearest_distances(points, reference):
    """Distances to the nearest and second-nearest reference point.

    points: (n, d); reference: (N, d) with N >= 2 -> ((n,), (n,)).
    """
    sq = pairwise_sq_distances(points, reference)
    smallest = jnp.sort(sq, axis=1)[:, :2]
    return jnp.sqrt(smallest[:, 0]), jnp.sqrt(smallest[:, 1])


def is_memorized(samples, train, ratio: float = MEMORIZATION_DISTANCE_RATIO):
    """Per sample: is its nearest training point closer than `ratio` times the second nearest? (n,) bool."""
    nearest, second = two_nearest_distances(samples, train)
    return nearest < ratio * second


def memorization_ratio(samples, train, ratio: float = MEMORIZATION_DISTANCE_RATIO) -> float:
    """Fraction of memorized samples, count / n in float64. samples: (n, d); train: (N, d) -> float.

    Not a float32 mean: 45/50 in float32 is 0.89999998, which a threshold of 0.9 (the transition's
    end) would not reach although 45 of 50 samples are memorized.
    """
    memorized = np.asarray(is_memorized(samples, train, ratio))
    return float(np.count_nonzero(memorized)) / memorized.size


def nearest_distance(points, reference):
    """Distance from each point to its nearest reference point. (n, d), (N, d) -> (n,)."""
    return jnp.sqrt(jnp.min(pairwise_sq_distances(points, reference), axis=1))
