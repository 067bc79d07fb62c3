#!/usr/bin/env bash
# Builds the real Dockerfile on a locally made Debian bookworm base (no registry is needed), runs the
# smoke profile inside the image as its non-root user with an output folder mounted, and compares the
# result; then does the same with the Dockerfile that spython makes from apptainer.def.
#   sudo container/build_and_run.sh WORKDIR
# Needs root (dockerd, debootstrap) and Debian's docker.io and debootstrap packages. Starts its own
# dockerd on a private socket and stops it, by PID, on exit. The image gets the CPU lock
# (LOCK=requirements/cpu.txt) in place of the CUDA one, and FETCH_DATA=0 (no internet here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "${1:-/tmp/edge-container}" && cd "${1:-/tmp/edge-container}" && pwd)
sock=$work/docker.sock
# Debian's docker.io client: its built-in BuildKit needs no buildx plugin and no frontend image.
docker() { "${DOCKER:-/usr/bin/docker}" "$@"; }
export DOCKER_HOST=unix://$sock DOCKER_BUILDKIT=1
base=edge-artifact-local-base:bookworm

dockerd --data-root "$work/docker" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
  --host "$DOCKER_HOST" --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
trap 'kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null || true' EXIT
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null

if ! docker image inspect "$base" >/dev/null 2>&1; then
  if [ ! -x "$work/rootfs/usr/bin/python3" ]; then
    echo "making the base image with debootstrap (a few minutes)" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/rootfs" \
      http://deb.debian.org/debian >"$work/debootstrap.log"
  fi
  tar -C "$work/rootfs" -c . | docker import - "$base" >/dev/null
fi

convert_apptainer_definition() {  # -> a Dockerfile on stdout, adapted to this offline test machine
  # spython (a converter, not a validator) loses the ENV keyword of the first %environment line and
  # writes HEALTHCHECK without CMD; the other edits are this machine's: the local base, the CPU lock,
  # the CA bundle for the package index, no Fashion-MNIST download.
  spython recipe --parser singularity "$root/apptainer.def" | sed -E \
    -e 's|^FROM python:3.11-slim-bookworm|FROM '"$base"'|' \
    -e 's|^([A-Z_]+=)|ENV \1|' \
    -e 's|^HEALTHCHECK |HEALTHCHECK CMD |' \
    -e 's|requirements/cuda12.txt|requirements/cpu.txt|' \
    -e 's|^RUN sh /opt/artifact/container/install.sh|RUN --mount=type=secret,id=pip_ca sh /opt/artifact/container/install.sh|' \
    -e '/artifact fetch-data/d'
}

build_and_check() {  # TAG DOCKERFILE [non-root]
  local tag=$1 dockerfile=$2 out=$work/out-$1
  docker build --network host --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt \
    --build-arg BASE_IMAGE="$base" --build-arg LOCK=requirements/cpu.txt --build-arg FETCH_DATA=0 \
    --build-arg GIT_REVISION="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)" \
    -f "$dockerfile" -t "$tag" "$root"
  rm -rf "$out" && mkdir -p "$out" && chmod 777 "$out"
  # --user: the Dockerfile's image is non-root already; the converted one runs as apptainer would,
  # as the invoking (here: an unprivileged) user.
  local run=(docker run --rm --network none --user 1000:1000 -v "$out:/results" --entrypoint /opt/venv/bin/python "$tag" -m artifact)
  "${run[@]}" reproduce --profile smoke --out /results
  "${run[@]}" compare /results
  if [ "${3:-}" = non-root ]; then
    test "$(docker run --rm --entrypoint id "$tag" -u)" != 0  # the image's default user is not root
  fi
  echo "$tag: smoke profile reproduced and compared inside the image" >&2
}

build_and_check edge-artifact-cpu "$root/Dockerfile" non-root
convert_apptainer_definition >"$work/Dockerfile.apptainer"
build_and_check edge-artifact-apptainer "$work/Dockerfile.apptainer"
