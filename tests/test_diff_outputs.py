"""tools/diff_outputs.py on two tiny hand-made output folders (no training)."""

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "diff_outputs.py"


def _write(path: Path, ratio, revision: str, wall: float) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = "training_unit/v1"
        f.create_dataset("M", data=np.array([2, 4, 6]))
        ds = f.create_dataset("memorization_ratio", data=np.asarray(ratio))
        ds.attrs["units"] = "1"
        f.create_group("provenance").attrs.update({"git_revision": revision, "git_dirty": "false", "jax": "0.6.0"})
        f.create_group("volatile").attrs["wall_seconds"] = wall


def _folder(root: Path, revision: str = "a" * 40, wall: float = 1.0) -> Path:
    (root / "units").mkdir(parents=True)
    _write(root / "units" / "train_N6_abc.h5", [0.0, 0.5, 1.0], revision, wall)
    _write(root / "units" / "train_N6_def.h5", [0.0, 0.25, np.nan], revision, wall)
    _write(root / "figures.h5", [0.0, 0.5, 1.0], revision, wall)
    return root


def _diff(a: Path, b: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def folders(tmp_path):
    # Another revision, another wall time: both are left out of the comparison.
    return _folder(tmp_path / "a"), _folder(tmp_path / "b", revision="b" * 40, wall=2.0)


def test_identical_folders(folders):
    result = _diff(*folders)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical: 3 file(s)" in result.stdout


def test_one_changed_value_is_named(folders):
    with h5py.File(folders[1] / "units" / "train_N6_def.h5", "r+") as f:
        f["memorization_ratio"][1] = 0.3
    result = _diff(*folders)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "units/train_N6_def.h5: dataset memorization_ratio differs: 1 of 3 elements, first at (1,): 0.25 != 0.3"
    )
    assert lines[1:] == ["1 difference(s) between A=" + str(folders[0]) + " and B=" + str(folders[1])]


def test_changed_attributes_and_structure_are_named(folders):
    with h5py.File(folders[1] / "figures.h5", "r+") as f:
        f["memorization_ratio"].attrs["units"] = "%"
        f["provenance"].attrs["jax"] = "0.6.1"  # not a revision attribute: compared
        f.attrs["extra"] = 1
        del f["M"]
        f.create_group("fig9")
    result = _diff(*folders)
    assert result.returncode == 1
    assert set(result.stdout.splitlines()[:-1]) == {
        "figures.h5: attribute @extra only in B",
        "figures.h5: dataset M only in A",
        "figures.h5: group fig9 only in B",
        "figures.h5: attribute memorization_ratio@units differs: '1' != '%'",
        "figures.h5: attribute provenance@jax differs: '0.6.0' != '0.6.1'",
    }


def test_a_dtype_change_is_a_difference(folders):
    with h5py.File(folders[1] / "units" / "train_N6_abc.h5", "r+") as f:
        del f["M"]
        f.create_dataset("M", data=np.array([2.0, 4.0, 6.0]))
    result = _diff(*folders)
    assert result.returncode == 1
    assert "units/train_N6_abc.h5: dataset M differs: dtypes int64, float64\n" in result.stdout


def test_missing_unit_and_missing_figures(folders):
    (folders[1] / "units" / "train_N6_abc.h5").unlink()
    (folders[0] / "figures.h5").unlink()
    result = _diff(*folders)
    assert result.returncode == 1
    assert result.stdout.splitlines()[:-1] == ["units/train_N6_abc.h5: only in A", "figures.h5: only in B"]


def test_bad_input_is_one_line_and_exit_2(folders, tmp_path):
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    broken = tmp_path / "broken"
    shutil.copytree(folders[1], broken)
    (broken / "units" / "train_N6_abc.h5").write_bytes(b"not HDF5")
    cases = {
        "is not a folder": (folders[0], tmp_path / "missing"),
        "is not an output folder": (not_a_run, folders[0]),
        "cannot read": (folders[0], broken),
    }
    for message, (a, b) in cases.items():
        result = _diff(a, b)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    result = subprocess.run([sys.executable, str(SCRIPT), str(folders[0])], capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
