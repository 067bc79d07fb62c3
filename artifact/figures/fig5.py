"""Fig. 5 (§4.2): the colored-template model's memorization ratio and losses at t_16 against M/N."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np

from artifact import experiment, store
from artifact.families.colored import RELEASED_NOTEBOOK_RATIOS
from artifact.figures import panels
from artifact.figures.base import AbstractFigure, Needs, Observation, dataset
from artifact.figures.registry import register_figure
from artifact.profiles import Profile

RELEASED_NOTEBOOK = (
    "DruvPai/diffusion_mem_gen, experiments/colored_imagenet/shared_gmm/varying_model_size/"
    "run_data_analysis_pipeline.ipynb"
)


class Figure5(AbstractFigure):
    """One colored training unit (M = N/10 ... N, one stage) and the colored baselines.

    The released notebook's ratios are stored beside ours: they belong to `--set fig5_config=released`.
    """

    key: ClassVar[str] = "5"
    size: ClassVar[tuple[float, float]] = (12, 3.5)
    caption: ClassVar[str] = "As Fig. 2: small M generalize, M = N memorizes; grey: the released notebook."

    def needs(self, profile: Profile) -> Needs:
        first = profile.seeds[0]
        sizes = experiment.initial_sizes(profile.fig5_data.num_train, profile.fig5_models)
        return Needs(
            singles=(
                experiment.TrainingUnit("colored", profile.fig5_data, first, profile.fig5_train, profile.eval, sizes),
                experiment.BaselineUnit("colored", profile.fig5_data, first, profile.eval),
            )
        )

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        train_unit, base_unit = self.needs(profile).singles
        t = store.read_tree(units_dir / train_unit.filename)
        b = store.read_tree(units_dir / base_unit.filename)
        out = panels.ratio_and_loss_panels(t, b, profile.fig5_data.num_train, profile.eval.num_samples, "Fig. 5, §4.2")
        out["learned_color_variance"] = dataset(t["learned_variance"], "1", "learned color variance", "§4.2")
        out["released_notebook_ratios"] = dataset(
            np.asarray(RELEASED_NOTEBOOK_RATIOS),
            "1",
            "the released notebook's ratios at M/N = 0.1..1.0 (K = 6, lr 1e-4 -> 1e-8)",
            RELEASED_NOTEBOOK,
        )
        with h5py.File(units_dir / train_unit.filename, "r") as f:
            source, indices = f["data"].attrs["template_source"], f["data"].attrs["template_indices"]
        out["attrs"] |= {
            "K": profile.fig5_data.num_templates,
            "fig5_config": profile.fig5_config,
            "template_source": source,
            "template_indices": indices,
        }
        return out

    def plot(self, g, fig) -> None:
        axes = panels.plot_ratio_and_losses(g, fig, label=f"this run ({g.attrs['fig5_config']} config)")
        released = g["released_notebook_ratios"][()]
        axes[0].plot(
            np.arange(1, len(released) + 1) / len(released),
            released,
            "s--",
            ms=3,
            color="0.5",
            label="released notebook",
        )
        axes[0].legend(fontsize=7)

    def observables(self, g, samples: int) -> dict[str, Observation]:
        n = int(g.attrs["N"])
        return {
            **panels.ratio_observables("fig5", g, samples, "Fig. 5: memorization ratio vs M/N (colored model)"),
            "fig5.M_pt_over_N": Observation(
                panels.first_at_least(g["M_over_N"][()], g["memorization_ratio"][()]),
                "grid",
                "Fig. 5: memorization sets in late (colored model)",
                1.0 / n,
            ),
            **panels.panel_observables("fig5", g, "Fig. 5"),
        }


register_figure(Figure5())
