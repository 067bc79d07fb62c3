"""Fig. 6 (App. H.5): the learned variance and the learned means' distances to the data, against M."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from artifact import stages
from artifact.figures import panels
from artifact.figures.base import AbstractFigure, Needs, Observation, dataset
from artifact.figures.registry import register_figure
from artifact.profiles import Profile

# The isotropic family's statistics (families/isotropic.py) with their units and descriptions.
PANELS = (
    ("learned_variance", "data units squared", "learned sigma^2", "left", "learned σ²"),
    (
        "mean_distance_to_nearest_train",
        "data units",
        "average distance of a learned mean to its nearest training point",
        "middle",
        "distance to nearest sample",
    ),
    (
        "mean_distance_to_nearest_true_mean",
        "data units",
        "average distance of a learned mean to its nearest true mean",
        "right",
        "distance to nearest true mean",
    ),
)


class Figure6(AbstractFigure):
    """The Fig. 2 models' statistics, as the isotropic family reports them."""

    key: ClassVar[str] = "6"
    size: ClassVar[tuple[float, float]] = (12, 3.5)
    caption: ClassVar[str] = "The learned variance falls with M; the means move from true means to samples."

    def needs(self, profile: Profile) -> Needs:
        return Needs(groups=(stages.Group(profile.fig2, profile.seeds[0]),))

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        keys = ("memorization_ratio", *(name for name, *_ in PANELS))
        g = stages.load_group(profile, self.needs(profile).groups[0], units_dir, keys)
        start, end = panels.bracket(g["M"], g["memorization_ratio"])
        paper = "Fig. 6 (App. H.5)"
        out = {"M": dataset(g["M"], "1", "number of components", paper)}
        for name, units, description, where, _ in PANELS:
            out[name] = dataset(g[name], units, description, f"{paper} {where}")
        out["attrs"] = {"transition_start_M": start, "transition_end_M": end, "N": profile.fig2[0]}
        return out

    def plot(self, g, fig) -> None:
        n = g.attrs["N"]
        axes = fig.subplots(1, 3)
        for ax, (name, *_, label) in zip(axes, PANELS, strict=True):
            ax.plot(g["M"][()] / n, g[name][()], "o-", ms=3)
            ax.set(xlabel="M / N", ylabel=label)
            panels.shade(ax, g, n)
        axes[0].set_yscale("log")

    def observables(self, g, samples: int) -> dict[str, Observation]:
        var = g["learned_variance"][()]
        return {
            "fig6.learned_variance@smallest_M": Observation(float(var[0]), "relative", "Fig. 6: learned variance"),
            "fig6.variance_decreasing_fraction": Observation(
                float(np.mean(np.diff(var) <= 0)), "absolute", "Fig. 6: the learned variance falls with M"
            ),
        }


register_figure(Figure6())
