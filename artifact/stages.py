"""The two training stages of one data set and seed: the grid M = N/10, ..., N, then M inside the transition.

The second stage's sizes depend on the first stage's memorization ratios (`experiment.refinement_sizes`),
so it is known only once the first stage's unit is done. First stages of data sets of one shape
(N, d) train the same sizes, so they can share one compiled program (`cohorts`); second stages
differ in their sizes and train one data set at a time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artifact import experiment, store
from artifact.experiment import TrainingUnit
from artifact.profiles import Profile, Tuple3


@dataclass(frozen=True)
class Group:
    """One data set and seed whose models are trained in two stages (grid, then bracket)."""

    tuple3: Tuple3
    seed: int

    @property
    def label(self) -> str:
        n, d, k = self.tuple3
        return f"N{n}_d{d}_K{k}_seed{self.seed}"


@dataclass(frozen=True)
class Cohort:
    """Groups whose first stages train together in one program (`train.train_stacked`)."""

    groups: tuple[Group, ...]

    @property
    def label(self) -> str:
        return " + ".join(g.label for g in self.groups)


def cohorts(groups: list[Group], datasets_per_program: int | None) -> list[Cohort]:
    """Partition `groups` (in their order) into cohorts of one (N, d), at most `datasets_per_program` each.

    A fixed function of its arguments, so every shard and every resumed run forms the same cohorts.
    None: no limit.
    """
    by_shape: dict[tuple[int, int], list[Group]] = {}
    for group in groups:
        by_shape.setdefault(group.tuple3[:2], []).append(group)
    out = []
    for members in by_shape.values():
        size = datasets_per_program or len(members)
        out += [Cohort(tuple(members[i : i + size])) for i in range(0, len(members), size)]
    return out


def stage1(profile: Profile, group: Group) -> TrainingUnit:
    n = group.tuple3[0]
    return TrainingUnit(
        "isotropic",
        profile.data(group.tuple3),
        group.seed,
        profile.train,
        profile.eval,
        experiment.initial_sizes(n, profile.initial_models),
    )


def stage2(profile: Profile, group: Group, units_dir: Path) -> TrainingUnit | None:
    """The refinement unit, once stage 1 is done (None if stage 1 is missing or nothing to refine)."""
    first = stage1(profile, group)
    path = units_dir / first.filename
    if not is_done(first, units_dir):
        return None
    tree = store.read_tree(path)
    return _refined(profile, first, tree["M"].tolist(), tree["memorization_ratio"].tolist())


def assumed_stage2(profile: Profile, group: Group) -> TrainingUnit | None:
    """A stand-in for the refinement unit before stage 1 has decided its sizes, for estimates only:
    the unit the refinement rule makes if the memorization ratio rises linearly from 0 at 0.7 N to 1
    at 0.9 N (a transition at 0.8 N, as the paper finds; the cpu profile's N = 30 data sets refined
    M = 19..26 or 19..29). None, as for `stage2`, if the rule would pick no size."""
    first = stage1(profile, group)
    fraction = np.asarray(first.sizes) / group.tuple3[0]
    return _refined(profile, first, list(first.sizes), np.clip((fraction - 0.7) / 0.2, 0.0, 1.0).tolist())


def _refined(profile: Profile, first: TrainingUnit, sizes: list[int], ratios: list[float]) -> TrainingUnit | None:
    """Stage 2 of `first`, whose models of `sizes` reached `ratios`: the refinement rule's sizes, or None."""
    refined = experiment.refinement_sizes(sizes, ratios, profile.refinement_models)
    return dataclasses.replace(first, sizes=refined) if refined else None


def group_units(profile: Profile, group: Group, units_dir: Path) -> list[TrainingUnit]:
    second = stage2(profile, group, units_dir)
    return [stage1(profile, group)] + ([second] if second else [])


def is_done(unit, units_dir: Path) -> bool:
    """Whether the unit's file is complete, with every dataset its family and data model declare."""
    return store.is_complete(units_dir / unit.filename, unit.kind, unit.required_datasets())


def load_group(profile: Profile, group: Group, units_dir: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The datasets `keys` of every trained model of one data set and seed (both stages), sorted by M."""
    trees = [store.read_tree(units_dir / u.filename) for u in group_units(profile, group, units_dir)]
    merged = {k: np.concatenate([t[k] for t in trees]) for k in ("M", *keys)}
    order = np.argsort(merged["M"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def baselines(profile: Profile, tuple3: Tuple3, seed: int) -> experiment.BaselineUnit:
    """The reference denoisers of one isotropic data set (x̄_*, x̄_mem, x̄_pmem,M)."""
    return experiment.BaselineUnit("isotropic", profile.data(tuple3), seed, profile.eval)
