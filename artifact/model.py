"""The mixture denoiser as a trainable Equinox module, and the paper's fixed denoisers.

The trainable model (paper §3) has M free means and one shared isotropic standard deviation;
mixture weights stay uniform. The released code trains the standard deviation (variance = std^2),
and so do we: the variance stays non-negative without a constraint.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from artifact import denoisers
from artifact.data import IsotropicMixture


class MixtureDenoiser(eqx.Module):
    """Posterior mean of (1/M) sum_k N(means_k, std^2 I). means: (M, d); std: scalar."""

    means: jax.Array
    std: jax.Array

    @property
    def variance(self) -> jax.Array:
        return self.std**2

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    def x0(self, x_t, t):
        """X0 prediction. x_t: (n, d); t: scalar or (n,) -> (n, d)."""
        return denoisers.posterior_mean(x_t, t, self.means, self.variance)

    def eps_residual(self, x0, eps, t):
        """eps_hat(alpha x0 + sigma eps) - eps. x0: (n, d); eps: (n, r, d); t: scalar or (n,)."""
        return denoisers.eps_residual(x0, eps, t, self.means, self.variance)


def generalizing(mixture: IsotropicMixture) -> MixtureDenoiser:
    """x̄_*: the true mixture."""
    return MixtureDenoiser(mixture.means, jnp.sqrt(jnp.asarray(mixture.variance, jnp.float32)))


def memorizing(train) -> MixtureDenoiser:
    """x̄_mem: every training point, zero variance. train: (N, d)."""
    return MixtureDenoiser(train, jnp.zeros((), train.dtype))


def memorized_subset(key, num_train: int, num_components: int):
    """Indices of the training points a model of M components starts from (or memorizes).

    M <= N: M distinct points, uniformly. M > N: all N, then M - N more drawn with replacement
    (as the released code does, so that M > N is still defined). Returns (M,) int.
    """
    perm_key, extra_key = jax.random.split(key)
    order = jax.random.permutation(perm_key, num_train)
    if num_components <= num_train:
        return order[:num_components]
    extra = jax.random.randint(extra_key, (num_components - num_train,), 0, num_train)
    return jnp.concatenate([order, extra])


def partially_memorizing(key, train, num_components: int) -> MixtureDenoiser:
    """x̄_pmem,M: M of the N training points, zero variance. Equals x̄_mem at M = N."""
    idx = memorized_subset(key, train.shape[0], num_components)
    return MixtureDenoiser(train[idx], jnp.zeros((), train.dtype))


def partial_memorization_init(key, train, num_components: int, init_variance: float = 1e-6) -> MixtureDenoiser:
    """The paper's initialisation: means = M distinct training points, variance = init_variance."""
    idx = memorized_subset(key, train.shape[0], num_components)
    return MixtureDenoiser(train[idx], jnp.sqrt(jnp.asarray(init_variance, train.dtype)))
