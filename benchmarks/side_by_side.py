"""Benchmark: does a training step use a second core, and do two pinned processes disturb each other?

Why the pipeline computes one unit per core, each in a worker pinned to its core (`artifact/workers.py`).
Times one step of `benchmarks/stacking.py`'s problem (default: the cpu profile's N = 30 cohort, four
data sets in one program, ten models, d = 20, N_dup = 20, chunks of 10 points) in separate processes:

  alone       with every core this process may use
  one core    pinned to the first core
  pinned      two processes at once, each pinned to a core of its own
  unpinned    two processes at once, both free to use every core
  worker flags  one core, and two pinned, with the XLA settings a worker adds for its one core
              (`workers.ONE_CORE_XLA_FLAGS`): the workers' way

Prints one JSON record (milliseconds per step, with the git revision measured); --record appends it
to a JSON-lines file. Needs two cores and a platform that can pin (Linux). Time it alone: the
machine's other load moves it.

    python benchmarks/side_by_side.py [--steps 2000] [--record benchmarks/results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import records

from artifact import workers


def _start(arguments: list[str], core: int | None, worker_flags: bool = False) -> subprocess.Popen:
    pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
    script = Path(__file__).resolve().parent / "stacking.py"
    env = dict(os.environ)
    if worker_flags:
        env["XLA_FLAGS"] = workers.one_core_xla_flags(env.get("XLA_FLAGS", ""))
    return subprocess.Popen(
        [sys.executable, str(script), *arguments], stdout=subprocess.PIPE, text=True, preexec_fn=pin, env=env
    )


def _milliseconds(process: subprocess.Popen) -> float:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"benchmarks/stacking.py failed (exit {process.returncode})")
    results = json.loads(out.strip().splitlines()[-1])["results"]
    (only,) = results.values()
    return round(only["step_seconds"] * 1e3, 3)


def _at_once(arguments: list[str], cores: list[int | None], worker_flags: bool = False) -> list[float]:
    processes = [_start(arguments, core, worker_flags) for core in cores]
    return [_milliseconds(p) for p in processes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="timed steps per process")
    parser.add_argument("--size", type=int, default=30, help="N")
    parser.add_argument("--stacks", type=int, default=4, help="data sets per program")
    parser.add_argument("--record", help="append the JSON record to this file")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        raise SystemExit("side_by_side.py needs two cores it can pin processes to (Linux)")
    arguments = [
        "--sizes",
        str(args.size),
        "--stacks",
        str(args.stacks),
        "--points-per-chunk",
        "10",
        "--steps",
        str(args.steps),
    ]
    fields = {
        "N": args.size,
        "d": 20,
        "N_dup": 20,
        "models": 10,
        "datasets_per_program": args.stacks,
        "points_per_chunk": 10,
        "step_ms_alone": _at_once(arguments, [None])[0],
        "step_ms_one_core": _at_once(arguments, [cores[0]])[0],
        "step_ms_two_pinned": _at_once(arguments, cores[:2]),
        "step_ms_one_core_worker_flags": _at_once(arguments, [cores[0]], worker_flags=True)[0],
        "step_ms_two_pinned_worker_flags": _at_once(arguments, cores[:2], worker_flags=True),
        "step_ms_two_unpinned": _at_once(arguments, [None, None]),
    }
    records.emit("side_by_side", fields, args.record)


if __name__ == "__main__":
    main()
