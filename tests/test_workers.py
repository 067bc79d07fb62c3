"""Worker processes: one core each, tasks in priority order, failures reported, numbers unchanged."""

import json
import os
import signal
import time
from pathlib import Path

import h5py
import pytest
from conftest import WORKERS, assert_same_numbers, run_tiny

from artifact import workers
from artifact.workers import Task

PINNING = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="the platform cannot pin a process to a core")


def record_cores(path: str, seconds: float = 0.0) -> None:
    time.sleep(seconds)  # long enough that both workers are busy at once
    Path(path).write_text(json.dumps({"pid": os.getpid(), "cores": sorted(os.sched_getaffinity(0))}))


def fail(message: str) -> None:
    raise ValueError(message)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@PINNING
def test_each_worker_holds_one_core_of_its_own(tmp_path):
    tasks = [Task(f"t{i}", record_cores, (str(tmp_path / f"{i}.json"), 2.0)) for i in range(2)]
    workers.run_tasks(tasks, 2)
    seen = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2)]
    assert all(len(s["cores"]) == 1 for s in seen)
    assert seen[0]["pid"] != seen[1]["pid"] != os.getpid()
    if len(workers.available_cores()) >= 2:
        assert seen[0]["cores"] != seen[1]["cores"]


def test_larger_priorities_start_first_and_unlocked_tasks_follow_their_task():
    order = []

    def note(label):
        order.append(label)

    def unlock():
        return [Task("second stage", note, ("second stage",), priority=0.5)]

    tasks = [
        Task("small", note, ("small",), priority=1.0),
        Task("first stage", note, ("first stage",), priority=9.0, then=unlock),
        Task("medium", note, ("medium",), priority=2.0),
    ]
    workers.run_tasks(tasks, 1)
    assert order == ["first stage", "medium", "small", "second stage"]


def test_a_failure_lets_the_running_task_finish_starts_nothing_new_and_is_raised(tmp_path, capsys):
    finished, never = tmp_path / "finished.json", tmp_path / "never.json"
    tasks = [
        Task("slow", record_cores, (str(finished), 3.0), priority=3.0),
        Task("fails", fail, ("broken input",), priority=2.0),
        Task("later", record_cores, (str(never),), priority=1.0),
    ]
    with pytest.raises(ValueError, match="broken input"):
        workers.run_tasks(tasks, 2)
    assert finished.exists() and not never.exists()
    assert "waiting for the 1 running unit(s) to finish" in capsys.readouterr().err


def test_a_killed_worker_is_reported_in_one_line():
    with pytest.raises(workers.WorkerDied, match="rerun the same command to resume"):
        workers.run_tasks([Task("killed", die, ())], 2)


def test_units_computed_by_workers_equal_those_computed_in_this_process(reference, tmp_path):
    """The reference run computes its units in this process, with every core it may use; here two
    worker processes pinned to a core each compute them. At these tiny sizes XLA splits no sum
    across threads, so the numbers must agree bit for bit: a difference means a worker computed
    something else than the unit it was given."""
    run_tiny(tmp_path, "--figures", "2", *WORKERS)
    units = sorted((tmp_path / "units").glob("*.h5"))
    assert units
    for unit in units:
        assert_same_numbers(unit, reference / "units" / unit.name)
        with h5py.File(reference / "units" / unit.name) as f:
            in_process = f["provenance"].attrs["xla_flags"]
        with h5py.File(unit) as f:
            assert json.loads(f["provenance"].attrs["layout"])["cores"] == 1
            if hasattr(os, "sched_setaffinity"):  # a pinned worker adds its one-core flags
                assert f["provenance"].attrs["xla_flags"] == workers.one_core_xla_flags(
                    "" if in_process == "none" else in_process
                )
