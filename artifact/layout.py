"""How a training step is laid out on the device: speed-only settings, chosen from the backend.

The training loss sums over points; `points_per_chunk` says how many points one pass of the step
handles (the rest is a `lax.scan` over chunks). On a CPU small chunks keep each chunk's
(points x draws x M) tables in cache; on a GPU every pass is a round of kernel launches, so the
whole batch goes in one pass: compiled for an H100 without a GPU, the paper-size step (Adam
included) launches 3,551 kernels in chunks of 10 points, 926 in chunks of 40 and 217 in one pass,
with 31, 90 and 406 MB of temporaries (`benchmarks/aot_kernels.py`, recorded in
benchmarks/results.jsonl at c4c8d14). No GPU has timed the layouts yet (`benchmarks/gpu_evidence.py`
will). The numbers agree to float32 rounding whatever the
layout (tested), so the layout is not part of any unit's identity: a unit records the layout that
computed it in its provenance instead.
"""

from __future__ import annotations

from dataclasses import dataclass

# Points per chunk when the layout leaves it to the backend (0); backends not listed take every
# point in one pass.
BACKEND_POINTS_PER_CHUNK = {"cpu": 10}


@dataclass(frozen=True)
class Layout:
    points_per_chunk: int = 0  # training points per pass of a step; 0: the backend's choice

    def __post_init__(self):
        if self.points_per_chunk < 0:
            raise ValueError(f"points_per_chunk must be >= 0 (0: the backend's choice), got {self.points_per_chunk}")

    def points_per_chunk_for(self, backend: str, num_points: int) -> int:
        """The chunk size a step over `num_points` points uses on `backend`."""
        chosen = self.points_per_chunk or BACKEND_POINTS_PER_CHUNK.get(backend, num_points)
        return max(1, min(chosen, num_points))
