"""Computing several units at once, each in a worker process that holds one CPU core.

Why: at the sizes the profiles train on a CPU, a training step is a long chain of small operations,
and XLA's CPU runtime gains little from a second core on it, while two processes pinned to a core
each barely slow each other down. The cpu profile's N = 30 cohort on a 2-core machine, ms per step:
6.27 with both cores, 6.78 on one, 7.16 and 7.58 for two processes at once pinned to a core each,
10.1 and 8.1 unpinned (`python benchmarks/side_by_side.py`, recorded in benchmarks/results.jsonl
at 0a9140f). So on a CPU the pipeline runs one unit per core.

Each worker is a fresh (spawned) process pinned to its core before JAX starts in it, so XLA's CPU
thread pool there has one thread whatever the machine: a unit's numbers do not depend on how many
cores the machine has, nor on which worker computed it or what ran beside it. With one worker the
units run in this process instead, with every core it may use (the layout's choice; the numbers
agree to float32 rounding, tested). A worker whose parent dies stops within a second, and units are
written atomically, so a killed run leaves only temporaries that the next run sweeps away.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    """`function(*arguments)`, run by a worker (both must pickle: a module-level function, plain data).

    priority: larger starts first; the estimated seconds of this task and of the tasks it unlocks.
    then: called in this process once the task is done; returns the tasks it unlocks.
    """

    label: str
    function: Callable
    arguments: tuple
    priority: float = 0.0
    then: Callable[[], list[Task]] | None = field(default=None, compare=False)


class WorkerDied(Exception):
    """A worker process ended without reporting (killed): one line that says what to do."""


def available_cores() -> list[int]:
    """The cores this process may run on (all of them where the platform cannot tell)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def run_tasks(tasks: list[Task], workers: int) -> None:
    """Run `tasks` and those they unlock, `workers` at once, the largest priority first.

    When a task fails, no new task starts; the running ones finish (their units are kept) and the
    first failure is raised. Ctrl-C or SIGTERM stops the workers at once.
    """
    ready, running, failure, started = list(tasks), {}, None, 0
    with _executor(workers) as pool, _workers_stop_with_this_process():
        while ready or running:
            while ready and failure is None and len(running) < workers:
                task = max(ready, key=lambda t: t.priority)  # the first of equal priorities: the planned order
                ready.remove(task)
                started += 1
                print(f"[{started}/{started + len(ready) + len(running)}] {task.label}", file=sys.stderr)
                running[pool.submit(task.function, *task.arguments)] = task
            if not running:
                break
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                error = future.exception()
                if isinstance(error, concurrent.futures.BrokenExecutor):
                    raise WorkerDied(
                        f"a worker process died while computing {task.label} (killed by the system, e.g. for "
                        "memory?); finished units are kept: rerun the same command to resume, with "
                        "--set layout.workers=1 to compute one unit at a time"
                    ) from None
                if error is not None:
                    if failure is None and running:
                        print(
                            f"  {task.label} failed; waiting for the {len(running)} running unit(s) to finish "
                            "(Ctrl-C stops them)",
                            file=sys.stderr,
                        )
                    failure = failure or error
                elif task.then is not None and failure is None:
                    ready += task.then()
    if failure is not None:
        raise failure


class _InThisProcess(concurrent.futures.Executor):
    """One worker: each task runs here, when submitted."""

    def submit(self, function, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(function(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


def _executor(workers: int) -> concurrent.futures.Executor:
    if workers == 1:
        return _InThisProcess()
    context = multiprocessing.get_context("spawn")  # JAX's runtime threads do not survive a fork
    cores = context.Queue()
    every = available_cores()
    for i in range(workers):
        cores.put(every[i % len(every)])
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(cores, os.getpid())
    )


# XLA settings of a process that holds one core: matrix products on the calling thread, not handed
# to Eigen's thread pool, which has no other thread to give them to. The same numbers; two pinned
# N = 30 cohorts side by side took 5.55 and 5.53 ms per step with it, 6.42 and 6.24 without
# (`python benchmarks/side_by_side.py`, recorded at 714a9b3); the whole cpu profile gained 2 %,
# within its run-to-run noise.
ONE_CORE_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"


def one_core_xla_flags(flags: str) -> str:
    """XLA_FLAGS `flags` with `ONE_CORE_XLA_FLAGS` added, unless the user set that flag themselves."""
    if ONE_CORE_XLA_FLAGS.split("=")[0] in flags:
        return flags
    return f"{flags} {ONE_CORE_XLA_FLAGS}".strip()


def _start_worker(cores, parent: int) -> None:
    """In a new worker, before JAX starts: take one core; exit when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    core = cores.get(timeout=60)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
        os.environ["XLA_FLAGS"] = one_core_xla_flags(os.environ.get("XLA_FLAGS", ""))  # read as XLA starts
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    from artifact import persistent_cache, provenance

    persistent_cache.switch_off()  # the parent has said so once, if the environment asked for a cache
    provenance.source_state()  # the code this worker imported labels the units it writes


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


@contextmanager
def _workers_stop_with_this_process():
    """Ctrl-C reaches the workers through the terminal; SIGTERM (e.g. a batch system's) is passed on."""

    def on_sigterm(signum, frame):
        for child in multiprocessing.active_children():
            child.terminate()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main_thread else None
    try:
        yield
    except BaseException:
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
