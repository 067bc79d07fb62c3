"""Theorems 3.1/3.2 against Monte Carlo, the crossover formula, and the loss decomposition."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from artifact import losses, model, process, theory


def test_crossover_fraction_on_the_grid():
    """Values derived from Theorems 3.1 and 3.2 (paper §3): lambda = 1 gives 0.660 (C = 1) and 0.830 (C = 2);
    the training weight lambda = psi puts the crossover at M*/N ~ 1."""
    grid = process.time_grid()
    ones = np.ones_like(grid)
    assert float(theory.crossover_fraction(ones, grid, constant=1.0)) == pytest.approx(0.6604, abs=1e-4)
    assert float(theory.crossover_fraction(ones, grid, constant=2.0)) == pytest.approx(0.8302, abs=1e-4)
    assert float(theory.crossover_fraction(process.snr(grid), grid, constant=1.0)) > 0.9999
    # d drops out and the crossover is where the two approximations are equal.
    m = float(theory.crossover_fraction(ones, grid, constant=2.0))
    gap = np.mean(theory.partial_memorizing_excess(m, 37, 1.0, 2.0) - theory.generalizing_excess(grid, 37, 1.0))
    assert abs(gap) < 1e-4


def test_loss_decomposition_is_exact_per_point_and_matches_monte_carlo(fig1_dataset):
    train = fig1_dataset.train
    t = float(process.time_grid()[10])
    a, s = process.alpha(t), process.sigma(t)
    idx = jax.random.randint(key("idx"), (4000,), 0, train.shape[0])
    x0 = train[idx]
    x_t = a * x0 + s * jax.random.normal(key("noise"), x0.shape)
    for denoiser in (model.generalizing(fig1_dataset.mixture), model.partially_memorizing(key("p"), train, 60)):
        prediction = denoiser.x0(x_t, t)
        parts = theory.decompose_loss(x_t, t, prediction, train)
        np.testing.assert_allclose(parts.total, parts.distance_to_memorizing + parts.memorizing, rtol=2e-5, atol=2e-5)
        # Averaged, the Rao-Blackwellised total is the plain Monte Carlo loss (within MC error).
        plain = jnp.sum((prediction - x0) ** 2, axis=1)
        stderr = float(jnp.std(plain)) / np.sqrt(plain.shape[0])
        assert abs(float(jnp.mean(parts.total) - jnp.mean(plain))) < 4 * stderr


def test_fig1_monte_carlo_excess_losses_against_theorems_3_1_and_3_2(fig1_dataset):
    """d = 50, K = 12, N = 200 (Fig. 1), X0 units, common noise for every denoiser.

    Thm 3.1: the generalizing excess has leading constant 1 and its error term is small once the
    SNR is not tiny (App. F's conditions fail as t -> 1). Measured here: within 1% for
    t <= 0.76 (grid indices 6..24); we allow 3% for seed-to-seed variation of one draw of the data.
    t = 0.001 is left out because both sides are ~0 there.
    Thm 3.2: the pmem excess is bounded by (1 - M/N) d sigma^2 times C in [1, 2] once every
    cluster holds a memorized point (M >= 3K here). Which constant fits better is asserted below.
    """
    train, grid, n = fig1_dataset.train, process.time_grid(), fig1_dataset.train.shape[0]
    dim = train.shape[1]
    loss_key = key("fig1")
    x0_losses = jax.jit(
        lambda means, var, mask: losses.x0_units(
            losses.eps_loss_per_time(loss_key, train, grid, means, var, 100, mask), grid
        )
    )
    mem = x0_losses(train, 0.0, None)
    gen_excess = np.asarray(x0_losses(fig1_dataset.mixture.means, 1.0, None) - mem)
    predicted = np.asarray(theory.generalizing_excess(grid, dim, 1.0))
    applies = slice(6, 25)
    np.testing.assert_allclose(gen_excess[applies], predicted[applies], rtol=0.03)
    assert gen_excess[0] < 0.1 * predicted[0]  # at t = 0.999 the theorem does not apply, and visibly so

    order = train[model.memorized_subset(key("order"), n, n)]
    rel_err = {1.0: [], 2.0: []}
    for m in range(20, n, 20):
        pmem_excess = np.asarray(x0_losses(order, 0.0, jnp.arange(n) < m) - mem)[4:25]
        low = theory.partial_memorizing_excess(m / n, dim, 1.0, 1.0)
        high = theory.partial_memorizing_excess(m / n, dim, 1.0, 2.0)
        if m >= 36:
            assert np.all(pmem_excess > 0.98 * low) and np.all(pmem_excess < 1.02 * high), (m, pmem_excess)
        for c in rel_err:
            approx = theory.partial_memorizing_excess(m / n, dim, 1.0, c)
            rel_err[c].append(np.mean(np.abs(pmem_excess - approx) / pmem_excess))
    # Over M = N/10 .. 9N/10 the constant 2 of Fig. 1 fits better than the released code's 1
    # (measured: mean relative error ~0.27 vs ~0.37; C = 2 wins for M <= N/2, C = 1 near M = N).
    assert np.mean(rel_err[2.0]) < np.mean(rel_err[1.0])
