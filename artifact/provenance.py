"""What produced a number: versions, devices, numerics settings."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

PACKAGES = ("jax", "jaxlib", "equinox", "optax", "numpy", "h5py", "matplotlib")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class BackendUnavailable(RuntimeError):
    """JAX cannot start the platform it was asked for (JAX_PLATFORMS), e.g. cuda with the CPU lock."""


def default_backend() -> str:
    """jax.default_backend(), or BackendUnavailable with a one-line reason and what to do."""
    import jax

    try:
        return jax.default_backend()
    except (RuntimeError, AssertionError) as error:  # JAX 0.6.0 raises a bare AssertionError for cuda without a GPU
        asked = os.environ.get("JAX_PLATFORMS") or jax.config.jax_platforms
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = reason or "no device for it is visible here, or its plugin is not installed"
        what = f"the platform JAX_PLATFORMS asks for ({asked})" if asked else "a platform"
        advice = "unset JAX_PLATFORMS to run on what this JAX has, or " if asked else ""
        raise BackendUnavailable(
            f"JAX cannot start {what}: {reason}; {advice}see docs/troubleshooting.md (GPUs, containers, clusters)"
        ) from None


def environment() -> dict[str, str]:
    """Python, packages, JAX backend and devices, and the JAX settings that change numbers."""
    import jax

    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    info.update(package_versions())
    try:
        info["backend"] = default_backend()
        info["devices"] = ", ".join(f"{d.platform}:{d.device_kind}" for d in jax.devices())
    except BackendUnavailable as error:
        info["backend"] = f"unavailable: {error}"
        info["devices"] = "none"
    info.update(gpu_stack())
    info["jax_enable_x64"] = str(jax.config.jax_enable_x64)
    info["default_matmul_precision"] = str(jax.config.jax_default_matmul_precision)
    info["xla_flags"] = os.environ.get("XLA_FLAGS", "").strip() or "none"  # a worker adds its own
    return info


def gpu_stack() -> dict[str, str]:
    """The CUDA pieces a GPU run depends on: the pip-installed CUDA runtime and cuDNN, and the host driver."""
    import shutil
    import subprocess

    info = {}
    for label, package in (("cuda_runtime", "nvidia-cuda-runtime-cu12"), ("cudnn", "nvidia-cudnn-cu12")):
        try:
            info[label] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[label] = "not installed"
    driver = "no nvidia-smi"
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            driver = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"
        except (OSError, subprocess.SubprocessError):
            driver = "unknown"
    info["nvidia_driver"] = driver
    return info


def _git(*args: str) -> str | None:
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.cache
def source_state() -> dict[str, str]:
    """Git revision, whether the working tree differs from it, and a digest of that difference
    ('unknown' outside a checkout).

    Read once per process (the commands read it before any work): the code a process runs is the
    code it imported, so a commit made during a long run must not relabel the units it writes later.
    """
    import hashlib
    import os

    revision = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    if revision is None and os.environ.get("ARTIFACT_GIT_REVISION"):  # containers carry no .git
        return {"git_revision": os.environ["ARTIFACT_GIT_REVISION"], "git_dirty": "unknown", "git_diff_sha256": ""}
    diff = _git("diff", "HEAD") if status else None  # two different edits of one revision must differ
    return {
        "git_revision": revision or "unknown",
        "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
        "git_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else "",
    }


def code_label(state: Mapping[str, Any]) -> str:
    """The code that made a result, from its provenance: the git revision; '+dirty:<digest of the
    uncommitted changes>' for a modified tree; a trailing '?' where the tree's state is unknown."""
    revision, dirty = state.get("git_revision", "unknown"), state.get("git_dirty", "unknown")
    if dirty == "false":
        return revision
    if dirty == "true":
        return f"{revision}+dirty:{state.get('git_diff_sha256') or '?'}"
    return f"{revision}?"


def lock_digest() -> str:
    import hashlib
    from pathlib import Path

    lock = Path(__file__).resolve().parent.parent / "requirements" / "cpu.txt"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else "unknown"


def stable() -> dict[str, str]:
    """Facts that identical reruns share: code, versions, numerics settings, device kind."""
    info = environment()
    info.pop("platform", None)
    info.update(source_state())
    info["requirements_lock_sha256"] = lock_digest()
    info["artifact_version"] = __import__("artifact").__version__
    return info


def volatile(wall_seconds: float) -> dict[str, str | float]:
    """Facts that differ between reruns: when, where, how long, how much memory."""
    import resource
    import socket
    import time

    return {
        "wall_seconds": round(wall_seconds, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": socket.gethostname(),
        "platform": platform.platform(),
    }


def matmul_rate(size: int = 4096, repeats: int = 3) -> float:
    """float32 FLOP/s of one size^3 matrix product on the default device, best of `repeats` after compiling."""
    import time

    import jax

    a = jax.random.normal(jax.random.key(0), (size, size), jax.numpy.float32)
    b = jax.random.normal(jax.random.key(1), (size, size), jax.numpy.float32)
    product = jax.jit(jax.numpy.matmul)
    jax.block_until_ready(product(a, b))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(product(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best
