"""hpc/ without SLURM: stub sbatch and python record what the scripts would submit and run."""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SBATCH = """#!/bin/bash
# Records its arguments and the SHARDS it sees; prints a job id as --parsable does on a multi-cluster setup.
n=$(( $(cat "$STUB_LOG/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$STUB_LOG/count"
printf '%s\\0' "$@" > "$STUB_LOG/sbatch-$n.args"
printf '%s' "${SHARDS-unset}" > "$STUB_LOG/sbatch-$n.shards"
echo "$((100 + n));edge"
"""


@pytest.fixture
def stubs(tmp_path):
    """A PATH whose sbatch is the stub, and a function that returns the recorded calls."""
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    log.mkdir()
    (bin_dir / "sbatch").write_text(SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SHARDS", "ONLY", "PROFILE"))}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", STUB_LOG=str(log))

    def calls():
        count = int((log / "count").read_text()) if (log / "count").exists() else 0
        return [
            (
                (log / f"sbatch-{n}.args").read_bytes().decode().split("\0")[:-1],
                (log / f"sbatch-{n}.shards").read_text(),
            )
            for n in range(1, count + 1)
        ]

    return env, calls


def submit(env, *flags, **settings):
    return subprocess.run(
        ["bash", "hpc/submit.sh", *flags],
        cwd=ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_submit_makes_the_assembly_depend_on_the_array_and_die_with_it(stubs):
    env, calls = stubs
    result = submit(env, "--partition=gpu", PROFILE="paper")
    assert result.returncode == 0, result.stderr
    (array, array_shards), (assemble, assemble_shards) = calls()
    assert array[-1].endswith("hpc/reproduce.sbatch") and assemble[-1].endswith("hpc/assemble.sbatch")
    assert "--array=0-7" in array and array_shards == "8"  # the default SHARDS reaches the tasks
    assert "--dependency=afterok:101" in assemble and "--kill-on-invalid-dep=yes" in assemble
    assert "--partition=gpu" in array and "--partition=gpu" in assemble
    assert "units: job 101 (shards 0-7 of 8), assembly: job 102" in result.stdout


def test_only_resubmits_those_shards_of_the_sweep(stubs):
    env, calls = stubs
    result = submit(env, SHARDS="8", ONLY="1,2")
    assert result.returncode == 0, result.stderr
    (array, shards), (assemble, _) = calls()
    assert "--array=1,2" in array and shards == "8"
    assert "--dependency=afterok:101" in assemble and "--kill-on-invalid-dep=yes" in assemble


@pytest.mark.parametrize("only", ["8", "1,9", "2-8", "a", "1 2", "I,J"])
def test_only_outside_the_sweep_is_refused(stubs, only):
    env, calls = stubs
    result = submit(env, SHARDS="8", ONLY=only)
    assert result.returncode == 2 and "ONLY takes shard numbers below SHARDS=8" in result.stderr
    assert calls() == []


def test_the_printed_resubmission_resubmits_the_failed_shards(stubs, tmp_path):
    env, calls = stubs
    settings = dict(PROFILE="paper", OUT=str(tmp_path / "my results"), EXTRA="", GPUS_PER_TASK="2")
    first = submit(env, "--partition=gpu", "--account=a b", SHARDS="8", **settings)
    assert first.returncode == 0, first.stderr
    command = first.stdout.splitlines()[-1].strip()
    assert command.startswith("SHARDS=8 ONLY=I,J ") and "hpc/submit.sh --partition=gpu" in command

    # Run it as the user would, from a shell without those settings, with the failed shards filled in.
    words = shlex.split(command.replace("ONLY=I,J", "ONLY=3,5"))
    n = next(i for i, word in enumerate(words) if not re.match(r"[A-Z_]+=", word))
    assignments = dict(word.split("=", 1) for word in words[:n])
    assert assignments == {"SHARDS": "8", "ONLY": "3,5", **settings}
    again = subprocess.run(
        ["bash", *words[n:]],
        cwd=ROOT,
        env={**env, **assignments},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 0, again.stderr
    (first_array, _), (first_assemble, _), (array, shards), (assemble, _) = calls()
    assert array == [flag.replace("--array=0-7", "--array=3,5") for flag in first_array] and shards == "8"
    assert assemble == [flag.replace("afterok:101", "afterok:103") for flag in first_assemble]
    assert "--account=a b" in array and "--gpus-per-task=2" in array


def reproduce_task(tmp_path, task, first, last, count, shards=None):
    python = tmp_path / "python"
    python.write_text('#!/bin/bash\necho "$@"\n')
    python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SHARDS", "EXTRA"))}
    env.update(
        ARTIFACT_RUNNER="python",
        PYTHON=str(python),
        PROFILE="smoke",
        OUT=str(tmp_path / "out"),
        SLURM_ARRAY_TASK_ID=str(task),
        SLURM_ARRAY_TASK_MIN=str(first),
        SLURM_ARRAY_TASK_MAX=str(last),
        SLURM_ARRAY_TASK_COUNT=str(count),
    )
    if shards is not None:
        env["SHARDS"] = str(shards)
    return subprocess.run(
        ["bash", "hpc/reproduce.sbatch"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("task", [1, 2])
def test_a_resubmitted_subset_runs_its_own_shards(tmp_path, task):
    result = reproduce_task(tmp_path, task, first=1, last=2, count=2, shards=8)  # --array=1,2 of 8 shards
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert result.stdout.split() == f"-m artifact reproduce --profile smoke --out {out} --shard {task}/8".split()


def test_a_whole_array_needs_no_shards(tmp_path):
    result = reproduce_task(tmp_path, 1, first=0, last=2, count=3)
    assert result.returncode == 0, result.stderr
    assert "--shard 1/3" in result.stdout


def test_a_partial_array_without_shards_is_refused(tmp_path):
    result = reproduce_task(tmp_path, 2, first=1, last=2, count=2)
    assert result.returncode == 2 and "set SHARDS" in result.stderr and result.stdout == ""
