#!/bin/bash
# Submit the sweep as SHARDS array tasks plus one assembly job that waits for all of them.
#   PROFILE=paper SHARDS=8 hpc/submit.sh [extra sbatch flags, e.g. --partition=gpu --account=...]
# Each task asks for GPUS_PER_TASK GPUs (default 1; 0 for none) and CPUS_PER_TASK cores (default 4).
# Prints the two job ids. Environment (PROFILE, OUT, SIF, EXTRA, ARTIFACT_RUNNER, PYTHON) is passed on.
# Submit from the repository root: the jobs find hpc/common.sh there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=${SHARDS:-8}
resources=(--cpus-per-task="${CPUS_PER_TASK:-4}")
if [ "${GPUS_PER_TASK:-1}" != 0 ]; then resources+=(--gpus-per-task="${GPUS_PER_TASK:-1}"); fi
array=$(sbatch --parsable --export=ALL --array=0-$((shards - 1)) "${resources[@]}" "$@" "$here/reproduce.sbatch")
assemble=$(sbatch --parsable --export=ALL --dependency=afterok:"${array%%;*}" "${resources[@]}" "$@" "$here/assemble.sbatch")
echo "units: job $array (array 0-$((shards - 1))), assembly: job $assemble"
