"""Units of work: a training unit (one data set, one seed, a set of M trained together, evaluated)
and a baseline unit (the generalizing, memorizing and partially memorizing denoisers on one data
set). Each is identified by the hash of its full configuration, so a unit is computed once and
shared by every figure that needs it (Fig. 2 is Fig. 3's tuple (200, 50, 12); Fig. 7 is Fig. 2
over seeds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from artifact import data, denoisers, losses, metrics, process, rng, sampling, store
from artifact import train as training


@dataclass(frozen=True)
class EvalConfig:
    """How trained models and baselines are measured (paper §4, released code)."""

    num_samples: int = 50  # DDIM generations per model for the memorization ratio
    loss_noise_draws: int = 100  # noise draws per point for the per-time losses
    baseline_points: int = 100  # partially memorizing baselines at this many M in 1..N (released: every N/100)

    def __post_init__(self):
        if min(self.num_samples, self.loss_noise_draws, self.baseline_points) < 1:
            raise ValueError(f"evaluation sizes must be positive, got {self}")


def _hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _data_label(config: data.MixtureDataConfig, seed: int) -> str:
    return f"N{config.num_train}_d{config.dim}_K{config.num_components}_seed{seed}"


class UnitIdentity:
    """A unit's full configuration, its hash, and the file name the hash gives it.

    Subclasses are frozen dataclasses with `kind` and `prefix`, and a `label()` for readable names.
    """

    kind: ClassVar[str]
    prefix: ClassVar[str]

    def config(self) -> dict:
        out = {"kind": self.kind, "schema": store.SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                dataclasses.asdict(value)
                if dataclasses.is_dataclass(value)
                else (list(value) if isinstance(value, tuple) else value)
            )
        return out | self.derived_config()

    def derived_config(self) -> dict:
        return {}

    def label(self) -> str:
        raise NotImplementedError

    @property
    def hash(self) -> str:
        return _hash(self.config())

    @property
    def filename(self) -> str:
        return f"{self.prefix}_{self.label()}_{self.hash}.h5"


@dataclass(frozen=True)
class TrainingUnit(UnitIdentity):
    data: data.MixtureDataConfig
    seed: int
    train: training.TrainConfig
    eval: EvalConfig
    sizes: tuple[int, ...]

    kind: ClassVar[str] = "training_unit"
    prefix: ClassVar[str] = "train"

    def label(self) -> str:
        return _data_label(self.data, self.seed)

    def flops(self) -> float:
        """Training flops (12 N N_dup d sum M per step) plus a rough evaluation term."""
        n, d = self.data.num_train, self.data.dim
        train = 12.0 * n * self.train.noise_draws * d * sum(self.sizes) * self.train.num_steps
        evaluation = 4.0 * 26 * (n + self.data.num_heldout) * self.eval.loss_noise_draws * d * n * len(self.sizes)
        return train + evaluation


@dataclass(frozen=True)
class BaselineUnit(UnitIdentity):
    data: data.MixtureDataConfig
    seed: int
    eval: EvalConfig

    kind: ClassVar[str] = "baseline_unit"
    prefix: ClassVar[str] = "baselines"

    def label(self) -> str:
        return _data_label(self.data, self.seed)

    def derived_config(self) -> dict:
        return {"pmem_sizes": list(self.pmem_sizes)}

    @property
    def pmem_sizes(self) -> tuple[int, ...]:
        n = self.data.num_train
        count = min(n, self.eval.baseline_points)
        return tuple(sorted({max(1, round(n * i / count)) for i in range(1, count + 1)}))

    def flops(self) -> float:
        n, d = self.data.num_train, self.data.dim
        per_denoiser = 4.0 * 26 * (n + self.data.num_heldout) * self.eval.loss_noise_draws * d * n
        return per_denoiser * (len(self.pmem_sizes) + 2)


Unit = TrainingUnit | BaselineUnit


# --- evaluation, jitted once per shape -------------------------------------------------------


@partial(jax.jit, static_argnames=("noise_draws",))
def _loss_per_time(key, points, grid, means, variance, mask, noise_draws):
    return losses.eps_loss_per_time(key, points, grid, means, variance, noise_draws, mask)


@jax.jit
def _ddim(start, grid, means, variance, mask):
    return sampling.ddim_sample(lambda x, t: denoisers.posterior_mean(x, t, means, variance, mask), start, grid)


def _padded(means: np.ndarray, rows: int) -> tuple[jax.Array, jax.Array]:
    """Pad means (M, d) to (rows, d) with a mask, so that every M shares one compilation."""
    m = means.shape[0]
    padded = np.zeros((rows, means.shape[1]), np.float32)
    padded[:m] = means
    return jnp.asarray(padded), jnp.arange(rows) < m


def _eval_keys(unit_data: data.MixtureDataConfig, seed: int):
    tag = unit_data.stream_tag()
    return rng.stream(seed, "eval", *tag, "loss"), rng.stream(seed, "eval", *tag, "ddim")


def per_time_losses(dataset: data.MixtureDataset, loss_key, grid, means, variance, rows: int, noise_draws: int):
    """EPS-unit per-time losses on the training and held-out points. Returns two (T,) arrays."""
    padded, mask = _padded(np.asarray(means, np.float32), rows)
    variance = jnp.asarray(variance, jnp.float32)
    grid = jnp.asarray(grid, jnp.float32)
    train = _loss_per_time(jax.random.fold_in(loss_key, 0), dataset.train, grid, padded, variance, mask, noise_draws)
    heldout = _loss_per_time(
        jax.random.fold_in(loss_key, 1), dataset.heldout, grid, padded, variance, mask, noise_draws
    )
    return np.asarray(train), np.asarray(heldout)


def run_training_unit(unit: TrainingUnit, progress: Callable | None = None) -> dict:
    """Train the unit's models together, then measure each one. Returns the datasets to store."""
    dataset = data.make_dataset(unit.data, unit.seed)
    grid = process.time_grid()
    train_key = rng.stream(unit.seed, "train", *unit.data.stream_tag())
    result = training.train_models(train_key, dataset.train, grid, unit.sizes, unit.train, progress=progress)
    loss_key, ddim_key = _eval_keys(unit.data, unit.seed)
    start = jax.random.normal(ddim_key, (unit.eval.num_samples, unit.data.dim))
    rows = max(unit.data.num_train, max(unit.sizes))
    train_np = np.asarray(dataset.train, np.float64)
    true_means = np.asarray(dataset.mixture.means, np.float64)
    out = {k: [] for k in ("memorization_ratio", "train_loss_eps", "heldout_loss_eps", "near_train", "near_true")}
    for model in result.models:
        padded, mask = _padded(np.asarray(model.means), rows)
        samples = _ddim(start, jnp.asarray(grid, jnp.float32), padded, model.variance, mask)
        out["memorization_ratio"].append(float(metrics.memorization_ratio(samples, dataset.train)))
        train_loss, heldout_loss = per_time_losses(
            dataset, loss_key, grid, model.means, model.variance, rows, unit.eval.loss_noise_draws
        )
        out["train_loss_eps"].append(train_loss)
        out["heldout_loss_eps"].append(heldout_loss)
        learned = np.asarray(model.means, np.float64)
        out["near_train"].append(float(np.mean(metrics.nearest_distance(learned, train_np))))
        out["near_true"].append(float(np.mean(metrics.nearest_distance(learned, true_means))))
    tree = {
        "M": np.asarray(unit.sizes, np.int64),
        "grid": grid,
        "memorization_ratio": np.asarray(out["memorization_ratio"]),
        "learned_variance": np.asarray([float(m.variance) for m in result.models]),
        "std": np.asarray([float(m.std) for m in result.models]),
        "train_loss_eps": np.stack(out["train_loss_eps"]),
        "heldout_loss_eps": np.stack(out["heldout_loss_eps"]),
        "mean_distance_to_nearest_train": np.asarray(out["near_train"]),
        "mean_distance_to_nearest_true_mean": np.asarray(out["near_true"]),
        "loss_history": np.asarray(result.losses),
        "loss_history_steps": np.asarray(result.loss_steps),
        "means": {f"M{m}": np.asarray(model.means) for m, model in zip(unit.sizes, result.models, strict=True)},
    }
    return tree


def run_baseline_unit(unit: BaselineUnit, progress: Callable | None = None) -> dict:
    """Per-time losses of x̄_*, x̄_mem and x̄_pmem,M (nested random subsets) on train and held-out."""
    dataset = data.make_dataset(unit.data, unit.seed)
    grid = process.time_grid()
    loss_key, _ = _eval_keys(unit.data, unit.seed)
    n = unit.data.num_train
    rows = n
    draws = unit.eval.loss_noise_draws
    gen = per_time_losses(
        dataset, loss_key, grid, dataset.mixture.means, unit.data.variance, max(rows, unit.data.num_components), draws
    )
    mem = per_time_losses(dataset, loss_key, grid, dataset.train, 0.0, rows, draws)
    # One random order of the training points; x̄_pmem,M memorizes its first M (nested subsets).
    order = np.asarray(jax.random.permutation(rng.stream(unit.seed, "pmem", *unit.data.stream_tag()), n))
    train_np = np.asarray(dataset.train)
    pmem_train, pmem_heldout = [], []
    for i, m in enumerate(unit.pmem_sizes):
        tr, ho = per_time_losses(dataset, loss_key, grid, train_np[order[:m]], 0.0, rows, draws)
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
    }


# --- the transition bracket and the refinement models ----------------------------------------


def initial_sizes(num_train: int, count: int) -> tuple[int, ...]:
    """M = floor(N/count) * i, i = 1..count (the paper's N/10, 2N/10, ..., N for count = 10)."""
    step = max(num_train // count, 1)
    return tuple(sorted({min(step * i, num_train) for i in range(1, count + 1)} | {num_train}))


def transition_bracket(sizes: Sequence[int], ratios: Sequence[float], start_at=0.1, end_at=0.9) -> tuple[int, int]:
    """(start, end): the last M below `start_at` before the ratio first reaches it (or the first M),
    and the first M whose ratio reaches `end_at` (or the last M). Sizes ascending."""
    sizes, ratios = list(sizes), list(ratios)
    first_start = next((i for i, r in enumerate(ratios) if r >= start_at), len(sizes) - 1)
    start = sizes[max(first_start - 1, 0)]
    end = next((m for m, r in zip(sizes, ratios, strict=True) if r >= end_at and m >= start), sizes[-1])
    return start, end


def refinement_sizes(sizes: Sequence[int], ratios: Sequence[float], count: int) -> tuple[int, ...]:
    """`count` more M equally spaced inside the transition bracket, leaving out M already trained."""
    if count <= 0:
        return ()
    start, end = transition_bracket(sizes, ratios)
    candidates = {int(round(m)) for m in np.linspace(start, end, count + 2)[1:-1]}
    return tuple(sorted(candidates - set(sizes) - {0}))


def first_memorizing_size(sizes: Sequence[int], ratios: Sequence[float], threshold: float = 0.5) -> int | None:
    """Empirical M_pt: the first trained M whose memorization ratio is >= 1/2 (DESIGN.md)."""
    return next((m for m, r in zip(sizes, ratios, strict=True) if r >= threshold), None)
