"""Benchmark: one batched training step against this machine's float32 matrix-multiply rate.

(a) one full-batch step (loss, gradients, Adam) for the ten models M = 20, 40, ..., 200 trained
    together at N = 200, d = 50, N_dup = 100; flops counted as 12 N N_dup d sum(M) per step
    (the six N N_dup x d x sum(M) products of a forward and backward pass);
(b) a float32 matrix product of size --matmul-size cubed.
Reports the step's flop rate as a fraction of (b). --family mlp times the MLP extension's step instead:
the paper profile's widths (8..1024) trained together on the same data, flops as the family counts
them (6 per parameter per sample). --family colored times Fig. 5's step at a profile's Fig. 5 settings
(--profile cpu or paper: N, template size, N_dup and M = N/10..N; the bundled templates, which
leave the cost alone), flops as the family counts them. Prints one JSON record (with the git revision
of the code measured); --record FILE appends it to a JSON-lines file (benchmarks/results.jsonl
holds the numbers quoted in the README). The machine's other load moves both (a) and (b): compare
revisions back to back (git worktree), not across days.

    python benchmarks/train_step.py [--steps 20] [--family mlp | --family colored --profile cpu]
                                    [--record benchmarks/results.jsonl]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import records

from artifact import data, experiment, families, process, profiles, provenance, rng
from artifact import train as training


def seconds_per_step(
    family, dataset, sizes, config, steps: int, points_per_chunk: int | None = None, flat_optimizer: bool | None = None
) -> float:
    """Seconds per step of `train_stacked`, from the difference of two progress marks (compilation left out).

    dataset: one data set, or a list of data sets of one shape trained in one program.
    """
    datasets = dataset if isinstance(dataset, list) else [dataset]
    marks = []
    training.train_stacked(
        [rng.stream(s, "bench") for s in range(len(datasets))],
        family,
        datasets,
        process.time_grid(),
        sizes,
        replace(config, num_steps=2 * steps),
        num_logs=2,
        progress=lambda step, total, losses, elapsed: marks.append((step, elapsed)),
        points_per_chunk=points_per_chunk,
        flat_optimizer=flat_optimizer,
    )
    (s1, t1), (s2, t2) = marks
    return (t2 - t1) / (s2 - s1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after as many warm-up steps)")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--family", default="isotropic", choices=("isotropic", "mlp", "colored"))
    parser.add_argument("--profile", default="paper", help="the profile whose Fig. 5 settings --family colored uses")
    parser.add_argument("--record", help="append the JSON record to this file")
    args = parser.parse_args()
    if args.family == "colored":
        colored_step(args)
        return

    num_train, dim, noise_draws = 200, 50, 100
    data_config = data.MixtureDataConfig(num_train=num_train, dim=dim, num_components=12)
    family = families.family(args.family)
    sizes = list(range(20, 201, 20)) if args.family == "isotropic" else list(profiles.PROFILES["paper"].mlp.widths)
    dataset = data.make_dataset(data_config, seed=0)
    config = training.TrainConfig(noise_draws=noise_draws)
    step = seconds_per_step(family, dataset, sizes, config, args.steps)
    flops = family.training_flops(data_config, sizes, 1, noise_draws)
    reference = provenance.matmul_rate(args.matmul_size, repeats=10)
    fields = {
        "family": args.family,
        "N": num_train,
        "d": dim,
        "N_dup": noise_draws,
        "M" if args.family == "isotropic" else "widths": sizes,
        "step_seconds": round(step, 5),
        "step_gflops": round(flops / step / 1e9, 2),
        "matmul_gflops": round(reference / 1e9, 2),
        "fraction_of_matmul": round(flops / step / reference, 3),
    }
    records.emit("train_step", fields, args.record)


def colored_problem(profile_name: str):
    """(family, data config, data set, sizes, TrainConfig) of a profile's Fig. 5 unit, with the bundled
    templates (the cost is the same as with the canonical ones)."""
    profile = profiles.PROFILES[profile_name]
    data_config = replace(profile.fig5_data, template_source="offline")
    family = families.family("colored")
    dataset = families.data_model(family.data_model).make_dataset(data_config, 0)
    sizes = list(experiment.initial_sizes(data_config.num_train, profile.fig5_models))
    return family, data_config, dataset, sizes, profile.fig5_train


def colored_step(args) -> None:
    """The colored family's step at a profile's Fig. 5 settings, its models M = N/10..N trained together."""
    family, data_config, dataset, sizes, train = colored_problem(args.profile)
    step = seconds_per_step(family, dataset, sizes, train, args.steps)
    flops = family.training_flops(data_config, sizes, 1, train.noise_draws)
    reference = provenance.matmul_rate(args.matmul_size, repeats=10)
    fields = {
        "family": "colored",
        "profile": args.profile,
        "N": data_config.num_train,
        "template_size": data_config.size,
        "N_dup": train.noise_draws,
        "M": sizes,
        "step_seconds": round(step, 5),
        "step_gflops": round(flops / step / 1e9, 2),
        "matmul_gflops": round(reference / 1e9, 2),
        "fraction_of_matmul": round(flops / step / reference, 3),
    }
    records.emit("train_step", fields, args.record)


if __name__ == "__main__":
    main()
