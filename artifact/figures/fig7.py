"""Fig. 7 (App. H.5): Fig. 2 over every seed, as min-max bands."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from artifact import process, stages
from artifact.figures.base import PANEL_INDEX, AbstractFigure, Needs, Observation, dataset
from artifact.figures.fig3 import empirical_targets, sweep_groups
from artifact.figures.registry import register_figure
from artifact.profiles import Profile

PANELS = (
    ("memorization_ratio", "memorization ratio"),
    ("train_loss_x0_panel", "training loss (t_16)"),
    ("heldout_loss_x0_panel", "test loss (t_16)"),
)


class Figure7(AbstractFigure):
    """Fig. 2's data set at every seed, each interpolated onto the union of the trained M."""

    key: ClassVar[str] = "7"
    size: ClassVar[tuple[float, float]] = (12, 3.5)
    caption: ClassVar[str] = "Fig. 2 over every seed: narrow min-max bands."

    def needs(self, profile: Profile) -> Needs:
        groups = tuple(stages.Group(profile.fig2, s) for s in profile.seeds)
        if profile.fig3_all_seeds:  # the M_pt spread of Fig. 3's sweep over seeds
            groups += sweep_groups(profile, profile.seeds)
        return Needs(groups=groups)

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        keys = ("memorization_ratio", "train_loss_eps", "heldout_loss_eps")
        loaded = [stages.load_group(profile, stages.Group(profile.fig2, s), units_dir, keys) for s in profile.seeds]
        n = profile.fig2[0]
        m_all = np.unique(np.concatenate([g["M"] for g in loaded]))
        x0 = 1.0 / float(process.snr(process.time_grid()[PANEL_INDEX]))

        def on_grid(values_of):
            return np.stack([np.interp(m_all, g["M"], values_of(g)) for g in loaded])

        paper = "Fig. 7 (App. H.5)"
        note = "per seed, linearly interpolated onto the union of trained M"
        loss = "X0 squared error"
        out = {
            "seeds": dataset(np.asarray(profile.seeds), "1", "seeds", paper),
            "M": dataset(m_all, "1", "union of the trained M over seeds", paper),
            "M_over_N": dataset(m_all / n, "1", "M / N", paper),
            "memorization_ratio": dataset(
                on_grid(lambda g: g["memorization_ratio"]), "1", f"memorization ratio (rows seeds), {note}", paper
            ),
            "train_loss_x0_panel": dataset(
                on_grid(lambda g: g["train_loss_eps"][:, PANEL_INDEX] * x0),
                loss,
                f"training loss at t_16 (rows seeds), {note}",
                paper,
            ),
            "heldout_loss_x0_panel": dataset(
                on_grid(lambda g: g["heldout_loss_eps"][:, PANEL_INDEX] * x0),
                loss,
                f"held-out loss at t_16 (rows seeds), {note}",
                paper,
            ),
            "attrs": {"N": n},
        }
        if profile.fig3_all_seeds:
            per_seed = [empirical_targets(profile, units_dir, s)[1] for s in profile.seeds]
            out["fig3_M_pt_over_N"] = dataset(
                np.stack(per_seed), "1", "empirical M_pt/N of each Fig. 3 tuple (rows seeds)", "Fig. 3, App. H.5"
            )
        return out

    def plot(self, g, fig) -> None:
        axes = fig.subplots(1, 3)
        m = g["M_over_N"][()]
        for ax, (name, label) in zip(axes, PANELS, strict=True):
            values = g[name][()]
            ax.fill_between(m, values.min(0), values.max(0), alpha=0.3, label="min-max over seeds")
            ax.plot(m, np.median(values, 0), "-", lw=1, label="median")
            ax.set(xlabel="M / N", ylabel=label)
        axes[1].set_yscale("log")
        axes[2].set_yscale("log")
        axes[0].legend(fontsize=7)

    def observables(self, g, samples: int) -> dict[str, Observation]:
        r = g["memorization_ratio"][()]
        return {
            "fig7.max_seed_spread": Observation(
                float(np.max(r.max(0) - r.min(0))), "absolute", "Fig. 7: small seed-to-seed spread", 1.0 / samples
            )
        }


register_figure(Figure7())
