"""One benchmark record: its fields, then where it ran and which code measured it, printed and appended.

Every script here prints one JSON object per measurement and, with --record FILE, appends it to a
JSON-lines file (benchmarks/results.jsonl holds the numbers the docs quote).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, wherever it is run from

from artifact import persistent_cache, provenance  # noqa: E402

# The benchmarks that train import this module before they compile: a cached executable can skip
# its loop (artifact/persistent_cache.py), and a timing of that would be a timing of nothing.
persistent_cache.switch_off_and_say()


def emit(benchmark: str, fields: dict, record_path: str | None) -> dict:
    """The record: name, date, `fields`, JAX version, backend, devices, CPU count and the source state."""
    env = provenance.environment()
    record = {
        "benchmark": benchmark,
        "date": time.strftime("%Y-%m-%d"),
        **fields,
        "jax": env["jax"],
        "backend": env["backend"],
        "devices": env["devices"],
        "cpu_count": os.cpu_count(),
        **provenance.source_state(),  # which code: the revision, and whether the tree was dirty
    }
    print(json.dumps(record), flush=True)
    if record_path:
        with open(record_path, "a") as f:
            f.write(json.dumps(record) + "\n")
    return record
