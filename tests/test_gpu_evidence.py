"""The GPU evidence run works before any GPU is seen: the same script at toy size, on the CPU."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_evidence_script_runs_at_toy_size_and_records_everything(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_evidence.py"), "--tiny", "--out", str(tmp_path)]
        + ["--revision", "test-revision"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "gpu_evidence.json").read_text())
    assert record["revision"] == "test-revision" and record["tiny"] is True
    assert record["environment"]["JAX_DEFAULT_MATMUL_PRECISION"] == "highest"
    assert record["environment"]["jax"] and record["matmul"]["gflops"] > 0
    assert set(record["layouts"]) == {"5", "20"} and all(v["step_seconds"] > 0 for v in record["layouts"].values())
    assert record["optimizer"]["per_model_step_seconds"] > 0 and record["optimizer"]["flat_step_seconds"] > 0
    unit = record["unit"]
    assert unit["steps"] == 200 and not unit["shortened"] and unit["M"] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert len(unit["memorization_ratio"]) == 10 and all(0 <= r <= 1 for r in unit["memorization_ratio"])
    assert record["colored_step"]["step_seconds"] > 0
    estimate = record["estimate"]
    assert estimate["label"].startswith("estimate") and estimate["total_hours"] > estimate["training_hours"] > 0
