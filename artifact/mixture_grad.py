"""The isotropic mixture's training loss and its gradient, derived by hand (the training hot path).

For one model (means mu: (M, d), variance v = std^2) and the R = c r noisy samples of a chunk of c
training points (row n = (i, j): point i, noise draw j; x_n = alpha_i x0_i + sigma_i eps_n):

    L_kn   = g_i P_kn - h_i D_ki,       P = mu eps^T,  D_ki = ||x0_i - mu_k||^2
    W_kn   = softmax_k L_kn,            C_n = sum_k W_kn mu_k             (posterior mean of X0)
    res_n  = g_i (x0_i - C_n) - q_i eps_n,                   loss = sum_n ||res_n||^2

with v_t = alpha^2 v + sigma^2, g = alpha sigma / v_t, h = alpha^2 / (2 v_t), q = alpha^2 v / v_t
(`denoisers.eps_residual_from_projections` is the same residual; L drops terms constant in k).
Reverse mode, with dC_n = -2 g_i res_n:

    dL_kn  = W_kn (mu_k - C_n) . dC_n
    dmu_k  = sum_n W_kn dC_n + sum_n g_i dL_kn eps_n + 2 sum_i Dbar_ki (mu_k - x0_i),
             Dbar_ki = -h_i sum_{n in i} dL_kn
    dv     = sum_n 2 res_n . (d res_n / dv)|_W  -  sum_n (alpha_i^2 / v_t) sum_k dL_kn (L_kn - max_k L_kn)

Why by hand: on a CPU, XLA turns the reductions of an autodiff'd softmax (over components, over
dimensions, over draws) into slow loops and re-reads the noise in transposed order once per model.
Here every large sum is a matrix product: the posterior normaliser rides along the centroid product
as a row of ones, per-point sums are products with the one-hot point indicator, and the only
reductions left are the softmax's maximum and centring sum over components and the loss's sums
over each model's (d, R) tables. The layout is
component-major, (M, R), so broadcasts along samples are contiguous. Measured in
benchmarks/train_step.py; `train.batched_losses` stays the definition the tests compare this with.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from artifact.denoisers import pairwise_sq_distances
from artifact.process import alpha, sigma


def chunk_losses_and_grads(means, stds, x0, t, chunk, point_of_row):
    """Each model's sum over the chunk's samples of ||eps_hat - eps||^2, and its gradient.

    means: B arrays (M_b, d); stds: (B,); x0: (c, d) the chunk's points; t: (c,) their times;
    chunk: their `ChunkNoise`; point_of_row: (R, c) one-hot.
    Returns (losses (B,), d loss / d means: B arrays (M_b, d), d loss / d stds (B,)).

    The (M_b, R) tables are per model; the (d, R) residual work is the same shape for every model
    and runs once on a (B, d, R) stack: for the benchmark's ten models, 295 compiled operations per
    chunk instead of 444 with the per-model residual (benchmarks/step_anatomy.py).
    """
    draws = chunk.rows.shape[0] // x0.shape[0]
    variance = stds * stds
    a, s = alpha(t), sigma(t)  # (c,)
    v_t = a * a * variance[:, None] + s * s  # (B, c)
    g, h, q = a * s / v_t, a * a / (2.0 * v_t), a * a * variance[:, None] / v_t

    def per_sample(z):  # (B, c) -> (B, 1, R)
        return jnp.repeat(z, draws, axis=-1)[:, None, :]

    # Forward, per model: the softmax tables and the unnormalised centroid with its normaliser.
    tables = [_softmax_tables(m, g_b, h_b, x0, chunk.rows, draws) for m, g_b, h_b in zip(means, g, h, strict=True)]
    centroid_and_norm = jnp.stack([table[2] for table in tables])  # (B, d + 1, R)
    dim = x0.shape[1]
    inv_norm = 1.0 / centroid_and_norm[:, dim:]  # (B, 1, R)
    gap = chunk.x0_cols[None] - centroid_and_norm[:, :dim] * inv_norm  # x0 - C, (B, d, R)
    res = per_sample(g) * gap - per_sample(q) * chunk.cols[None]  # (B, d, R)
    losses = jnp.sum(res * res, axis=(1, 2))
    # d/dv of the residual at fixed weights.
    res_dot = per_sample(-g * a * a / v_t) * gap - per_sample(a * a * s * s / v_t**2) * chunk.cols[None]
    d_variance = 2.0 * jnp.sum(res * res_dot, axis=(1, 2))

    # Backward, per model, with dC = -2 g res (scaled by 1 / Z, which the weights carry).
    d_centroid_scaled = per_sample(-2.0 * g) * res * inv_norm  # (B, d, R)
    scaled_rows = per_sample(g)[:, 0, :, None] * chunk.rows[None]  # g eps, (B, R, d)
    d_means, d_variance_logits = [], []
    for b, (m, (weights_unnorm, log_weights, _)) in enumerate(zip(means, tables, strict=True)):
        d_m, d_v = _component_gradient(
            m, weights_unnorm, log_weights, inv_norm[b, 0], d_centroid_scaled[b], scaled_rows[b], h[b], x0, point_of_row
        )
        d_means.append(d_m)
        d_variance_logits.append(jnp.sum(-a * a / v_t[b] * d_v))
    d_variance = d_variance + jnp.stack(d_variance_logits)
    return losses, d_means, 2.0 * stds * d_variance


def _softmax_tables(means, g, h, x0, rows, draws):
    """One model's component tables: unnormalised weights E and shifted logits l (M, R), and
    [sum_k E_kn mu_k; sum_k E_kn] (d + 1, R). g, h: (c,). D is computed from differences, not
    expanded: no cancellation at small t."""
    sq_dist = pairwise_sq_distances(means, x0)  # (M, c)
    proj = means @ rows.T  # (M, R)
    logits = jnp.repeat(g, draws)[None] * proj - jnp.repeat(h[None, :] * sq_dist, draws, axis=1)
    log_weights = logits - jnp.max(logits, axis=0, keepdims=True)  # (M, R), <= 0
    weights_unnorm = jnp.exp(log_weights)
    means_and_one = jnp.concatenate([means.T, jnp.ones((1, means.shape[0]), means.dtype)])
    return weights_unnorm, log_weights, means_and_one @ weights_unnorm


def _component_gradient(
    means, weights_unnorm, log_weights, inv_norm, d_centroid_scaled, scaled_rows, h, x0, point_of_row
):
    """One model's gradient through the weights: d loss / d means (M, d), and per point (c,) the
    sum over its samples of sum_k dL_kn l_kn (the logits' share of d loss / dv, up to -alpha^2 / v_t).

    inv_norm: (R,) 1 / Z; d_centroid_scaled: (d, R) dC / Z; scaled_rows: (R, d) g eps; h: (c,).
    """
    # H_kn = mu_k . dC_n / Z_n. The softmax's centring term sum_k W_kn H_kn is summed from the
    # same products E H as it is subtracted from, so that sum_k dL_kn = 0 to rounding of dL
    # itself: the distance gradient multiplies dL by alpha^2 / v_t (~5e5 at t = 0.001); computed
    # apart (as -2 g res . C) it cost a quarter of the mean gradient there in the float64 test.
    weighted_dots = weights_unnorm * (means @ d_centroid_scaled)  # E_kn H_kn, (M, R)
    centring = jnp.sum(weighted_dots, axis=0) * inv_norm  # sum_k W_kn H_kn, (R,)
    d_logits = weighted_dots - weights_unnorm * centring[None]  # (M, R)
    d_sq_dist = -h[None, :] * (d_logits @ point_of_row)  # (M, c): sums over each point's draws
    d_means = (
        weights_unnorm @ d_centroid_scaled.T
        + d_logits @ scaled_rows
        + 2.0 * (jnp.sum(d_sq_dist, axis=1, keepdims=True) * means - d_sq_dist @ x0)
    )
    # The logits are (1 / v_t) times a v-free table, so dL/dv = -(alpha^2 / v_t) L; as the
    # weights are invariant to a shift of L (sum_k dL_kn = 0), the shifted log-weights l = L - max L
    # stand in for L, which avoids the cancellation between the g P and h D parts (both ~1e5 x the
    # result at t = 0.001).
    logit_sums = jnp.sum((d_logits * log_weights) @ point_of_row, axis=0)  # (c,)
    return d_means, logit_sums


class ChunkNoise(NamedTuple):
    """One chunk's noise in the layouts every model of a batch shares (built once per step).

    rows: (R, d) noise, row n = (point i, draw j); cols: (d, R) the same, transposed;
    x0_cols: (d, R) each sample's clean point, transposed. With a leading chunk axis when stacked.
    """

    rows: jax.Array
    cols: jax.Array
    x0_cols: jax.Array


def chunk_layouts(x0, eps, chunk: int):
    """Split the points into chunks of `chunk` and lay out each chunk's noise.

    x0: (N, d); eps: (N, r, d); chunk divides N. Returns x0 (N/c, c, d), a stacked `ChunkNoise`
    (leading axis N/c) and point_of_row (R, c), the one-hot point of each sample (R = c r).
    """
    num_points, draws, dim = eps.shape
    num_chunks = num_points // chunk
    rows = eps.reshape(num_chunks, chunk * draws, dim)
    x0_chunks = x0.reshape(num_chunks, chunk, dim)
    noise = ChunkNoise(
        rows=rows,
        cols=jnp.transpose(rows, (0, 2, 1)),
        x0_cols=jnp.repeat(jnp.transpose(x0_chunks, (0, 2, 1)), draws, axis=2),
    )
    return x0_chunks, noise, jnp.repeat(jnp.eye(chunk, dtype=eps.dtype), draws, axis=0)
