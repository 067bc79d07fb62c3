"""Fig. 3 (§4.1, App. H.3): the empirical M_pt/N of each (N, d, K) tuple and the fitted loss weighting λ̃."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from artifact import experiment, process, regression, stages, theory
from artifact.figures.base import AbstractFigure, Needs, Observation, dataset
from artifact.figures.registry import register_figure
from artifact.profiles import Profile


def sweep_groups(profile: Profile, seeds) -> tuple[stages.Group, ...]:
    return tuple(stages.Group(t, s) for s in seeds for t in profile.fig3)


def empirical_targets(profile: Profile, units_dir: Path, seed: int) -> tuple[list, np.ndarray]:
    """The tuples in sorted order and each one's empirical M_pt/N (first M with ratio >= 1/2; NaN if none)."""
    tuples = sorted(profile.fig3)
    targets = []
    for t in tuples:
        g = stages.load_group(profile, stages.Group(t, seed), units_dir, ("memorization_ratio",))
        m_pt = experiment.first_memorizing_size(g["M"].tolist(), g["memorization_ratio"].tolist())
        targets.append(np.nan if m_pt is None else m_pt / t[0])
    return tuples, np.asarray(targets)


class Figure3(AbstractFigure):
    """The two-stage sweep over the (N, d, K) tuples, and the λ̃ regression on its M_pt (App. H.3)."""

    key: ClassVar[str] = "3"
    size: ClassVar[tuple[float, float]] = (9, 3.5)
    caption: ClassVar[str] = "Predicted against empirical M_pt/N: on the diagonal, all near 0.8."

    def needs(self, profile: Profile) -> Needs:
        return Needs(groups=sweep_groups(profile, profile.seeds if profile.fig3_all_seeds else profile.seeds[:1]))

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        tuples, targets = empirical_targets(profile, units_dir, profile.seeds[0])
        config = profile.regression
        is_fit = (np.arange(len(tuples)) % config.heldout_every) != config.heldout_every - 1
        usable = ~np.isnan(targets)
        num_train = np.asarray([t[0] for t in tuples])
        grid = process.time_grid()
        result = regression.fit(
            num_train[usable],
            targets[usable],
            is_fit[usable],
            grid,
            profile.data_variance,
            config.constant,
            config.temperature,
            config.entropy_weight,
            config.steps,
            config.learning_rate,
        )
        predicted = np.full(len(tuples), np.nan)
        predicted[usable] = result.predicted
        hard = np.full(len(tuples), np.nan)
        hard[usable] = result.predicted_hard
        paper = "Fig. 3, §4.1, App. H.3"
        held_out = f"True: fit set; False: held out (every {config.heldout_every}th tuple in sorted order)"
        return {
            "tuples": dataset(np.asarray(tuples), "1", "(N, d, K) of each tuple, sorted", paper),
            "is_fit": dataset(is_fit, "1", held_out, paper),
            "M_pt_over_N": dataset(
                targets, "1", "empirical M_pt/N: first trained M with memorization ratio >= 1/2 (NaN: none)", paper
            ),
            "predicted_M_pt_over_N": dataset(predicted, "1", "smoothed M~_pt/N from the fitted lambda-tilde", paper),
            "predicted_M_pt_over_N_hard": dataset(hard, "1", "argmin over M of the squared weighted gap, / N", paper),
            "lambda_tilde": dataset(result.weights, "1", "fitted weight per grid time (X0-unit losses)", paper),
            "grid": dataset(grid, "1", "diffusion times t_l", "App. H.1"),
            "attrs": {
                "fit_mse": result.fit_mse,
                "heldout_mse": result.heldout_mse,
                "constant_C": config.constant,
                "temperature": config.temperature,
                "entropy_weight": config.entropy_weight,
                "crossover_uniform_lambda": float(
                    theory.crossover_fraction(np.ones_like(grid), grid, profile.data_variance, config.constant)
                ),
                "crossover_fitted_lambda": float(
                    theory.crossover_fraction(result.weights, grid, profile.data_variance, config.constant)
                ),
            },
        }

    def plot(self, g, fig) -> None:
        ax1, ax2 = fig.subplots(1, 2)
        target, predicted, is_fit = g["M_pt_over_N"][()], g["predicted_M_pt_over_N"][()], g["is_fit"][()]
        ax1.plot(target[is_fit], predicted[is_fit], "o", ms=4, label="fit")
        ax1.plot(target[~is_fit], predicted[~is_fit], "s", ms=4, label="held out")
        lo, hi = np.nanmin([target, predicted]) - 0.05, np.nanmax([target, predicted]) + 0.05
        ax1.plot([lo, hi], [lo, hi], "k:", lw=1)
        ax1.set(
            xlabel="empirical M_pt / N",
            ylabel="predicted M~_pt / N",
            title=f"fit MSE {g.attrs['fit_mse']:.1e}, held-out {g.attrs['heldout_mse']:.1e}",
        )
        ax1.legend(fontsize=7)
        ax2.plot(g["grid"][()], g["lambda_tilde"][()], "o-", ms=3)
        ax2.set(xlabel="t", ylabel="fitted λ̃(t)", yscale="log")

    def observables(self, g, samples: int) -> dict[str, Observation]:
        obs = {
            f"fig3.M_pt_over_N@{n}/{d}/{k}": Observation(float(value), "grid", "Fig. 3: empirical M_pt/N", 1.0 / n)
            for (n, d, k), value in zip(g["tuples"][()], g["M_pt_over_N"][()], strict=True)
        }
        obs["fig3.fit_mse"] = Observation(float(g.attrs["fit_mse"]), "absolute", "Fig. 3: lambda-tilde fit error")
        obs["fig3.heldout_mse"] = Observation(
            float(g.attrs["heldout_mse"]), "absolute", "Fig. 3: lambda-tilde held-out error"
        )
        obs["fig3.predicted_M_pt_over_N_mean"] = Observation(
            float(np.nanmean(g["predicted_M_pt_over_N"][()])), "absolute", "Fig. 3: M~_pt = 0.8 N"
        )
        return obs


register_figure(Figure3())
