"""Fig. 2: the memorization ratio against M/N, and the training and test losses at t_16 with the baselines."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from artifact import stages, store
from artifact.figures import panels
from artifact.figures.base import AbstractFigure, Needs, Observation
from artifact.figures.registry import register_figure
from artifact.profiles import Profile

TRAINED = ("memorization_ratio", "train_loss_eps", "heldout_loss_eps")


class Figure2(AbstractFigure):
    """The first seed's two training stages on the Fig. 2 data set, with that data set's baselines."""

    key: ClassVar[str] = "2"
    size: ClassVar[tuple[float, float]] = (12, 3.5)
    caption: ClassVar[str] = "Ratio ~0 for small M, 1 from M ~0.8 N; small models' test loss on x̄_*'s."

    def needs(self, profile: Profile) -> Needs:
        first = profile.seeds[0]
        return Needs(
            singles=(stages.baselines(profile, profile.fig2, first),), groups=(stages.Group(profile.fig2, first),)
        )

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        needs = self.needs(profile)
        trained = stages.load_group(profile, needs.groups[0], units_dir, TRAINED)
        base = store.read_tree(units_dir / needs.singles[0].filename)
        out = panels.ratio_and_loss_panels(trained, base, profile.fig2[0], profile.eval.num_samples, "Fig. 2")
        out["attrs"] |= {"d": profile.fig2[1], "K": profile.fig2[2], "seed": needs.groups[0].seed}
        return out

    def plot(self, g, fig) -> None:
        panels.plot_ratio_and_losses(g, fig)

    def observables(self, g, samples: int) -> dict[str, Observation]:
        n = int(g.attrs["N"])
        m_over_n, ratios = g["M_over_N"][()], g["memorization_ratio"][()]
        step = float(np.min(np.diff(m_over_n))) if m_over_n.size > 1 else 1.0 / n
        start, end = g.attrs["transition_start_M"] / n, g.attrs["transition_end_M"] / n
        bracket = "Fig. 2: transition bracket"
        return {
            **panels.ratio_observables("fig2", g, samples, "Fig. 2: memorization ratio vs M/N"),
            "fig2.M_pt_over_N": Observation(
                panels.first_at_least(m_over_n, ratios), "grid", "Fig. 2: memorization sets in near M = 0.8 N", step
            ),
            "fig2.transition_start_over_N": Observation(start, "grid", bracket, step),
            "fig2.transition_end_over_N": Observation(end, "grid", bracket, step),
            "fig2.transition_width_over_N": Observation(end - start, "grid", "Fig. 2: the transition is sharp", step),
            **panels.panel_observables("fig2", g, "Fig. 2"),
        }


register_figure(Figure2())
