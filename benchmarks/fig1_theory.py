"""The numbers quoted for Theorems 3.1 and 3.2 in the Fig. 1 setting (docs/design-notes.md, README).

d = 50, K = 12, N = 200, seed 0, X0 units, 100 noise draws per point, common noise for every denoiser.
Prints the largest relative error of Theorem 3.1 for t <= 0.76 and, for M = 10, 30, ..., 190, the
implied constant C of Theorem 3.2 (excess / ((1 - M/N) d sigma^2), averaged over t <= 0.84) and the
relative errors of C = 1 and C = 2. About 30 s on 2 cores.

    python benchmarks/fig1_theory.py
"""

import jax
import jax.numpy as jnp
import numpy as np

from artifact import data, losses, model, process, rng, theory


def main() -> None:
    dataset = data.make_dataset(data.MixtureDataConfig(num_train=200, dim=50, num_components=12), seed=0)
    grid, n, d = process.time_grid(), 200, 50
    key = rng.stream(0, "fig1-theory")
    x0_losses = jax.jit(
        lambda means, var, mask: losses.x0_units(
            losses.eps_loss_per_time(key, dataset.train, grid, means, var, 100, mask), grid
        )
    )
    mem = x0_losses(dataset.train, 0.0, None)
    gen = np.asarray(x0_losses(dataset.mixture.means, 1.0, None) - mem)
    thm = np.asarray(theory.generalizing_excess(grid, d, 1.0))
    print(f"Theorem 3.1, t <= 0.76: max relative error {np.max(np.abs(gen[6:25] - thm[6:25]) / thm[6:25]):.4f}")
    order = dataset.train[model.memorized_subset(rng.stream(0, "fig1-order"), n, n)]
    for m in range(10, n, 20):
        excess = float(np.asarray(x0_losses(order, 0.0, jnp.arange(n) < m) - mem)[4:25].mean())
        c1 = float(theory.partial_memorizing_excess(m / n, d, 1.0, 1.0))
        print(
            f"M = {m:3d}: implied C {excess / c1:.3f}, rel. error C=1 {abs(excess - c1) / excess:.3f}, "
            f"C=2 {abs(excess - 2 * c1) / excess:.3f}"
        )


if __name__ == "__main__":
    main()
