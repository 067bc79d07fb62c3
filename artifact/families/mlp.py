"""A plain MLP denoiser on the isotropic mixture data: the laboratory's first family beyond the paper.

ε̂_θ(x_t, t) = W3 silu(W2 silu(W1 [x_t, e(t)] + b1) + b2) + b3, with hidden width W (the family's
"size", as M is the mixture's) and a fixed time embedding e(t) = (sin 2^k π t, cos 2^k π t),
k = 0..3 (8 features, no parameters). Why these choices:
- it predicts ε: the training loss is the ε-residual ε̂ − ε (as for the mixtures), and ε has unit
  scale at every t, where x0 = (x_t − σ_t ε̂)/α_t would be an output that blows up as t → 1;
- two hidden layers: one is a kernel machine of fixed features at initialisation; two is the
  smallest depth at which "a standard network" learns its own features;
- SiLU, the smooth activation of diffusion models' networks; SiLU(0) = 0, so a model padded with
  zero units computes exactly what it did (one compilation serves every width at evaluation);
- the initialisation is the usual one (PyTorch's and Equinox's Linear: uniform in ±1/√fan_in).
  There is no memorizing start: an MLP begins far from x̄_mem, so whether it reaches memorization
  within the training budget is part of what its loss curves must show.

Parameters: W (d + 8) + W + W² + W + d W + d (`parameter_count`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from artifact import data
from artifact.families.base import AbstractDenoiserFamily
from artifact.families.registry import register_family
from artifact.process import alpha, sigma

FREQUENCIES = 2.0 ** np.arange(4)  # the time embedding's 2^k π t, k = 0..3
EMBEDDING = 2 * len(FREQUENCIES)


def time_embedding(t):
    """t: (...,) -> (..., 8): sin and cos of 2^k π t."""
    angles = jnp.pi * jnp.asarray(t, jnp.float32)[..., None] * FREQUENCIES
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class MLPDenoiser(eqx.Module):
    """Weights in (out, in) layout; hidden width = w1.shape[0]."""

    w1: jax.Array  # (W, d + 8)
    b1: jax.Array  # (W,)
    w2: jax.Array  # (W, W)
    b2: jax.Array  # (W,)
    w3: jax.Array  # (d, W)
    b3: jax.Array  # (d,)

    @property
    def num_components(self) -> int:  # the hidden width: what `size` means for this family
        return self.w1.shape[0]


PARAMETER_FORMULA = "W (d + 8) + W + W^2 + W + d W + d (two hidden layers of width W; input x_t and 8 time features)"


def parameter_count(width: int, dim: int) -> int:
    return width * (dim + EMBEDDING) + width + width * width + width + dim * width + dim


def predict_eps(params: MLPDenoiser, x_t, t):
    """x_t: (..., d); t broadcastable to x_t's leading axes -> ε̂ (..., d)."""
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x_t.shape[:-1])
    h = jnp.concatenate([x_t, time_embedding(t)], axis=-1)
    h = jax.nn.silu(h @ params.w1.T + params.b1)
    h = jax.nn.silu(h @ params.w2.T + params.b2)
    return h @ params.w3.T + params.b3


def _linear(key, fan_out: int, fan_in: int):
    bound = 1.0 / np.sqrt(fan_in)
    w_key, b_key = jax.random.split(key)
    weight = jax.random.uniform(w_key, (fan_out, fan_in), jnp.float32, -bound, bound)
    return weight, jax.random.uniform(b_key, (fan_out,), jnp.float32, -bound, bound)


class MLPFamily(AbstractDenoiserFamily):
    """Hidden width W as the size; trained from the usual random initialisation by autodiff."""

    name: ClassVar[str] = "mlp"
    data_model: ClassVar[str] = "isotropic"
    unit_kind: ClassVar[str] = "mlp_training_unit"
    cpu_flops_per_second: ClassVar[float] = 20e9  # a guess for small dense layers; no unit timed yet
    cpu_chunk_factor: ClassVar[float] = 1.0
    loss_points_per_chunk: ClassVar[int] = 10
    statistics: ClassVar[tuple[str, ...]] = ("parameter_count",)  # no variance, no means: Fig. 6 does not apply

    def init(self, key, dataset: data.MixtureDataset, size: int, config) -> MLPDenoiser:
        dim = dataset.train.shape[1]
        k1, k2, k3 = jax.random.split(key, 3)
        w1, b1 = _linear(k1, size, dim + EMBEDDING)
        w2, b2 = _linear(k2, size, size)
        w3, b3 = _linear(k3, dim, size)
        return MLPDenoiser(w1, b1, w2, b2, w3, b3)

    def residual(self, model: MLPDenoiser, x0, eps, t):
        return self.evaluation_residual((model,), x0, eps, t)

    def evaluation_arrays(self, model: MLPDenoiser, rows: int):
        """Zero hidden units up to `rows`: silu(0) = 0 and zero outgoing weights add nothing."""
        pad = rows - model.num_components
        if pad <= 0:
            return (model,)
        return (
            MLPDenoiser(
                jnp.pad(model.w1, ((0, pad), (0, 0))),
                jnp.pad(model.b1, (0, pad)),
                jnp.pad(model.w2, ((0, pad), (0, pad))),
                jnp.pad(model.b2, (0, pad)),
                jnp.pad(model.w3, ((0, 0), (0, pad))),
                model.b3,
            ),
        )

    def denoise(self, arrays, x_t, t):
        (params,) = arrays
        return (x_t - sigma(t) * predict_eps(params, x_t, t)) / alpha(t)

    def evaluation_residual(self, arrays, x0, eps, t):
        (params,) = arrays
        a, s = alpha(t)[:, None, None], sigma(t)[:, None, None]
        x_t = a * x0[:, None] + s * eps
        return predict_eps(params, x_t, t[:, None]) - eps

    def statistics_of(self, model: MLPDenoiser, dataset: data.MixtureDataset) -> dict[str, float]:
        return {"parameter_count": float(parameter_count(model.num_components, dataset.train.shape[1]))}

    def training_flops(self, data_config, sizes: Sequence[int], num_steps: int, noise_draws: int) -> float:
        """Forward and backward: 6 flops per parameter per sample."""
        params = sum(parameter_count(w, data_config.dim) for w in sizes)
        return 6.0 * data_config.num_train * noise_draws * params * num_steps


register_family(MLPFamily())
