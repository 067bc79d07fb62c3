"""Isotropic Gaussian-mixture data (paper §3, App. H.1) and the isotropic mixture denoiser trained on it.

The denoiser of M components is the posterior mean of (1/M) Σ_k N(μ_k, s² I): M free means and one
shared variance (`model.MixtureDenoiser`). It starts from M distinct training points with variance
1e-6 (partial memorization), and its loss and gradient have a hand-derived path (`mixture_grad`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from artifact import data, denoisers, metrics, model
from artifact import train as training
from artifact.families.base import AbstractDataModel, AbstractDenoiserFamily
from artifact.families.registry import register_data_model, register_family


class IsotropicData(AbstractDataModel):
    """N points of a K-component mixture (1/K) Σ_k N(μ_k, σ_*² I) in dimension d, μ_k ~ N(0, I)."""

    name: ClassVar[str] = "isotropic"
    baseline_kind: ClassVar[str] = "baseline_unit"
    baseline_family: ClassVar[str] = "isotropic"
    stored_data: ClassVar[tuple[str, ...]] = ()

    def make_dataset(self, config: data.MixtureDataConfig, seed: int) -> data.MixtureDataset:
        return data.make_dataset(config, seed)

    def label(self, config: data.MixtureDataConfig, seed: int) -> str:
        return f"N{config.num_train}_d{config.dim}_K{config.num_components}_seed{seed}"

    def describe(self, config: data.MixtureDataConfig) -> str:
        return f"{config.num_train}/{config.dim}/{config.num_components}"

    def generalizing(self, dataset: data.MixtureDataset, config) -> model.MixtureDenoiser:
        return model.generalizing(dataset.mixture)

    def memorizing(self, dataset: data.MixtureDataset, indices: np.ndarray) -> model.MixtureDenoiser:
        points = jnp.asarray(dataset.train)[jnp.asarray(indices)]
        return model.MixtureDenoiser(points, jnp.zeros((), points.dtype))

    def dimension(self, config: data.MixtureDataConfig) -> int:
        return config.dim


class IsotropicMixtureFamily(AbstractDenoiserFamily):
    """M means and one shared variance; Fig. 6's statistics are the variance and the means' distances."""

    name: ClassVar[str] = "isotropic"
    unit_kind: ClassVar[str] = "training_unit"
    data_model: ClassVar[str] = "isotropic"
    statistics: ClassVar[tuple[str, ...]] = (
        "learned_variance",
        "std",
        "mean_distance_to_nearest_train",
        "mean_distance_to_nearest_true_mean",
    )
    loss_points_per_chunk: ClassVar[int] = 10
    cpu_flops_per_second: ClassVar[float] = 40e9  # fitted to the cpu profile's unit times (pipeline.py)
    cpu_chunk_factor: ClassVar[float] = 1.0

    def init(self, key, dataset, size: int, config) -> model.MixtureDenoiser:
        train = jnp.asarray(dataset.train, jnp.float32)
        return model.partial_memorization_init(key, train, size, config.init_variance)

    def residual(self, m: model.MixtureDenoiser, x0, eps, t):
        return m.eps_residual(x0, eps, t)

    def losses_and_grads(self, models, x0, t, eps, points_per_chunk: int):
        return training.batched_losses_and_grads(models, x0, t, eps, points_per_chunk)

    def evaluation_arrays(self, m: model.MixtureDenoiser, rows: int):
        means = np.asarray(m.means, np.float32)
        padded = np.zeros((rows, means.shape[1]), np.float32)
        padded[: means.shape[0]] = means
        return jnp.asarray(padded), jnp.asarray(m.variance, jnp.float32), jnp.arange(rows) < means.shape[0]

    def denoise(self, arrays, x_t, t):
        means, variance, mask = arrays
        return denoisers.posterior_mean(x_t, t, means, variance, mask)

    def evaluation_residual(self, arrays, x0, eps, t):
        means, variance, mask = arrays
        return denoisers.eps_residual(x0, eps, t, means, variance, mask)

    def statistics_of(self, m: model.MixtureDenoiser, dataset: data.MixtureDataset) -> dict[str, float]:
        learned = np.asarray(m.means, np.float64)
        return {
            "learned_variance": float(m.variance),
            "std": float(m.std),
            "mean_distance_to_nearest_train": float(
                np.mean(metrics.nearest_distance(learned, np.asarray(dataset.train, np.float64)))
            ),
            "mean_distance_to_nearest_true_mean": float(
                np.mean(metrics.nearest_distance(learned, np.asarray(dataset.mixture.means, np.float64)))
            ),
        }

    def parameters_tree(self, sizes: Sequence[int], models) -> dict:
        return {"means": {f"M{m}": np.asarray(trained.means) for m, trained in zip(sizes, models, strict=True)}}

    def training_flops(self, data_config, sizes, num_steps: int, noise_draws: int) -> float:
        """12 N N_dup d ΣM per step: five products of the (N N_dup) x d samples with the M x d means, and one more."""
        return 12.0 * data_config.num_train * noise_draws * data_config.dim * sum(sizes) * num_steps

    def evaluation_flops(self, data_config, sizes, noise_draws: int) -> float:
        n, d = data_config.num_train, data_config.dim
        return 4.0 * 26 * (n + data_config.num_heldout) * noise_draws * d * n * len(sizes)


register_data_model(IsotropicData())
register_family(IsotropicMixtureFamily())
