import numpy as np
import pytest

from artifact import process


def test_grid_is_the_papers_26_descending_points():
    grid = process.time_grid()
    assert grid.shape == (26,)
    assert grid[0] == pytest.approx(0.999) and grid[-1] == pytest.approx(0.001)
    assert np.all(np.diff(grid) < 0)
    np.testing.assert_allclose(np.diff(grid), -0.998 / 25)
    # The loss panels of Figs 2 and 5 sit at index 16: t = 0.36028, psi = 6.704.
    assert grid[16] == pytest.approx(0.36028, abs=1e-5)
    assert float(process.snr(grid[16])) == pytest.approx(6.7041, abs=1e-4)


def test_variance_preserving():
    t = np.linspace(0.01, 0.99, 7)
    np.testing.assert_allclose(process.alpha(t) ** 2 + process.sigma(t) ** 2, 1.0, rtol=1e-6)


def test_eps_x0_conversions_are_inverse_and_loss_factor_is_exact():
    rs = np.random.default_rng(0)
    x0, eps = rs.normal(size=(5, 3)), rs.normal(size=(5, 3))
    t = 0.37
    x_t = process.alpha(t) * x0 + process.sigma(t) * eps
    np.testing.assert_allclose(process.eps_to_x0(x_t, eps, t), x0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(process.x0_to_eps(x_t, x0, t), eps, rtol=1e-6, atol=1e-6)
    # An error of delta in x0 is an error of -(alpha/sigma) delta in eps.
    x0_hat = x0 + rs.normal(size=x0.shape)
    eps_hat = process.x0_to_eps(x_t, x0_hat, t)
    ratio = np.sum((x0_hat - x0) ** 2) / np.sum((eps_hat - eps) ** 2)
    assert ratio == pytest.approx(float(process.eps_to_x0_loss_factor(t)), rel=1e-6)


def test_bad_grid_is_refused():
    with pytest.raises(ValueError):
        process.time_grid(1)
