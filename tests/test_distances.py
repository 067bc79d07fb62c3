"""Distances between denoisers' predictions: the closed form of a linear pair, and the reference denoisers' own."""

import jax.numpy as jnp
import numpy as np
from conftest import key

from artifact import data, experiment, families, losses, process
from artifact.train import TrainConfig


def test_distance_of_the_noisy_input_from_zero_is_its_second_moment(small_dataset):
    """predict(x_t) = x_t against 0: E||alpha x + sigma eps||^2 = alpha^2 mean ||x_i||^2 + sigma^2 d."""
    points, t = jnp.asarray(small_dataset.train), 0.6
    a, s = float(process.alpha(t)), float(process.sigma(t))
    exact = a * a * float(np.mean(np.sum(np.asarray(points, np.float64) ** 2, axis=1))) + s * s * points.shape[1]

    def identity(x, _):
        return x

    def zero(x, _):
        return jnp.zeros_like(x)

    got = losses.prediction_distances(key("distance"), points, t, identity, [zero, identity], 4000, points_per_chunk=5)
    np.testing.assert_allclose(got[0], exact, rtol=0.02)
    assert got[1] == 0.0


def test_the_reference_denoisers_sit_at_their_own_distances():
    """x̄_mem is 0 from x̄_mem and the reference distance from x̄_*; x̄_* the reverse."""
    config = data.MixtureDataConfig(num_train=12, dim=5, num_components=3, num_heldout=6)
    unit = experiment.TrainingUnit(
        "isotropic", config, 0, TrainConfig(), experiment.EvalConfig(loss_noise_draws=16), (12,)
    )
    data_model = families.data_model("isotropic")
    dataset = data_model.make_dataset(config, 0)
    models = [data_model.memorizing(dataset, np.arange(12)), data_model.generalizing(dataset, config)]
    to_generalizing, to_memorizing, separation = experiment.reference_distances(unit, dataset, models)
    assert separation > 0.1
    np.testing.assert_allclose(to_memorizing, [0.0, separation], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(to_generalizing, [separation, 0.0], rtol=1e-4, atol=1e-6)
