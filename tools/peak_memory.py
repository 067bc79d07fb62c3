"""Run a command and report the peak memory of it and every process it starts (Linux).

    python tools/peak_memory.py [--every 0.5] -- ./repro reproduce --profile cpu --out DIR

`/usr/bin/time -v` reports the largest single process; with one worker per core (artifact/workers.py)
what a machine needs is the sum over the processes. This samples, every --every seconds, the sum of
the proportional set sizes (PSS: shared pages split among the processes sharing them, so the
libraries every worker maps are counted once) of the command's process tree, from /proc, and
prints the peak on stderr when the command ends. Exits with the command's exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    """The child processes of `pid` (threads are not processes here)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(root: int) -> list[int]:
    """The process `root` and its descendants."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += children(pid)
    return found


def pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or not Path("/proc/self/smaps_rollup").exists():
        print("error: give a command after --, on Linux (it reads /proc)", file=sys.stderr)
        return 2
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        peak = max(peak, sum(pss_bytes(pid) for pid in tree(process.pid)))
        time.sleep(args.every)
    print(f"peak memory of the process tree (sum of PSS): {peak / 2**20:,.0f} MiB", file=sys.stderr)
    return process.returncode


if __name__ == "__main__":
    raise SystemExit(main())
