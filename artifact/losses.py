"""Per-time losses of any mixture denoiser on a set of clean points, in EPS and X0 units.

L_t(x̄) = (1/n) sum_i E_eps ||eps_hat(alpha_t x_i + sigma_t eps) - eps||^2 (EPS units), estimated
with `noise_draws` draws per point; the X0-unit loss is that times sigma_t^2 / alpha_t^2 (paper §2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from artifact import denoisers
from artifact.process import eps_to_x0_loss_factor


def eps_loss_per_time(key, points, grid, means, variance, noise_draws: int, mask=None, points_per_chunk: int = 10):
    """Monte Carlo EPS-unit loss at every grid time.

    points: (n, d) clean points; grid: (T,); means: (M, d); variance: scalar; mask: optional (M,).
    The noise at grid index l is drawn from fold_in(key, l), so every denoiser evaluated with the same
    key sees the same noise (common random numbers make the differences between denoisers precise).
    Returns (T,) float32.
    """
    grid = jnp.asarray(grid, jnp.float32)
    n, d = points.shape
    chunk = max(c for c in range(1, min(n, points_per_chunk) + 1) if n % c == 0)
    sq_dist = denoisers.pairwise_sq_distances(points, means)

    def at_time(index):
        eps = jax.random.normal(jax.random.fold_in(key, index), (n, noise_draws, d))
        t = jnp.full((n,), grid[index])

        def chunk_sum(chunk_data):
            x0_c, eps_c, t_c, sq_c = chunk_data
            residual = denoisers.eps_residual_from_projections(
                x0_c, eps_c, t_c, means, variance, sq_c, eps_c @ means.T, mask
            )
            return jnp.sum(residual**2)

        def split(a):
            return a.reshape(n // chunk, chunk, *a.shape[1:])

        sums = jax.lax.map(chunk_sum, (split(points), split(eps), split(t), split(sq_dist)))
        return jnp.sum(sums) / (n * noise_draws)

    return jax.lax.map(at_time, jnp.arange(grid.shape[0]))


def x0_units(eps_losses, grid):
    """Convert EPS-unit losses (..., T) on `grid` to X0 units (times sigma^2 / alpha^2)."""
    return eps_losses * eps_to_x0_loss_factor(jnp.asarray(grid, jnp.float32))
