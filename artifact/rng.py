"""Named random streams derived from one integer seed.

Every random draw in the artifact comes from `stream(seed, "name", ...)`, so that adding a new
stream never shifts the numbers of an existing one, and a unit of work (one model, one figure)
gets the same keys whether it runs alone or batched with others.
"""

from __future__ import annotations

import zlib

import jax


def _tag(part: str | int) -> int:
    if isinstance(part, int):
        if part < 0:
            raise ValueError(f"stream indices must be non-negative, got {part}")
        return part
    return zlib.crc32(part.encode()) & 0x7FFFFFFF


def stream(seed: int, *path: str | int) -> jax.Array:
    """A key for the stream `path` (names and non-negative integers) under `seed`."""
    key = jax.random.key(seed)
    for part in path:
        key = jax.random.fold_in(key, _tag(part))
    return key
