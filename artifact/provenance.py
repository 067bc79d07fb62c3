"""What produced a number: versions, devices, numerics settings."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

PACKAGES = ("jax", "jaxlib", "equinox", "optax", "numpy", "h5py", "matplotlib")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment() -> dict[str, str]:
    """Python, packages, JAX backend and devices, and the JAX settings that change numbers."""
    import jax

    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    info.update(package_versions())
    info["backend"] = jax.default_backend()
    info["devices"] = ", ".join(f"{d.platform}:{d.device_kind}" for d in jax.devices())
    info["jax_enable_x64"] = str(jax.config.jax_enable_x64)
    info["default_matmul_precision"] = str(jax.config.jax_default_matmul_precision)
    return info
