"""Full-batch training of many denoisers of different sizes M on the same data, in one step.

The models of one batch share the data, the grid times and the noise of every step, and the noise
is laid out once per step for all of them. Each model keeps its own loss, gradient, Adam state and
clipping, so a model trained in a batch follows the trajectory it would follow alone with the same
keys (to floating-point rounding).

The batch is a tuple of models of their own sizes, not one array padded to the largest M: padding
would spend up to half of the step on padding (M = 20, 40, ..., 200 pads 1100 components to 2000).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from artifact import denoisers, mixture_grad
from artifact.layout import BACKEND_FLAT_OPTIMIZER, Layout, equal_chunk_size
from artifact.model import MixtureDenoiser, partial_memorization_init


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (paper App. H.1; released-code values where the paper is silent)."""

    num_steps: int = 50_000  # full-batch steps (= epochs)
    noise_draws: int = 100  # N_dup: fresh noise draws per training point per step
    peak_lr: float = 1e-3
    final_lr: float = 1e-6
    warmup_fraction: float = 0.1  # linear 0 -> peak over this fraction, then linear peak -> final
    clip_norm: float = 1e9  # global-norm clipping per model; 1e9 (released code) is effectively off
    # The released code chains optax.ema after Adam: an EMA of the *updates*, i.e. extra momentum,
    # not an EMA of the parameters. None switches it off.
    update_ema_decay: float | None = 0.99
    init_variance: float = 1e-6  # sigma^2 of the partial-memorization initialisation
    adam_b1: float = 0.9
    adam_b2: float = 0.999
    adam_eps: float = 1e-8

    def __post_init__(self):
        if self.num_steps < 1 or self.noise_draws < 1:
            raise ValueError("num_steps and noise_draws must be positive")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.update_ema_decay is not None and not 0.0 <= self.update_ema_decay < 1.0:
            raise ValueError(f"update_ema_decay must be in [0, 1) or None, got {self.update_ema_decay}")


def learning_rate_schedule(config: TrainConfig) -> optax.Schedule:
    """Linear warm-up 0 -> peak over the first warmup_fraction of the steps, then linear decay."""
    warmup = int(config.num_steps * config.warmup_fraction)
    decay = optax.linear_schedule(config.peak_lr, config.final_lr, config.num_steps - warmup)
    if warmup == 0:
        return decay
    rise = optax.linear_schedule(0.0, config.peak_lr, warmup)
    return optax.join_schedules([rise, decay], [warmup])


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam(schedule) -> optional EMA of the updates, as the released code. Its global-norm clipping, per
    model, comes first in `train_stacked` (optax's model by model, or `clip_per_model` on one vector)."""
    chain = [optax.adam(learning_rate_schedule(config), config.adam_b1, config.adam_b2, config.adam_eps)]
    if config.update_ema_decay is not None:
        chain.append(optax.ema(config.update_ema_decay, debias=True))
    return optax.chain(*chain)


def clip_per_model(grads, segments, num_models: int, clip_norm: float):
    """Each model's gradient scaled to global norm at most `clip_norm` (optax.clip_by_global_norm's rule).

    grads: (P,) every model's parameters' gradients, one after another; segments: (P,) the model
    index of each entry. A gradient within the bound passes unchanged, bit for bit.
    """
    norms = jnp.sqrt(jax.ops.segment_sum(grads * grads, segments, num_segments=num_models))
    return jnp.where((norms < clip_norm)[segments], grads, grads / norms[segments] * clip_norm)


@dataclass(frozen=True)
class FlatParameters:
    """The trainable arrays of a tuple of models as one vector, and the way back.

    Adam and the EMA act elementwise, so on one vector they give the numbers they give leaf by leaf
    (to float32 rounding: XLA compiles the two differently), in a few operations instead of a few per
    model and leaf; on a GPU each operation is a kernel launch (`layout.BACKEND_FLAT_OPTIMIZER`).
    """

    static: Any  # the models' non-trainable parts (eqx.partition)
    unravel: Callable  # (P,) -> the trainable parts
    segments: jax.Array  # (P,) int32: the model each entry belongs to
    num_models: int

    @staticmethod
    def of(models) -> tuple[FlatParameters, jax.Array]:
        """The layout of `models` (one data set's tuple) and their parameters as a vector (P,)."""
        params, static = eqx.partition(tuple(models), eqx.is_inexact_array)
        flat, unravel = ravel_pytree(params)
        sizes = [ravel_pytree(p)[0].size for p in params]
        segments = jnp.asarray(np.repeat(np.arange(len(sizes)), sizes), jnp.int32)
        return FlatParameters(static, unravel, segments, len(sizes)), flat

    def models(self, flat):
        return eqx.combine(self.unravel(flat), self.static)

    def flatten(self, grads) -> jax.Array:
        """Gradients with the models' structure (None where nothing trains) as a vector (P,)."""
        return ravel_pytree(eqx.filter(tuple(grads), eqx.is_inexact_array))[0]


def batched_losses(models: Sequence[MixtureDenoiser], x0, t, eps):
    """The training loss of each model on the same noisy batch (the definition; see below for speed).

    x0: (N, d) training points; t: (N,) one time per point; eps: (N, r, d) noise draws.
    Returns (B,): for each model, the mean over points of the mean over draws of
    ||eps_hat - eps||^2 summed over dimensions (lambda = psi in X0 units, paper §2).
    """
    sums = [jnp.sum(denoisers.eps_residual(x0, eps, t, m.means, m.variance) ** 2) for m in models]
    return jnp.stack(sums) / (eps.shape[0] * eps.shape[1])


def batched_losses_and_grads(models: Sequence[MixtureDenoiser], x0, t, eps, points_per_chunk: int = 10):
    """`batched_losses` and each model's gradient: the isotropic family's fast path.

    The (points x draws x M) logits do not fit in cache at the paper's sizes (88 MB for the ten
    models at N = 200, N_dup = 100), so the step runs over chunks of points (`_scan_chunks`), each
    chunk's tables cache-resident. Within a chunk, `mixture_grad` computes each model's loss and
    gradient with a hand-derived reverse pass (why: see there); tests compare it with autodiff of
    `batched_losses`.
    """
    num_points = eps.shape[0]
    chunk = equal_chunk_size(num_points, points_per_chunk)
    x0_chunks, noise, point_of_row = mixture_grad.chunk_layouts(x0, eps, chunk)
    means = tuple(model.means for model in models)
    stds = jnp.stack([model.std for model in models])

    def chunk_losses_and_grads(x0_c, t_c, noise_c):
        losses, d_means, d_stds = mixture_grad.chunk_losses_and_grads(means, stds, x0_c, t_c, noise_c, point_of_row)
        return losses, tuple(MixtureDenoiser(d_m, d_s) for d_m, d_s in zip(d_means, d_stds, strict=True))

    t_chunks = t.reshape(num_points // chunk, chunk)
    return _scan_chunks(chunk_losses_and_grads, models, (x0_chunks, t_chunks, noise), eps.shape[:2], x0.dtype)


def autodiff_losses_and_grads(residual_fn, models, x0, t, eps, points_per_chunk: int = 10):
    """Per-model training losses and gradients for any denoiser family, by autodiff, a few points at a time.

    residual_fn(model, x0 (n, ...), eps (n, r, ...), t (n,)) -> eps_hat - eps (n, r, ...).
    Same estimator as `batched_losses`; the default of families without a hand-written path.
    """
    num_points = eps.shape[0]
    chunk = equal_chunk_size(num_points, points_per_chunk)

    def summed(ms, x0_c, t_c, eps_c):
        return _sum_with_aux(jnp.stack([jnp.sum(residual_fn(m, x0_c, eps_c, t_c) ** 2) for m in ms]))

    def chunk_losses_and_grads(x0_c, t_c, eps_c):
        (_, sums), grads = jax.value_and_grad(summed, has_aux=True)(models, x0_c, t_c, eps_c)
        return sums, grads

    def split(a):
        return a.reshape(num_points // chunk, chunk, *a.shape[1:])

    return _scan_chunks(chunk_losses_and_grads, models, (split(x0), split(t), split(eps)), eps.shape[:2], x0.dtype)


def _scan_chunks(chunk_losses_and_grads, models, chunks, points_and_draws: tuple[int, int], dtype):
    """Sum (losses (B,), grads) of `chunk_losses_and_grads(*chunk)` over the chunks, then average per sample.

    chunks: arrays with the chunk index as leading axis. Each model's loss depends on its own
    parameters only, so the gradients are per model.
    """

    def step(carry, chunk):
        loss_sums, grads = carry
        losses, chunk_grads = chunk_losses_and_grads(*chunk)
        return (loss_sums + losses, jax.tree.map(jnp.add, grads, chunk_grads)), None

    zeros = (jnp.zeros(len(models), dtype), jax.tree.map(jnp.zeros_like, tuple(models)))
    (loss_sums, grads), _ = jax.lax.scan(step, zeros, chunks)
    scale = 1.0 / (points_and_draws[0] * points_and_draws[1])
    return loss_sums * scale, jax.tree.map(lambda g: g * scale, grads)


def initial_state(optimizer: optax.GradientTransformation, layout: FlatParameters | None, params):
    """The optimizer's state: one per model (layout None: params are the models), or one for the vector."""
    return tuple(optimizer.init(m) for m in params) if layout is None else optimizer.init(params)


def apply_optimizer(optimizer, clip_norm: float, layout: FlatParameters | None, params, state, grads):
    """One update: clip each model's gradient to global norm `clip_norm`, then `optimizer`.

    layout None: model by model, leaf by leaf (params are the models); else on one vector (P,).
    Returns the new params and state.
    """
    if layout is None:
        clip = optax.clip_by_global_norm(clip_norm)
        steps = [
            optimizer.update(clip.update(g, optax.EmptyState())[0], s, m)
            for m, s, g in zip(params, state, grads, strict=True)
        ]
        return eqx.apply_updates(params, tuple(u for u, _ in steps)), tuple(s for _, s in steps)
    grads = clip_per_model(layout.flatten(grads), layout.segments, layout.num_models, clip_norm)
    updates, state = optimizer.update(grads, state, params)
    return params + updates, state


def draw_batch(key, num_points: int, grid, noise_draws: int, shape):
    """One step's randomness: a grid time per point (t: (N,)) and noise (N, r, *shape); shape: d or (C, P)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    time_key, noise_key = jax.random.split(key)
    t = jnp.asarray(grid, jnp.float32)[jax.random.randint(time_key, (num_points,), 0, len(grid))]
    eps = jax.random.normal(noise_key, (num_points, noise_draws, *shape))
    return t, eps


def init_models(key, train, sizes: Sequence[int], init_variance: float) -> tuple[MixtureDenoiser, ...]:
    """Partial-memorization initialisation, one key per M (fold_in(key, M)): independent of the batch."""
    return tuple(partial_memorization_init(jax.random.fold_in(key, m), train, m, init_variance) for m in sizes)


@dataclass(frozen=True)
class TrainResult:
    models: tuple[MixtureDenoiser, ...]
    loss_steps: jax.Array  # (n_logs,) step index after which the losses were recorded
    losses: jax.Array  # (n_logs, B) training-batch loss of each model at those steps
    seconds: float


def train_models(
    key,
    family,
    dataset,
    grid,
    sizes: Sequence[int],
    config: TrainConfig,
    num_logs: int = 100,
    progress: Callable[[int, int, jax.Array, float], None] | None = None,
    devices: Sequence | None = None,
    points_per_chunk: int | None = None,
) -> TrainResult:
    """Train one model of `family` per entry of `sizes` on `dataset.train` (N, ...): `train_stacked` of one data set."""
    (result,) = train_stacked(
        [key], family, [dataset], grid, sizes, config, num_logs, progress, devices, points_per_chunk
    )
    return result


def train_stacked(
    keys: Sequence,
    family,
    datasets: Sequence,
    grid,
    sizes: Sequence[int],
    config: TrainConfig,
    num_logs: int = 100,
    progress: Callable[[int, int, jax.Array, float], None] | None = None,
    devices: Sequence | None = None,
    points_per_chunk: int | None = None,
    flat_optimizer: bool | None = None,
) -> list[TrainResult]:
    """Train one model of `family` per entry of `sizes` on each of S data sets, all in one compiled step.

    keys: S training keys, one per data set (init keys fold_in(init key, M), step keys
    fold_in(steps key, step)); datasets: S data sets whose `train` arrays share one shape (N, ...).
    Each data set's models see only its own data and noise: the S copies of a model of size M are
    one array with a leading axis of S and the step is `vmap`ped over it, so a step costs the
    operations of one data set (what dominates small problems), not S times as many. A data set's
    result equals the one it gets alone up to float32 rounding (the batched products sum in another
    order; tested), so which data sets are stacked is a fixed function of the configuration
    (`stages.cohorts`), recorded in each unit's provenance.
    progress(step, num_steps, losses (S, B), elapsed_seconds) is called num_logs times.
    devices: where to train (default: every local device; the sizes are split among them).
    points_per_chunk: training points per pass of the step (speed only; default: the backend's, `layout.py`).
    flat_optimizer: Adam on one vector of every model's parameters (`FlatParameters`) rather than
    model by model and leaf by leaf; the same numbers to float32 rounding (default: the backend's,
    `layout.BACKEND_FLAT_OPTIMIZER`).
    Returns one `TrainResult` per data set, in order.
    """
    if len(keys) != len(datasets) or not datasets:
        raise ValueError(f"need one key per data set and at least one data set, got {len(keys)} and {len(datasets)}")
    trains = [jnp.asarray(d.train, jnp.float32) for d in datasets]
    if len({t.shape for t in trains}) != 1:
        raise ValueError(f"stacked data sets must share one shape, got {sorted({t.shape for t in trains})}")
    split_keys = [jax.random.split(k) for k in keys]
    steps_keys = jnp.stack([steps for _, steps in split_keys])
    train = jnp.stack(trains)  # (S, N, ...)
    devices = devices or jax.local_devices()
    chunk_points = points_per_chunk or Layout().points_per_chunk_for(devices[0].platform, train.shape[1])
    per_dataset = [
        tuple(family.init(jax.random.fold_in(init_key, m), dataset, m, config) for m in sizes)
        for (init_key, _), dataset in zip(split_keys, datasets, strict=True)
    ]
    models = tuple(_stack([ms[i] for ms in per_dataset]) for i in range(len(sizes)))
    losses_and_grads = family.losses_and_grads
    optimizer = make_optimizer(config)
    grid = jnp.asarray(grid, jnp.float32)

    flat = BACKEND_FLAT_OPTIMIZER.get(devices[0].platform, True) if flat_optimizer is None else flat_optimizer

    def one_step(layout: FlatParameters | None, step, data, steps_key, params, state):
        t, eps = draw_batch(
            jax.random.fold_in(steps_key, step), data.shape[0], grid, config.noise_draws, data.shape[1:]
        )
        models = params if layout is None else layout.models(params)
        losses, grads = losses_and_grads(models, data, t, eps, chunk_points)
        return *apply_optimizer(optimizer, config.clip_norm, layout, params, state, grads), losses

    def steps_for(layout: FlatParameters | None, num_models: int):
        @eqx.filter_jit
        def run_steps(params, states, data, steps_keys, first, last):
            def body(step, carry):
                params, states, _ = carry
                return jax.vmap(partial(one_step, layout, step))(data, steps_keys, params, states)

            init = (params, states, jnp.zeros((data.shape[0], num_models), jnp.float32))
            return jax.lax.fori_loop(first, last, body, init)

        return run_steps

    # Several local devices (GPUs, or CPU devices under --xla_force_host_platform_device_count):
    # the sizes are split into groups of similar total M, one group per device. Each model's
    # trajectory does not depend on its group, so the result equals the single-device run.
    groups = device_groups(sizes, devices)
    placed = []
    for indices, device in groups:
        group_models = tuple(models[i] for i in indices)
        layout = FlatParameters.of(jax.tree.map(lambda x: x[0], group_models))[0] if flat else None
        params = group_models if layout is None else jax.vmap(layout.flatten)(group_models)  # (S, P) when flat
        states = jax.vmap(partial(initial_state, optimizer, layout))(params)
        placed.append(
            [
                indices,
                layout,
                steps_for(layout, len(indices)),
                jax.device_put(params, device),
                jax.device_put(states, device),
                jax.device_put((train, steps_keys), device),
            ]
        )

    num_logs = max(1, min(num_logs, config.num_steps))
    chunk = math.ceil(config.num_steps / num_logs)
    log_steps, log_losses = [], []
    start_time = time.perf_counter()
    done = 0
    while done < config.num_steps:
        stop = min(done + chunk, config.num_steps)
        chunk_losses = [None] * len(sizes)
        for group in placed:  # dispatch is asynchronous: the devices run their groups concurrently
            indices, _, run_steps, params, states, (data, keys) = group
            # first/last as arrays: one compilation serves every chunk length.
            group[3], group[4], losses = run_steps(params, states, data, keys, jnp.asarray(done), jnp.asarray(stop))
            for j, i in enumerate(indices):
                chunk_losses[i] = losses[:, j]
        done = stop
        losses = jnp.stack([jax.device_get(x) for x in chunk_losses], axis=1)  # (S, B)
        log_steps.append(done)
        log_losses.append(losses)
        if progress is not None:
            progress(done, config.num_steps, losses, time.perf_counter() - start_time)
    trained = [None] * len(sizes)
    for indices, layout, _, params, _, _ in placed:
        params = params if layout is None else eqx.combine(jax.vmap(layout.unravel)(params), layout.static)
        group_models = jax.device_get(params)
        for j, i in enumerate(indices):
            trained[i] = group_models[j]
    seconds = time.perf_counter() - start_time
    history = jnp.stack(log_losses)  # (n_logs, S, B)
    return [
        TrainResult(
            models=tuple(jax.tree.map(lambda x, s=s: jnp.asarray(x[s]), m) for m in trained),
            loss_steps=jnp.asarray(log_steps),
            losses=history[:, s],
            seconds=seconds,
        )
        for s in range(len(datasets))
    ]


def _stack(models):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *models)


def device_groups(sizes: Sequence[int], devices) -> list[tuple[list[int], object]]:
    """Split model indices over devices, largest M first onto the least loaded device (sum of M)."""
    devices = list(devices)[: max(1, len(sizes))]
    loads = [0] * len(devices)
    members: list[list[int]] = [[] for _ in devices]
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        target = loads.index(min(loads))
        members[target].append(i)
        loads[target] += sizes[i]
    return [(sorted(m), d) for m, d in zip(members, devices, strict=True) if m]


def _sum_with_aux(losses):
    return jnp.sum(losses), losses
