#!/usr/bin/env bash
# Regenerates the hash-locked requirement files from pyproject.toml.
# The date cap resolves every unpinned package as of jax 0.6.0's release month, so that the CUDA
# packages are the ones jaxlib 0.6.0 was released with (its CUDA 12 wheels of May 2025); --universal keeps
# one file valid for every Python >= 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--python-version 3.11 --exclude-newer 2025-05-20 --generate-hashes --quiet)
uv pip compile "${common[@]}" --universal --extra dev pyproject.toml -o requirements/cpu.txt
# The CUDA 12 image (Linux x86_64 only): same pins plus jax[cuda12] and its nvidia wheels.
uv pip compile "${common[@]}" --extra dev --extra cuda12 --python-platform x86_64-manylinux_2_28 \
  pyproject.toml -o requirements/cuda12.txt
