"""Maintainer sessions. Each installs the hash-locked requirements (requirements/cpu.txt) into its own
environment, unless ARTIFACT_NOX_BACKEND=none: then it uses the running Python as it is (inside the
container, and under ./repro test, whose .venv is already that lock).

    nox -s tests lint smoke      # what ./repro test and CI run
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
LOCK = "requirements/cpu.txt"
CUDA_LOCK = "requirements/cuda12.txt"
BACKEND = os.environ.get("ARTIFACT_NOX_BACKEND", "uv|virtualenv")
nox.options.sessions = ["tests", "lint", "smoke"]
nox.options.default_venv_backend = BACKEND


def _install(session: nox.Session) -> None:
    session.env["PYTHONPATH"] = str(ROOT)  # the checkout is the package; nothing to build
    if BACKEND != "none":
        session.install("--require-hashes", "--no-deps", "--only-binary", ":all:", "-r", LOCK)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and end-to-end tests (pytest). About 6.5 min on 2 cores (docs/usage.md, Tests)."""
    _install(session)
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check. Seconds."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def smoke(session: nox.Session) -> None:
    """Reproduce every figure, and the MLP extension, at the smoke profile into a fresh folder, then compare.
    About 1.2 min (71 s in CI at 52737a4; the paper's figures alone: 65 s at fe6d577, README)."""
    _install(session)
    out = Path(session.create_tmp()) / "smoke"
    session.run(
        "python",
        "-m",
        "artifact",
        "reproduce",
        "--profile",
        "smoke",
        "--figures",
        "all,mlp",
        "--out",
        str(out),
        "--force",
    )
    session.run("python", "-m", "artifact", "compare", str(out))


@nox.session
def compare(session: nox.Session) -> None:
    """Compare an existing output folder (nox -s compare -- DIR [--expected FILE]). No compute."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s compare -- DIR [--expected FILE]")
    session.run("python", "-m", "artifact", "compare", *session.posargs)


@nox.session
def calibrate(session: nox.Session) -> None:
    """Regenerate expected/<profile>.json (nox -s calibrate -- --profile cpu): one run per seed as the main seed,
    sharing units, so a few times the profile's own time."""
    _install(session)
    session.run("python", "-m", "artifact", "calibrate", *(session.posargs or ["--profile", "smoke"]))


@nox.session
def cpu(session: nox.Session) -> None:
    """The cpu profile and its comparison (6.0-6.6 min on 2 cores at fe6d577, bb41abc: README, Profiles)."""
    _install(session)
    session.run("python", "-m", "artifact", "reproduce", "--profile", "cpu", "--out", "results/cpu", *session.posargs)
    session.run("python", "-m", "artifact", "compare", "results/cpu")


@nox.session
def paper(session: nox.Session) -> None:
    """The paper profile and its comparison (a GPU job; not yet run: README, Profiles)."""
    _install(session)
    session.run(
        "python", "-m", "artifact", "reproduce", "--profile", "paper", "--out", "results/paper", *session.posargs
    )
    session.run("python", "-m", "artifact", "compare", "results/paper")


@nox.session
def bench(session: nox.Session) -> None:
    """Train-step benchmark vs the matmul rate, then step_anatomy; both append to benchmarks/results.jsonl. ~2 min."""
    _install(session)
    session.run("python", "benchmarks/train_step.py", "--record", "benchmarks/results.jsonl", *session.posargs)
    session.run("python", "benchmarks/step_anatomy.py", "--record", "benchmarks/results.jsonl")


def _pins(path: Path) -> tuple[dict[str, str], set[str]]:
    """name -> version, and the names that carry at least one hash, of a uv-generated lock file."""
    pinned, hashed, last = {}, set(), None
    for line in path.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.split(";")[0].split("\\")[0].strip().partition("==")
            last = name.lower().replace("_", "-")
            pinned[last] = version
        elif "--hash=sha256:" in line and last:
            hashed.add(last)
    return pinned, hashed


@nox.session(venv_backend="none")
def lock(session: nox.Session) -> None:
    """Both locks pin every declared dependency, with hashes, at the same versions. Offline, seconds.

    Regenerate them with requirements/lock.sh (needs uv and the package index).
    """
    from packaging.requirements import Requirement

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = declared["optional-dependencies"]
    problems = []
    locks = {
        LOCK: declared["dependencies"] + extras["dev"],
        CUDA_LOCK: declared["dependencies"] + extras["dev"] + extras["cuda12"],
    }
    pins = {}
    for lock_file, specs in locks.items():
        pinned, hashed = _pins(ROOT / lock_file)
        pins[lock_file] = pinned
        for req in map(Requirement, specs):
            name = req.name.lower().replace("_", "-")
            if name not in pinned:
                problems.append(f"{req.name} is declared but not in {lock_file}")
            elif not req.specifier.contains(pinned[name], prereleases=True):
                problems.append(f"{req.name}=={pinned[name]} in {lock_file} does not satisfy {req}")
        problems += [f"{name} has no hash in {lock_file}" for name in pinned if name not in hashed]
    cpu, cuda = pins[LOCK], pins[CUDA_LOCK]
    problems += [
        f"{n} is {cpu[n]} in {LOCK} but {cuda[n]} in {CUDA_LOCK}" for n in cpu.keys() & cuda.keys() if cpu[n] != cuda[n]
    ]
    if problems:
        session.error("; ".join(problems) + " -- rerun requirements/lock.sh")
    session.log(
        f"{LOCK} ({len(cpu)} pins) and {CUDA_LOCK} ({len(cuda)} pins): hashed, consistent, satisfy pyproject.toml"
    )


@nox.session(venv_backend="none")
def container(session: nox.Session) -> None:
    """Build the Dockerfile and the apptainer.def-derived Dockerfile on a local Debian base, run smoke + compare
    inside each (root; installs Debian's docker.io and debootstrap if missing). ~10 min the first time."""
    session.env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"  # spython from the locked venv
    _apt_install(session, {"dockerd": "docker.io", "debootstrap": "debootstrap"})
    session.run("bash", "container/build_and_run.sh", *(session.posargs or ["/tmp/edge-container"]), external=True)


def _apt_install(session: nox.Session, programs: dict[str, str]) -> None:
    import shutil

    missing = [package for program, package in programs.items() if shutil.which(program) is None]
    if missing:
        session.run("apt-get", "install", "-y", "-q", *missing, external=True)


@nox.session(venv_backend="none")
def slurm(session: nox.Session) -> None:
    """A single-node SLURM on this machine runs the smoke profile as a 3-shard array plus the assembly job,
    then checks compare and equality with an unsharded run (root; installs Debian's slurm-wlm and munge). ~4 min;
    fails with the failing task's log after DEADLINE_S seconds (default 900)."""
    _apt_install(session, {"slurmctld": "slurm-wlm", "munged": "munge"})
    session.run("bash", "hpc/test_local_slurm.sh", *(session.posargs or ["/tmp/edge-slurm"]), external=True)
