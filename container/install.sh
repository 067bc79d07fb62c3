#!/bin/sh
# The one install recipe of both container definitions (Dockerfile, apptainer.def).
#   container/install.sh SRC LOCK
# Creates the environment /opt/venv from the hash-locked LOCK (no dependency resolution, wheels only),
# checks it (pip check, the pinned versions), and makes the artifact in SRC importable. A CA bundle at /run/secrets/pip_ca (a BuildKit
# secret) is used for a TLS-intercepting proxy when present and non-empty.
set -eu
src=${1:?usage: install.sh SRC LOCK}
lock=${2:?usage: install.sh SRC LOCK}
if [ -s /run/secrets/pip_ca ]; then
  export PIP_CERT=/run/secrets/pip_ca
fi
python3 -m venv /opt/venv
/opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check --quiet \
  --require-hashes --no-deps --only-binary :all: -r "$src/$lock"
/opt/venv/bin/python -m pip check
site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$src" > "$site/edge_of_memorization_artifact.pth"
/opt/venv/bin/python - <<'PY'
import importlib.metadata as md
pins = {"jax": "0.6.0", "jaxlib": "0.6.0", "equinox": "0.12.1", "optax": "0.2.4"}
found = {name: md.version(name) for name in pins}
assert found == pins, f"pinned versions not installed: {found}"
print("install check:", ", ".join(f"{k} {v}" for k, v in found.items()))
PY
