"""Render the figures (PNG and PDF) from figures.h5 alone."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from artifact import files  # noqa: E402


def _shade(ax, group, n):
    start, end = group.attrs.get("transition_start_M"), group.attrs.get("transition_end_M")
    if start is not None and end is not None:
        ax.axvspan(start / n, end / n, color="0.85", zorder=0, label="transition")


def _loss_panels(g, axes, m, n, idx):
    """Training and test loss at grid index idx vs M/N, with the x̄_pmem,M, x̄_mem, x̄_* baselines (Figs 2, 5)."""
    pm = g["pmem_M"][()] / n
    for ax, split, title in ((axes[0], "train", "training loss"), (axes[1], "heldout", "test loss")):
        ax.plot(pm, g[f"pmem_{split}_loss_x0"][()][:, idx], color="tab:red", lw=1, label="x̄_pmem,M")
        ax.axhline(g[f"memorizing_{split}_loss_x0"][()][idx], color="goldenrod", ls="--", label="x̄_mem")
        ax.axhline(g[f"generalizing_{split}_loss_x0"][()][idx], color="tab:green", ls="--", label="x̄_*")
        ax.plot(m, g[f"{split}_loss_x0"][()][:, idx], "o", color="tab:blue", ms=3, label="trained")
        ax.set(xlabel="M / N", yscale="log", title=f"{title}, ψ = {g.attrs['panel_psi']:.3f}")
    axes[1].legend(fontsize=7)


def _fig1(g, fig):
    grid = g["grid"][()]
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(grid, g["generalizing_excess"][()], "o", ms=3, label="Monte Carlo")
    ax1.plot(grid, g["theorem_3_1"][()], "-", label="Theorem 3.1")
    ax1.set(xlabel="t", ylabel="excess loss over x̄_mem (X0)", title="generalizing x̄_*", yscale="log")
    m = g["M_over_N"][()]
    panel = 16
    ax2.plot(m, g["partially_memorizing_excess"][()][:, panel], "o", ms=3, label=f"Monte Carlo, t={grid[panel]:.2f}")
    ax2.plot(m, g["theorem_3_2_C1"][()], "--", label="Thm 3.2, C = 1")
    ax2.plot(m, g["theorem_3_2_C2"][()], "-", label="Thm 3.2, C = 2")
    ax2.set(xlabel="M / N", ylabel="excess loss over x̄_mem (X0)", title="partially memorizing x̄_pmem,M")
    for ax in (ax1, ax2):
        ax.legend(fontsize=7)


def _fig2(g, fig):
    n = g.attrs["N"]
    idx = int(g.attrs["panel_grid_index"])
    axes = fig.subplots(1, 3)
    m = g["M_over_N"][()]
    axes[0].plot(m, g["memorization_ratio"][()], "o-", ms=3)
    axes[0].set(xlabel="M / N", ylabel="memorization ratio", ylim=(-0.05, 1.05))
    _loss_panels(g, axes[1:], m, n, idx)
    for ax in axes:
        _shade(ax, g, n)


def _fig3(g, fig):
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


def _fig6(g, fig):
    n = g.attrs["N"]
    axes = fig.subplots(1, 3)
    m = g["M"][()] / n
    for ax, name, label in zip(
        axes,
        ("learned_variance", "mean_distance_to_nearest_train", "mean_distance_to_nearest_true_mean"),
        ("learned σ²", "distance to nearest sample", "distance to nearest true mean"),
        strict=True,
    ):
        ax.plot(m, g[name][()], "o-", ms=3)
        ax.set(xlabel="M / N", ylabel=label)
        _shade(ax, g, n)
    axes[0].set_yscale("log")


def _fig7(g, fig):
    axes = fig.subplots(1, 3)
    m = g["M_over_N"][()]
    for ax, name, label in zip(
        axes,
        ("memorization_ratio", "train_loss_x0_panel", "heldout_loss_x0_panel"),
        ("memorization ratio", "training loss (t_16)", "test loss (t_16)"),
        strict=True,
    ):
        values = g[name][()]
        ax.fill_between(m, values.min(0), values.max(0), alpha=0.3, label="min-max over seeds")
        ax.plot(m, np.median(values, 0), "-", lw=1, label="median")
        ax.set(xlabel="M / N", ylabel=label)
    axes[1].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=7)


def _fig4(g, fig):
    templates, samples = g["templates"][()], g["colored_samples"][()]
    k = len(templates)
    axes = fig.subplots(2, k, squeeze=False)
    for i in range(k):
        axes[0, i].imshow(templates[i], cmap="gray", vmin=0, vmax=1)
        axes[1, i].imshow(np.clip(np.moveaxis(samples[i], 0, -1), 0, 1))
        for ax in axes[:, i]:
            ax.set_axis_off()


def _fig5(g, fig):
    n = g.attrs["N"]
    idx = int(g.attrs["panel_grid_index"])
    axes = fig.subplots(1, 3)
    m = g["M_over_N"][()]
    axes[0].plot(m, g["memorization_ratio"][()], "o-", ms=3, label=f"this run ({g.attrs['fig5_config']} config)")
    released = g["released_notebook_ratios"][()]
    axes[0].plot(
        np.arange(1, len(released) + 1) / len(released), released, "s--", ms=3, color="0.5", label="released notebook"
    )
    axes[0].set(xlabel="M / N", ylabel="memorization ratio", ylim=(-0.05, 1.05))
    axes[0].legend(fontsize=7)
    _loss_panels(g, axes[1:], m, n, idx)
    for ax in axes:
        _shade(ax, g, n)


RENDERERS = {
    "fig4": (_fig4, (10, 3)),
    "fig5": (_fig5, (12, 3.5)),
    "fig1": (_fig1, (9, 3.5)),
    "fig2": (_fig2, (12, 3.5)),
    "fig3": (_fig3, (9, 3.5)),
    "fig6": (_fig6, (12, 3.5)),
    "fig7": (_fig7, (12, 3.5)),
}


def render(figures_h5: Path, out_dir: Path) -> list[Path]:
    """Write figN.png and figN.pdf for every figure group in the file. Returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with h5py.File(figures_h5, "r") as f:
        for name, (draw, size) in RENDERERS.items():
            if name not in f:
                continue
            fig = plt.figure(figsize=size, layout="constrained")
            draw(f[name], fig)
            fig.suptitle(f"{name.replace('fig', 'Figure ')} ({f.attrs.get('profile', '?')} profile)", fontsize=10)
            for ext in ("png", "pdf"):
                path = out_dir / f"{name}.{ext}"
                image = io.BytesIO()  # rendered whole first: a reader never sees half an image
                fig.savefig(image, format=ext, dpi=120, metadata={"CreationDate": None} if ext == "pdf" else None)
                files.write_bytes(path, image.getvalue())
                written.append(path)
            plt.close(fig)
    return written
