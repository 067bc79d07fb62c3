#!/bin/bash
# Submit the sweep as SHARDS array tasks plus one assembly job that waits for all of them.
#   PROFILE=paper SHARDS=8 hpc/submit.sh [extra sbatch flags, e.g. --partition=gpu --account=...]
# Prints the two job ids. Environment (PROFILE, OUT, SIF, EXTRA, ARTIFACT_RUNNER) is passed on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=${SHARDS:-8}
array=$(sbatch --parsable --export=ALL --array=0-$((shards - 1)) "$@" "$here/reproduce.sbatch")
assemble=$(sbatch --parsable --export=ALL --dependency=afterok:"${array%%;*}" "$@" "$here/assemble.sbatch")
echo "units: job $array (array 0-$((shards - 1))), assembly: job $assemble"
