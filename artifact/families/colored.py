"""Colored Fashion-MNIST templates (paper §4.2, App. H.1, H.4) and the colored template mixture trained on them.

A sample is c ⊗ a: a template a (K Fashion-MNIST images, bicubic size x size) colored channel by
channel by c ~ N(0, v I_C). A model of M components holds M templates, M color means and one color
variance (`colored.ColoredTemplateMixture`), starts from M distinct training samples, and trains by
autodiff of its residual (the family default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from artifact import colored, fashion_mnist, rng
from artifact.families.base import AbstractDataModel, AbstractDenoiserFamily
from artifact.families.registry import register_data_model, register_family

# The released notebook's Fig. 5 memorization ratios (K = 6, lr 1e-4 -> 1e-8, seed 1) at M/N = 0.1..1.0
# (DruvPai/diffusion_mem_gen, experiments/colored_imagenet/shared_gmm/varying_model_size/
# run_data_analysis_pipeline.ipynb).
RELEASED_NOTEBOOK_RATIOS = (0.06, 0.04, 0.02, 0.06, 0.04, 0.14, 0.18, 0.26, 0.58, 1.00)
# What the "released" named configuration changes: the settings of the released colored driver
# (DruvPai/diffusion_mem_gen, experiments/colored_imagenet/.../run_experiment.py).
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


class ColoredTemplates(AbstractDataModel):
    """N colored templates; x̄_* is the true template mixture, the memorizers are point masses at samples."""

    name: ClassVar[str] = "colored"
    baseline_kind: ClassVar[str] = "colored_baseline_unit"
    baseline_family: ClassVar[str] = "colored"
    stored_data: ClassVar[tuple[str, ...]] = ("data/templates",)

    def make_dataset(self, config: ColoredDataConfig, seed: int) -> ColoredDataset:
        return make_dataset(config, seed)

    def label(self, config: ColoredDataConfig, seed: int) -> str:
        return f"colored_N{config.num_train}_K{config.num_templates}_seed{seed}"

    def describe(self, config: ColoredDataConfig) -> str:
        return f"colored N={config.num_train} K={config.num_templates}"

    def generalizing(self, dataset: ColoredDataset, config: ColoredDataConfig) -> colored.ColoredTemplateMixture:
        return colored.generalizing(dataset.templates, config.channels, config.color_variance)

    def memorizing(self, dataset: ColoredDataset, indices: np.ndarray) -> colored.ColoredTemplateMixture:
        # Colors of every sample, then the chosen ones: the same numbers whichever subset is asked for.
        colors = colored.recover_colors(dataset.train, dataset.templates[dataset.train_labels])
        return colored.memorizing_from(dataset.templates, dataset.train_labels[indices], colors[indices])

    def dimension(self, config: ColoredDataConfig) -> int:
        return config.channels * config.size**2

    def data_tree(self, dataset: ColoredDataset) -> dict:
        return {
            "data": {
                "templates": np.asarray(dataset.templates),
                "attrs": {
                    "template_source": dataset.template_source,
                    "template_indices": [int(i) for i in dataset.template_indices],
                },
            }
        }

    def baseline_flops(self, config: ColoredDataConfig, noise_draws: int, count: int) -> float:
        return 2 * super().baseline_flops(config, noise_draws, count)  # the rank-C Woodbury terms


class ColoredMixtureFamily(AbstractDenoiserFamily):
    """M templates, M color means and one color variance, all trained (released code)."""

    name: ClassVar[str] = "colored"
    unit_kind: ClassVar[str] = "colored_training_unit"
    data_model: ClassVar[str] = "colored"
    statistics: ClassVar[tuple[str, ...]] = ("learned_variance",)
    loss_points_per_chunk: ClassVar[int] = 5
    # The autodiff'd step's fixed cost per model and chunk is three times the isotropic path's; with
    # 20 GFLOP/s for its arithmetic, fitted to the cpu profile's colored unit (in a worker: 151 s at
    # bb41abc, 166 s at 714a9b3; 1.3 ms a step, most of it not arithmetic: benchmarks/train_step.py
    # --family colored).
    cpu_flops_per_second: ClassVar[float] = 20e9
    cpu_chunk_factor: ClassVar[float] = 3.0

    def init(self, key, dataset: ColoredDataset, size: int, config) -> colored.ColoredTemplateMixture:
        return colored.partial_memorization_init(
            key, dataset.train, dataset.train_labels, dataset.templates, size, config.init_variance
        )

    def residual(self, model: colored.ColoredTemplateMixture, x0, eps, t):
        return model.eps_residual(x0, eps, t)

    def evaluation_arrays(self, model: colored.ColoredTemplateMixture, rows: int):
        """Padding: unit templates and zero colors, masked out."""
        m, p = model.templates.shape
        templates = np.ones((rows, p), np.float32)
        templates[:m] = np.asarray(model.templates)
        means = np.zeros((rows, model.color_means.shape[1]), np.float32)
        means[:m] = np.asarray(model.color_means)
        return (
            jnp.asarray(templates),
            jnp.asarray(means),
            jnp.asarray(model.variance, jnp.float32),
            jnp.arange(rows) < m,
        )

    def denoise(self, arrays, x_t, t):
        templates, means, variance, mask = arrays
        return colored.posterior_mean(x_t, t, templates, means, variance, mask)

    def evaluation_residual(self, arrays, x0, eps, t):
        templates, means, variance, mask = arrays
        return colored.eps_residual(x0, eps, t, templates, means, variance, mask)

    def statistics_of(self, model: colored.ColoredTemplateMixture, dataset: ColoredDataset) -> dict[str, float]:
        return {"learned_variance": float(model.variance)}

    def training_flops(self, data_config: ColoredDataConfig, sizes: Sequence[int], num_steps: int, noise_draws: int):
        dim = data_config.channels * data_config.size**2
        return 16.0 * data_config.num_train * noise_draws * dim * sum(sizes) * num_steps


register_data_model(ColoredTemplates())
register_family(ColoredMixtureFamily())
