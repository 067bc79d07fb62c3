"""Planning and running the units a set of figures needs, resumably and in shards."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from artifact import colored_experiment, experiment, files, provenance, store
from artifact.colored_experiment import ColoredBaselineUnit, ColoredTrainingUnit
from artifact.experiment import BaselineUnit, TrainingUnit
from artifact.profiles import Profile, Tuple3

FIGURES = ("1", "2", "3", "4", "5", "6", "7")
RUNNERS = {
    TrainingUnit: experiment.run_training_unit,
    BaselineUnit: experiment.run_baseline_unit,
    ColoredTrainingUnit: colored_experiment.run_training_unit,
    ColoredBaselineUnit: colored_experiment.run_baseline_unit,
}
# --dry-run estimates for a 2-core CPU: a training flop rate, plus the fixed costs that dominate
# small problems: per step (Adam, noise), per model and chunk of points within a step, and per unit
# (compilation, evaluation). Fitted to the cpu profile's unit times at 8becb2f (hand-derived
# gradient; REPORT.md of that run: 48-100 s per isotropic unit, 219 s for the colored one). The
# benchmark's larger problem runs at ~70 GFLOP/s (benchmarks/results.jsonl).
CPU_FLOPS_PER_SECOND = 40e9
COLORED_CPU_FLOPS_PER_SECOND = 12e9  # the rank-C template model's autodiff'd step
CPU_SECONDS_PER_STEP = 1e-3
CPU_SECONDS_PER_MODEL_CHUNK = 2e-5
CPU_SECONDS_PER_UNIT = 8.0


@dataclass(frozen=True)
class Group:
    """One data set and seed whose models are trained in two stages (grid, then bracket)."""

    tuple3: Tuple3
    seed: int

    @property
    def label(self) -> str:
        n, d, k = self.tuple3
        return f"N{n}_d{d}_K{k}_seed{self.seed}"


def parse_figures(text: str) -> tuple[str, ...]:
    if text == "all":
        return FIGURES
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in FIGURES]
    if unknown or not chosen:
        named = ", ".join(unknown) if unknown else repr(text)
        raise ValueError(f"unknown figure(s) {named}; choose from {','.join(FIGURES)} or all")
    return chosen


def parse_shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    try:
        index, count = (int(p) for p in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes I/N with 0 <= I < N (e.g. 0/4), not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text}: need 0 <= I < N (e.g. 0/4 .. 3/4)")
    return index, count


def fig5_units(profile: Profile) -> tuple[ColoredTrainingUnit, ColoredBaselineUnit]:
    first = profile.seeds[0]
    sizes = experiment.initial_sizes(profile.fig5_data.num_train, profile.fig5_models)
    return (
        ColoredTrainingUnit(profile.fig5_data, first, profile.fig5_train, profile.eval, sizes),
        ColoredBaselineUnit(profile.fig5_data, first, profile.eval),
    )


def needed(profile: Profile, figures: Iterable[str]) -> tuple[list, list[Group]]:
    """The single units (baselines, Fig. 5) and the two-stage groups that `figures` need."""
    figures = set(figures)
    first = profile.seeds[0]
    baselines, groups = [], []
    if figures & {"1", "2"}:
        baselines.append(BaselineUnit(profile.data(profile.fig2), first, profile.eval))
    if "5" in figures:
        baselines += list(fig5_units(profile))
    if figures & {"2", "6"}:
        groups.append(Group(profile.fig2, first))
    if "7" in figures:
        groups += [Group(profile.fig2, s) for s in profile.seeds]
    if "3" in figures:
        seeds = profile.seeds if profile.fig3_all_seeds else (first,)
        groups += [Group(t, s) for s in seeds for t in profile.fig3]
    return baselines, sorted(set(groups), key=lambda g: (g.seed, g.tuple3))


def stage1(profile: Profile, group: Group) -> TrainingUnit:
    n = group.tuple3[0]
    return TrainingUnit(
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
    if not store.is_complete(path, first.kind):
        return None
    tree = store.read_tree(path)
    sizes = experiment.refinement_sizes(
        tree["M"].tolist(), tree["memorization_ratio"].tolist(), profile.refinement_models
    )
    if not sizes:
        return None
    return TrainingUnit(first.data, first.seed, first.train, first.eval, sizes)


def group_units(profile: Profile, group: Group, units_dir: Path) -> list[TrainingUnit]:
    second = stage2(profile, group, units_dir)
    return [stage1(profile, group)] + ([second] if second else [])


def _describe(unit) -> str:
    if isinstance(unit, ColoredTrainingUnit):
        return (
            f"train colored N={unit.data.num_train} K={unit.data.num_templates} seed {unit.seed}: "
            f"{len(unit.sizes)} models M={unit.sizes[0]}..{unit.sizes[-1]}, {unit.train.num_steps} steps"
        )
    if isinstance(unit, ColoredBaselineUnit):
        return f"baselines colored N={unit.data.num_train} K={unit.data.num_templates} seed {unit.seed}"
    if isinstance(unit, TrainingUnit):
        sizes = unit.sizes
        return (
            f"train {unit.data.num_train}/{unit.data.dim}/{unit.data.num_components} seed {unit.seed}: "
            f"{len(sizes)} models M={sizes[0]}..{sizes[-1]}, {unit.train.num_steps} steps"
        )
    return (
        f"baselines {unit.data.num_train}/{unit.data.dim}/{unit.data.num_components} seed {unit.seed}: "
        f"x̄_*, x̄_mem, {len(unit.pmem_sizes)} x̄_pmem"
    )


def plan_lines(profile: Profile, figures, out: Path, shard: tuple[int, int]) -> list[str]:
    """--dry-run: every unit of this shard with its state and estimated cost."""
    units_dir = out / "units"
    baselines, groups = needed(profile, figures)
    jobs = _shard([*baselines, *groups], shard)
    lines, total = [], 0.0
    for job in jobs:
        if isinstance(job, Group):
            units = group_units(profile, job, units_dir)
            states = [("done" if store.is_complete(units_dir / u.filename, u.kind) else "to do", u) for u in units]
            if len(units) == 1 and states[0][0] == "to do":
                states.append(("pending", None))
        else:
            states = [("done" if store.is_complete(units_dir / job.filename, job.kind) else "to do", job)]
        for state, unit in states:
            if unit is None:
                lines.append(
                    f"  pending  refinement of {job.label} (its M depend on the first stage's ratios; "
                    f"~{profile.refinement_models} models)"
                )
                continue
            seconds = estimated_cpu_seconds(unit)
            if state == "to do":
                total += seconds
            lines.append(
                f"  {state:<7}  {_describe(unit)}  ~{unit.flops() / 1e9:,.0f} GFLOP, "
                f"~{seconds / 60:,.1f} CPU-min  [{unit.filename}]"
            )
    lines.append(f"to do: about {total / 60:,.1f} min on a 2-core CPU (refinement stages not counted until known)")
    return lines


def estimated_cpu_seconds(unit) -> float:
    fixed = 0.0
    if isinstance(unit, ColoredTrainingUnit):
        chunks = -(-unit.data.num_train // unit.train.points_per_chunk)
        per_step = CPU_SECONDS_PER_STEP + 4 * CPU_SECONDS_PER_MODEL_CHUNK * len(unit.sizes) * chunks
        return unit.flops() / COLORED_CPU_FLOPS_PER_SECOND + unit.train.num_steps * per_step + CPU_SECONDS_PER_UNIT
    if isinstance(unit, TrainingUnit):
        chunks = -(-unit.data.num_train // unit.train.points_per_chunk)
        fixed = unit.train.num_steps * (CPU_SECONDS_PER_STEP + CPU_SECONDS_PER_MODEL_CHUNK * len(unit.sizes) * chunks)
    return unit.flops() / CPU_FLOPS_PER_SECOND + fixed + CPU_SECONDS_PER_UNIT


def _shard(jobs: list, shard: tuple[int, int]) -> list:
    index, count = shard
    return jobs[index::count]


class Progress:
    """Throttled progress lines on stderr for long units."""

    def __init__(self, label: str, every_seconds: float = 10.0):
        self.label, self.every, self.last = label, every_seconds, 0.0
        self.first: tuple[int, float] | None = None  # after the first chunk, which includes compilation

    def __call__(self, step, total, losses, elapsed):
        now = time.monotonic()
        if self.first is None and elapsed is not None:
            self.first = (step, elapsed)
        if now - self.last < self.every and step != total:
            return
        self.last = now
        if elapsed is not None:
            first_step, first_elapsed = self.first
            if step > first_step:  # the first chunk includes compilation: rate from the later ones
                eta = (elapsed - first_elapsed) / (step - first_step) * (total - step)
                left = f", about {eta:,.0f} s left"
            else:
                left = " (compiled)"
            print(f"    {self.label}: step {step}/{total}, {elapsed:,.0f} s{left}", file=sys.stderr)
        else:
            print(f"    {self.label}: {step}/{total}", file=sys.stderr)


def run_unit(unit, units_dir: Path, force: bool) -> str:
    """Compute and store one unit unless a complete file exists. Returns 'done', 'computed'."""
    path = units_dir / unit.filename
    if not force and path.exists():
        try:
            store.validate(path, unit.kind)
            return "done"
        except store.InvalidResultFile as error:
            print(f"  note: {error}; computing it again", file=sys.stderr)
    print(f"  computing {_describe(unit)}", file=sys.stderr)
    start = time.perf_counter()
    progress = Progress(unit.filename.split("_")[0])
    tree = RUNNERS[type(unit)](unit, progress)
    tree["attrs"] = {"unit_hash": unit.hash}
    store.write_atomic(
        path, unit.kind, unit.config(), tree, provenance.stable(), provenance.volatile(time.perf_counter() - start)
    )
    return "computed"


def sweep_temporaries(out: Path) -> None:
    """Remove, and say so, the temporary files that interrupted runs on this host left in `out`."""
    for folder in (out, out / "units", out / "figures"):
        removed = files.remove_stale(folder)
        if removed:
            print(
                f"note: removed {len(removed)} temporary file(s) that an interrupted run left in {folder}",
                file=sys.stderr,
            )


def run(profile: Profile, figures, out: Path, shard: tuple[int, int], force: bool) -> bool:
    """Run every unit of this shard. Returns True when all units the figures need are complete."""
    units_dir = out / "units"
    units_dir.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(out)
    baselines, groups = needed(profile, figures)
    jobs = _shard([*baselines, *groups], shard)
    for i, job in enumerate(jobs, 1):
        print(f"[{i}/{len(jobs)}] {job.label if isinstance(job, Group) else _describe(job)}", file=sys.stderr)
        if isinstance(job, Group):
            run_unit(stage1(profile, job), units_dir, force)
            second = stage2(profile, job, units_dir)
            if second is not None:
                run_unit(second, units_dir, force)
        else:
            run_unit(job, units_dir, force)
    return all_complete(profile, figures, out)


def units_in_use(profile: Profile, figures, out: Path) -> list | None:
    """Every unit the figures are assembled from; None while a stage-1 unit (which decides stage 2) is missing."""
    units_dir = out / "units"
    baselines, groups = needed(profile, figures)
    units = list(baselines)
    for group in groups:
        first = stage1(profile, group)
        if not store.is_complete(units_dir / first.filename, first.kind):
            return None
        units += group_units(profile, group, units_dir)
    return units


def all_complete(profile: Profile, figures, out: Path) -> bool:
    units = units_in_use(profile, figures, out)
    return units is not None and all(store.is_complete(out / "units" / u.filename, u.kind) for u in units)
