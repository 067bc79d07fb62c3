"""The paper's figures, one module each (`fig1` ... `fig7`), and extensions beyond the paper (`mlp`),
behind one interface (`base.AbstractFigure`).

Adding a figure is one module that subclasses AbstractFigure and calls `register_figure`, imported
below (and its expected values in expected/).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import h5py

from artifact.figures import fig1, fig2, fig3, fig4, fig5, fig6, fig7, mlp  # noqa: E402, F401  (registers them)
from artifact.figures.base import PANEL_INDEX, AbstractFigure, Needs, Observation
from artifact.figures.registry import figure, keys, paper_keys, register_figure
from artifact.profiles import Profile


def needed(profile: Profile, chosen: Iterable[str]) -> tuple[list, list]:
    """The single units and the two-stage groups that the `chosen` figures need, each once, in a fixed order
    (single units in figure order, groups by seed then tuple): shards slice this list."""
    singles, groups = {}, set()
    for key in keys():
        if key in chosen:
            needs = figure(key).needs(profile)
            singles.update((unit.filename, unit) for unit in needs.singles if unit.filename not in singles)
            groups.update(needs.groups)
    return list(singles.values()), sorted(groups, key=lambda g: (g.seed, g.tuple3))


def assemble(profile: Profile, chosen: Iterable[str], out: Path) -> dict:
    """Build the chosen figures' groups from the units in out/units. Returns {"fig2": tree, ...}."""
    return {figure(key).group: figure(key).assemble(profile, out / "units") for key in chosen}


def observables(figures_h5: Path) -> dict[str, Observation]:
    """Every derived number compare knows how to check, from one figures.h5."""
    obs: dict[str, Observation] = {}
    with h5py.File(figures_h5, "r") as f:
        samples = json.loads(f.attrs["config"])["config"]["eval"]["num_samples"]
        for key in keys():
            if figure(key).group in f:
                obs |= figure(key).observables(f[figure(key).group], samples)
    return obs


__all__ = [
    "PANEL_INDEX",
    "AbstractFigure",
    "Needs",
    "Observation",
    "assemble",
    "figure",
    "keys",
    "needed",
    "observables",
    "paper_keys",
    "register_figure",
]
