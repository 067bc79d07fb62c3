"""Extension, not in the paper: does a plain MLP denoiser show the mixtures' transition?

A reviewer of the paper asked whether a standard network trained by gradient descent shows the same
qualitative phase transition in its number of neurons. This figure trains the MLP family
(`families/mlp.py`) at doubling hidden widths on Fig. 2's data set (first seed), with the mixtures'
estimator, grid, N_dup, optimiser and schedule, and plots its memorization ratio, and its losses at
t_16, against its parameter count beside the isotropic mixture's (M d + 1 parameters). It reports
what it observes; the mixtures' crossover theory is not claimed to apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from artifact import experiment, process, stages, store
from artifact.families import mlp as mlp_family
from artifact.figures import panels
from artifact.figures.base import PANEL_INDEX, AbstractFigure, Needs, Observation, dataset
from artifact.figures.registry import register_figure
from artifact.profiles import Profile

CLAIM = "Extension (not in the paper): "
LOSS = "X0 squared error"


def loss_change_over_last_tenth(steps: np.ndarray, history: np.ndarray) -> float:
    """Relative change of one model's mean logged training loss from the ninth to the last tenth of training.

    Near 0 when training has settled; each logged value is one step's noisy batch loss, hence the means.
    """
    fraction = steps / steps[-1]
    ninth = history[(fraction > 0.8) & (fraction <= 0.9)].mean()
    last = history[fraction > 0.9].mean()
    return abs(float(last - ninth)) / abs(float(last))


class MLPFigure(AbstractFigure):
    """The MLP unit of the first seed, beside the same data set's mixture models (Fig. 2's units)."""

    key: ClassVar[str] = "mlp"
    size: ClassVar[tuple[float, float]] = (17, 3.5)
    caption: ClassVar[str] = "Extension, not in the paper: MLP and mixture memorization against their parameter counts."
    extension: ClassVar[bool] = True

    def needs(self, profile: Profile) -> Needs:
        first = profile.seeds[0]
        unit = experiment.TrainingUnit(
            "mlp", profile.data(profile.fig2), first, profile.mlp.train, profile.eval, profile.mlp.widths
        )
        return Needs(singles=(unit,), groups=(stages.Group(profile.fig2, first),))

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        needs = self.needs(profile)
        t = store.read_tree(units_dir / needs.singles[0].filename)
        mixture = stages.load_group(
            profile,
            needs.groups[0],
            units_dir,
            ("memorization_ratio", "distance_to_generalizing", "distance_to_memorizing"),
        )
        scale = float(t["reference_distance"])
        distance = "mean squared X0 distance at t_16 on noised training points, over x̄_*'s from x̄_mem"
        n, d, k = profile.fig2
        x0 = 1.0 / float(process.snr(process.time_grid()[PANEL_INDEX]))
        where = "extension, not in the paper"
        widest = loss_change_over_last_tenth(t["loss_history_steps"], t["loss_history"][:, -1])
        return {
            "widths": dataset(t["M"], "1", "hidden width W of each MLP", where),
            "parameter_count": dataset(
                t["parameter_count"], "1", f"MLP parameters, {mlp_family.PARAMETER_FORMULA}", where
            ),
            "memorization_ratio": dataset(
                t["memorization_ratio"], "1", f"fraction of {profile.eval.num_samples} DDIM samples memorized", where
            ),
            "train_loss_x0_panel": dataset(
                t["train_loss_eps"][:, PANEL_INDEX] * x0, LOSS, "training loss at t_16", where
            ),
            "heldout_loss_x0_panel": dataset(
                t["heldout_loss_eps"][:, PANEL_INDEX] * x0, LOSS, "held-out loss at t_16", where
            ),
            "loss_history": dataset(t["loss_history"], "EPS squared error", "training loss (rows log steps)", where),
            "loss_history_steps": dataset(t["loss_history_steps"], "1", "steps of loss_history", where),
            "distance_to_generalizing": dataset(
                t["distance_to_generalizing"] / scale, "1", f"MLP from x̄_*: {distance}", where
            ),
            "distance_to_memorizing": dataset(
                t["distance_to_memorizing"] / scale, "1", f"MLP from x̄_mem: {distance}", where
            ),
            "mixture_distance_to_generalizing": dataset(
                mixture["distance_to_generalizing"] / scale, "1", f"mixture from x̄_*: {distance}", where
            ),
            "mixture_distance_to_memorizing": dataset(
                mixture["distance_to_memorizing"] / scale, "1", f"mixture from x̄_mem: {distance}", where
            ),
            "mixture_M": dataset(mixture["M"], "1", "M of the isotropic mixture models (Fig. 2's units)", where),
            "mixture_parameter_count": dataset(
                mixture["M"] * d + 1, "1", "mixture parameters, M d + 1 (M means, one variance)", where
            ),
            "mixture_memorization_ratio": dataset(
                mixture["memorization_ratio"], "1", "the mixture models' memorization ratio (Fig. 2)", where
            ),
            "attrs": {
                "N": n,
                "d": d,
                "K": k,
                "seed": profile.seeds[0],
                "parameter_count_formula": mlp_family.PARAMETER_FORMULA,
                "mixture_crossover_parameters": 0.8 * n * d,
                "widest_loss_change_last_tenth": widest,
                "reference_distance": scale,
            },
        }

    def plot(self, g, fig) -> None:
        axes = fig.subplots(1, 4)
        params, mixture = g["parameter_count"][()], g["mixture_parameter_count"][()]
        axes[0].plot(params, g["memorization_ratio"][()], "o-", ms=3, label="MLP (width W)")
        axes[0].plot(mixture, g["mixture_memorization_ratio"][()], "s--", ms=3, color="0.4", label="mixture (M)")
        axes[0].axvline(g.attrs["mixture_crossover_parameters"], color="0.7", ls=":", label="0.8 N d")
        axes[0].set(xscale="log", xlabel="parameters", ylabel="memorization ratio", ylim=(-0.05, 1.05))
        axes[0].legend(fontsize=7)
        axes[1].plot(params, g["train_loss_x0_panel"][()], "o-", ms=3, label="training")
        axes[1].plot(params, g["heldout_loss_x0_panel"][()], "s-", ms=3, label="held-out")
        axes[1].set(xscale="log", yscale="log", xlabel="parameters", title="MLP losses at t_16")
        axes[1].legend(fontsize=7)
        for name, color in (("generalizing", "tab:green"), ("memorizing", "goldenrod")):
            reference = "x̄_*" if name == "generalizing" else "x̄_mem"
            axes[2].plot(params, g[f"distance_to_{name}"][()], "o-", ms=3, color=color, label=f"MLP to {reference}")
            axes[2].plot(
                mixture, g[f"mixture_distance_to_{name}"][()], "s--", ms=3, color=color, label=f"mixture to {reference}"
            )
        axes[2].set(xscale="log", xlabel="parameters", ylabel="distance / x̄_*'s from x̄_mem", title="distances at t_16")
        axes[2].legend(fontsize=6)
        steps, history = g["loss_history_steps"][()], g["loss_history"][()]
        for column, width in enumerate(g["widths"][()]):
            axes[3].plot(steps, history[:, column], lw=1, label=f"W = {width}")
        axes[3].set(yscale="log", xlabel="step", title="training loss (is the widest flat at the end?)")
        axes[3].legend(fontsize=6, ncol=2)

    def observables(self, g, samples: int) -> dict[str, Observation]:
        params, ratios = g["parameter_count"][()], g["memorization_ratio"][()]
        nd = float(g.attrs["N"] * g.attrs["d"])
        return {
            "mlp.memorization_ratio@narrowest": Observation(
                float(ratios[0]), "ratio", CLAIM + "the narrowest MLP's memorization", 1.0 / samples
            ),
            "mlp.memorization_ratio@widest": Observation(
                float(ratios[-1]), "ratio", CLAIM + "the widest MLP's memorization", 1.0 / samples
            ),
            "mlp.first_memorizing_parameters_over_Nd": Observation(
                panels.first_at_least(params / nd, ratios), "relative", CLAIM + "where the MLP starts to memorize"
            ),
            "mlp.distance_to_memorizing@widest": Observation(
                float(g["distance_to_memorizing"][-1]), "relative", CLAIM + "the widest MLP's distance from x̄_mem"
            ),
            "mlp.distance_to_generalizing@narrowest": Observation(
                float(g["distance_to_generalizing"][0]), "relative", CLAIM + "the narrowest MLP's distance from x̄_*"
            ),
            "mlp.widest_loss_change_last_tenth": Observation(
                float(g.attrs["widest_loss_change_last_tenth"]), "absolute", CLAIM + "the widest MLP's training settled"
            ),
        }


register_figure(MLPFigure())
