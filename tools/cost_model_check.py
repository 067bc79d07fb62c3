"""The --dry-run CPU cost model against a finished run: each training unit's estimate beside its time.

    python tools/cost_model_check.py DIR

DIR is a `reproduce` output folder. For every training unit the run used (both stages, with the
sizes stage 1 chose), prints the estimate of `pipeline.estimated_cpu_seconds` for the program it was
trained in (its provenance names the data sets trained together) and the unit's measured wall time
per data set (`volatile/wall_seconds`, shared by a program's data sets), and their ratio. This is
how the model's constants in artifact/pipeline.py were checked. Exit status: 0, or 2 with a
one-line error for a folder without a finished run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, wherever it is run from

import h5py  # noqa: E402

from artifact import pipeline, profiles  # noqa: E402
from artifact.experiment import TrainingUnit  # noqa: E402


def rows(out: Path) -> list[tuple[str, float, float]]:
    """(unit file, estimated seconds, measured seconds per data set) of every training unit of the run in `out`."""
    run = json.loads((out / "run.json").read_text())
    seeds = ",".join(str(s) for s in run["config"]["seeds"])
    profile, _ = profiles.resolve(run["profile"], run["overrides"], seeds)
    units = pipeline.units_in_use(profile, run["figures"], out)
    if units is None:
        raise ValueError(f"{out} holds no finished run: a first stage is missing")
    result = []
    for unit in units:
        if not isinstance(unit, TrainingUnit):
            continue
        with h5py.File(out / "units" / unit.filename, "r") as f:
            sharing = len(json.loads(f["provenance"].attrs["layout"]).get("trained_with", [None]))
            measured = float(f["volatile"].attrs["wall_seconds"]) / sharing
        result.append((unit.filename, pipeline.estimated_cpu_seconds(unit, sharing), measured))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    try:
        table = rows(args.dir)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}; pass the folder of a finished `reproduce` run", file=sys.stderr)
        return 2
    for name, estimated, measured in table:
        print(f"{name}  estimated {estimated:7.1f} s  measured {measured:7.1f} s  ratio {estimated / measured:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
