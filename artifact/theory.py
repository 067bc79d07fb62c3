"""Theorems 3.1 and 3.2, the crossover M*/N, and the loss decomposition (paper §3, App. C-F).

All excess losses are over the memorizing denoiser, per grid time, in X0 units unless the name
says EPS (EPS = X0 * psi_t). Shapes broadcast.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from artifact.denoisers import pairwise_sq_distances
from artifact.process import alpha, sigma, snr


def generalizing_excess(t, dim: int, variance: float = 1.0):
    """Theorem 3.1: E[L_t(x̄_*) - L_t(x̄_mem)] ~ d sigma_*^2 / (psi_t sigma_*^2 + 1), leading constant 1 (App. F)."""
    return dim * variance / (snr(t) * variance + 1.0)


def partial_memorizing_excess(m_over_n, dim: int, variance: float = 1.0, constant: float = 2.0):
    """Theorem 3.2: E[L_t(x̄_pmem,M) - L_t(x̄_mem)] ~ C (1 - M/N) d sigma_*^2, C in [1, 2], no t-dependence.

    Fig. 1 plots C = 2 (the proven upper bound); the released code uses C = 1.
    """
    return constant * (1.0 - m_over_n) * dim * variance


def to_eps_units(x0_unit_loss, t):
    """X0-unit loss -> EPS-unit loss (times psi_t)."""
    return x0_unit_loss * snr(t)


def crossover_fraction(weights, grid, variance: float = 1.0, constant: float = 2.0):
    """M*/N where the weighted approximate losses of x̄_pmem,M and x̄_* cross (paper eq. for M_*).

    weights: (T,) lambda(t_l) >= 0 applied to X0-unit losses (lambda = psi is the training weight);
    grid: (T,). M*/N = 1 - sum_l lambda_l / (psi_l sigma^2 + 1) / (C sum_l lambda_l). d drops out.
    """
    weights = jnp.asarray(weights)
    psi = snr(jnp.asarray(grid))
    return 1.0 - jnp.sum(weights / (psi * variance + 1.0)) / (constant * jnp.sum(weights))


class LossDecomposition(NamedTuple):
    """Per noisy point: total = distance_to_memorizing + memorizing (each (n,), X0 units)."""

    total: jax.Array
    distance_to_memorizing: jax.Array
    memorizing: jax.Array


def decompose_loss(x_t, t, prediction, train) -> LossDecomposition:
    """Split the X0-unit loss of a prediction at noisy points into distance-to-x̄_mem + memorizing loss.

    x_t: (n, d) noisy points; t: scalar; prediction: (n, d) = x̄(t, x_t) of any denoiser;
    train: (N, d). The training point behind each x_t is integrated out with its posterior weights
    w_i(x_t) (Rao-Blackwell), which is what makes the identity
        sum_i w_i ||x̄ - x_i||^2 = ||x̄ - x̄_mem||^2 + sum_i w_i ||x̄_mem - x_i||^2
    exact per point (x̄_mem = sum_i w_i x_i); averaged over x_t ~ p_{N,t} the three terms are
    L_t(x̄), the distance term and L_t(x̄_mem) of the paper's decomposition.
    """
    a, s = alpha(t), sigma(t)
    weights = jax.nn.softmax(-pairwise_sq_distances(x_t, a * train) / (2.0 * s * s), axis=1)  # (n, N)
    memorizing_prediction = weights @ train
    total = jnp.sum(weights * pairwise_sq_distances(prediction, train), axis=1)
    distance = jnp.sum((prediction - memorizing_prediction) ** 2, axis=1)
    memorizing = jnp.sum(weights * pairwise_sq_distances(memorizing_prediction, train), axis=1)
    return LossDecomposition(total, distance, memorizing)
