"""The colored-template image model (paper §4.2, App. H.4).

A sample is y = c ⊗ a: a monochrome template a in R^P (P = 15 x 15) colored channel by channel by
c ~ N(u, v I_C) (C = 3, u = 0, v = 1 for the data). Component k of a mixture is therefore a rank-C
Gaussian N(u_k ⊗ a_k, v I_C ⊗ a_k a_k^T) in dimension C P. Arrays hold samples as (..., C, P).

With n_k = ||a_k||^2 and x̄_k = x_t - alpha u_k ⊗ a_k, the noisy covariance alpha^2 v I ⊗ a a^T + sigma^2 I
has, channel by channel, the inverse (1/sigma^2)(I - gamma_k a_k a_k^T), gamma_k = alpha^2 v / (sigma^2 +
alpha^2 v n_k), and log-determinant C (P log sigma^2 + log(1 + alpha^2 v n_k / sigma^2)). The released
code drops the factor C on the second term; here it is kept (the exact log-determinant).

As for the isotropic model, the training residual is computed from the clean point and the noise:
the Mahalanobis term splits into the part of x̄_k orthogonal to a_k (a small N x M table from x0,
plus products with the noise) and the part along a_k, so that nothing cancels at t = 0.001.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from artifact.process import alpha, sigma


class ColoredTemplateMixture(eqx.Module):
    """(1/M) sum_k N(color_means_k ⊗ templates_k, color_std^2 I_C ⊗ a_k a_k^T).

    templates: (M, P); color_means: (M, C); color_std: scalar. All three are trained (released code).
    """

    templates: jax.Array
    color_means: jax.Array
    color_std: jax.Array

    @property
    def variance(self):
        return self.color_std**2

    @property
    def num_components(self) -> int:
        return self.templates.shape[0]

    def means(self):
        """(M, C, P) component means u_k ⊗ a_k."""
        return self.color_means[:, :, None] * self.templates[:, None, :]

    def x0(self, x_t, t):
        return posterior_mean(x_t, t, self.templates, self.color_means, self.variance)

    def eps_residual(self, x0, eps, t):
        return eps_residual(x0, eps, t, self.templates, self.color_means, self.variance)


def _log_weights_scale(a, s, variance, norms, channels):
    return channels * jnp.log1p(a * a * variance * norms / (s * s))


def posterior_mean(x_t, t, templates, color_means, variance, mask=None):
    """E[X0 | X_t = x_t]. x_t: (n, C, P); t: scalar; templates (M, P); color_means (M, C) -> (n, C, P).

    Direct per component (for sampling: few points).
    """
    a, s = alpha(t), sigma(t)
    channels = x_t.shape[1]
    norms = jnp.sum(templates**2, axis=1)  # (M,)
    gamma = a * a * variance / (s * s + a * a * variance * norms)  # (M,)
    centered = x_t[:, None] - a * color_means[None, :, :, None] * templates[None, :, None, :]  # (n, M, C, P)
    beta = jnp.einsum("nmcp,mp->nmc", centered, templates)
    mahalanobis = (jnp.sum(centered**2, axis=(2, 3)) - gamma * jnp.sum(beta**2, axis=2)) / (s * s)
    logits = -0.5 * (_log_weights_scale(a, s, variance, norms, channels) + mahalanobis)
    if mask is not None:
        logits = jnp.where(mask, logits, -jnp.inf)
    w = jax.nn.softmax(logits, axis=1)  # (n, M)
    # Tweedie: x0 = (x_t - sigma^2 sum_k w_k Sigma_k^-1 x̄_k) / alpha, and sigma^2 Sigma^-1 x̄ = x̄ - gamma beta ⊗ a.
    whitened = centered - (gamma[None, :, None] * beta)[..., None] * templates[None, :, None, :]
    return (x_t - jnp.einsum("nm,nmcp->ncp", w, whitened)) / a


def eps_residual(x0, eps, t, templates, color_means, variance, mask=None):
    """eps_hat(alpha x0 + sigma eps) - eps without cancellation.

    x0: (n, C, P); eps: (n, r, C, P); t: scalar or (n,); templates (M, P); color_means (M, C).
    Returns (n, r, C, P).
    """
    n, r, channels, _ = eps.shape
    t = jnp.broadcast_to(jnp.asarray(t, x0.dtype), (n,))
    a = alpha(t)[:, None, None, None]
    s = sigma(t)[:, None, None, None]
    norms = jnp.sum(templates**2, axis=1)  # (M,)
    x0_dot = jnp.einsum("ncp,mp->ncm", x0, templates)  # G: a_k . x0[c]
    eps_dot = jnp.einsum("nrcp,mp->nrcm", eps, templates)  # A: a_k . eps[c], the large product
    # ||x0[c] - proj_{a_k} x0[c]||^2 summed over c, by direct differences (small table).
    projection = (x0_dot / norms)[..., None] * templates[None, None, :, :]  # (n, C, M, P)
    orthogonal = jnp.sum((x0[:, :, None, :] - projection) ** 2, axis=(1, 3))  # (n, M)
    beta = a * (x0_dot - color_means.T[None] * norms)[:, None] + s * eps_dot  # (n, r, C, M)
    a2, s2 = a[..., 0, 0], s[..., 0, 0]  # (n, 1)
    along = s2 * s2 / (norms * (s2 * s2 + a2 * a2 * variance * norms))  # (n, M): (1/n - gamma) sigma^2
    mahalanobis_s2 = (
        (a2 * a2)[..., None] * orthogonal[:, None, :]
        - (2 * a2 * s2)[..., None] * jnp.sum(x0_dot[:, None] * eps_dot, axis=2) / norms
        - (s2 * s2)[..., None] * jnp.sum(eps_dot**2, axis=2) / norms
        + along[:, None, :] * jnp.sum(beta**2, axis=2)
    )  # (n, r, M), times sigma^2, terms constant in k dropped
    logits = -0.5 * (
        _log_weights_scale(a2, s2, variance, norms, channels)[:, None, :] + mahalanobis_s2 / (s2 * s2)[..., None]
    )
    if mask is not None:
        logits = jnp.where(mask, logits, -jnp.inf)
    w = jax.nn.softmax(logits, axis=-1)  # (n, r, M)
    gamma = (a2 * a2 * variance) / (s2 * s2 + a2 * a2 * variance * norms)  # (n, M)
    centroid = jnp.einsum("nrm,mc,mp->nrcp", w, color_means, templates)
    correction = jnp.einsum("nrcm,mp->nrcp", (w * gamma[:, None, :])[:, :, None, :] * beta, templates)
    return (a / s) * (x0[:, None] - centroid) - correction / s


def sample_colored(key, templates, num_samples: int, channels: int = 3, color_variance: float = 1.0):
    """Data: y ~ uniform over K templates, c ~ N(0, v I_C), x = c ⊗ a_y.

    templates: (K, P). Returns x (n, C, P), labels (n,), colors (n, C).
    """
    label_key, color_key = jax.random.split(key)
    labels = jax.random.randint(label_key, (num_samples,), 0, templates.shape[0])
    colors = jnp.sqrt(color_variance) * jax.random.normal(color_key, (num_samples, channels))
    return colors[:, :, None] * templates[labels][:, None, :], labels, colors


def generalizing(templates, channels: int = 3, color_variance: float = 1.0) -> ColoredTemplateMixture:
    k = templates.shape[0]
    return ColoredTemplateMixture(
        jnp.asarray(templates), jnp.zeros((k, channels)), jnp.sqrt(jnp.asarray(color_variance, jnp.float32))
    )


def memorizing_from(templates, labels, colors) -> ColoredTemplateMixture:
    """Point masses at the given samples (variance 0): templates[labels] colored by colors."""
    return ColoredTemplateMixture(jnp.asarray(templates)[labels], jnp.asarray(colors), jnp.zeros((), jnp.float32))


def recover_colors(samples, templates_of_samples):
    """The color vector c of each sample x = c ⊗ a: sum over pixels of x[c] / sum of a (exact)."""
    return jnp.sum(samples, axis=2) / jnp.sum(templates_of_samples, axis=1)[:, None]


def flatten(x):
    """(..., C, P) -> (..., C P), for distances."""
    return x.reshape(*x.shape[:-2], -1)


def partial_memorization_init(key, train, labels, templates, num_components: int, init_variance: float = 1e-6):
    """M distinct training samples: their class templates, their exact colors, color variance init_variance.

    (The released code stores 1e-6 as the standard deviation, i.e. variance 1e-12; we keep the variance 1e-6.)
    """
    from artifact.model import memorized_subset

    idx = memorized_subset(key, train.shape[0], num_components)
    chosen_templates = jnp.asarray(templates)[labels[idx]]
    colors = recover_colors(train[idx], chosen_templates)
    return ColoredTemplateMixture(chosen_templates, colors, jnp.sqrt(jnp.asarray(init_variance, jnp.float32)))
