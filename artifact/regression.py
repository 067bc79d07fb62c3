"""The lambda-tilde regression of App. H.3 (Fig. 3).

For each tuple (N, d, K) the normalized approximate losses (Theorems 3.1/3.2 divided by d sigma^2,
X0 units) give, for every M = 1..N, the weighted gap
    g(M) = sum_l lambda_l [ C (1 - M/N) - 1 / (psi_l sigma^2 + 1) ].
The predicted transition is the M where g crosses zero, smoothed as a softmin of g(M)^2 over M with
temperature tau; the loss is the squared error of the smoothed M/N against the empirical M_pt/N,
plus beta times the entropy of the softmin weights. lambda has one positive value per grid time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from artifact.process import snr


@dataclass(frozen=True)
class RegressionResult:
    weights: np.ndarray  # (T,) fitted lambda-tilde (X0-unit weights; only ratios and scale vs tau matter)
    predicted: np.ndarray  # (n,) smoothed M~_pt / N per tuple
    predicted_hard: np.ndarray  # (n,) argmin over M of g(M)^2, / N
    fit_mse: float
    heldout_mse: float


def _gap_table(num_train: np.ndarray, grid: np.ndarray, variance: float, constant: float):
    """Per tuple the candidate M/N (padded to the largest N) and the two normalized loss terms."""
    largest = int(num_train.max())
    m = np.arange(1, largest + 1)[None, :] / num_train[:, None]  # (n, Mmax)
    valid = np.arange(1, largest + 1)[None, :] <= num_train[:, None]
    generalizing = 1.0 / (np.asarray(snr(grid)) * variance + 1.0)  # (T,)
    return jnp.asarray(m), jnp.asarray(valid), jnp.asarray(generalizing), constant


def _soft_prediction(log_weights, m, valid, generalizing, constant, temperature):
    # Positive and free in scale: together with tau the scale sets how sharp the softmin is.
    weights = jnp.exp(log_weights)
    gap = constant * (1.0 - m) * jnp.sum(weights) - jnp.sum(weights * generalizing)  # (n, Mmax)
    logits = jnp.where(valid, -(gap**2) / temperature, -1e30)  # finite: keeps gradients finite
    log_p = jax.nn.log_softmax(logits, axis=1)
    p = jnp.exp(log_p)
    return jnp.sum(p * m, axis=1), (p, log_p), gap


def fit(
    num_train,
    targets,
    is_fit,
    grid,
    variance=1.0,
    constant=2.0,
    temperature=1 / 20,
    entropy_weight=1e-3,
    steps=3000,
    learning_rate=5e-2,
) -> RegressionResult:
    """num_train, targets (M_pt/N), is_fit: (n,) per tuple; grid: (T,)."""
    num_train, targets, is_fit = np.asarray(num_train), np.asarray(targets, np.float64), np.asarray(is_fit, bool)
    if not is_fit.any():
        raise ValueError("regression.fit needs at least one tuple in the fit set")
    m, valid, generalizing, constant = _gap_table(num_train, np.asarray(grid), variance, constant)
    y = jnp.asarray(targets, jnp.float32)
    fit_mask = jnp.asarray(is_fit, jnp.float32)

    def loss(log_weights):
        predicted, (p, log_p), _ = _soft_prediction(log_weights, m, valid, generalizing, constant, temperature)
        mse = jnp.sum(fit_mask * (predicted - y) ** 2) / jnp.sum(fit_mask)
        entropy = -jnp.sum(fit_mask[:, None] * p * log_p)
        return mse + entropy_weight * entropy

    optimizer = optax.adam(learning_rate)

    @jax.jit
    def train(log_weights):
        def step(carry, _):
            params, state = carry
            grads = jax.grad(loss)(params)
            updates, state = optimizer.update(grads, state)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (log_weights, optimizer.init(log_weights)), None, length=steps)
        return params

    # Start from uniform lambda in X0 units with sum 1: smooth enough a softmin for gradients to flow.
    log_weights = train(jnp.full(len(grid), -np.log(len(grid)), jnp.float32))
    predicted, _, gap = _soft_prediction(log_weights, m, valid, generalizing, constant, temperature)
    hard = np.asarray(jnp.take_along_axis(m, jnp.argmin(jnp.where(valid, gap**2, jnp.inf), axis=1)[:, None], 1)[:, 0])
    predicted = np.asarray(predicted, np.float64)
    errors = (predicted - targets) ** 2
    return RegressionResult(
        weights=np.asarray(jnp.exp(log_weights), np.float64),
        predicted=predicted,
        predicted_hard=hard,
        fit_mse=float(errors[is_fit].mean()),
        heldout_mse=float(errors[~is_fit].mean()) if (~is_fit).any() else float("nan"),
    )
