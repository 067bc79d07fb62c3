"""The batched trainer: gradients, optimizer schedule, batch-invariance, and a real short run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key, numpy_posterior_mean

from artifact import data, families, metrics, process, sampling
from artifact import train as training
from artifact.model import MixtureDenoiser

ISOTROPIC = families.family("isotropic")


def test_chunked_gradients_equal_autodiff_of_the_definition(small_dataset):
    train, grid = small_dataset.train, process.time_grid()
    models = training.init_models(key("init"), train, [2, 5, 20], 1e-2)
    t, eps = training.draw_batch(key("batch"), train.shape[0], grid, 7, train.shape[1])
    fast_losses, fast_grads = training.batched_losses_and_grads(models, train, t, eps, points_per_chunk=3)
    ref_losses = training.batched_losses(models, train, t, eps)
    ref_grads = jax.grad(lambda ms: jnp.sum(training.batched_losses(ms, train, t, eps)))(models)
    np.testing.assert_allclose(fast_losses, ref_losses, rtol=1e-5)
    for fast, ref in zip(jax.tree.leaves(fast_grads), jax.tree.leaves(ref_grads), strict=True):
        np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(ref))))


def test_the_cpu_and_the_gpu_layout_give_the_same_losses_and_gradients(small_dataset):
    """Chunks of a few points (the CPU's layout) and the whole batch in one pass (the GPU's) differ only in
    the order of float32 sums: the layout is not part of a unit's identity."""
    train, grid = small_dataset.train, process.time_grid()
    models = training.init_models(key("init"), train, [2, 5, 20], 1e-2)
    t, eps = training.draw_batch(key("batch"), train.shape[0], grid, 7, train.shape[1])
    chunked = training.batched_losses_and_grads(models, train, t, eps, points_per_chunk=10)
    whole = training.batched_losses_and_grads(models, train, t, eps, points_per_chunk=train.shape[0])
    for a, b in zip(jax.tree.leaves(chunked), jax.tree.leaves(whole), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6 * float(jnp.max(jnp.abs(b))))
    colored_like = training.autodiff_losses_and_grads(
        lambda m, x, e, tt: m.eps_residual(x, e, tt), models, train, t, eps, points_per_chunk=4
    )
    for a, b in zip(jax.tree.leaves(colored_like), jax.tree.leaves(whole), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(b))))


def numpy_training_loss(means, std, x0, t, eps):
    """float64 reference: sum over points and draws of ||eps_hat - eps||^2, via conftest's posterior mean."""
    total = 0.0
    for x0_i, t_i, eps_i in zip(x0, t, eps, strict=True):
        a, s = np.sqrt(1.0 - t_i * t_i), t_i
        x = a * x0_i + s * eps_i  # (r, d)
        eps_hat = (x - a * numpy_posterior_mean(x, t_i, means, std**2)) / s
        total += np.sum((eps_hat - eps_i) ** 2)
    return total


@pytest.mark.parametrize(
    ("times", "std"),
    [("smallest", 1e-3), ("largest", 1e-3), ("grid", 0.3), ("grid", 1e-3)],
)
def test_hand_derived_gradient_matches_float64_finite_differences(small_dataset, times, std):
    """mixture_grad's loss and gradient against central differences of a float64 numpy loss.

    t = 0.001 with sigma^2 = 1e-6 is the regime where the logits span ~1e5 and a naive float32
    expansion fails; t = 0.999 is where alpha ~ 0.04.
    """
    train = np.asarray(small_dataset.train[:6], np.float64)
    grid = process.time_grid()
    t = {"smallest": np.full(6, grid[-1]), "largest": np.full(6, grid[0]), "grid": grid[[0, 5, 10, 16, 20, 25]]}[times]
    eps = np.asarray(jax.random.normal(key("eps"), (6, 5, train.shape[1])), np.float64)
    means = train[[0, 2, 4, 5]] + 0.05 * np.asarray(jax.random.normal(key("shift"), (4, train.shape[1])), np.float64)
    model = MixtureDenoiser(jnp.asarray(means, jnp.float32), jnp.asarray(std, jnp.float32))
    losses, (grad,) = training.batched_losses_and_grads(
        (model,), jnp.asarray(train, jnp.float32), jnp.asarray(t, jnp.float32), jnp.asarray(eps, jnp.float32), 3
    )
    scale = 1.0 / eps.shape[0] / eps.shape[1]
    means32, std32 = np.asarray(model.means, np.float64), float(model.std)  # the float32 parameters, exactly
    assert float(losses[0]) == pytest.approx(scale * numpy_training_loss(means32, std32, train, t, eps), rel=1e-4)

    def loss_at(m, s_):
        return scale * numpy_training_loss(m, s_, train, t, eps)

    step = 1e-3 * std32  # central differences: O(step^2) error, far below the tolerance
    d_std = (loss_at(means32, std32 + step) - loss_at(means32, std32 - step)) / (2 * step)
    assert float(grad.std) == pytest.approx(d_std, rel=2e-3, abs=1e-6 * abs(d_std) + 1e-9)
    d_means = np.zeros_like(means32)
    for k, j in np.ndindex(*means32.shape):
        bump = np.zeros_like(means32)
        bump[k, j] = 1e-7
        d_means[k, j] = (loss_at(means32 + bump, std32) - loss_at(means32 - bump, std32)) / 2e-7
    np.testing.assert_allclose(grad.means, d_means, rtol=2e-3, atol=2e-3 * np.max(np.abs(d_means)))


def test_learning_rate_schedule_warms_up_then_decays():
    config = training.TrainConfig(num_steps=1000, peak_lr=1e-3, final_lr=1e-6, warmup_fraction=0.1)
    schedule = training.learning_rate_schedule(config)
    assert float(schedule(0)) == 0.0
    assert float(schedule(50)) == pytest.approx(5e-4)
    assert float(schedule(100)) == pytest.approx(1e-3)
    assert float(schedule(550)) == pytest.approx((1e-3 + 1e-6) / 2, rel=1e-5)
    assert float(schedule(1000)) == pytest.approx(1e-6)


def test_bad_train_config_is_refused():
    with pytest.raises(ValueError):
        training.TrainConfig(warmup_fraction=1.5)
    with pytest.raises(ValueError):
        training.TrainConfig(update_ema_decay=1.0)


def test_batched_training_equals_training_each_model_alone(small_dataset):
    grid = process.time_grid()
    config = training.TrainConfig(num_steps=60, noise_draws=8, peak_lr=1e-2, final_lr=1e-4, clip_norm=50.0)
    sizes = [3, 8, 20]
    batched = training.train_models(key("run"), ISOTROPIC, small_dataset, grid, sizes, config, num_logs=3)
    for m, batched_model, column in zip(sizes, batched.models, range(len(sizes)), strict=True):
        alone = training.train_models(key("run"), ISOTROPIC, small_dataset, grid, [m], config, num_logs=3)
        np.testing.assert_allclose(alone.models[0].means, batched_model.means, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(alone.models[0].std, batched_model.std, rtol=1e-4)
        np.testing.assert_allclose(alone.losses[:, 0], batched.losses[:, column], rtol=1e-4)
    # and training moved the parameters
    assert float(batched.models[0].std) > 2e-3


def test_a_data_set_trained_with_others_equals_it_trained_alone(small_dataset):
    """Stacked data sets (one program, vmapped) see only their own data, noise and keys: each result is
    the one it gets alone, up to the order of float32 sums."""
    grid = process.time_grid()
    config = training.TrainConfig(num_steps=60, noise_draws=8, peak_lr=1e-2, final_lr=1e-4, clip_norm=50.0)
    sizes = [3, 8, 20]
    others = [data.make_dataset(data.MixtureDataConfig(num_train=20, dim=6, num_components=k), seed=k) for k in (2, 4)]
    datasets = [others[0], small_dataset, others[1]]
    keys = [key("other", 0), key("run"), key("other", 1)]
    together = training.train_stacked(keys, ISOTROPIC, datasets, grid, sizes, config, num_logs=3)
    alone = training.train_models(key("run"), ISOTROPIC, small_dataset, grid, sizes, config, num_logs=3)
    for stacked, single in zip(together[1].models, alone.models, strict=True):
        np.testing.assert_allclose(stacked.means, single.means, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(stacked.std, single.std, rtol=1e-4)
    np.testing.assert_allclose(together[1].losses, alone.losses, rtol=1e-4)
    # and the companions trained on their own data: their models differ from this one's
    assert not np.allclose(together[0].models[2].means, alone.models[2].means, atol=1e-2)


def test_the_flat_optimizer_follows_the_model_by_model_one(small_dataset):
    """Adam on one vector of every model's parameters (the GPU's layout) and model by model (the CPU's),
    with clipping active for some models: the same trajectories to float32 rounding, for two data
    sets in one program."""
    grid = process.time_grid()
    config = training.TrainConfig(num_steps=60, noise_draws=8, peak_lr=1e-2, final_lr=1e-4, clip_norm=5.0)
    other = data.make_dataset(data.MixtureDataConfig(num_train=20, dim=6, num_components=2), seed=2)
    runs = [
        training.train_stacked(
            [key("run"), key("other")],
            ISOTROPIC,
            [small_dataset, other],
            grid,
            [3, 8, 20],
            config,
            num_logs=3,
            flat_optimizer=flat,
        )
        for flat in (False, True)
    ]
    for by_model, flat in zip(*runs, strict=True):
        np.testing.assert_allclose(flat.losses, by_model.losses, rtol=1e-4)
        for a, b in zip(jax.tree.leaves(flat.models), jax.tree.leaves(by_model.models), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_clipping_per_model_on_one_vector_is_optax_model_by_model():
    grads = (
        MixtureDenoiser(jnp.full((2, 3), 4.0), jnp.asarray(1.0)),  # norm 10: clipped to 2
        MixtureDenoiser(jnp.full((1, 3), 0.1), jnp.asarray(0.2)),  # norm < 2: unchanged, bit for bit
    )
    layout, _ = training.FlatParameters.of(grads)
    clipped = training.clip_per_model(layout.flatten(grads), layout.segments, layout.num_models, 2.0)
    clip = training.optax.clip_by_global_norm(2.0)
    expected = [clip.update(g, training.optax.EmptyState())[0] for g in grads]
    np.testing.assert_allclose(clipped, layout.flatten(expected), rtol=1e-6)
    np.testing.assert_array_equal(clipped[-4:], layout.flatten(grads)[-4:])


def test_stacking_refuses_data_sets_of_different_shapes(small_dataset):
    other = data.make_dataset(data.MixtureDataConfig(num_train=10, dim=6, num_components=2), seed=0)
    config = training.TrainConfig(num_steps=2, noise_draws=2)
    with pytest.raises(ValueError, match="share one shape"):
        training.train_stacked(
            [key("a"), key("b")], ISOTROPIC, [small_dataset, other], process.time_grid(), [2], config
        )


def test_short_training_run_shows_the_transition():
    """N = 20, d = 10, K = 2, 30,000 steps at the paper's learning rates (N_dup = 20).

    The partial-memorization start must be left by small models; measured: M = 2 ratio 0.0,
    M = 10 0.16, M = 20 1.0, learned variances 0.17, 0.12, 1e-8.
    """
    dataset = data.make_dataset(data.MixtureDataConfig(num_train=20, dim=10, num_components=2), seed=0)
    grid = process.time_grid()
    config = training.TrainConfig(num_steps=30_000, noise_draws=20)
    sizes = [2, 10, 20]
    result = training.train_models(key("short"), ISOTROPIC, dataset, grid, sizes, config, num_logs=2)
    start = jax.random.normal(key("ddim"), (50, 10))
    ratios = [
        float(metrics.memorization_ratio(sampling.ddim_sample(m.x0, start, grid), dataset.train)) for m in result.models
    ]
    variances = [float(m.variance) for m in result.models]
    assert ratios[-1] >= 0.9, ratios
    assert ratios[0] <= 0.1, ratios
    assert variances[0] > variances[1] > variances[2], variances
    assert variances[0] > 0.05  # the small model really left the 1e-6 initialisation
