"""Units of Figures 4 and 5: the colored Fashion-MNIST template model (paper §4.2, App. H.1, H.4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from artifact import colored, fashion_mnist, losses, metrics, process, rng, sampling
from artifact import train as training
from artifact.experiment import EvalConfig, UnitIdentity

# The released notebook's Fig. 5 memorization ratios (K = 6, lr 1e-4 -> 1e-8, seed 1) at M/N = 0.1..1.0.
RELEASED_NOTEBOOK_RATIOS = (0.06, 0.04, 0.02, 0.06, 0.04, 0.14, 0.18, 0.26, 0.58, 1.00)
# What the "released" named configuration changes (reference/released_code.md §2.4).
RELEASED_CONFIG = {
    "num_templates": 6,
    "peak_lr": 1e-4,
    "final_lr": 1e-8,
    "warmup_fraction": 0.05,
    "clip_norm": 1e3,
    "update_ema_decay": 0.1,
}


@dataclass(frozen=True)
class ColoredDataConfig:
    num_train: int = 100  # N
    num_templates: int = 4  # K (paper text; the released code used 6)
    size: int = 15  # templates are size x size
    channels: int = 3
    color_variance: float = 1.0
    num_heldout: int = 100
    template_source: str = "canonical"  # "canonical" (training split, as the paper) or "offline" (bundled sample)

    def __post_init__(self):
        if self.template_source not in ("canonical", "offline"):
            raise ValueError(f"template_source must be canonical or offline, not {self.template_source!r}")
        if min(self.num_train, self.num_templates, self.size, self.channels, self.num_heldout) < 1:
            raise ValueError(f"colored data needs positive sizes, got {self}")

    def stream_tag(self):
        return ("colored", self.num_train, self.num_templates, self.size)


@dataclass(frozen=True)
class ColoredDataset:
    templates: jax.Array  # (K, P)
    template_source: str
    template_indices: np.ndarray
    train: jax.Array  # (N, C, P)
    train_labels: jax.Array
    heldout: jax.Array


def make_dataset(config: ColoredDataConfig, seed: int) -> ColoredDataset:
    chosen = fashion_mnist.make_templates(config.num_templates, config.size, config.template_source)
    templates = jnp.asarray(chosen.images.reshape(config.num_templates, -1))
    tag = config.stream_tag()
    train, labels, _ = colored.sample_colored(
        rng.stream(seed, "data", *tag, "train"), templates, config.num_train, config.channels, config.color_variance
    )
    heldout, _, _ = colored.sample_colored(
        rng.stream(seed, "data", *tag, "heldout"), templates, config.num_heldout, config.channels, config.color_variance
    )
    return ColoredDataset(templates, chosen.source, chosen.indices, train, labels, heldout)


def _label(config: ColoredDataConfig, seed: int) -> str:
    return f"colored_N{config.num_train}_K{config.num_templates}_seed{seed}"


@dataclass(frozen=True)
class ColoredTrainingUnit(UnitIdentity):
    data: ColoredDataConfig
    seed: int
    train: training.TrainConfig
    eval: EvalConfig
    sizes: tuple[int, ...]

    kind: ClassVar[str] = "colored_training_unit"
    prefix: ClassVar[str] = "train"

    def label(self) -> str:
        return _label(self.data, self.seed)

    def flops(self) -> float:
        dim = self.data.channels * self.data.size**2
        return 16.0 * self.data.num_train * self.train.noise_draws * dim * sum(self.sizes) * self.train.num_steps


@dataclass(frozen=True)
class ColoredBaselineUnit(UnitIdentity):
    data: ColoredDataConfig
    seed: int
    eval: EvalConfig

    kind: ClassVar[str] = "colored_baseline_unit"
    prefix: ClassVar[str] = "baselines"

    def label(self) -> str:
        return _label(self.data, self.seed)

    @property
    def pmem_sizes(self) -> tuple[int, ...]:
        n = self.data.num_train
        count = min(n, self.eval.baseline_points)
        return tuple(sorted({max(1, round(n * i / count)) for i in range(1, count + 1)}))

    def derived_config(self) -> dict:
        return {"pmem_sizes": list(self.pmem_sizes)}

    def flops(self) -> float:
        dim = self.data.channels * self.data.size**2
        per = (
            8.0
            * 26
            * (self.data.num_train + self.data.num_heldout)
            * self.eval.loss_noise_draws
            * dim
            * self.data.num_train
        )
        return per * (len(self.pmem_sizes) + 2)


# --- evaluation ----------------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("noise_draws",))
def _loss_per_time(key, points, grid, templates, color_means, variance, mask, noise_draws):
    def residual(x0, eps, t):
        return colored.eps_residual(x0, eps, t, templates, color_means, variance, mask)

    return losses.loss_per_time(key, points, grid, residual, noise_draws, points_per_chunk=5)


@jax.jit
def _ddim(start, grid, templates, color_means, variance, mask):
    return sampling.ddim_sample(
        lambda x, t: colored.posterior_mean(x, t, templates, color_means, variance, mask), start, grid
    )


def _padded(model: colored.ColoredTemplateMixture, rows: int):
    """Pad to `rows` components (padding: unit templates, zero colors, masked out) for one compilation."""
    m, p = model.templates.shape
    templates = np.ones((rows, p), np.float32)
    templates[:m] = np.asarray(model.templates)
    means = np.zeros((rows, model.color_means.shape[1]), np.float32)
    means[:m] = np.asarray(model.color_means)
    return jnp.asarray(templates), jnp.asarray(means), jnp.arange(rows) < m


def per_time_losses(dataset: ColoredDataset, loss_key, grid, model, rows: int, noise_draws: int):
    templates, means, mask = _padded(model, rows)
    variance = jnp.asarray(model.variance, jnp.float32)
    grid = jnp.asarray(grid, jnp.float32)
    train = _loss_per_time(
        jax.random.fold_in(loss_key, 0), dataset.train, grid, templates, means, variance, mask, noise_draws
    )
    heldout = _loss_per_time(
        jax.random.fold_in(loss_key, 1), dataset.heldout, grid, templates, means, variance, mask, noise_draws
    )
    return np.asarray(train), np.asarray(heldout)


def _eval_keys(config: ColoredDataConfig, seed: int):
    return rng.stream(seed, "eval", *config.stream_tag(), "loss"), rng.stream(
        seed, "eval", *config.stream_tag(), "ddim"
    )


def _data_tree(dataset: ColoredDataset) -> dict:
    return {
        "templates": np.asarray(dataset.templates),
        "attrs": {
            "template_source": dataset.template_source,
            "template_indices": [int(i) for i in dataset.template_indices],
        },
    }


def run_training_unit(unit: ColoredTrainingUnit, progress: Callable | None = None) -> dict:
    dataset = make_dataset(unit.data, unit.seed)
    grid = process.time_grid()
    key = rng.stream(unit.seed, "train", *unit.data.stream_tag())
    result = training.train_models(
        key,
        dataset.train,
        grid,
        unit.sizes,
        unit.train,
        progress=progress,
        init_fn=lambda k, m: colored.partial_memorization_init(
            k, dataset.train, dataset.train_labels, dataset.templates, m, unit.train.init_variance
        ),
        losses_and_grads_fn=colored.losses_and_grads,
    )
    loss_key, ddim_key = _eval_keys(unit.data, unit.seed)
    start = jax.random.normal(ddim_key, (unit.eval.num_samples, *dataset.train.shape[1:]))
    rows = max(unit.data.num_train, max(unit.sizes))
    ratios, train_losses, heldout_losses = [], [], []
    for model in result.models:
        templates, means, mask = _padded(model, rows)
        samples = _ddim(start, jnp.asarray(grid, jnp.float32), templates, means, model.variance, mask)
        ratios.append(float(metrics.memorization_ratio(colored.flatten(samples), colored.flatten(dataset.train))))
        tr, ho = per_time_losses(dataset, loss_key, grid, model, rows, unit.eval.loss_noise_draws)
        train_losses.append(tr)
        heldout_losses.append(ho)
    return {
        "M": np.asarray(unit.sizes, np.int64),
        "grid": grid,
        "memorization_ratio": np.asarray(ratios),
        "learned_variance": np.asarray([float(m.variance) for m in result.models]),
        "train_loss_eps": np.stack(train_losses),
        "heldout_loss_eps": np.stack(heldout_losses),
        "loss_history": np.asarray(result.losses),
        "loss_history_steps": np.asarray(result.loss_steps),
        "data": _data_tree(dataset),
    }


def run_baseline_unit(unit: ColoredBaselineUnit, progress: Callable | None = None) -> dict:
    dataset = make_dataset(unit.data, unit.seed)
    grid = process.time_grid()
    loss_key, _ = _eval_keys(unit.data, unit.seed)
    n, draws = unit.data.num_train, unit.eval.loss_noise_draws
    rows = max(n, unit.data.num_templates)
    gen = per_time_losses(
        dataset,
        loss_key,
        grid,
        colored.generalizing(dataset.templates, unit.data.channels, unit.data.color_variance),
        rows,
        draws,
    )
    colors = colored.recover_colors(dataset.train, dataset.templates[dataset.train_labels])
    mem_model = colored.memorizing_from(dataset.templates, dataset.train_labels, colors)
    mem = per_time_losses(dataset, loss_key, grid, mem_model, rows, draws)
    order = np.asarray(jax.random.permutation(rng.stream(unit.seed, "pmem", *unit.data.stream_tag()), n))
    pmem_train, pmem_heldout = [], []
    for i, m in enumerate(unit.pmem_sizes):
        subset = order[:m]
        model = colored.memorizing_from(dataset.templates, dataset.train_labels[subset], colors[subset])
        tr, ho = per_time_losses(dataset, loss_key, grid, model, rows, draws)
        pmem_train.append(tr)
        pmem_heldout.append(ho)
        if progress is not None:
            progress(i + 1, len(unit.pmem_sizes), None, None)
    return {
        "grid": grid,
        "generalizing": {"train_loss_eps": gen[0], "heldout_loss_eps": gen[1]},
        "memorizing": {"train_loss_eps": mem[0], "heldout_loss_eps": mem[1]},
        "partially_memorizing": {
            "M": np.asarray(unit.pmem_sizes, np.int64),
            "train_loss_eps": np.stack(pmem_train),
            "heldout_loss_eps": np.stack(pmem_heldout),
        },
        "data": _data_tree(dataset),
    }
