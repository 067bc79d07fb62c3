import jax
import jax.numpy as jnp
import numpy as np
from conftest import key

from artifact import experiment, metrics, model, process, sampling


def test_ddim_with_one_training_point_has_a_closed_form():
    """With x̂0 constant = x_1 every step scales x - alpha x_1 by sigma'/sigma, so it telescopes."""
    grid = process.time_grid()
    x1 = jax.random.normal(key("x1"), (1, 5))
    start = jax.random.normal(key("start"), (7, 5))
    end = sampling.ddim_sample(model.memorizing(x1).x0, start, grid)
    t0, t_end = grid[0], grid[-1]
    expected = process.alpha(t_end) * x1 + (process.sigma(t_end) / process.sigma(t0)) * (start - process.alpha(t0) * x1)
    np.testing.assert_allclose(end, expected, atol=1e-5)


def test_memorizing_denoiser_generates_only_training_points(small_dataset):
    grid = process.time_grid()
    samples = sampling.ddim_sample(model.memorizing(small_dataset.train).x0, jax.random.normal(key("s"), (50, 6)), grid)
    assert float(metrics.memorization_ratio(samples, small_dataset.train)) == 1.0


def test_memorization_rule_is_one_third_of_the_second_nearest_distance():
    train = jnp.array([[0.0, 0.0], [3.0, 0.0], [0.0, 10.0]])
    samples = jnp.array([[0.7, 0.0], [0.8, 0.0], [1.5, 0.0], [2.9, 0.0]])
    # distances to the two nearest: (0.7, 2.3) -> 0.304 < 1/3; (0.8, 2.2) -> 0.36 no; midpoint no; (0.1, 2.9) yes
    np.testing.assert_array_equal(metrics.is_memorized(samples, train), [True, False, False, True])
    assert float(metrics.memorization_ratio(samples, train)) == 0.5
    nearest, second = metrics.two_nearest_distances(samples, train)
    np.testing.assert_allclose(nearest, [0.7, 0.8, 1.5, 0.1], rtol=1e-6)
    np.testing.assert_allclose(second, [2.3, 2.2, 1.5, 2.9], rtol=1e-6)


def test_a_ratio_of_45_in_50_reaches_the_threshold_0_9():
    """The ratio is a count over samples: 45 of 50 is 0.9 exactly, so the transition's end (ratio >= 0.9)
    is reached (a float32 mean gives 0.89999998 and missed it)."""
    train = jnp.asarray([[0.0, 0.0], [10.0, 0.0]])
    samples = jnp.concatenate([jnp.zeros((45, 2)), jnp.tile(jnp.asarray([[5.0, 0.0]]), (5, 1))])
    assert metrics.memorization_ratio(samples, train) == 0.9
    assert experiment.transition_bracket([10, 20], [0.0, metrics.memorization_ratio(samples, train)])[1] == 20
