"""The two interfaces of the laboratory: a data model and a denoiser family.

A **data model** (isotropic Gaussian-mixture data, colored Fashion-MNIST templates) makes a data set
from its configuration and a seed, and owns the data set's reference denoisers (paper §3):

    x̄_*        the generalizing denoiser: the posterior mean of the true data distribution;
    x̄_mem      the memorizing denoiser: point masses at the N training points;
    x̄_pmem,M   the partially memorizing denoiser: point masses at M of them.

A **denoiser family** (the isotropic mixture of M components, the colored template mixture, or a
new one) is trained on one data model's data sets with the estimator

    L(θ) = (1/N) Σ_i (1/r) Σ_j ||ε̂_θ(α_t x_i + σ_t ε_ij, t) - ε_ij||²,   t ~ uniform on the grid,

so a family says how to start a model of size M (the partial-memorization start, where it has one),
its residual ε̂ - ε, optionally a faster loss-and-gradient path, how to evaluate a model (padded to
a shared shape so that one compilation serves every size), and which scalar statistics of a model
it can report. Training, sampling (DDIM), the memorization ratio and the per-time losses are generic
(`artifact.experiment`).

Both are Equinox modules without fields, in the abstract/final style: subclasses fill every
abstract method and class variable, and are registered by name (`artifact.families.register`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np


class AbstractDataModel(eqx.Module):
    """Data sets and their reference denoisers.

    name: registry key. baseline_kind: the `kind` of this data model's baseline units (part of their
    hash). baseline_family: the family whose models the reference denoisers are. stored_data:
    datasets that `data_tree` adds to every unit of this data model (checked when a unit is read).
    """

    name: eqx.AbstractClassVar[str]
    baseline_kind: eqx.AbstractClassVar[str]
    baseline_family: eqx.AbstractClassVar[str]
    stored_data: eqx.AbstractClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def make_dataset(self, config, seed: int) -> Any:
        """A data set with `train` (N, ...) and `heldout` (n, ...) arrays, from `seed`'s streams."""

    @abc.abstractmethod
    def label(self, config, seed: int) -> str:
        """A readable name for unit files, e.g. N200_d50_K12_seed0."""

    @abc.abstractmethod
    def describe(self, config) -> str:
        """A short description for progress lines, e.g. 200/50/12."""

    @abc.abstractmethod
    def generalizing(self, dataset, config) -> eqx.Module:
        """x̄_*, as a model of `baseline_family`."""

    @abc.abstractmethod
    def memorizing(self, dataset, indices: np.ndarray) -> eqx.Module:
        """Point masses at the training points `indices` (all of them: x̄_mem), as a model of `baseline_family`."""

    @abc.abstractmethod
    def dimension(self, config) -> int:
        """The dimension of one sample (d, or C P)."""

    def data_tree(self, dataset) -> dict:
        """What a unit stores about its data besides the results (default: nothing)."""
        return {}

    def baseline_flops(self, config, noise_draws: int, count: int) -> float:
        """Rough flops of evaluating `count` reference denoisers (for --dry-run)."""
        n = config.num_train
        return 4.0 * 26 * (n + config.num_heldout) * noise_draws * self.dimension(config) * n * count


class AbstractDenoiserFamily(eqx.Module):
    """Trainable denoisers of a size M, trained on one data model's data sets.

    name: registry key. unit_kind: the `kind` of this family's training units (part of their hash).
    data_model: the name of the data model it trains on. statistics: the per-model scalars that
    `statistics_of` reports (stored as one dataset each, checked when a unit is read).
    loss_points_per_chunk: points per chunk of the evaluation loss (memory only).
    cpu_flops_per_second, cpu_chunk_factor: the --dry-run cost model's rate and per-chunk overhead.
    """

    name: eqx.AbstractClassVar[str]
    unit_kind: eqx.AbstractClassVar[str]
    data_model: eqx.AbstractClassVar[str]
    statistics: eqx.AbstractClassVar[tuple[str, ...]]
    loss_points_per_chunk: eqx.AbstractClassVar[int]
    cpu_flops_per_second: eqx.AbstractClassVar[float]
    cpu_chunk_factor: eqx.AbstractClassVar[float]

    @abc.abstractmethod
    def init(self, key, dataset, size: int, config) -> eqx.Module:
        """A model of size `size` before training (config: the TrainConfig)."""

    @abc.abstractmethod
    def residual(self, model, x0, eps, t) -> jax.Array:
        """ε̂(α_t x0 + σ_t ε, t) - ε. x0: (n, ...); eps: (n, r, ...); t: (n,) -> (n, r, ...)."""

    def losses_and_grads(self, models: Sequence[eqx.Module], x0, t, eps, points_per_chunk: int):
        """Each model's training loss (B,) and gradient, by autodiff of `residual` a chunk of points at a time.

        A family with a faster hand-written path overrides this (tests compare it with the default).
        """
        from artifact.train import autodiff_losses_and_grads

        return autodiff_losses_and_grads(self.residual, models, x0, t, eps, points_per_chunk)

    @abc.abstractmethod
    def evaluation_arrays(self, model, rows: int) -> tuple[jax.Array, ...]:
        """The model as arrays padded to `rows` components (one compilation serves every size)."""

    @abc.abstractmethod
    def denoise(self, arrays: tuple[jax.Array, ...], x_t, t) -> jax.Array:
        """The X0 prediction from `evaluation_arrays`. x_t: (n, ...); t: scalar -> (n, ...) (DDIM needs this)."""

    @abc.abstractmethod
    def evaluation_residual(self, arrays: tuple[jax.Array, ...], x0, eps, t) -> jax.Array:
        """`residual` from `evaluation_arrays` (the per-time losses need this)."""

    @abc.abstractmethod
    def statistics_of(self, model, dataset) -> Mapping[str, float]:
        """One float per name in `statistics` (e.g. Fig. 6's learned variance and distances)."""

    def parameters_tree(self, sizes: Sequence[int], models: Sequence[eqx.Module]) -> dict:
        """Learned parameters a unit stores (default: none)."""
        return {}

    @abc.abstractmethod
    def training_flops(self, data_config, sizes: Sequence[int], num_steps: int, noise_draws: int) -> float:
        """Rough flops of training `sizes` together (for --dry-run)."""

    def evaluation_flops(self, data_config, sizes: Sequence[int], noise_draws: int) -> float:
        """Rough flops of evaluating the trained models (default: none counted)."""
        return 0.0
