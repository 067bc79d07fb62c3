"""Fig. 1: the excess losses over x̄_mem of x̄_* per time and of x̄_pmem,M per M, against Theorems 3.1 and 3.2."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from artifact import process, stages, store, theory
from artifact.figures.base import PANEL_INDEX, AbstractFigure, Needs, Observation, dataset
from artifact.figures.registry import register_figure
from artifact.profiles import Profile

# Where the theorems are compared with Monte Carlo: Theorem 3.1 at t_6..t_24 (t <= 0.76, without the
# smallest time), Theorem 3.2 averaged over t_4..t_24.
THEOREM_3_1_TIMES = slice(6, 25)
THEOREM_3_2_TIMES = slice(4, 25)
LOSS = "X0 squared error"


class Figure1(AbstractFigure):
    """x̄_* and x̄_pmem,M on the Fig. 2 data set: Monte Carlo excess losses beside the theorems' closed forms."""

    key: ClassVar[str] = "1"
    size: ClassVar[tuple[float, float]] = (9, 3.5)
    caption: ClassVar[str] = "Monte Carlo on the theorems: x̄_* for t <= 0.76, x̄_pmem,M between C = 1 and 2."

    def needs(self, profile: Profile) -> Needs:
        return Needs(singles=(stages.baselines(profile, profile.fig2, profile.seeds[0]),))

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        (unit,) = self.needs(profile).singles
        tree = store.read_tree(units_dir / unit.filename)
        grid = tree["grid"]
        factor = 1.0 / np.asarray(process.snr(grid), np.float64)
        mem = tree["memorizing/train_loss_eps"] * factor
        n, d, var = unit.data.num_train, unit.data.dim, unit.data.variance
        m_over_n = tree["partially_memorizing/M"] / n
        paper = "Fig. 1; Theorems 3.1, 3.2"
        return {
            "grid": dataset(grid, "1", "diffusion times t_l (descending)", "App. H.1"),
            "M_over_N": dataset(m_over_n, "1", "fraction of training points memorized by x̄_pmem,M", paper),
            "generalizing_excess": dataset(
                tree["generalizing/train_loss_eps"] * factor - mem,
                LOSS,
                "Monte Carlo L_t(x̄_*) - L_t(x̄_mem) on the training set",
                paper,
            ),
            "partially_memorizing_excess": dataset(
                tree["partially_memorizing/train_loss_eps"] * factor - mem,
                LOSS,
                "Monte Carlo L_t(x̄_pmem,M) - L_t(x̄_mem), rows M, columns t",
                paper,
            ),
            "theorem_3_1": dataset(
                theory.generalizing_excess(np.asarray(grid, np.float64), d, var),
                LOSS,
                "d s^2 / (psi_t s^2 + 1)",
                "Theorem 3.1",
            ),
            "theorem_3_2_C1": dataset(
                theory.partial_memorizing_excess(m_over_n, d, var, 1.0),
                LOSS,
                "(1 - M/N) d s^2 (released code)",
                "Theorem 3.2",
            ),
            "theorem_3_2_C2": dataset(
                theory.partial_memorizing_excess(m_over_n, d, var, 2.0),
                LOSS,
                "2 (1 - M/N) d s^2 (Fig. 1)",
                "Theorem 3.2",
            ),
            "attrs": {"N": n, "d": d, "K": unit.data.num_components, "seed": unit.seed},
        }

    def plot(self, g, fig) -> None:
        grid = g["grid"][()]
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(grid, g["generalizing_excess"][()], "o", ms=3, label="Monte Carlo")
        ax1.plot(grid, g["theorem_3_1"][()], "-", label="Theorem 3.1")
        ax1.set(xlabel="t", ylabel="excess loss over x̄_mem (X0)", title="generalizing x̄_*", yscale="log")
        m = g["M_over_N"][()]
        ax2.plot(
            m,
            g["partially_memorizing_excess"][()][:, PANEL_INDEX],
            "o",
            ms=3,
            label=f"Monte Carlo, t={grid[PANEL_INDEX]:.2f}",
        )
        ax2.plot(m, g["theorem_3_2_C1"][()], "--", label="Thm 3.2, C = 1")
        ax2.plot(m, g["theorem_3_2_C2"][()], "-", label="Thm 3.2, C = 2")
        ax2.set(xlabel="M / N", ylabel="excess loss over x̄_mem (X0)", title="partially memorizing x̄_pmem,M")
        for ax in (ax1, ax2):
            ax.legend(fontsize=7)

    def observables(self, g, samples: int) -> dict[str, Observation]:
        gen = g["generalizing_excess"][()][THEOREM_3_1_TIMES]
        thm = g["theorem_3_1"][()][THEOREM_3_1_TIMES]
        pmem = g["partially_memorizing_excess"][()][:, THEOREM_3_2_TIMES].mean(1)
        c1 = g["theorem_3_2_C1"][()]
        return {
            "fig1.theorem_3_1.max_relative_error": Observation(
                float(np.max(np.abs(gen - thm) / thm)),
                "absolute",
                "Fig. 1: Theorem 3.1 matches the generalizing excess",
            ),
            # Least squares for C in C (1 - M/N) d s^2, the C = 1 curve being (1 - M/N) d s^2.
            "fig1.theorem_3_2.least_squares_C": Observation(
                float(np.sum(pmem * c1) / np.sum(c1**2)), "absolute", "Fig. 1: Theorem 3.2 with C in [1, 2]"
            ),
        }


register_figure(Figure1())
