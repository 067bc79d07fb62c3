#!/bin/bash
# Submit the sweep as SHARDS array tasks plus one assembly job that waits for all of them.
#   PROFILE=paper SHARDS=8 hpc/submit.sh [extra sbatch flags, e.g. --partition=gpu --account=...]
#   PROFILE=paper SHARDS=8 ONLY=1,5 hpc/submit.sh [...]   only shards 1 and 5 (after they failed), then assemble
# Each task asks for GPUS_PER_TASK GPUs (default 1; 0 for none) and CPUS_PER_TASK cores (default 4).
# Prints the two job ids and the command that resubmits failed shards: a failed shard makes SLURM cancel
# the assembly job (--kill-on-invalid-dep), which would otherwise wait in the queue forever.
# Environment (PROFILE, OUT, SIF, EXTRA, ARTIFACT_RUNNER, PYTHON) is passed on, and SHARDS, from which
# reproduce.sbatch takes the shard count (an array of only some shards cannot tell it).
# Submit from the repository root: the jobs find hpc/common.sh there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export SHARDS=${SHARDS:-8}
if ! [[ $SHARDS =~ ^[1-9][0-9]*$ ]]; then echo "submit.sh: SHARDS must be a positive integer, not '$SHARDS'" >&2; exit 2; fi
tasks=${ONLY:-0-$((SHARDS - 1))}
if ! [[ $tasks =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
  [ "$(tr ',-' '\n\n' <<<"$tasks" | sort -n | tail -1)" -ge "$SHARDS" ]; then
  echo "submit.sh: ONLY takes shard numbers below SHARDS=$SHARDS, like ONLY=1,5 or ONLY=2-4, not '$tasks'" >&2
  exit 2
fi
resources=(--cpus-per-task="${CPUS_PER_TASK:-4}")
if [ "${GPUS_PER_TASK:-1}" != 0 ]; then resources+=(--gpus-per-task="${GPUS_PER_TASK:-1}"); fi
array=$(sbatch --parsable --export=ALL --array="$tasks" "${resources[@]}" "$@" "$here/reproduce.sbatch")
array=${array%%;*}  # --parsable prints id;cluster on a multi-cluster setup
assemble=$(sbatch --parsable --export=ALL --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
  "${resources[@]}" "$@" "$here/assemble.sbatch")
assemble=${assemble%%;*}
echo "units: job $array (shards $tasks of $SHARDS), assembly: job $assemble"

# The same settings and flags again, with ONLY to be filled in.
again="SHARDS=$SHARDS ONLY=I,J"
for name in PROFILE OUT SIF EXTRA ARTIFACT_RUNNER PYTHON GPUS_PER_TASK CPUS_PER_TASK; do
  if [ -n "${!name+set}" ]; then again+=" $name=$(printf %q "${!name}")"; fi
done
again+=" $(printf %q "$0")"
for flag in "$@"; do again+=" $(printf %q "$flag")"; done
echo "if a shard fails, SLURM cancels the assembly job; once job $array has ended, resubmit the failed shards"
echo "(the array tasks not COMPLETED in sacct -X -j $array) and a new assembly job, with ONLY=those shards:"
echo "  $again"
