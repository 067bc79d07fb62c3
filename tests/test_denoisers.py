"""The mixture denoiser against independent references (float64, Monte Carlo, limits)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key, numpy_posterior_mean

from artifact import data, denoisers, model, process


def test_generalizing_denoiser_is_the_posterior_mean_by_importance_sampling():
    """E[X0 | X_t = x] = E_{X0 ~ pi}[X0 p(x | X0)] / E[p(x | X0)], estimated from prior samples (float64)."""
    mixture = data.random_isotropic_mixture(key("mix"), num_components=3, dim=2, variance=0.5)
    prior, _ = data.sample_mixture(key("prior"), mixture, 400_000)
    prior = np.asarray(prior, np.float64)
    t = 0.6
    a, s = np.sqrt(1 - t * t), t
    x_t = np.asarray(jax.random.normal(key("x"), (4, 2)), np.float64) * 1.5
    log_lik = -((x_t[:, None, :] - a * prior[None]) ** 2).sum(-1) / (2 * s * s)
    w = np.exp(log_lik - log_lik.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    monte_carlo = w @ prior
    closed_form = np.asarray(model.generalizing(mixture).x0(jnp.asarray(x_t, jnp.float32), t))
    # Effective sample size is ~1e5 here, so the IS error is ~1e-2 at worst.
    np.testing.assert_allclose(closed_form, monte_carlo, atol=2e-2)


def _numpy_eps_residual(x0, eps, t, means, variance):
    x0, eps = np.asarray(x0, np.float64), np.asarray(eps, np.float64)
    a, s = np.sqrt(1 - t * t), t
    x_t = a * x0[:, None, :] + s * eps
    n, r, d = eps.shape
    x0_hat = numpy_posterior_mean(x_t.reshape(n * r, d), t, means, variance).reshape(n, r, d)
    return (x_t - a * x0_hat) / s - eps


@pytest.mark.parametrize("t", [0.001, 0.999])
@pytest.mark.parametrize("case", ["memorizing", "near_memorizing", "generalizing"])
def test_fast_eps_residual_matches_float64_at_the_grid_ends(fig1_dataset, t, case):
    """float32 fast path vs float64 direct distances at t = 0.001 (v_t ~ 1e-6) and t = 0.999.

    The near-memorizing case (means 0.01 from the training points, variance 1e-4) is where an
    expansion ||x||^2 - 2 alpha x.mu + alpha^2 ||mu||^2 in float32 loses the logits.
    """
    train = fig1_dataset.train[:50]
    if case == "memorizing":
        means, variance = train, 0.0
    elif case == "near_memorizing":
        means = train + 0.01 * jax.random.normal(key("jitter"), train.shape)
        variance = 1e-4
    else:
        means, variance = fig1_dataset.mixture.means, 1.0
    eps = jax.random.normal(key("eps"), (50, 4, train.shape[1]))
    fast = np.asarray(denoisers.eps_residual(train, eps, t, means, variance))
    reference = _numpy_eps_residual(train, eps, t, means, variance)
    scale = np.sqrt(np.mean(reference**2)) + 1e-3
    assert np.max(np.abs(fast - reference)) <= 1e-4 * scale + 1e-5


def test_naive_distance_expansion_would_fail_where_the_fast_path_does_not(fig1_dataset):
    """Guards the design: the expanded logits in float32 are visibly wrong at t = 0.001."""
    train = fig1_dataset.train[:50]
    means = train + 0.01 * jax.random.normal(key("jitter"), train.shape)
    t, variance = 0.001, 1e-4
    a, s = np.sqrt(1 - t * t), t
    x_t = a * train + s * jax.random.normal(key("eps"), train.shape)
    v_t = a * a * variance + s * s
    expanded = (jnp.sum(x_t**2, 1)[:, None] - 2 * a * x_t @ means.T + a * a * jnp.sum(means**2, 1)[None]) / (2 * v_t)
    direct = np.asarray(
        denoisers.pairwise_sq_distances(np.asarray(x_t, np.float64), a * np.asarray(means, np.float64))
    ) / (2 * v_t)
    assert np.max(np.abs(np.asarray(expanded) - direct)) > 1e-2  # logit errors of this size move softmax weights


def test_trainable_mixture_at_training_points_with_vanishing_variance_is_the_memorizing_denoiser(fig1_dataset):
    train = fig1_dataset.train
    x_t = jax.random.normal(key("x"), (30, train.shape[1])) * 0.3 + 0.8 * train[:30]
    memorizing = model.memorizing(train)
    limit = model.MixtureDenoiser(train, jnp.asarray(1e-7))
    for t in (0.05, 0.36, 0.9):
        np.testing.assert_allclose(limit.x0(x_t, t), memorizing.x0(x_t, t), atol=1e-5)


def test_partial_memorizer_with_all_points_is_the_memorizing_denoiser(fig1_dataset):
    train = fig1_dataset.train
    pmem = model.partially_memorizing(key("subset"), train, train.shape[0])
    assert sorted(np.asarray(pmem.means[:, 0]).tolist()) == sorted(np.asarray(train[:, 0]).tolist())
    x_t = jax.random.normal(key("x"), (30, train.shape[1]))
    for t in (0.05, 0.36, 0.9):
        np.testing.assert_allclose(pmem.x0(x_t, t), model.memorizing(train).x0(x_t, t), atol=1e-5)


def test_memorizing_denoiser_returns_training_points_near_them(small_dataset):
    train = small_dataset.train
    t = 0.01
    x_t = process.alpha(t) * train + 1e-4 * jax.random.normal(key("x"), train.shape)
    np.testing.assert_allclose(model.memorizing(train).x0(x_t, t), train, atol=1e-5)


def test_padding_mask_removes_components(small_dataset):
    train = small_dataset.train
    eps = jax.random.normal(key("eps"), (train.shape[0], 3, train.shape[1]))
    masked = denoisers.eps_residual(train, eps, 0.4, train, 0.0, mask=jnp.arange(20) < 7)
    subset = denoisers.eps_residual(train, eps, 0.4, train[:7], 0.0)
    np.testing.assert_allclose(masked, subset, atol=1e-5)


def test_partial_memorization_init_uses_distinct_training_points(small_dataset):
    train = small_dataset.train
    init = model.partial_memorization_init(key("init"), train, 12, 1e-6)
    idx = [int(np.argmin(np.sum((np.asarray(train) - np.asarray(m)) ** 2, 1))) for m in init.means]
    assert len(set(idx)) == 12
    np.testing.assert_array_equal(np.asarray(init.means), np.asarray(train)[idx])
    assert float(init.variance) == pytest.approx(1e-6)
    assert model.memorized_subset(key("big"), 20, 25).shape == (25,)
