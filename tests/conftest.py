import hashlib
import importlib.util
import shutil
import time
from pathlib import Path

import h5py
import jax
import numpy as np
import pytest

from artifact import cli, data, persistent_cache, rng

# This process compiles too (the tests of train, the in-process runs): never from a cache on disk,
# whatever the developer's environment says, and without the CLI's note about it.
persistent_cache.switch_off()
jax.config.update("jax_compilation_cache_dir", None)

# A tiny configuration of the smoke profile for end-to-end tests (~30 s for every figure). Fig. 7's two
# seeds of (20, 8, 2) train their first stage in one program, as a GPU would (CPU default: one each).
# Its units are computed in this process (at this size worker processes cost more in start-up and
# compilation than they save); the tests of workers, signals and kills add WORKERS.
TINY = [
    "--profile",
    "smoke",
    "--seeds",
    "0,1",
    "--set",
    "train.num_steps=300",
    "--set",
    "fig3=16/8/2,20/8/2",
    "--set",
    "eval.num_samples=20",
    "--set",
    "eval.baseline_points=5",
    "--set",
    "fig5_train.num_steps=200",
    "--set",
    "layout.datasets_per_program=2",
    "--set",
    "layout.workers=1",  # units in this process; WORKERS runs them in worker processes, as on a CPU by default
]
WORKERS = ["--set", "layout.workers=2"]


def run_tiny(out: Path, *extra: str) -> None:
    assert cli.main(["reproduce", *TINY, "--out", str(out), *extra]) == 0


def assert_same_numbers(unit: Path, other: Path) -> None:
    """Two unit files hold the same datasets with the same numbers, bit for bit (provenance and
    timings left out)."""

    def numbers(path: Path) -> dict:
        items = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: items.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return {k: v for k, v in items.items() if not k.startswith(("provenance", "volatile"))}

    ours, theirs = numbers(unit), numbers(other)
    assert ours.keys() == theirs.keys(), unit.name
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=f"{unit.name}: {name}")


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """One finished TINY run, shared by the end-to-end tests. They must not modify it (a test that writes
    into a run takes `reference_copy`): each test using it, and the session, fail if its files change."""
    out = tmp_path_factory.mktemp("reference")
    run_tiny(out)
    digests = _digests(out)
    yield out
    changed = _changed(digests, _digests(out))
    if changed:
        pytest.fail(f"the shared reference run was modified during the session ({', '.join(changed)})", pytrace=False)


@pytest.fixture(autouse=True)
def _reference_left_unchanged(request):
    if "reference" not in request.fixturenames:
        yield
        return
    folder = request.getfixturevalue("reference")
    before = _digests(folder)
    yield
    changed = _changed(before, _digests(folder))
    if changed:
        pytest.fail(
            f"{request.node.nodeid} modified the shared reference run ({', '.join(changed)}); "
            "write into `reference_copy` instead",
            pytrace=False,
        )


@pytest.fixture
def reference_copy(reference, tmp_path) -> Path:
    """A private copy of the reference run, for tests that write into a finished run."""
    return Path(shutil.copytree(reference, tmp_path / "reference_copy"))


@pytest.fixture(scope="session")
def fig1_dataset():
    """The Fig. 1 / Fig. 2 setting: N = 200, d = 50, K = 12, sigma_*^2 = 1."""
    return data.make_dataset(data.MixtureDataConfig(num_train=200, dim=50, num_components=12), seed=0)


@pytest.fixture
def small_dataset():
    return data.make_dataset(data.MixtureDataConfig(num_train=20, dim=6, num_components=3, num_heldout=10), seed=3)


def numpy_posterior_mean(x_t, t, means, variance):
    """float64 reference: the mixture posterior mean by direct distances (numpy, no JAX)."""
    x_t, means = np.asarray(x_t, np.float64), np.asarray(means, np.float64)
    a, s = np.sqrt(1.0 - t * t), t
    v_t = a * a * variance + s * s
    sq = ((x_t[:, None, :] - a * means[None]) ** 2).sum(-1)
    logits = -sq / (2 * v_t)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return (a * variance * x_t + s * s * (w @ means)) / v_t


def key(*path):
    return rng.stream(1234, *path)


def child_processes(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux /proc; empty elsewhere): tools/peak_memory.py's reader."""
    spec = importlib.util.spec_from_file_location(
        "peak_memory", Path(__file__).parent.parent / "tools" / "peak_memory.py"
    )
    peak_memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peak_memory)
    return peak_memory.children(pid)


def wait_until_gone(pids: list[int], seconds: float) -> list[int]:
    """Wait up to `seconds` for the processes to end (a zombie counts as ended); those still running."""
    deadline = time.time() + seconds

    def running(pid):
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    while time.time() < deadline and any(running(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if running(p)]
