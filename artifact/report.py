"""REPORT.md: one row per claim of the paper, observed against stated, and the resources used."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from artifact import files, provenance, store


def _claims(f: h5py.File) -> list[tuple[str, str, str, str, str]]:
    rows = []
    if "fig1" in f:
        g = f["fig1"]
        applies = slice(6, 25)
        gen, thm = g["generalizing_excess"][()][applies], g["theorem_3_1"][()][applies]
        err = float(np.max(np.abs(gen - thm) / thm))
        rows.append(
            (
                "Fig. 1",
                "Thm 3.1 predicts the generalizing excess loss (t <= 0.76)",
                f"max relative error {err:.3f}",
                "'remarkable agreement'",
                "yes" if err < 0.05 else "no",
            )
        )
        pmem = g["partially_memorizing_excess"][()][:, 4:25].mean(1)
        c1, c2 = g["theorem_3_2_C1"][()], g["theorem_3_2_C2"][()]
        inner = slice(len(pmem) // 10, -max(1, len(pmem) // 10))
        e1 = float(np.mean(np.abs(pmem[inner] - c1[inner]) / pmem[inner]))
        e2 = float(np.mean(np.abs(pmem[inner] - c2[inner]) / pmem[inner]))
        fitted = float(np.sum(pmem[inner] * c1[inner]) / np.sum(c1[inner] ** 2))
        rows.append(
            (
                "Fig. 1",
                "Thm 3.2 constant C in [1, 2] (Fig. 1 uses 2, released code 1)",
                f"least-squares C = {fitted:.2f}; mean rel. error C=1: {e1:.2f}, C=2: {e2:.2f}",
                "C in [1, 2]",
                "yes" if 0.9 <= fitted <= 2.1 else "no",
            )
        )
    if "fig2" in f:
        g = f["fig2"]
        n = g.attrs["N"]
        m, ratio = g["M"][()], g["memorization_ratio"][()]
        m_pt = next((int(mm) for mm, r in zip(m, ratio, strict=True) if r >= 0.5), None)
        rows.append(
            (
                "Fig. 2",
                "memorization starts near M = 0.8 N",
                f"M_pt/N = {m_pt / n:.3f}" if m_pt else "no model memorizes on average",
                "~0.8",
                "yes" if m_pt and abs(m_pt / n - 0.8) <= 0.1 else "no",
            )
        )
        width = (g.attrs["transition_end_M"] - g.attrs["transition_start_M"]) / n
        rows.append(
            (
                "Fig. 2",
                "the transition is sharp",
                f"ratio 0.1 -> 0.9 within {width:.3f} N",
                "sharp",
                "yes" if width <= 0.3 else "no",
            )
        )
        idx = int(g.attrs["panel_grid_index"])
        small = m < g.attrs["transition_start_M"]
        if small.any():
            rel = float(np.max(g["heldout_loss_x0"][()][small, idx] / g["generalizing_heldout_loss_x0"][()][idx]))
            rows.append(
                (
                    "Fig. 2",
                    "below the transition the test loss is the generalizing one",
                    f"max test loss / x̄_* test loss = {rel:.2f} (t_16)",
                    "~1",
                    "yes" if rel < 1.5 else "no",
                )
            )
    if "fig3" in f:
        g = f["fig3"]
        pred = g["predicted_M_pt_over_N"][()]
        rows.append(
            (
                "Fig. 3",
                "fitted lambda-tilde predicts M_pt",
                f"fit MSE {g.attrs['fit_mse']:.1e}, held-out {g.attrs['heldout_mse']:.1e}",
                "<= 2e-4",
                "yes" if g.attrs["heldout_mse"] <= 2e-4 else "no",
            )
        )
        rows.append(
            (
                "Fig. 3",
                "M~_pt = 0.8 N for every tuple",
                f"predicted M~_pt/N in [{np.nanmin(pred):.3f}, {np.nanmax(pred):.3f}]",
                "0.8",
                "yes" if np.nanmax(np.abs(pred - 0.8)) <= 0.05 else "no",
            )
        )
    if "fig5" in f:
        g = f["fig5"]
        ratios, released = g["memorization_ratio"][()], g["released_notebook_ratios"][()]
        m_over_n = g["M_over_N"][()]
        ours = ", ".join(f"{r:.2f}" for r in ratios)
        rows.append(
            (
                "Fig. 5",
                f"memorization ratio vs M/N ({g.attrs['fig5_config']} config, M/N = "
                f"{', '.join(f'{x:.1f}' for x in m_over_n)})",
                ours,
                "released notebook (K = 6): " + ", ".join(f"{r:.2f}" for r in released),
                "see figure",
            )
        )
        m_pt = next((float(x) for x, r in zip(m_over_n, ratios, strict=True) if r >= 0.5), None)
        rows.append(
            (
                "Fig. 5",
                "same qualitative picture as Fig. 2: memorization sets in late",
                f"M_pt/N = {m_pt:.2f}" if m_pt is not None else "no model memorizes on average",
                "released notebook: 0.9",
                "yes" if m_pt is not None and m_pt >= 0.5 else "no",
            )
        )
    if "fig6" in f:
        g = f["fig6"]
        var = g["learned_variance"][()]
        frac = float(np.mean(np.diff(var) <= 0))
        rows.append(
            (
                "Fig. 6",
                "learned variance decreases with M",
                f"{frac:.0%} of steps in M decrease it",
                "decreasing",
                "yes" if frac >= 0.8 else "no",
            )
        )
    if "fig7" in f:
        g = f["fig7"]
        spread = float(np.max(g["memorization_ratio"][()].max(0) - g["memorization_ratio"][()].min(0)))
        rows.append(
            (
                "Fig. 7",
                "seed-to-seed spread is small",
                f"max ratio spread {spread:.2f} over {len(g['seeds'][()])} seeds",
                "'extremely small'",
                "yes" if spread <= 0.2 else "no",
            )
        )
    return rows


def write(figures_h5: Path, out: Path, profile_description: str, unit_paths: list[Path]) -> Path:
    """REPORT.md in `out`: the claims from figures.h5, then time, memory, device and code of each unit used."""
    lines = [
        "# Reproduction report",
        "",
        profile_description,
        "",
        "| figure | claim | observed | paper | agrees |",
        "|---|---|---|---|---|",
    ]
    with h5py.File(figures_h5, "r") as f:
        lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in _claims(f)]
    lines += [
        "",
        "Agreement at a reduced profile is about the pipeline and the qualitative picture, not the "
        "paper's numbers; only the `paper` profile is compared with them.",
        "",
        "## Resources",
        "",
        "| unit | wall time (s) | peak memory (MiB) | device | computed by (git revision) |",
        "|---|---|---|---|---|",
    ]
    total = 0.0
    for path in sorted(unit_paths):
        with h5py.File(path, "r") as f:
            vol, prov = f["volatile"].attrs, f["provenance"].attrs
            total += float(vol["wall_seconds"])
            lines.append(
                f"| {path.name} | {float(vol['wall_seconds']):,.1f} | {float(vol['peak_rss_mib']):,.0f} "
                f"| {prov['devices']} | {provenance.code_label(dict(prov))} |"
            )
    lines += ["", f"Total unit time: {total / 60:,.1f} min."]
    by_code = store.code_labels(unit_paths)
    if len(by_code) > 1:  # finished units are reused by configuration, whatever code computed them
        counts = ", ".join(f"{len(names)} by {label}" for label, names in sorted(by_code.items()))
        lines += ["", f"The units were computed by {len(by_code)} different code revisions: {counts}."]
    path = out / "REPORT.md"
    files.write_text(path, "\n".join(lines) + "\n")
    return path
