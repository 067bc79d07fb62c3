"""Planning and running the units a set of figures needs, resumably and in shards."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax

from artifact import families, figures, files, provenance, store, workers
from artifact.experiment import TrainingUnit, run_training_units
from artifact.layout import Layout
from artifact.profiles import Profile
from artifact.stages import Cohort, Group, assumed_stage2, cohorts, group_units, is_done, stage1, stage2

FIGURES = figures.paper_keys()  # the paper's figures, in order: --figures all
# --dry-run estimates for one core of a CPU (a worker's): a training flop rate, plus the fixed costs
# that dominate small problems: per step (noise, Adam), per model and chunk of points within a step,
# and per unit (compilation, evaluation). A program that trains S data sets at once pays for its
# step's fixed costs (1 + STACKED_STEP_SHARE (S - 1)) / S per data set. Fitted to the cpu profile's
# unit times at 714a9b3 (`./repro reproduce --profile cpu`, one worker per core); `python
# tools/cost_model_check.py DIR` on that run: the N = 30 units and the N = 20 first stages within
# 17 % (estimate / measured 0.96-1.17), the colored unit 0.90, the N = 20 refinements (three
# models, 16-19 s) overestimated by 32-51 %.
# The benchmark's larger problem runs at ~70 GFLOP/s (benchmarks/results.jsonl).
CPU_FLOPS_PER_SECOND = 40e9  # evaluation; each family states its training rate
CPU_SECONDS_PER_STEP = 1e-4
CPU_SECONDS_PER_MODEL_CHUNK = 3e-5
CPU_SECONDS_PER_UNIT = 8.0
STACKED_STEP_SHARE = 0.43
# --dry-run estimates on an accelerator (no GPU run is recorded yet, so these are assumptions): the
# device's float32 matmul rate, measured when the estimate is made; ~200 kernel launches per
# whole-batch step (194 counted in a deviceless compile for an H100 at a7076dd) at ~5 µs each; compilation and
# evaluation per unit.
ACCELERATOR_SECONDS_PER_STEP = 1e-3
ACCELERATOR_SECONDS_PER_UNIT = 30.0


def parse_figures(text: str) -> tuple[str, ...]:
    """ "all" is the paper's figures; extensions beyond the paper run when named ("all,mlp")."""
    named = [part.strip() for part in text.split(",") if part.strip()]
    chosen = tuple(dict.fromkeys(key for part in named for key in (FIGURES if part == "all" else (part,))))
    known = figures.keys()
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        shown = ", ".join(unknown) if unknown else repr(text)
        raise ValueError(f"unknown figure(s) {shown}; choose from {','.join(known)} or all")
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


def plan_lines(profile: Profile, chosen, out: Path, shard: tuple[int, int]) -> list[str]:
    """--dry-run: every unit of this shard with its state and estimated cost."""
    units_dir = out / "units"
    # A stage-1 unit trained with k other data sets shares its step's launches with them.
    jobs, sharing = [], {}
    for entry in _shard(planned_jobs(profile, chosen), shard):
        members = entry.groups if isinstance(entry, Cohort) else (entry,)
        jobs += members
        sharing |= {stage1(profile, g).filename: len(members) for g in members if isinstance(g, Group)}
    backend = jax.default_backend()
    rate = None if backend == "cpu" else provenance.matmul_rate()
    lines, total = [], 0.0
    for job in jobs:
        if isinstance(job, Group):
            units = group_units(profile, job, units_dir)
            states = [("done" if is_done(u, units_dir) else "to do", u, u) for u in units]
            assumed = assumed_stage2(profile, job) if len(units) == 1 and states[0][0] == "to do" else None
            if assumed:
                states.append(("pending", None, assumed))
        else:
            states = [("done" if is_done(job, units_dir) else "to do", job, job)]
        for state, unit, estimated in states:
            share = sharing.get(estimated.filename, 1)
            seconds = (
                estimated_cpu_seconds(estimated, share)
                if rate is None
                else estimated_accelerator_seconds(estimated, rate, share)
            )
            if state != "done":
                total += seconds
            if unit is None:
                lines.append(
                    f"  pending  refinement of {job.label}: up to {profile.refinement_models} models whose M the "
                    f"first stage's ratios decide  ~{seconds / 60:,.1f} {'CPU' if rate is None else backend.upper()}"
                    "-min if its transition is at 0.8 N"
                )
                continue
            lines.append(
                f"  {state:<7}  {unit.describe()}  ~{unit.flops() / 1e9:,.0f} GFLOP, "
                f"~{seconds / 60:,.1f} {'CPU' if rate is None else backend.upper()}-min  [{unit.filename}]"
            )
    if rate is None:
        at_once = profile.layout.workers_for(backend)
        where = "a 2-core CPU" + (
            f", {total / 60 / at_once:,.1f} min at best with {at_once} units at once" if at_once > 1 else ""
        )
    else:
        where = (
            f"this {backend} (an estimate: its float32 matmul rate, {rate / 1e12:.1f} TFLOP/s measured now, "
            f"{ACCELERATOR_SECONDS_PER_STEP * 1e3:g} ms of kernel launches per step, "
            f"{ACCELERATOR_SECONDS_PER_UNIT:g} s per unit)"
        )
    lines.append(f"to do: about {total / 60:,.1f} min on {where} (pending refinements as assumed above)")
    return lines


def estimated_accelerator_seconds(unit, flops_per_second: float, sharing: int = 1) -> float:
    """flops at the matmul rate, plus the kernel launches of every step (shared by the `sharing` data
    sets trained in one program), plus a fixed cost per unit."""
    steps = unit.train.num_steps if isinstance(unit, TrainingUnit) else 0
    launches = steps * ACCELERATOR_SECONDS_PER_STEP / sharing
    return unit.flops() / flops_per_second + launches + ACCELERATOR_SECONDS_PER_UNIT


def estimated_cpu_seconds(unit, sharing: int = 1) -> float:
    """flops at the family's rate, plus the fixed costs per step and per model and chunk (partly
    shared by the `sharing` data sets trained in one program), and per unit."""
    if not isinstance(unit, TrainingUnit):
        return unit.flops() / CPU_FLOPS_PER_SECOND + CPU_SECONDS_PER_UNIT
    family = families.family(unit.family)
    training = family.training_flops(unit.data, unit.sizes, unit.train.num_steps, unit.train.noise_draws)
    evaluation = family.evaluation_flops(unit.data, unit.sizes, unit.eval.loss_noise_draws)
    chunks = -(-unit.data.num_train // Layout().points_per_chunk_for("cpu", unit.data.num_train))
    per_step = CPU_SECONDS_PER_STEP + family.cpu_chunk_factor * CPU_SECONDS_PER_MODEL_CHUNK * len(unit.sizes) * chunks
    return (
        training / family.cpu_flops_per_second
        + evaluation / CPU_FLOPS_PER_SECOND
        + unit.train.num_steps * per_step * (1 + STACKED_STEP_SHARE * (sharing - 1)) / sharing
        + CPU_SECONDS_PER_UNIT
    )


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


def _needs_computing(unit, units_dir: Path, force: bool) -> bool:
    path = units_dir / unit.filename
    if force or not path.exists():
        return True
    try:
        store.validate(path, unit.kind, unit.required_datasets())
        return False
    except store.InvalidResultFile as error:
        print(f"  note: {error}; computing it again", file=sys.stderr)
        return True


def run_unit(unit, units_dir: Path, force: bool, layout: Layout | None = None) -> str:
    """Compute and store one unit unless a complete file exists. Returns 'done', 'computed'.

    layout: speed-only settings; the one used is recorded in the unit's provenance, not its identity.
    """
    return run_together([unit], units_dir, force, layout)


def run_together(units, units_dir: Path, force: bool, layout: Layout | None = None) -> str:
    """Compute the units (one unit, or training units that differ only in their data set) in one program.

    All of them are computed when any is missing, so that each is computed with the same companions
    as in an uninterrupted run; only the missing ones (all, with `force`) are written. The companions
    and the layout are recorded in each unit's provenance. Returns 'done' or 'computed'.
    """
    missing = [u for u in units if _needs_computing(u, units_dir, force)]
    if not missing:
        return "done"
    for unit in units:
        print(f"  computing {unit.describe()}", file=sys.stderr)
    start = time.perf_counter()
    progress = Progress(units[0].label() + (f" and {len(units) - 1} more" if len(units) > 1 else ""))
    points_per_chunk = (layout or Layout()).points_per_chunk_for(jax.default_backend(), units[0].data.num_train)
    if len(units) == 1:
        trees = [units[0].run(progress, points_per_chunk)]
    else:
        trees = run_training_units(units, progress, points_per_chunk)
    seconds = time.perf_counter() - start
    used = {
        "points_per_chunk": points_per_chunk,
        "trained_with": [u.label() for u in units],
        "cores": len(workers.available_cores()),  # 1 in a worker: XLA's CPU thread pool had one thread
    }
    for unit, tree in zip(units, trees, strict=True):
        if unit not in missing:
            continue
        tree["attrs"] = {"unit_hash": unit.hash}
        stable = provenance.stable() | {"layout": used}
        store.write_atomic(
            units_dir / unit.filename, unit.kind, unit.config(), tree, stable, provenance.volatile(seconds)
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


def run(profile: Profile, chosen, out: Path, shard: tuple[int, int], force: bool) -> bool:
    """Run every unit of this shard. Returns True when all units the chosen figures need are complete."""
    units_dir = out / "units"
    units_dir.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(out)
    jobs = _shard(planned_jobs(profile, chosen), shard)
    tasks = [_task(profile, job, units_dir, force) for job in jobs]
    workers.run_tasks(tasks, profile.layout.workers_for(jax.default_backend()))
    return all_complete(profile, chosen, out)


def _task(profile: Profile, job, units_dir: Path, force: bool) -> workers.Task:
    """A job as a task for a worker: a cohort's first stages unlock their second stages when done.

    Its priority is its estimated CPU time, with the second stages it unlocks, so that the longest
    chains start first.
    """
    if not isinstance(job, Cohort):
        return workers.Task(
            job.describe(), run_together, ([job], units_dir, force, profile.layout), estimated_cpu_seconds(job)
        )
    firsts = [stage1(profile, group) for group in job.groups]
    refinements = [assumed_stage2(profile, group) for group in job.groups]

    def second_stages() -> list[workers.Task]:
        known = (stage2(profile, group, units_dir) for group in job.groups)
        return [_task(profile, unit, units_dir, force) for unit in known if unit is not None]

    return workers.Task(
        job.label,
        run_together,
        (firsts, units_dir, force, profile.layout),
        sum(
            estimated_cpu_seconds(u, len(firsts)) + (estimated_cpu_seconds(r) if r else 0.0)
            for u, r in zip(firsts, refinements, strict=True)
        ),
        second_stages,
    )


def planned_jobs(profile: Profile, chosen) -> list:
    """The single units, then the cohorts of two-stage groups, in a fixed order: shards slice this list."""
    baselines, groups = figures.needed(profile, chosen)
    per_program = profile.layout.datasets_per_program_for(jax.default_backend())
    return [*baselines, *cohorts(groups, per_program)]


def units_in_use(profile: Profile, chosen, out: Path) -> list | None:
    """Every unit the chosen figures are built from; None while a stage-1 unit (which decides stage 2) is missing."""
    units_dir = out / "units"
    baselines, groups = figures.needed(profile, chosen)
    units = list(baselines)
    for group in groups:
        first = stage1(profile, group)
        if not is_done(first, units_dir):
            return None
        units += group_units(profile, group, units_dir)
    return units


def all_complete(profile: Profile, chosen, out: Path) -> bool:
    units = units_in_use(profile, chosen, out)
    return units is not None and all(is_done(u, out / "units") for u in units)
