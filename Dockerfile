# The reviewer's image: `docker run --gpus all` reproduces the paper profile into /results.
# Build (README): docker build -t edge-artifact .
# A public Python 3.11 Debian bookworm base; JAX's pip CUDA 12 wheels bring CUDA and cuDNN, so only the
# driver comes from the host (no cuDNN base image: version clashes). Pin by digest with
# --build-arg BASE_IMAGE=python:3.11-slim-bookworm@sha256:<digest> where the digest can be verified.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# requirements/cuda12.txt for the GPU image; requirements/cpu.txt for a CPU image (the local test build).
ARG LOCK=requirements/cuda12.txt
# 1: download and verify the canonical Fashion-MNIST files now, so `docker run` needs no network.
ARG FETCH_DATA=1
ARG GIT_REVISION=unknown

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONNOUSERSITE=1 \
    PATH=/opt/venv/bin:$PATH \
    LD_LIBRARY_PATH= \
    XLA_PYTHON_CLIENT_PREALLOCATE=false \
    JAX_DEFAULT_MATMUL_PRECISION=highest \
    HOME=/home/artifact \
    XDG_CACHE_HOME=/home/artifact/.cache \
    MPLCONFIGDIR=/home/artifact/.cache/matplotlib \
    ARTIFACT_DATA_DIR=/opt/artifact/data/fashion-mnist \
    ARTIFACT_NOX_BACKEND=none \
    ARTIFACT_GIT_REVISION=${GIT_REVISION}

COPY requirements/ /opt/artifact/requirements/
COPY container/install.sh /opt/artifact/container/install.sh
COPY pyproject.toml /opt/artifact/
RUN --mount=type=secret,id=pip_ca sh /opt/artifact/container/install.sh /opt/artifact "${LOCK}"
COPY . /opt/artifact/
RUN python -m artifact info && \
    if [ "${FETCH_DATA}" = "1" ]; then python -m artifact fetch-data; fi && \
    useradd --create-home --uid 1000 artifact && \
    mkdir -p /results /home/artifact/.cache && chown -R artifact /results /home/artifact

USER artifact
WORKDIR /home/artifact
ENTRYPOINT ["python", "-m", "artifact"]
CMD ["reproduce", "--profile", "paper", "--out", "/results"]
