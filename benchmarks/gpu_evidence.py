"""The GPU evidence run: what the paper profile costs on one accelerator, measured in under 5 minutes.

Plain Python (no nox, no git needed on the machine): pass the revision in. Writes OUT/gpu_evidence.json:

  environment   `python -m artifact info`'s facts (JAX version, backend, devices, driver, precision)
  matmul        the float32 matrix-multiply rate at JAX_DEFAULT_MATMUL_PRECISION=highest (set here
                before JAX starts, as the images set it: TF32 would inflate every extrapolation)
  layouts       seconds per paper-size training step (ten models M = 20..200, N = 200, d = 50,
                N_dup = 100) for each candidate points_per_chunk (speed only: the numbers are the
                same up to float32 rounding), and the same for a small step (the per-step overhead)
  optimizer     the fastest layout's step with Adam on one vector of all the models' parameters
                (a GPU's default) and model by model (the CPU's)
  unit          one full Fig. 2 first-stage unit (N = 200, d = 50, K = 12, seed 0, 50,000 steps, the
                ten models) in the fastest layout: wall time, training and evaluation seconds,
                memorization ratios and learned variances; shortened, and marked so, if it would
                not fit in --budget-seconds
  stacked       seconds per step of the paper-size step for four data sets of one shape in one
                program (Fig. 3's four K at one (N, d)), in the fastest layout, beside what the step
                model predicts if stacking shared every launch
  colored_step  seconds per step of the paper's Fig. 5 unit (N = 100, 15 x 15 x 3, M = 10..100)
  estimate      the paper profile extrapolated from those rates, unit by unit (labelled an
                estimate, with its assumptions)

    python benchmarks/gpu_evidence.py --out DIR --revision REV            # on the GPU
    python benchmarks/gpu_evidence.py --out DIR --revision REV --tiny     # the same code at toy size (CI)

Runs under the pinned JAX 0.6.0 and under newer releases (tested at toy size with JAX 0.10.2, equinox
0.13.8, optax 0.2.8, h5py 3.16): it uses only `train_stacked`, `jax.jit`, `jax.random` and
`jax.block_until_ready`. The lent H200 machine's image already holds JAX 0.11 with equinox, optax,
h5py and pillow, so the working tree alone travels; its colored step uses the bundled template sample
(the step's speed does not depend on which images).
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")  # before JAX reads its configuration

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, wherever it is run from


import jax  # noqa: E402
from train_step import seconds_per_step  # noqa: E402  (this folder: run as a script)

from artifact import data, experiment, families, figures, files, profiles, provenance, stages  # noqa: E402
from artifact.families.colored import ColoredDataConfig  # noqa: E402
from artifact.layout import BACKEND_FLAT_OPTIMIZER  # noqa: E402
from artifact.train import TrainConfig  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    """The problem sizes of one evidence run (paper: the paper's; tiny: seconds on a CPU)."""

    num_train: int = 200
    dim: int = 50
    components: int = 12
    noise_draws: int = 100
    timed_steps: int = 50
    unit_steps: int = 50_000
    layouts: tuple[int, ...] = (10, 40, 200)
    colored_train: int = 100
    colored_size: int = 15
    matmul: int = 8192
    small: tuple[int, int, int] = (20, 20, 20)  # N, d, N_dup of the overhead step
    eval_samples: int = 50
    eval_noise_draws: int = 100

    @property
    def sizes(self) -> list[int]:
        return experiment.initial_sizes(self.num_train, 10)


TINY = Sizes(
    num_train=20,
    dim=8,
    components=2,
    noise_draws=10,
    timed_steps=10,
    unit_steps=200,
    layouts=(5, 20),
    colored_train=10,
    colored_size=6,
    matmul=256,
    small=(10, 4, 4),
    eval_samples=10,
    eval_noise_draws=5,
)


def _isotropic(n: int, d: int, k: int) -> data.MixtureDataset:
    return data.make_dataset(data.MixtureDataConfig(num_train=n, dim=d, num_components=k), seed=0)


def _step_flops(n: int, d: int, noise_draws: int, sizes) -> float:
    """The isotropic family's counted flops of one training step."""
    config = data.MixtureDataConfig(num_train=n, dim=d, num_components=1)
    return families.family("isotropic").training_flops(config, sizes, 1, noise_draws)


def estimate_paper_profile(step_model, colored_step: float, eval_seconds_per_model: float) -> dict:
    """The paper profile's time from the measured rates: per training step t0 + flops / rate, where the
    first stages of a cohort (`stages.cohorts`, no limit) share one t0; stage 2 as the refinement rule
    picks for a transition at M = 0.8 N (`stages.assumed_stage2`, as --dry-run), one data set per
    program; evaluation per trained model as measured in the unit."""
    t0, rate = step_model
    profile, _ = profiles.resolve("paper", [], None)
    singles, groups = figures.needed(profile, figures.paper_keys())
    training = evaluation = 0.0
    for cohort in stages.cohorts(groups, None):
        for position, group in enumerate(cohort.groups):
            n, d, _ = group.tuple3
            first = experiment.initial_sizes(n, profile.initial_models)
            refinement = stages.assumed_stage2(profile, group)  # None: nothing to refine, no second stage
            for stage, sizes in enumerate([first] + ([refinement.sizes] if refinement else [])):
                shared_t0 = t0 if stage == 1 or position == 0 else 0.0
                flops = _step_flops(n, d, profile.train.noise_draws, sizes)
                training += profile.train.num_steps * (shared_t0 + flops / rate)
                evaluation += len(sizes) * eval_seconds_per_model * (n / 200) ** 2 * (d / 50)
    for unit in singles:
        if isinstance(unit, experiment.TrainingUnit):  # Fig. 5's colored unit
            training += unit.train.num_steps * colored_step
            evaluation += len(unit.sizes) * eval_seconds_per_model
        else:  # baselines: evaluation only, one per reference denoiser
            evaluation += (len(unit.pmem_sizes) + 2) * eval_seconds_per_model
    return {
        "label": "estimate, not a measurement",
        "assumptions": "step time t0 + flops/rate fitted to the small and the paper-size step, t0 shared by the first "
        "stages of one (N, d) (see `stacked` for how well that holds); stage 2 as the refinement rule picks "
        "for a transition at M = 0.8 N; evaluation scaled from the measured unit by N^2 d; "
        "Fig. 5 at the measured colored step; one device, units one after another",
        "training_hours": round(training / 3600, 3),
        "evaluation_hours": round(evaluation / 3600, 3),
        "total_hours": round((training + evaluation) / 3600, 3),
        "units": len(singles) + 2 * len(groups),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for gpu_evidence.json")
    parser.add_argument("--revision", required=True, help="the git revision of this copy (it may have no .git)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: the same code in seconds, for CI")
    parser.add_argument("--budget-seconds", type=float, default=270.0, help="shorten the full unit to fit")
    args = parser.parse_args(argv)
    sizes = TINY if args.tiny else Sizes()
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {"benchmark": "gpu_evidence", "date": time.strftime("%Y-%m-%d"), "revision": args.revision}
    record["tiny"] = args.tiny
    record["environment"] = provenance.environment() | {
        "JAX_DEFAULT_MATMUL_PRECISION": os.environ.get("JAX_DEFAULT_MATMUL_PRECISION", "")
    }

    def save():
        record["wall_seconds"] = round(time.perf_counter() - started, 1)
        # Atomic: a run stopped at its time limit leaves the sections finished so far, whole.
        files.write_text(out / "gpu_evidence.json", json.dumps(record, indent=1) + "\n")
        print(f"[{record['wall_seconds']:.0f} s] {out / 'gpu_evidence.json'}", flush=True)

    rate = provenance.matmul_rate(sizes.matmul, repeats=10)
    record["matmul"] = {"size": sizes.matmul, "gflops": round(rate / 1e9, 1)}
    save()

    isotropic = families.family("isotropic")
    dataset = _isotropic(sizes.num_train, sizes.dim, sizes.components)
    base = TrainConfig(noise_draws=sizes.noise_draws)
    paper_flops = _step_flops(sizes.num_train, sizes.dim, sizes.noise_draws, sizes.sizes)
    layouts = {}
    for chunk in sizes.layouts:
        seconds = seconds_per_step(isotropic, dataset, sizes.sizes, base, sizes.timed_steps, points_per_chunk=chunk)
        layouts[str(chunk)] = {"step_seconds": seconds, "fraction_of_matmul": round(paper_flops / seconds / rate, 4)}
        record["layouts"] = layouts
        save()
    best = min(sizes.layouts, key=lambda c: layouts[str(c)]["step_seconds"])
    # The backend's optimizer layout (on a GPU: Adam on one vector) against the other one, model by model.
    flat = BACKEND_FLAT_OPTIMIZER.get(jax.default_backend(), True)
    other = seconds_per_step(
        isotropic, dataset, sizes.sizes, base, sizes.timed_steps, points_per_chunk=best, flat_optimizer=not flat
    )
    record["optimizer"] = {
        "points_per_chunk": best,
        ("flat" if flat else "per_model") + "_step_seconds": layouts[str(best)]["step_seconds"],
        ("per_model" if flat else "flat") + "_step_seconds": other,
    }
    save()
    n, d, r = sizes.small
    small_sizes = experiment.initial_sizes(n, 10)
    small = seconds_per_step(
        isotropic, _isotropic(n, d, 2), small_sizes, replace(base, noise_draws=r), sizes.timed_steps, points_per_chunk=n
    )
    small_flops = _step_flops(n, d, r, small_sizes)
    big = layouts[str(best)]["step_seconds"]
    fitted_rate = (paper_flops - small_flops) / max(big - small, 1e-9)
    t0 = max(small - small_flops / fitted_rate, 0.0)
    record["step_model"] = {"small_step_seconds": small, "overhead_seconds": t0, "flops_per_second": fitted_rate}
    save()

    stack = [_isotropic(sizes.num_train, sizes.dim, k) for k in (3, 6, 9, 12)]
    stacked = seconds_per_step(isotropic, stack, sizes.sizes, base, sizes.timed_steps, points_per_chunk=best)
    record["stacked"] = {
        "datasets": len(stack),
        "points_per_chunk": best,
        "step_seconds": stacked,
        "alone_step_seconds": big,
        "speedup_per_dataset": round(len(stack) * big / stacked, 3),
        "step_model_prediction_seconds": t0 + len(stack) * paper_flops / fitted_rate,
    }
    save()

    colored = families.family("colored")
    colored_config = ColoredDataConfig(
        num_train=sizes.colored_train, size=sizes.colored_size, template_source="offline"
    )
    colored_data = families.data_model("colored").make_dataset(colored_config, 0)
    colored_step = seconds_per_step(
        colored, colored_data, experiment.initial_sizes(sizes.colored_train, 10), base, sizes.timed_steps, 0
    )
    record["colored_step"] = {"N": sizes.colored_train, "size": sizes.colored_size, "step_seconds": colored_step}
    save()

    left = args.budget_seconds - (time.perf_counter() - started) - 30.0  # 30 s for evaluation and writing
    steps = min(sizes.unit_steps, max(int(left / big), 100))
    unit = experiment.TrainingUnit(
        "isotropic",
        data.MixtureDataConfig(num_train=sizes.num_train, dim=sizes.dim, num_components=sizes.components),
        0,
        TrainConfig(num_steps=steps, noise_draws=sizes.noise_draws),
        experiment.EvalConfig(num_samples=sizes.eval_samples, loss_noise_draws=sizes.eval_noise_draws),
        tuple(sizes.sizes),
    )
    marks = []
    unit_start = time.perf_counter()
    tree = unit.run(lambda step, total, losses, elapsed: marks.append(elapsed), points_per_chunk=best)
    wall = time.perf_counter() - unit_start
    training_seconds = marks[-1] if marks and marks[-1] is not None else wall
    record["unit"] = {
        "points_per_chunk": best,
        "steps": steps,
        "shortened": steps < sizes.unit_steps,
        "wall_seconds": round(wall, 2),
        "training_seconds": round(training_seconds, 2),
        "evaluation_seconds": round(wall - training_seconds, 2),
        "M": [int(m) for m in tree["M"]],
        "memorization_ratio": [float(x) for x in tree["memorization_ratio"]],
        "learned_variance": [float(x) for x in tree["learned_variance"]],
    }
    save()
    eval_per_model = (wall - training_seconds) / len(sizes.sizes)
    record["estimate"] = estimate_paper_profile((t0, fitted_rate), colored_step, eval_per_model)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
