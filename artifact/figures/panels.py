"""What several figures share: the memorization ratio with the loss panels at t_16 (Figs 2, 5), the
transition bracket, and the observables and plots built on them."""

from __future__ import annotations

import numpy as np

from artifact import experiment, process
from artifact.figures.base import PANEL_INDEX, Observation, dataset

LOSS = "X0 squared error"


def bracket(m: np.ndarray, ratios: np.ndarray) -> tuple[int, int]:
    return experiment.transition_bracket(m.tolist(), ratios.tolist())


def ratio_and_loss_panels(trained: dict, base: dict, n: int, samples: int, paper: str) -> dict:
    """The memorization ratio and the per-time losses (X0 units) of the trained models, with the x̄_*,
    x̄_mem and x̄_pmem,M baselines, and the transition bracket."""
    grid = base["grid"]
    x0 = 1.0 / np.asarray(process.snr(grid), np.float64)
    start, end = bracket(trained["M"], trained["memorization_ratio"])
    out = {
        "grid": dataset(grid, "1", "diffusion times t_l", "App. H.1"),
        "M": dataset(trained["M"], "1", "number of mixture components of each trained model", paper),
        "M_over_N": dataset(trained["M"] / n, "1", "M / N", paper),
        "memorization_ratio": dataset(
            trained["memorization_ratio"], "1", f"fraction of {samples} DDIM samples memorized", paper + " left"
        ),
        "train_loss_x0": dataset(
            trained["train_loss_eps"] * x0, LOSS, "per-time training loss (rows M)", paper + " middle"
        ),
        "heldout_loss_x0": dataset(
            trained["heldout_loss_eps"] * x0, LOSS, "per-time held-out (test) loss (rows M)", paper + " right"
        ),
        "pmem_M": dataset(base["partially_memorizing/M"], "1", "M of the partially memorizing baselines", paper),
        "pmem_train_loss_x0": dataset(
            base["partially_memorizing/train_loss_eps"] * x0, LOSS, "x̄_pmem,M training loss (rows M)", paper
        ),
        "pmem_heldout_loss_x0": dataset(
            base["partially_memorizing/heldout_loss_eps"] * x0, LOSS, "x̄_pmem,M held-out loss (rows M)", paper
        ),
    }
    for name in ("generalizing", "memorizing"):
        out[f"{name}_train_loss_x0"] = dataset(
            base[f"{name}/train_loss_eps"] * x0, LOSS, f"x̄_{name} training loss", paper
        )
        out[f"{name}_heldout_loss_x0"] = dataset(
            base[f"{name}/heldout_loss_eps"] * x0, LOSS, f"x̄_{name} held-out loss", paper
        )
    out["attrs"] = {
        "N": n,
        "transition_start_M": start,
        "transition_end_M": end,
        "panel_grid_index": PANEL_INDEX,
        "panel_t": float(grid[PANEL_INDEX]),
        "panel_psi": float(process.snr(grid[PANEL_INDEX])),
    }
    return out


def first_at_least(m_over_n: np.ndarray, ratios: np.ndarray, threshold: float = 0.5) -> float:
    """The first M/N whose ratio reaches `threshold` (empirical M_pt/N at 1/2); NaN if none does."""
    first = experiment.first_memorizing_size(m_over_n.tolist(), ratios.tolist(), threshold)
    return float("nan") if first is None else float(first)


def ratio_observables(name: str, g, samples: int, claim: str) -> dict[str, Observation]:
    """The memorization ratio at M/N = 0.1, ..., 1.0 where a model was trained."""
    m_over_n, ratios = g["M_over_N"][()], g["memorization_ratio"][()]
    out = {}
    for x in np.round(np.arange(1, 11) / 10, 2):
        hits = np.flatnonzero(np.isclose(m_over_n, x))
        if hits.size:
            out[f"{name}.memorization_ratio@M/N={x:.1f}"] = Observation(
                float(ratios[hits[0]]), "ratio", claim, 1.0 / samples
            )
    below_half = m_over_n <= 0.5 + 1e-9
    if below_half.any():
        out[f"{name}.max_memorization_ratio@M<=N/2"] = Observation(
            float(np.max(ratios[below_half])), "ratio", claim, 1.0 / samples
        )
    return out


def panel_observables(name: str, g, label: str) -> dict[str, Observation]:
    """The loss panels' numbers at t_16: the x̄_* test loss and the smallest model's test loss relative to it."""
    idx = int(g.attrs["panel_grid_index"])
    generalizing = float(g["generalizing_heldout_loss_x0"][()][idx])
    return {
        f"{name}.generalizing_test_loss_t16": Observation(generalizing, "relative", f"{label}: baselines"),
        f"{name}.smallest_M_test_loss_over_generalizing_t16": Observation(
            float(g["heldout_loss_x0"][()][0, idx]) / generalizing,
            "relative",
            f"{label}: small models generalize (test loss of x̄_*)",
        ),
    }


def shade(ax, group, n):
    start, end = group.attrs.get("transition_start_M"), group.attrs.get("transition_end_M")
    if start is not None and end is not None:
        ax.axvspan(start / n, end / n, color="0.85", zorder=0, label="transition")


def plot_ratio_and_losses(g, fig, label: str | None = None):
    """Memorization ratio, training loss and test loss at t_16 vs M/N, with the baselines. Returns the axes."""
    n = g.attrs["N"]
    idx = int(g.attrs["panel_grid_index"])
    axes = fig.subplots(1, 3)
    m = g["M_over_N"][()]
    axes[0].plot(m, g["memorization_ratio"][()], "o-", ms=3, label=label)
    axes[0].set(xlabel="M / N", ylabel="memorization ratio", ylim=(-0.05, 1.05))
    pm = g["pmem_M"][()] / n
    for ax, split, title in ((axes[1], "train", "training loss"), (axes[2], "heldout", "test loss")):
        ax.plot(pm, g[f"pmem_{split}_loss_x0"][()][:, idx], color="tab:red", lw=1, label="x̄_pmem,M")
        ax.axhline(g[f"memorizing_{split}_loss_x0"][()][idx], color="goldenrod", ls="--", label="x̄_mem")
        ax.axhline(g[f"generalizing_{split}_loss_x0"][()][idx], color="tab:green", ls="--", label="x̄_*")
        ax.plot(m, g[f"{split}_loss_x0"][()][:, idx], "o", color="tab:blue", ms=3, label="trained")
        ax.set(xlabel="M / N", yscale="log", title=f"{title}, ψ = {g.attrs['panel_psi']:.3f}")
    axes[2].legend(fontsize=7)
    for ax in axes:
        shade(ax, g, n)
    return axes
