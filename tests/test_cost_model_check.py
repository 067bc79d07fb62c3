"""tools/cost_model_check.py: the --dry-run CPU model beside a finished run's unit times."""

import importlib.util
import json
from pathlib import Path

import h5py
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "cost_model_check.py"
spec = importlib.util.spec_from_file_location("cost_model_check", SCRIPT)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_one_row_per_training_unit_with_time_shared_by_its_program(reference):
    rows = check.rows(reference)
    trained = {p.name for p in (reference / "units").glob("train_*.h5")}
    assert {name for name, _, _ in rows} == trained
    assert all(estimated > 0 and measured > 0 for _, estimated, measured in rows)
    # TINY trains Fig. 7's two seeds of (20, 8, 2) in one program: each is charged half its wall time.
    stacked = 0
    for name, _, measured in rows:
        with h5py.File(reference / "units" / name) as f:
            together = len(json.loads(f["provenance"].attrs["layout"])["trained_with"])
            assert measured * together == pytest.approx(float(f["volatile"].attrs["wall_seconds"]))
        stacked += together > 1
    assert stacked >= 2


def test_a_folder_without_a_run_is_one_line(tmp_path, capsys):
    assert check.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "finished `reproduce` run" in err
