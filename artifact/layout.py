"""How a training step is laid out on the device: speed-only settings, chosen from the backend.

The training loss sums over points; `points_per_chunk` says how many points one pass of the step
handles (the rest is a `lax.scan` over chunks). On a CPU small chunks keep each chunk's
(points x draws x M) tables in cache; on a GPU every pass is a round of kernel launches, so the
whole batch goes in one pass: compiled for an H100 without a GPU, the paper-size step (Adam
included) launches 3,551 kernels in chunks of 10 points, 926 in chunks of 40 and 217 in one pass,
with 31, 90 and 406 MB of temporaries (`benchmarks/aot_kernels.py`, recorded in
benchmarks/results.jsonl at c4c8d14), and 194 in one pass with the optimizer on one vector
(`BACKEND_FLAT_OPTIMIZER`; at a7076dd). No GPU has timed the layouts yet (`benchmarks/gpu_evidence.py`
will).

`datasets_per_program` says how many data sets of one shape share a compiled training program
(`train.train_stacked`: the copies of a model across data sets are one array, the step is vmapped
over them). On a GPU a step's cost is its kernel launches, which stacking shares among the data
sets, so every data set of a stage that can share goes in one program. On a CPU the step's
matrix products run once per data set whether stacked or not (XLA's CPU backend loops over the
batch of a batched product), so stacking saves little: 1.16-1.37x per data set at the cpu profile's
sizes (`benchmarks/stacking.py`, docs/performance.md); the CPU stacks none unless asked.

`workers` says how many units are computed at once (`artifact.workers`): on a CPU one per core,
each in a worker process pinned to its core, because the training step at these sizes gains almost
nothing from a second core; elsewhere one, in this process (several processes would compete for
one device's memory).

The numbers agree to float32 rounding whatever the layout (tested), so the layout is not part of
any unit's identity: a unit records the layout that computed it in its provenance instead. Which
data sets share a program is a fixed function of the profile, the chosen figures and the layout
(`stages.cohorts`), never of the shard or of what is already done, so resumed and sharded runs
give the numbers of an uninterrupted one bit for bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Points per chunk when the layout leaves it to the backend (0); backends not listed take every
# point in one pass.
BACKEND_POINTS_PER_CHUNK = {"cpu": 10}
# Data sets per compiled program when the layout leaves it to the backend (0); backends not listed
# put every data set that can share into one program.
BACKEND_DATASETS_PER_PROGRAM = {"cpu": 1}

# Whether Adam runs on one vector of every model's parameters (`train.FlatParameters`), by backend;
# backends not listed do. On a GPU each elementwise pass over a leaf is a kernel launch, and one
# vector takes fewer (`benchmarks/aot_kernels.py --optimizer per_model,flat`, docs/performance.md).
# On a CPU a pass is cheap, and the flat layout changes the float32 rounding that the cpu profile's
# expected values were calibrated with, so the CPU keeps the optimizer model by model.
BACKEND_FLAT_OPTIMIZER = {"cpu": False}


@dataclass(frozen=True)
class Layout:
    points_per_chunk: int = 0  # training points per pass of a step; 0: the backend's choice
    datasets_per_program: int = 0  # data sets of one shape trained in one program; 0: the backend's choice
    workers: int = 0  # units computed at once (1: in this process); 0: the backend's choice

    def __post_init__(self):
        for name in ("points_per_chunk", "datasets_per_program", "workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: the backend's choice), got {getattr(self, name)}")

    def points_per_chunk_for(self, backend: str, num_points: int) -> int:
        """The chunk size a step over `num_points` points uses on `backend`."""
        chosen = self.points_per_chunk or BACKEND_POINTS_PER_CHUNK.get(backend, num_points)
        return max(1, min(chosen, num_points))

    def datasets_per_program_for(self, backend: str) -> int | None:
        """How many data sets may share one program on `backend` (None: no limit)."""
        chosen = self.datasets_per_program or BACKEND_DATASETS_PER_PROGRAM.get(backend, 0)
        return chosen or None

    def workers_for(self, backend: str) -> int:
        """How many units run at once on `backend`: on a CPU one per core it may use, elsewhere one."""
        if self.workers:
            return self.workers
        if backend != "cpu":
            return 1
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def equal_chunk_size(num_points: int, limit: int) -> int:
    """The largest divisor of `num_points` that is at most `limit`: chunks of equal size, none ragged."""
    return max(c for c in range(1, max(1, min(num_points, limit)) + 1) if num_points % c == 0)
