"""Assemble the figures' data from finished units (reads units only; computes nothing heavy).

Every dataset carries `units`, `description` and `paper` (where in the paper it appears).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import jax
import numpy as np

from artifact import experiment, pipeline, process, regression, store, theory
from artifact.profiles import Profile

PANEL_INDEX = 16  # t = 0.36028, psi = 6.704: the loss panels of Figs 2 and 5


def _ds(value, units: str, description: str, paper: str):
    return np.asarray(value), {"units": units, "description": description, "paper": paper}


def load_group(profile: Profile, group: pipeline.Group, units_dir: Path) -> dict[str, np.ndarray]:
    """All trained models of one data set and seed (both stages), sorted by M."""
    trees = [store.read_tree(units_dir / u.filename) for u in pipeline.group_units(profile, group, units_dir)]
    keys = (
        "M",
        "memorization_ratio",
        "learned_variance",
        "train_loss_eps",
        "heldout_loss_eps",
        "mean_distance_to_nearest_train",
        "mean_distance_to_nearest_true_mean",
    )
    merged = {k: np.concatenate([t[k] for t in trees]) for k in keys}
    order = np.argsort(merged["M"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def _bracket(m, ratios):
    return experiment.transition_bracket(m.tolist(), ratios.tolist())


def figure1(profile: Profile, units_dir: Path) -> dict:
    unit = pipeline.needed(profile, ["1"])[0][0]
    tree = store.read_tree(units_dir / unit.filename)
    grid = tree["grid"]
    factor = 1.0 / np.asarray(process.snr(grid), np.float64)
    mem = tree["memorizing/train_loss_eps"] * factor
    gen_excess = tree["generalizing/train_loss_eps"] * factor - mem
    pmem_excess = tree["partially_memorizing/train_loss_eps"] * factor - mem
    n, d = unit.data.num_train, unit.data.dim
    m_over_n = tree["partially_memorizing/M"] / n
    var = unit.data.variance
    paper = "Fig. 1; Theorems 3.1, 3.2"
    return {
        "grid": _ds(grid, "1", "diffusion times t_l (descending)", "App. H.1"),
        "M_over_N": _ds(m_over_n, "1", "fraction of training points memorized by x̄_pmem,M", paper),
        "generalizing_excess": _ds(
            gen_excess, "X0 squared error", "Monte Carlo L_t(x̄_*) - L_t(x̄_mem) on the training set", paper
        ),
        "partially_memorizing_excess": _ds(
            pmem_excess, "X0 squared error", "Monte Carlo L_t(x̄_pmem,M) - L_t(x̄_mem), rows M, columns t", paper
        ),
        "theorem_3_1": _ds(
            theory.generalizing_excess(np.asarray(grid, np.float64), d, var),
            "X0 squared error",
            "d s^2 / (psi_t s^2 + 1)",
            "Theorem 3.1",
        ),
        "theorem_3_2_C1": _ds(
            theory.partial_memorizing_excess(m_over_n, d, var, 1.0),
            "X0 squared error",
            "(1 - M/N) d s^2 (released code)",
            "Theorem 3.2",
        ),
        "theorem_3_2_C2": _ds(
            theory.partial_memorizing_excess(m_over_n, d, var, 2.0),
            "X0 squared error",
            "2 (1 - M/N) d s^2 (Fig. 1)",
            "Theorem 3.2",
        ),
        "attrs": {"N": n, "d": d, "K": unit.data.num_components, "seed": unit.seed},
    }


def figure2(profile: Profile, units_dir: Path) -> dict:
    group = pipeline.Group(profile.fig2, profile.seeds[0])
    g = load_group(profile, group, units_dir)
    base = store.read_tree(units_dir / pipeline.needed(profile, ["2"])[0][0].filename)
    n = profile.fig2[0]
    out = _ratio_and_loss_panels(g, base, n, profile.eval.num_samples, "Fig. 2")
    out["attrs"] |= {"d": profile.fig2[1], "K": profile.fig2[2], "seed": group.seed}
    return out


def figure6(profile: Profile, units_dir: Path) -> dict:
    group = pipeline.Group(profile.fig2, profile.seeds[0])
    g = load_group(profile, group, units_dir)
    start, end = _bracket(g["M"], g["memorization_ratio"])
    paper = "Fig. 6 (App. H.5)"
    return {
        "M": _ds(g["M"], "1", "number of components", paper),
        "learned_variance": _ds(g["learned_variance"], "data units squared", "learned sigma^2", paper + " left"),
        "mean_distance_to_nearest_train": _ds(
            g["mean_distance_to_nearest_train"],
            "data units",
            "average distance of a learned mean to its nearest training point",
            paper + " middle",
        ),
        "mean_distance_to_nearest_true_mean": _ds(
            g["mean_distance_to_nearest_true_mean"],
            "data units",
            "average distance of a learned mean to its nearest true mean",
            paper + " right",
        ),
        "attrs": {"transition_start_M": start, "transition_end_M": end, "N": profile.fig2[0]},
    }


def _on_grid(m_target, m, values):
    return np.interp(m_target, m, values)


def figure7(profile: Profile, units_dir: Path) -> dict:
    groups = [pipeline.Group(profile.fig2, s) for s in profile.seeds]
    loaded = [load_group(profile, g, units_dir) for g in groups]
    n = profile.fig2[0]
    m_all = np.unique(np.concatenate([g["M"] for g in loaded]))
    x0 = 1.0 / float(process.snr(process.time_grid()[PANEL_INDEX]))
    ratio = np.stack([_on_grid(m_all, g["M"], g["memorization_ratio"]) for g in loaded])
    train = np.stack([_on_grid(m_all, g["M"], g["train_loss_eps"][:, PANEL_INDEX] * x0) for g in loaded])
    heldout = np.stack([_on_grid(m_all, g["M"], g["heldout_loss_eps"][:, PANEL_INDEX] * x0) for g in loaded])
    paper = "Fig. 7 (App. H.5)"
    note = "per seed, linearly interpolated onto the union of trained M"
    out = {
        "seeds": _ds(np.asarray(profile.seeds), "1", "seeds", paper),
        "M": _ds(m_all, "1", "union of the trained M over seeds", paper),
        "M_over_N": _ds(m_all / n, "1", "M / N", paper),
        "memorization_ratio": _ds(ratio, "1", f"memorization ratio (rows seeds), {note}", paper),
        "train_loss_x0_panel": _ds(train, "X0 squared error", f"training loss at t_16 (rows seeds), {note}", paper),
        "heldout_loss_x0_panel": _ds(heldout, "X0 squared error", f"held-out loss at t_16 (rows seeds), {note}", paper),
        "attrs": {"N": n},
    }
    if profile.fig3_all_seeds:
        per_seed = [_fig3_targets(profile, units_dir, s)[1] for s in profile.seeds]
        out["fig3_M_pt_over_N"] = _ds(
            np.stack(per_seed), "1", "empirical M_pt/N of each Fig. 3 tuple (rows seeds)", "Fig. 3, App. H.5"
        )
    return out


def _fig3_targets(profile: Profile, units_dir: Path, seed: int):
    tuples = sorted(profile.fig3)
    targets = []
    for t in tuples:
        g = load_group(profile, pipeline.Group(t, seed), units_dir)
        m_pt = experiment.first_memorizing_size(g["M"].tolist(), g["memorization_ratio"].tolist())
        targets.append(np.nan if m_pt is None else m_pt / t[0])
    return tuples, np.asarray(targets)


def figure3(profile: Profile, units_dir: Path) -> dict:
    tuples, targets = _fig3_targets(profile, units_dir, profile.seeds[0])
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
    return {
        "tuples": _ds(np.asarray(tuples), "1", "(N, d, K) of each tuple, sorted", paper),
        "is_fit": _ds(
            is_fit, "1", f"True: fit set; False: held out (every {config.heldout_every}th tuple in sorted order)", paper
        ),
        "M_pt_over_N": _ds(
            targets, "1", "empirical M_pt/N: first trained M with memorization ratio >= 1/2 (NaN: none)", paper
        ),
        "predicted_M_pt_over_N": _ds(predicted, "1", "smoothed M~_pt/N from the fitted lambda-tilde", paper),
        "predicted_M_pt_over_N_hard": _ds(hard, "1", "argmin over M of the squared weighted gap, / N", paper),
        "lambda_tilde": _ds(result.weights, "1", "fitted weight per grid time (X0-unit losses)", paper),
        "grid": _ds(grid, "1", "diffusion times t_l", "App. H.1"),
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


def figure4(profile: Profile, units_dir: Path) -> dict:
    """K = N = 8 templates and one colored sample of each (data only: no unit)."""
    from artifact import fashion_mnist, rng

    size = profile.fig5_data.size
    chosen = fashion_mnist.make_templates(profile.fig4_templates, size, profile.fig5_data.template_source)
    templates = np.asarray(chosen.images.reshape(len(chosen.images), -1))
    colors = np.asarray(
        jax.random.normal(rng.stream(profile.seeds[0], "fig4", "colors"), (len(templates), profile.fig5_data.channels))
    )
    samples = colors[:, :, None] * templates[:, None, :]
    paper = "Fig. 4, §4.2"
    return {
        "templates": _ds(
            chosen.images, "1", "monochrome templates (bicubic 15x15, one global min-max)", paper + " top"
        ),
        "colored_samples": _ds(
            samples.reshape(len(templates), -1, size, size),
            "1",
            "one colored sample c ⊗ a of each template, c ~ N(0, I_3), (K, C, H, W)",
            paper + " bottom",
        ),
        "attrs": {"template_source": chosen.source, "template_indices": [int(i) for i in chosen.indices]},
    }


def figure5(profile: Profile, units_dir: Path) -> dict:
    from artifact.colored_experiment import RELEASED_NOTEBOOK_RATIOS

    train_unit, base_unit = pipeline.fig5_units(profile)
    t = store.read_tree(units_dir / train_unit.filename)
    b = store.read_tree(units_dir / base_unit.filename)
    n = profile.fig5_data.num_train
    out = _ratio_and_loss_panels(t, b, n, profile.eval.num_samples, "Fig. 5, §4.2")
    out["learned_color_variance"] = _ds(t["learned_variance"], "1", "learned color variance", "§4.2")
    out["released_notebook_ratios"] = _ds(
        np.asarray(RELEASED_NOTEBOOK_RATIOS),
        "1",
        "the released notebook's ratios at M/N = 0.1..1.0 (K = 6, lr 1e-4 -> 1e-8)",
        "reference/released_code.md §7.3",
    )
    out["attrs"] |= {
        "K": profile.fig5_data.num_templates,
        "fig5_config": profile.fig5_config,
        "template_source": _data_attr(units_dir / train_unit.filename, "template_source"),
        "template_indices": _data_attr(units_dir / train_unit.filename, "template_indices"),
    }
    return out


def _ratio_and_loss_panels(trained: dict, base: dict, n: int, samples: int, paper: str) -> dict:
    """What Figs 2 and 5 share: the memorization ratio and the per-time losses (X0 units) of the trained
    models, with the x̄_*, x̄_mem and x̄_pmem,M baselines, and the transition bracket."""
    grid = base["grid"]
    x0 = 1.0 / np.asarray(process.snr(grid), np.float64)
    start, end = _bracket(trained["M"], trained["memorization_ratio"])
    loss = "X0 squared error"
    out = {
        "grid": _ds(grid, "1", "diffusion times t_l", "App. H.1"),
        "M": _ds(trained["M"], "1", "number of mixture components of each trained model", paper),
        "M_over_N": _ds(trained["M"] / n, "1", "M / N", paper),
        "memorization_ratio": _ds(
            trained["memorization_ratio"], "1", f"fraction of {samples} DDIM samples memorized", paper + " left"
        ),
        "train_loss_x0": _ds(
            trained["train_loss_eps"] * x0, loss, "per-time training loss (rows M)", paper + " middle"
        ),
        "heldout_loss_x0": _ds(
            trained["heldout_loss_eps"] * x0, loss, "per-time held-out (test) loss (rows M)", paper + " right"
        ),
        "pmem_M": _ds(base["partially_memorizing/M"], "1", "M of the partially memorizing baselines", paper),
        "pmem_train_loss_x0": _ds(
            base["partially_memorizing/train_loss_eps"] * x0, loss, "x̄_pmem,M training loss (rows M)", paper
        ),
        "pmem_heldout_loss_x0": _ds(
            base["partially_memorizing/heldout_loss_eps"] * x0, loss, "x̄_pmem,M held-out loss (rows M)", paper
        ),
    }
    for name in ("generalizing", "memorizing"):
        out[f"{name}_train_loss_x0"] = _ds(base[f"{name}/train_loss_eps"] * x0, loss, f"x̄_{name} training loss", paper)
        out[f"{name}_heldout_loss_x0"] = _ds(
            base[f"{name}/heldout_loss_eps"] * x0, loss, f"x̄_{name} held-out loss", paper
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


def _data_attr(path: Path, name: str):
    with h5py.File(path, "r") as f:
        return f["data"].attrs[name]


BUILDERS = {"1": figure1, "2": figure2, "3": figure3, "4": figure4, "5": figure5, "6": figure6, "7": figure7}


def assemble(profile: Profile, figures, out: Path) -> dict:
    """Build the figure groups from the units in out/units. Returns {"fig2": tree, ...}."""
    units_dir = out / "units"
    return {f"fig{f}": BUILDERS[f](profile, units_dir) for f in figures}
