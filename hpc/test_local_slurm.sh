#!/usr/bin/env bash
# Starts a single-node SLURM (munged, slurmctld, slurmd) on this machine, submits hpc/submit.sh for the
# smoke profile in 3 shards with the checkout's Python (ARTIFACT_RUNNER=python), waits, and checks that
# the assembled output passes compare and equals an unsharded run. Fails, printing the failed tasks' logs
# and the assembly job's state, when a job fails or after DEADLINE_S seconds in all (default 900); cancels
# what is still queued first (a job outlives a killed slurmd), then stops every daemon it started, by PID.
#   sudo [DEADLINE_S=900] hpc/test_local_slurm.sh WORKDIR        (needs Debian's slurm-wlm and munge)
set -euo pipefail
deadline=$((SECONDS + ${DEADLINE_S:-900}))
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "${1:-/tmp/edge-slurm}" && cd "${1:-/tmp/edge-slurm}" && pwd)
python=${PYTHON:-$root/.venv/bin/python}
host=$(hostname -s)
rm -rf "$work/state" "$work/spool" "$work/out" "$work/unsharded" "$work"/edge-*.out
mkdir -p "$work/state" "$work/spool" "$work/munge"
pids=()
cleanup() {
  if [ -n "${SLURM_CONF:-}" ] && [ -n "$(squeue -h 2>/dev/null)" ]; then
    # This cluster runs only this script's jobs.
    echo "cancelling the jobs still queued: $(squeue -h -o %i | tr '\n' ' ')" >&2
    scancel $(squeue -h -o %A | sort -u) || true
    for _ in $(seq 60); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; done
}
trap cleanup EXIT

dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"
pids+=("$(cat "$work/munge/munged.pid")")

cat >"$work/slurm.conf" <<CONF
ClusterName=edge-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.2; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$work/slurmd.pid" ] && break; sleep 0.2; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 60); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo

cd "$root"
submitted=$(PROFILE=smoke SHARDS=3 OUT="$work/out" ARTIFACT_RUNNER=python PYTHON="$python" GPUS_PER_TASK=0 \
  CPUS_PER_TASK=1 hpc/submit.sh --output="$work/%x-%A_%a.out" --chdir="$root")
echo "$submitted"
read -r array assemble < <(sed -n 's/^units: job \([0-9]*\) .*assembly: job \([0-9]*\)$/\1 \2/p' <<<"$submitted") ||
  { echo "no job ids in submit.sh's output" >&2; exit 1; }

# scontrol, not sacct (accounting is off): one line per job, or per array task once it has started.
state() { scontrol -o show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | cut -d= -f2- || true; }
while [ -n "$(squeue -h)" ] && [ $SECONDS -lt $deadline ]; do
  # Without --kill-on-invalid-dep an assembly job whose array failed stays pending for ever.
  [ "$(state "$assemble" Reason)" = DependencyNeverSatisfied ] && break
  sleep 5
done
if [ "$(state "$assemble" JobState)" != COMPLETED ]; then
  [ -n "$(squeue -h)" ] && { echo "jobs still queued after ${SECONDS}s (DEADLINE_S=${DEADLINE_S:-900}):" >&2; squeue >&2; }
  scontrol -o show job "$array" 2>/dev/null | while read -r line; do
    task=$(grep -o 'ArrayTaskId=[^ ]*' <<<"$line" | cut -d= -f2)
    job_state=$(grep -o 'JobState=[^ ]*' <<<"$line" | cut -d= -f2)
    case $job_state in PENDING | COMPLETED) continue ;; esac
    echo "== array task $task of job $array: $job_state, $(grep -o 'ExitCode=[^ ]*' <<<"$line"); its log:" >&2
    tail -n 100 "$work/edge-units-${array}_$task.out" >&2 || true
  done
  echo "== assembly job $assemble: JobState=$(state "$assemble" JobState) Reason=$(state "$assemble" Reason)" >&2
  cat "$work/edge-assemble-${assemble}_"*.out >&2 2>/dev/null || true
  echo "the SLURM run failed" >&2
  exit 1
fi
cat "$work/edge-assemble-${assemble}_"*.out
grep -q "checks passed" "$work/edge-assemble-${assemble}_"*.out || { echo "assembly or compare failed" >&2; exit 1; }

timeout $((deadline > SECONDS ? deadline - SECONDS : 1)) "$python" -m artifact reproduce --profile smoke --out "$work/unsharded"
"$python" - "$work/out/figures.h5" "$work/unsharded/figures.h5" <<'PY'
import sys, h5py, numpy as np
def contents(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) and not n.startswith("volatile") else None)
    return out
a, b = contents(sys.argv[1]), contents(sys.argv[2])
assert a.keys() == b.keys(), a.keys() ^ b.keys()
for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
print(f"sharded SLURM run equals the unsharded run: {len(a)} datasets")
PY
