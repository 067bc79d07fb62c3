# Shared by the sbatch scripts: how to run the artifact on a node.
PROFILE=${PROFILE:-paper}
OUT=${OUT:-$PWD/results/$PROFILE}
SIF=${SIF:-$PWD/edge-artifact.sif}
EXTRA=${EXTRA:-}
mkdir -p "$OUT"

out_in_runner() {
  if [ "${ARTIFACT_RUNNER:-apptainer}" = python ]; then echo "$OUT"; else echo /results; fi
}

run_artifact() {
  if [ "${ARTIFACT_RUNNER:-apptainer}" = python ]; then
    "${PYTHON:-python3}" -m artifact "$@"
  else
    apptainer run --nv --cleanenv --bind "$OUT:/results" "$SIF" "$@"
  fi
}
