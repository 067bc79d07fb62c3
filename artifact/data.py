"""Isotropic Gaussian-mixture data (paper §3, App. H.1).

pi_* = (1/K) sum_k N(mu_k, sigma_*^2 I_d), means uniform on the sphere of radius sqrt(d).
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from artifact import rng


class IsotropicMixture(eqx.Module):
    """Equal-weight mixture of K isotropic Gaussians with a shared variance.

    means: (K, d); variance: scalar sigma_*^2.
    """

    means: jax.Array
    variance: float = eqx.field(static=True)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_components(self) -> int:
        return self.means.shape[0]


def random_isotropic_mixture(key, num_components: int, dim: int, variance: float = 1.0) -> IsotropicMixture:
    """K means uniform on the sphere of radius sqrt(d) (normalised Gaussians), variance sigma_*^2."""
    directions = jax.random.normal(key, (num_components, dim))
    directions = directions / jnp.linalg.norm(directions, axis=1, keepdims=True)
    return IsotropicMixture(means=jnp.sqrt(dim) * directions, variance=variance)


def sample_mixture(key, mixture: IsotropicMixture, num_samples: int) -> tuple[jax.Array, jax.Array]:
    """Draw (x (n, d), component labels (n,)) from the mixture, uniform component weights."""
    label_key, noise_key = jax.random.split(key)
    labels = jax.random.randint(label_key, (num_samples,), 0, mixture.num_components)
    noise = jax.random.normal(noise_key, (num_samples, mixture.dim))
    return mixture.means[labels] + jnp.sqrt(mixture.variance) * noise, labels


@dataclass(frozen=True)
class MixtureDataConfig:
    """What defines one Gaussian-mixture data set (Figs 1-3, 6, 7)."""

    num_train: int = 200  # N
    dim: int = 50  # d
    num_components: int = 12  # K
    variance: float = 1.0  # sigma_*^2
    num_heldout: int = 100  # test-loss points (the released code's num_samples_val)

    def __post_init__(self):
        if min(self.num_train, self.dim, self.num_components, self.num_heldout) < 1 or self.variance <= 0:
            raise ValueError(f"mixture data needs positive sizes and variance, got {self}")
        if self.num_train < 2:
            raise ValueError("the memorization rule needs at least 2 training points")

    def stream_tag(self) -> tuple[int, ...]:
        return (self.num_train, self.dim, self.num_components)


@dataclass(frozen=True)
class MixtureDataset:
    mixture: IsotropicMixture
    train: jax.Array  # (N, d)
    train_labels: jax.Array  # (N,)
    heldout: jax.Array  # (N_heldout, d)


def make_dataset(config: MixtureDataConfig, seed: int) -> MixtureDataset:
    """The true mixture, the training set and the held-out set, each from its own stream.

    The streams are named by (N, d, K) too, so that the tuples of a sweep get independent data
    under one seed, and the same tuple gets the same data in every figure that uses it.
    """
    tag = config.stream_tag()
    mixture = random_isotropic_mixture(
        rng.stream(seed, "data", *tag, "means"), config.num_components, config.dim, config.variance
    )
    train, train_labels = sample_mixture(rng.stream(seed, "data", *tag, "train"), mixture, config.num_train)
    heldout, _ = sample_mixture(rng.stream(seed, "data", *tag, "heldout"), mixture, config.num_heldout)
    return MixtureDataset(mixture=mixture, train=train, train_labels=train_labels, heldout=heldout)
