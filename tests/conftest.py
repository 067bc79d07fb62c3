import numpy as np
import pytest

from artifact import data, rng


@pytest.fixture(scope="session")
def fig1_dataset():
    """The Fig. 1 / Fig. 2 setting: N = 200, d = 50, K = 12, sigma_*^2 = 1."""
    return data.make_dataset(data.MixtureDataConfig(num_train=200, dim=50, num_components=12), seed=0)


@pytest.fixture
def small_dataset():
    return data.make_dataset(data.MixtureDataConfig(num_train=20, dim=6, num_components=3, num_heldout=10), seed=3)


def numpy_posterior_mean(x_t, t, means, variance):
    """float64 reference: the mixture posterior mean by direct distances (numpy, no JAX)."""
    x_t, means = np.asarray(x_t, np.float64), np.asarray(means, np.float64)
    a, s = np.sqrt(1.0 - t * t), t
    v_t = a * a * variance + s * s
    sq = ((x_t[:, None, :] - a * means[None]) ** 2).sum(-1)
    logits = -sq / (2 * v_t)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return (a * variance * x_t + s * s * (w @ means)) / v_t


def key(*path):
    return rng.stream(1234, *path)
