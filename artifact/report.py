"""REPORT.md: each figure with the paper's claims on it as `compare` judges them, and the resources used."""

from __future__ import annotations

from pathlib import Path

import h5py

from artifact import compare, figures, files, provenance, store


def _claims(out: Path) -> list[str]:
    """Per figure: its image, what to look for, and one row per check of the paper's statements.

    The verdicts are compare's on expected/paper.json (one verdict for the laboratory): this module
    has no thresholds of its own.
    """
    results = [r for r in compare.compare(out, compare.PAPER_CLAIMS) if r.rule != "schema"]
    with h5py.File(out / "figures.h5", "r") as f:
        present = [key for key in figures.keys() if figures.figure(key).group in f]
    lines = []
    for key in present:
        figure = figures.figure(key)
        title = f"Extension, not in the paper: {key}" if figure.extension else f"Fig. {key}"
        lines += ["", f"### {title}", "", f"![{title}](figures/{figure.group}.png)", "", figure.caption, ""]
        rows = [r for r in results if r.id.split(".")[0] == figure.group]
        if figure.extension:
            lines.append("(beyond the paper: `compare` checks it against the profile's expected values only)")
            continue
        if not rows:
            lines.append("(no statement of the paper is checked on this figure)")
            continue
        lines += ["| claim | check | observed | paper | agrees |", "|---|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: (r.claim, r.id)):
            observed = "—" if r.observed is None else f"{r.observed:.4g}"
            agrees = "yes" if r.passed else ("no, explained" if r.waived else "no") + (f" ({r.note})" if r.note else "")
            says = compare.statement(r.rule, r.expected, r.tolerance)
            lines.append(f"| {r.claim} | `{r.id}` | {observed} | {says} | {agrees} |")
    return lines


def write(figures_h5: Path, out: Path, profile_description: str, unit_paths: list[Path]) -> Path:
    """REPORT.md in `out`: the claims from figures.h5, then time, memory, device and code of each unit used."""
    lines = [
        "# Reproduction report",
        "",
        profile_description,
        "",
        "## The paper's claims",
        "",
        "Each figure with one row per statement of the paper that `compare` checks on it "
        "(`expected/paper.json`, which cites the paper's sections); *agrees* is `compare`'s verdict, "
        "applied to this run whatever its profile: at a reduced profile a *no* may come from the reduced "
        "scale. `python -m artifact compare DIR` checks the run against its own profile's seed-calibrated "
        "values instead.",
        *_claims(out),
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
