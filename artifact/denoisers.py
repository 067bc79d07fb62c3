"""Gaussian-mixture denoisers (paper §3, eqs. for x̄_θ, x̄_*, x̄_mem, x̄_pmem,M).

Every denoiser in the paper is the posterior mean of an equal-weight mixture of isotropic Gaussians
N(mu_k, v I) observed through X_t = alpha_t X_0 + sigma_t Z:

    x̄(t, x) = (alpha v x + sigma^2 m̄(x)) / v_t,    v_t = alpha^2 v + sigma^2,
    m̄(x)    = sum_k softmax_k(-||x - alpha mu_k||^2 / (2 v_t)) mu_k.

The generalizing denoiser is the true mixture (K means, v = sigma_*^2), the memorizing one has the N
training points as means and v = 0, the partially memorizing one M of them and v = 0, and the
trainable model M free means and one free variance.

Two ways to evaluate it live here:
- `posterior_mean` takes a noisy point x and computes the squared distances directly. Exact, cheap
  for the few points a sampler moves.
- `eps_residual` takes the clean point x0 and the noise eps that made x = alpha x0 + sigma eps and
  returns eps_hat(x) - eps. This is the training and evaluation hot path: the logits need only
  ||x0 - mu_k||^2 (one small N x M table) and the matrix product eps @ mu^T, and nothing subtracts
  two nearly equal large numbers, so float32 stays accurate at t = 0.001 where v_t ~ 1e-6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from artifact.process import alpha, sigma


def pairwise_sq_distances(x, y):
    """||x_i - y_j||^2 by direct differences (no expansion, so no cancellation).

    x: (n, d), y: (m, d) -> (n, m).
    """
    return jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)


def _masked_softmax(logits, mask):
    if mask is not None:
        logits = jnp.where(mask, logits, -jnp.inf)
    return jax.nn.softmax(logits, axis=-1)


def posterior_mean(x_t, t, means, variance, mask=None):
    """Mixture posterior mean E[X_0 | X_t = x_t] (X0 prediction).

    x_t: (n, d); t: scalar or (n,); means: (M, d); variance: scalar v >= 0;
    mask: optional (M,) bool, False marks padding components. Returns (n, d).
    """
    t = jnp.broadcast_to(jnp.asarray(t, x_t.dtype), x_t.shape[:1])[:, None]
    a, s = alpha(t), sigma(t)
    v_t = a * a * variance + s * s
    sq = jnp.sum((x_t[:, None, :] - a[:, :, None] * means[None]) ** 2, axis=-1)
    weights = _masked_softmax(-sq / (2.0 * v_t), mask)
    centroid = weights @ means
    return (a * variance * x_t + s * s * centroid) / v_t


def eps_residual_from_projections(x0, eps, t, means, variance, sq_dist, eps_dot_means, mask=None):
    """eps_hat(alpha x0 + sigma eps) - eps given the two products the logits need.

    x0: (n, d); eps: (n, r, d) noise draws; t: (n,); means: (M, d); variance: scalar;
    sq_dist: (n, M) = ||x0_i - mu_k||^2; eps_dot_means: (n, r, M) = eps . mu_k. Returns (n, r, d).

    ||x - alpha mu_k||^2 = alpha^2 ||x0 - mu_k||^2 - 2 alpha sigma eps.mu_k + (terms constant in k),
    and eps_hat - eps = (alpha sigma / v_t)(x0 - m̄) - (alpha^2 v / v_t) eps.
    Split out so that a batch of models can share one product over all their means.
    """
    a = alpha(t)[:, None, None]
    s = sigma(t)[:, None, None]
    v_t = a * a * variance + s * s
    logits = (a * s / v_t) * eps_dot_means - (a * a / (2.0 * v_t)) * sq_dist[:, None, :]
    weights = _masked_softmax(logits, mask)
    centroid = weights @ means
    return (a * s / v_t) * (x0[:, None, :] - centroid) - (a * a * variance / v_t) * eps


def eps_residual(x0, eps, t, means, variance, mask=None):
    """eps_hat(x) - eps for x = alpha_t x0 + sigma_t eps, cancellation-free.

    x0: (n, d); eps: (n, r, d); t: scalar or (n,); means: (M, d); variance: scalar;
    mask: optional (M,) bool. Returns (n, r, d).
    """
    t = jnp.broadcast_to(jnp.asarray(t, x0.dtype), x0.shape[:1])
    return eps_residual_from_projections(
        x0, eps, t, means, variance, pairwise_sq_distances(x0, means), eps @ means.T, mask
    )
