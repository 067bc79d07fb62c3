"""Per-time losses of any denoiser on a set of clean points, in EPS and X0 units.

L_t(x̄) = (1/n) sum_i E_eps ||eps_hat(alpha_t x_i + sigma_t eps) - eps||^2 (EPS units), estimated
with `noise_draws` draws per point; the X0-unit loss is that times sigma_t^2 / alpha_t^2 (paper §2).
`prediction_distances` measures how far one denoiser's X0 predictions lie from reference denoisers'.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from artifact import denoisers
from artifact.layout import equal_chunk_size
from artifact.process import alpha, eps_to_x0_loss_factor, sigma


def loss_per_time(key, points, grid, residual_fn, noise_draws: int, points_per_chunk: int = 10):
    """Monte Carlo EPS-unit loss at every grid time for any denoiser.

    points: (n, ...) clean points; grid: (T,); residual_fn(x0 (c, ...), eps (c, r, ...), t (c,)) -> eps_hat - eps.
    The noise at grid index l comes from fold_in(key, l), so every denoiser evaluated with the same key
    sees the same noise (common random numbers make the differences between denoisers precise).
    Returns (T,) float32.
    """
    grid = jnp.asarray(grid, jnp.float32)
    n = points.shape[0]
    chunk = equal_chunk_size(n, points_per_chunk)

    def split(a):
        return a.reshape(n // chunk, chunk, *a.shape[1:])

    def at_time(index):
        eps = jax.random.normal(jax.random.fold_in(key, index), (n, noise_draws, *points.shape[1:]))
        t = jnp.full((n,), grid[index])
        sums = jax.lax.map(lambda c: jnp.sum(residual_fn(*c) ** 2), (split(points), split(eps), split(t)))
        return jnp.sum(sums) / (n * noise_draws)

    return jax.lax.map(at_time, jnp.arange(grid.shape[0]))


def eps_loss_per_time(key, points, grid, means, variance, noise_draws: int, mask=None, points_per_chunk: int = 10):
    """`loss_per_time` of the isotropic mixture denoiser. points: (n, d); means: (M, d); mask: optional (M,)."""

    def residual(x0, eps, t):
        return denoisers.eps_residual(x0, eps, t, means, variance, mask)

    return loss_per_time(key, points, grid, residual, noise_draws, points_per_chunk)


def x0_units(eps_losses, grid):
    """Convert EPS-unit losses (..., T) on `grid` to X0 units (times sigma^2 / alpha^2)."""
    return eps_losses * eps_to_x0_loss_factor(jnp.asarray(grid, jnp.float32))


def prediction_distances(key, points, t, predict, references, noise_draws: int, points_per_chunk: int = 10):
    """Mean squared distance (X0 units) between one denoiser's predictions and each reference's.

    D_k = (1/n) sum_i E_eps ||predict(x_t) - references[k](x_t)||^2 with x_t = alpha_t x_i + sigma_t eps,
    estimated with `noise_draws` draws per point (the same draws for every reference).
    points: (n, ...); t: scalar; predict and each reference map x_t (c, ...) and t to an X0 prediction (c, ...).
    Returns (len(references),) float32.
    """
    n = points.shape[0]
    chunk = equal_chunk_size(n, points_per_chunk)
    eps = jax.random.normal(key, (n // chunk, chunk * noise_draws, *points.shape[1:]))
    x0 = jnp.repeat(points.reshape(n // chunk, chunk, *points.shape[1:]), noise_draws, axis=1)
    t = jnp.asarray(t, jnp.float32)

    def squared_distances(c):
        x_t = alpha(t) * c[0] + sigma(t) * c[1]
        own = predict(x_t, t)
        return jnp.stack([jnp.sum((own - reference(x_t, t)) ** 2) for reference in references])

    return jnp.sum(jax.lax.map(squared_distances, (x0, eps)), axis=0) / (n * noise_draws)
