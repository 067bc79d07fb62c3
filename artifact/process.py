"""The variance-preserving forward process and the paper's time grid.

X_t = alpha_t X_0 + sigma_t Z with alpha_t = sqrt(1 - t^2), sigma_t = t (paper §2, App. H.1), so that
alpha_t^2 + sigma_t^2 = 1. psi_t = alpha_t^2 / sigma_t^2 is the signal-to-noise ratio.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

T_MIN = 0.001
T_MAX = 0.999
NUM_GRID_TIMES = 26
# The loss panels of Figs 2, 5 and 7 (and Fig. 1's Theorem 3.2 panel) sit at grid index 16:
# t = 0.36028, psi = 6.704 (paper, Fig. 2 caption).
PANEL_INDEX = 16


def alpha(t):
    """Signal scale alpha_t = sqrt(1 - t^2); any shape."""
    return jnp.sqrt(1.0 - t * t)


def sigma(t):
    """Noise scale sigma_t = t; any shape."""
    return t


def snr(t):
    """psi_t = alpha_t^2 / sigma_t^2; any shape."""
    return (1.0 - t * t) / (t * t)


def time_grid(num_times: int = NUM_GRID_TIMES, t_min: float = T_MIN, t_max: float = T_MAX) -> np.ndarray:
    """The descending grid t_l = t_max - (t_max - t_min) l / (num_times - 1), l = 0..num_times-1.

    Returns float64 numpy (num_times,). With the defaults this is the 26-point grid t in [0.001, 0.999] (App. H.1), used
    for training, per-time losses and DDIM alike. Index 16 is t = 0.36028 (psi = 6.704), the time
    of the paper's loss panels.
    """
    if num_times < 2:
        raise ValueError(f"a time grid needs at least 2 points, got {num_times}")
    return t_max - (t_max - t_min) * np.arange(num_times) / (num_times - 1)


def eps_to_x0(x_t, eps, t):
    """Clean-signal prediction from a noise prediction: x0 = (x_t - sigma_t eps) / alpha_t."""
    return (x_t - sigma(t) * eps) / alpha(t)


def x0_to_eps(x_t, x0, t):
    """Noise prediction from a clean-signal prediction: eps = (x_t - alpha_t x0) / sigma_t."""
    return (x_t - alpha(t) * x0) / sigma(t)


def eps_to_x0_loss_factor(t):
    """||x0_hat - x0||^2 = (sigma_t^2 / alpha_t^2) ||eps_hat - eps||^2, i.e. 1 / psi_t.

    Multiplying an EPS-unit loss by this factor gives the X0-unit loss that the paper's loss
    panels (Figs 2 and 5) show.
    """
    return 1.0 / snr(t)
