"""Deterministic DDIM (eta = 0) over the time grid (paper App. H.2)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from artifact.process import alpha, sigma


def ddim_sample(x0_predictor: Callable, x_start, grid):
    """Run DDIM from x_start at grid[0] down to grid[-1] and return the last iterate.

    x0_predictor(x (n, d), t scalar) -> (n, d); x_start: (n, d), N(0, I) in the paper; grid: (L+1,)
    descending. Update from t to t': x' = (sigma'/sigma) x + (alpha' - alpha sigma'/sigma) x0_hat.
    As in the released code the result is the state at grid[-1] = 0.001, with no extra denoising.
    """
    grid = jnp.asarray(grid, x_start.dtype)

    def step(x, times):
        t, t_next = times
        ratio = sigma(t_next) / sigma(t)
        x_next = ratio * x + (alpha(t_next) - alpha(t) * ratio) * x0_predictor(x, t)
        return x_next, None

    x_end, _ = jax.lax.scan(step, x_start, (grid[:-1], grid[1:]))
    return x_end
