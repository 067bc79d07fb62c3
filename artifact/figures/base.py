"""One figure of the paper, whole: the units it needs, its HDF5 group, its plot and its observables.

A figure is an Equinox module without fields in the abstract/final style (as the denoiser families):
`needs` says which units `reproduce` must compute, `assemble` builds the figure's group of
figures.h5 from finished units (every dataset with `units`, `description` and `paper` attributes),
`plot` draws it from that group alone, and `observables` derives the numbers that `compare` checks
(against expected/<profile>.json, and against the paper's own statements in expected/paper.json,
which REPORT.md shows).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import equinox as eqx
import h5py
import numpy as np

from artifact import process
from artifact.profiles import Profile
from artifact.stages import Group

PANEL_INDEX = process.PANEL_INDEX


@dataclass(frozen=True)
class Observation:
    """A number derived from figures.h5 that compare checks."""

    value: float
    rule: str  # the rule a seed-calibrated tolerance uses for this quantity
    claim: str
    quantum: float = 0.0  # the smallest change the quantity can make (1/samples, a grid step)


@dataclass(frozen=True)
class Needs:
    """The units a figure is assembled from: single units (baselines, Fig. 5's) and two-stage groups."""

    singles: tuple = field(default=())
    groups: tuple[Group, ...] = field(default=())


def dataset(value, units: str, description: str, paper: str):
    """A figures.h5 dataset with the attributes every dataset carries."""
    return np.asarray(value), {"units": units, "description": description, "paper": paper}


class AbstractFigure(eqx.Module):
    """key: the --figures value ("2"); group: its figures.h5 group ("fig2"); size: the plot's inches;
    caption: one line on what to look for (REPORT.md); extension: True for figures beyond the paper."""

    key: eqx.AbstractClassVar[str]
    size: eqx.AbstractClassVar[tuple[float, float]]
    caption: eqx.AbstractClassVar[str]
    extension: ClassVar[bool] = False  # beyond the paper: run when named, never by --figures all

    @property
    def group(self) -> str:
        return self.key if self.extension else f"fig{self.key}"

    @abc.abstractmethod
    def needs(self, profile: Profile) -> Needs:
        """The units this figure is assembled from."""

    @abc.abstractmethod
    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        """The figure's group: name -> (array, attrs), and "attrs" -> the group's attributes."""

    @abc.abstractmethod
    def plot(self, group: h5py.Group, fig) -> None:
        """Draw the figure on a matplotlib Figure from its group alone."""

    @abc.abstractmethod
    def observables(self, group: h5py.Group, samples: int) -> dict[str, Observation]:
        """Numbers compare checks, keyed "figN.name" (samples: DDIM samples per model)."""
