"""Benchmark: seconds per training step per data set when S data sets of one shape share one program.

`train.train_stacked` vmaps the step over stacked copies of the models, one per data set. Measured
here at sizes near the cpu profile's (ten models M = N/10..N, d = 20, N_dup = 20, N = 20 and 40;
K differs between the data sets, as Fig. 3's tuples of one (N, d) do) for S = 1, 2, 4, in the
backend's default points per chunk (--points-per-chunk 10,20,40 compares chunk sizes) and optimizer
layout (--optimizer per_model,flat compares Adam model by model with Adam on one vector). Prints one
JSON record (with the git revision measured); --record appends it to a JSON-lines file. Time it
alone: the machine's other load moves it.

    python benchmarks/stacking.py [--steps 1000] [--points-per-chunk 0] [--record benchmarks/results.jsonl]
"""

from __future__ import annotations

import argparse
import itertools

import records
from train_step import seconds_per_step

from artifact import data, experiment, families
from artifact.train import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="timed steps (after as many warm-up steps)")
    parser.add_argument("--sizes", default="20,40", help="N values")
    parser.add_argument("--stacks", default="1,2,4", help="data sets per program")
    parser.add_argument("--points-per-chunk", default="0", help="points per pass of the step (0: the backend's)")
    parser.add_argument(
        "--optimizer",
        default="",
        help="per_model or flat (Adam on one vector), comma-separated; default: the backend's",
    )
    parser.add_argument("--record", help="append the JSON record to this file")
    args = parser.parse_args()
    dim, noise_draws = 20, 20
    family = families.family("isotropic")
    config = TrainConfig(noise_draws=noise_draws)
    results = {}
    for n in (int(x) for x in args.sizes.split(",")):
        sizes = experiment.initial_sizes(n, 10)
        for stack, chunk, optimizer in itertools.product(
            [int(x) for x in args.stacks.split(",")],
            [int(x) for x in args.points_per_chunk.split(",")],
            args.optimizer.split(","),
        ):
            datasets = [
                data.make_dataset(data.MixtureDataConfig(num_train=n, dim=dim, num_components=2 + s), seed=s)
                for s in range(stack)
            ]
            flat = {"": None, "per_model": False, "flat": True}[optimizer]
            seconds = seconds_per_step(family, datasets, sizes, config, args.steps, chunk or None, flat)
            label = f"N{n}_S{stack}" + (f"_chunk{chunk}" if chunk else "") + (f"_{optimizer}" if optimizer else "")
            results[label] = {"step_seconds": round(seconds, 6), "per_dataset": round(seconds / stack, 6)}
            per = seconds / stack * 1e3
            print(f"{label}: {seconds * 1e3:.3f} ms per step, {per:.3f} per data set", flush=True)
    fields = {"d": dim, "N_dup": noise_draws, "models": 10, "results": results}
    records.emit("stacking", fields, args.record)


if __name__ == "__main__":
    main()
