"""Units of work, for every data model and denoiser family (`artifact.families`).

A training unit trains a set of models of sizes M of one family on one data set (one seed) together
in one compiled step, then measures each one: the memorization ratio of its DDIM samples, its
per-time losses on the training and held-out points, and the statistics its family reports. A
baseline unit measures a data set's reference denoisers (x̄_*, x̄_mem and x̄_pmem,M). Each unit is
identified by the hash of its full configuration, so it is computed once and shared by every figure
that needs it (Fig. 2 is Fig. 3's tuple (200, 50, 12); Fig. 7 is Fig. 2 over seeds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from artifact import families, losses, metrics, process, rng, sampling, store
from artifact import train as training

TRAINING_DATASETS = (
    "M",
    "grid",
    "memorization_ratio",
    "train_loss_eps",
    "heldout_loss_eps",
    "loss_history",
    "loss_history_steps",
    "distance_to_generalizing",
    "distance_to_memorizing",
    "reference_distance",
)
BASELINE_DATASETS = (
    "grid",
    "generalizing/train_loss_eps",
    "generalizing/heldout_loss_eps",
    "memorizing/train_loss_eps",
    "memorizing/heldout_loss_eps",
    "partially_memorizing/M",
    "partially_memorizing/train_loss_eps",
    "partially_memorizing/heldout_loss_eps",
)


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


class UnitIdentity:
    """A unit's full configuration, its hash, and the file name the hash gives it.

    Subclasses are frozen dataclasses with a `kind` and a `prefix`. Fields named in `REGISTRY_FIELDS`
    say which registered family or data model computes the unit; the `kind` already says that, so
    they stay out of the configuration and its hash.
    """

    REGISTRY_FIELDS: ClassVar[tuple[str, ...]] = ("family", "data_model")
    prefix: ClassVar[str]

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def config(self) -> dict:
        out = {"kind": self.kind, "schema": store.SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            if f.name in self.REGISTRY_FIELDS:
                continue
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

    def required_datasets(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def hash(self) -> str:
        return _hash(self.config())

    @property
    def filename(self) -> str:
        return f"{self.prefix}_{self.label()}_{self.hash}.h5"


@dataclass(frozen=True)
class TrainingUnit(UnitIdentity):
    """Models of sizes `sizes` of the registered family `family`, trained together on one data set."""

    family: str
    data: Any  # the family's data model's configuration
    seed: int
    train: training.TrainConfig
    eval: EvalConfig
    sizes: tuple[int, ...]

    prefix: ClassVar[str] = "train"

    @property
    def kind(self) -> str:
        return families.family(self.family).unit_kind

    @property
    def data_model(self) -> families.AbstractDataModel:
        return families.data_model(families.family(self.family).data_model)

    def label(self) -> str:
        """The data set's label, after the family's name when it is not the data model's own family."""
        label = self.data_model.label(self.data, self.seed)
        return label if self.family == self.data_model.name else f"{self.family}_{label}"

    def describe(self) -> str:
        family = "" if self.family == self.data_model.name else f"{self.family} "
        return (
            f"train {family}{self.data_model.describe(self.data)} seed {self.seed}: "
            f"{len(self.sizes)} models M={self.sizes[0]}..{self.sizes[-1]}, {self.train.num_steps} steps"
        )

    def required_datasets(self) -> tuple[str, ...]:
        return required_datasets(self.kind)

    def flops(self) -> float:
        family = families.family(self.family)
        return family.training_flops(
            self.data, self.sizes, self.train.num_steps, self.train.noise_draws
        ) + family.evaluation_flops(self.data, self.sizes, self.eval.loss_noise_draws)

    def run(self, progress: Callable | None = None, points_per_chunk: int | None = None) -> dict:
        return run_training_unit(self, progress, points_per_chunk)


@dataclass(frozen=True)
class BaselineUnit(UnitIdentity):
    """The reference denoisers of the registered data model `data_model` on one data set."""

    data_model: str
    data: Any
    seed: int
    eval: EvalConfig

    prefix: ClassVar[str] = "baselines"

    @property
    def kind(self) -> str:
        return families.data_model(self.data_model).baseline_kind

    def label(self) -> str:
        return families.data_model(self.data_model).label(self.data, self.seed)

    def describe(self) -> str:
        data_model = families.data_model(self.data_model)
        return f"baselines {data_model.describe(self.data)} seed {self.seed}: x̄_*, x̄_mem, {len(self.pmem_sizes)} x̄_pmem"

    def derived_config(self) -> dict:
        return {"pmem_sizes": list(self.pmem_sizes)}

    def required_datasets(self) -> tuple[str, ...]:
        return required_datasets(self.kind)

    @property
    def pmem_sizes(self) -> tuple[int, ...]:
        n = self.data.num_train
        count = min(n, self.eval.baseline_points)
        return tuple(sorted({max(1, round(n * i / count)) for i in range(1, count + 1)}))

    def flops(self) -> float:
        data_model = families.data_model(self.data_model)
        return data_model.baseline_flops(self.data, self.eval.loss_noise_draws, len(self.pmem_sizes) + 2)

    def run(self, progress: Callable | None = None, points_per_chunk: int | None = None) -> dict:
        return run_baseline_unit(self, progress)


Unit = TrainingUnit | BaselineUnit


def required_datasets(kind: str) -> tuple[str, ...]:
    """What a unit file of `kind` must hold, from what its family or data model declares."""
    entry = families.by_kind(kind)
    if isinstance(entry, families.AbstractDenoiserFamily):
        return TRAINING_DATASETS + entry.statistics + families.data_model(entry.data_model).stored_data
    return BASELINE_DATASETS + entry.stored_data


# --- evaluation, jitted once per family and shape ---------------------------------------------


@partial(jax.jit, static_argnames=("family", "noise_draws"))
def _loss_per_time(family, key, points, grid, arrays, noise_draws):
    def residual(x0, eps, t):
        return family.evaluation_residual(arrays, x0, eps, t)

    return losses.loss_per_time(key, points, grid, residual, noise_draws, family.loss_points_per_chunk)


@partial(jax.jit, static_argnames=("family", "reference_family", "noise_draws"))
def _distances(family, reference_family, key, points, t, arrays, references, noise_draws):
    def reference(ref):
        return lambda x, s: reference_family.denoise(ref, x, s)

    return losses.prediction_distances(
        key,
        points,
        t,
        lambda x, s: family.denoise(arrays, x, s),
        [reference(ref) for ref in references],
        noise_draws,
        family.loss_points_per_chunk,
    )


@partial(jax.jit, static_argnames=("family",))
def _ddim(family, start, grid, arrays):
    return sampling.ddim_sample(lambda x, t: family.denoise(arrays, x, t), start, grid)


def _eval_keys(data_config, seed: int):
    tag = data_config.stream_tag()
    return rng.stream(seed, "eval", *tag, "loss"), rng.stream(seed, "eval", *tag, "ddim")


def reference_distances(unit: TrainingUnit, dataset, models) -> tuple[np.ndarray, np.ndarray, float]:
    """Each model's mean squared X0 distance from x̄_* and from x̄_mem at t_16, and theirs from each other.

    Measured on noised training points, `unit.eval.loss_noise_draws` draws each, the same draws for
    every model. Returns (M,) to x̄_*, (M,) to x̄_mem, and the x̄_* to x̄_mem distance that scales both.
    """
    family, data_model = families.family(unit.family), unit.data_model
    reference_family = families.family(data_model.baseline_family)
    n = unit.data.num_train
    generalizing = data_model.generalizing(dataset, unit.data)
    memorizing = data_model.memorizing(dataset, np.arange(n))
    references = [reference_family.evaluation_arrays(m, max(n, m.num_components)) for m in (generalizing, memorizing)]
    key = rng.stream(unit.seed, "eval", *unit.data.stream_tag(), "distance")
    t = jnp.float32(process.time_grid()[process.PANEL_INDEX])
    draws = unit.eval.loss_noise_draws

    def measured(fam, arrays):
        return np.asarray(_distances(fam, reference_family, key, dataset.train, t, arrays, references, draws))

    rows = max(n, max(unit.sizes))
    distances = np.stack([measured(family, family.evaluation_arrays(m, rows)) for m in models])
    separation = measured(reference_family, references[0])[1]
    return distances[:, 0], distances[:, 1], float(separation)


def per_time_losses(family, dataset, loss_key, grid, model, rows: int, noise_draws: int):
    """EPS-unit per-time losses of `model` on the training and held-out points. Returns two (T,) arrays."""
    arrays = family.evaluation_arrays(model, rows)
    grid = jnp.asarray(grid, jnp.float32)
    train = _loss_per_time(family, jax.random.fold_in(loss_key, 0), dataset.train, grid, arrays, noise_draws)
    heldout = _loss_per_time(family, jax.random.fold_in(loss_key, 1), dataset.heldout, grid, arrays, noise_draws)
    return np.asarray(train), np.asarray(heldout)


def _flat(x):
    return x.reshape(x.shape[0], -1)


def run_training_unit(
    unit: TrainingUnit, progress: Callable | None = None, points_per_chunk: int | None = None
) -> dict:
    """Train the unit's models together, then measure each one. Returns the datasets to store.

    points_per_chunk: the step's layout (speed only, `layout.py`; default: the backend's).
    """
    (tree,) = run_training_units([unit], progress, points_per_chunk)
    return tree


def run_training_units(
    units: Sequence[TrainingUnit], progress: Callable | None = None, points_per_chunk: int | None = None
) -> list[dict]:
    """Train several units that differ only in their data set (and seed) in one program, then measure each.

    Returns one tree of datasets to store per unit, in order; each equals the unit's tree trained
    alone up to float32 rounding (`train.train_stacked`).
    """
    first = units[0]
    shared = {(u.family, u.train, u.eval, u.sizes) for u in units}
    if len(shared) != 1:
        raise ValueError("units trained together must share family, training, evaluation and sizes")
    family, data_model = families.family(first.family), first.data_model
    datasets = [data_model.make_dataset(u.data, u.seed) for u in units]
    grid = process.time_grid()
    keys = [rng.stream(u.seed, "train", *u.data.stream_tag()) for u in units]
    results = training.train_stacked(
        keys, family, datasets, grid, first.sizes, first.train, progress=progress, points_per_chunk=points_per_chunk
    )
    return [_measure(u, d, grid, r) for u, d, r in zip(units, datasets, results, strict=True)]


def _measure(unit: TrainingUnit, dataset, grid, result: training.TrainResult) -> dict:
    """The unit's datasets: each trained model's memorization ratio, per-time losses and statistics."""
    family, data_model = families.family(unit.family), unit.data_model
    loss_key, ddim_key = _eval_keys(unit.data, unit.seed)
    start = jax.random.normal(ddim_key, (unit.eval.num_samples, *dataset.train.shape[1:]))
    rows = max(unit.data.num_train, max(unit.sizes))
    ratios, train_losses, heldout_losses = [], [], []
    statistics = {name: [] for name in family.statistics}
    for model in result.models:
        samples = _ddim(family, start, jnp.asarray(grid, jnp.float32), family.evaluation_arrays(model, rows))
        ratios.append(float(metrics.memorization_ratio(_flat(samples), _flat(dataset.train))))
        train_loss, heldout_loss = per_time_losses(
            family, dataset, loss_key, grid, model, rows, unit.eval.loss_noise_draws
        )
        train_losses.append(train_loss)
        heldout_losses.append(heldout_loss)
        for name, value in family.statistics_of(model, dataset).items():
            statistics[name].append(value)
    to_generalizing, to_memorizing, separation = reference_distances(unit, dataset, result.models)
    return {
        "M": np.asarray(unit.sizes, np.int64),
        "grid": grid,
        "memorization_ratio": np.asarray(ratios),
        "distance_to_generalizing": to_generalizing,
        "distance_to_memorizing": to_memorizing,
        "reference_distance": np.float64(separation),
        **{name: np.asarray(values) for name, values in statistics.items()},
        "train_loss_eps": np.stack(train_losses),
        "heldout_loss_eps": np.stack(heldout_losses),
        "loss_history": np.asarray(result.losses),
        "loss_history_steps": np.asarray(result.loss_steps),
        **family.parameters_tree(unit.sizes, result.models),
        **data_model.data_tree(dataset),
    }


def run_baseline_unit(unit: BaselineUnit, progress: Callable | None = None) -> dict:
    """Per-time losses of x̄_*, x̄_mem and x̄_pmem,M (nested random subsets) on train and held-out."""
    data_model = families.data_model(unit.data_model)
    family = families.family(data_model.baseline_family)
    dataset = data_model.make_dataset(unit.data, unit.seed)
    grid = process.time_grid()
    loss_key, _ = _eval_keys(unit.data, unit.seed)
    n = unit.data.num_train

    def measured(model):
        rows = max(n, model.num_components)
        return per_time_losses(family, dataset, loss_key, grid, model, rows, unit.eval.loss_noise_draws)

    gen = measured(data_model.generalizing(dataset, unit.data))
    mem = measured(data_model.memorizing(dataset, np.arange(n)))
    # One random order of the training points; x̄_pmem,M memorizes its first M (nested subsets).
    order = np.asarray(jax.random.permutation(rng.stream(unit.seed, "pmem", *unit.data.stream_tag()), n))
    pmem_train, pmem_heldout = [], []
    for i, m in enumerate(unit.pmem_sizes):
        tr, ho = measured(data_model.memorizing(dataset, order[:m]))
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
        **data_model.data_tree(dataset),
    }


# --- the transition bracket and the refinement models ----------------------------------------


def initial_sizes(num_train: int, count: int) -> tuple[int, ...]:
    """M = floor(N/count) * i, i = 1..count (the paper's N/10, 2N/10, ..., N for count = 10)."""
    step = max(num_train // count, 1)
    return tuple(sorted({min(step * i, num_train) for i in range(1, count + 1)} | {num_train}))


def transition_bracket(sizes: Sequence[int], ratios: Sequence[float], start_at=0.1, end_at=0.9) -> tuple[int, int]:
    """(start, end): the M just before the first one whose ratio reaches `start_at` (the first M if that
    is the first; the second-to-last if none reaches it), and the first M from `start` on whose ratio
    reaches `end_at` (or the last M). Sizes ascending."""
    sizes, ratios = list(sizes), list(ratios)
    if not sizes or len(sizes) != len(ratios):
        raise ValueError(f"need one ratio per size and at least one size, got {len(sizes)} sizes, {len(ratios)} ratios")
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
    """Empirical M_pt: the first trained M whose memorization ratio is >= 1/2."""
    if len(sizes) != len(ratios):
        raise ValueError(f"need one ratio per size, got {len(sizes)} sizes, {len(ratios)} ratios")
    return next((m for m, r in zip(sizes, ratios, strict=True) if r >= threshold), None)
