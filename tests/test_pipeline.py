"""Resume, shards, atomic files and schema checks, on a tiny configuration of the smoke profile."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import TINY, WORKERS, child_processes, run_tiny, wait_until_gone

from artifact import cli, experiment, provenance, store


def _run(out: Path, *extra: str) -> None:
    run_tiny(out, *extra)


def _kind(path: Path) -> str:
    with h5py.File(path, "r") as f:
        return f.attrs["schema"].split("/")[0]


def _contents(path: Path) -> dict:
    """Every dataset and attribute outside the `volatile` group."""
    items = {}
    with h5py.File(path, "r") as f:
        items.update({f"@{k}": v for k, v in f.attrs.items()})

        def visit(name, obj):
            if name.startswith("volatile"):
                return
            items.update({f"{name}@{k}": v for k, v in obj.attrs.items()})
            if isinstance(obj, h5py.Dataset):
                items[name] = obj[()]

        f.visititems(visit)
    return items


def _assert_same(a: Path, b: Path) -> None:
    ca, cb = _contents(a), _contents(b)
    assert ca.keys() == cb.keys()
    for key in ca:
        np.testing.assert_array_equal(ca[key], cb[key], err_msg=key)


def test_reference_run_has_every_output(reference):
    assert (reference / "figures.h5").exists() and (reference / "REPORT.md").exists()
    for fig in ("fig1", "fig2", "fig3", "fig6", "fig7"):
        assert (reference / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (reference / "figures" / f"{fig}.pdf").exists()
    store.validate(reference / "figures.h5", "figures")
    with h5py.File(reference / "figures.h5") as f:
        ds = f["fig2/memorization_ratio"]
        assert ds.attrs["units"] == "1" and "DDIM" in ds.attrs["description"] and ds.attrs["paper"].startswith("Fig. 2")
        assert f["provenance"].attrs["jax"] == "0.6.0" and "git_revision" in f["provenance"].attrs
        assert f["volatile"].attrs["wall_seconds"] >= 0
    for unit in (reference / "units").glob("*.h5"):
        store.validate(unit, _kind(unit), experiment.required_datasets(_kind(unit)))


def test_rerun_skips_finished_units_and_changes_nothing(reference_copy, capfd):
    before = {p.name: p.stat().st_mtime_ns for p in (reference_copy / "units").glob("*.h5")}
    _run(reference_copy)
    assert "computing" not in capfd.readouterr().err
    assert before == {p.name: p.stat().st_mtime_ns for p in (reference_copy / "units").glob("*.h5")}


def test_union_of_shards_equals_the_unsharded_run(reference, tmp_path):
    for i in range(3):
        _run(tmp_path, "--shard", f"{i}/3")
        if i < 2:
            assert not (tmp_path / "figures.h5").exists()
    _run(tmp_path)  # assembles; computes nothing new
    for unit in (reference / "units").glob("*.h5"):
        _assert_same(unit, tmp_path / "units" / unit.name)
    _assert_same(reference / "figures.h5", tmp_path / "figures.h5")


def test_kill_9_then_resume_equals_the_uninterrupted_run(reference, tmp_path):
    units = tmp_path / "units"
    process = subprocess.Popen(
        [sys.executable, "-m", "artifact", "reproduce", *TINY, *WORKERS, "--out", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(list(units.glob("*.h5"))) < 2:
        time.sleep(0.2)
    workers = child_processes(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert workers and not wait_until_gone(workers, 10), "a worker outlived its killed parent"
    finished = list(units.glob("*.h5"))
    assert 2 <= len(finished) < len(list((reference / "units").glob("*.h5")))
    for unit in finished:  # whatever is under a final name is complete
        store.validate(unit, _kind(unit), experiment.required_datasets(_kind(unit)))
    _run(tmp_path)
    _assert_same(reference / "figures.h5", tmp_path / "figures.h5")
    assert not list(units.glob(".*.tmp"))


def test_a_lost_unit_of_a_cohort_is_computed_again_with_its_companions(reference, reference_copy, capfd):
    """The two seeds of (20, 8, 2) train in one program: losing one unit retrains both (so that it is
    computed with the companion it had) and writes back only the lost one, equal to the original."""
    stacked = sorted((reference_copy / "units").glob("train_N20_d8_K2_seed1_*.h5"))
    first_stage = next(p for p in stacked if "seed0" in _contents(p)["provenance@layout"])
    assert "N20_d8_K2_seed0" in _contents(first_stage)["provenance@layout"]
    first_stage.unlink()
    companions = {p.name: p.stat().st_mtime_ns for p in (reference_copy / "units").glob("*.h5")}
    _run(reference_copy)
    assert "computing train 20/8/2 seed 0" in capfd.readouterr().err
    assert companions == {
        p.name: p.stat().st_mtime_ns for p in (reference_copy / "units").glob("*.h5") if p.name in companions
    }
    _assert_same(reference / "units" / first_stage.name, first_stage)


def test_validator_rejects_incomplete_and_foreign_files(reference, tmp_path):
    unit = next((reference / "units").glob("train_N*.h5"))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(unit.read_bytes()[: unit.stat().st_size // 2])
    with pytest.raises(store.InvalidResultFile):
        store.validate(truncated, "training_unit")
    unmarked = tmp_path / "unmarked.h5"
    unmarked.write_bytes(unit.read_bytes())
    with h5py.File(unmarked, "a") as f:
        del f.attrs["complete"]
    with pytest.raises(store.InvalidResultFile, match="incomplete"):
        store.validate(unmarked, "training_unit")
    lacking = tmp_path / "lacking.h5"
    lacking.write_bytes(unit.read_bytes())
    with h5py.File(lacking, "a") as f:
        del f["memorization_ratio"]
    with pytest.raises(store.InvalidResultFile, match="memorization_ratio"):
        store.validate(lacking, "training_unit", experiment.required_datasets("training_unit"))
    with pytest.raises(store.InvalidResultFile, match="schema"):
        store.validate(unit, "baseline_unit")


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        store.write_atomic(tmp_path / "x.h5", "figures", {}, {"bad": object()}, {}, {})
    assert list(tmp_path.iterdir()) == []


def test_another_configuration_in_the_same_folder_is_refused(reference_copy, capsys):
    out = str(reference_copy)  # a copy: were the refusal broken, this would train into the folder
    assert cli.main(["reproduce", *TINY, "--set", "train.num_steps=301", "--out", out, "--dry-run"]) == 0
    assert cli.main(["reproduce", *TINY, "--set", "train.num_steps=301", "--out", out]) == 2
    assert "another configuration" in capsys.readouterr().err


def test_plot_renders_from_hdf5_alone(reference, tmp_path):
    assert cli.main(["plot", str(reference), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig2.png").exists()


def _copy_units_with_one_from_other_code(reference: Path, folder: Path) -> str:
    """Copy the reference's units into folder/units and relabel one as computed by another revision."""
    units = folder / "units"
    units.mkdir(parents=True)
    for unit in sorted((reference / "units").glob("*.h5")):
        shutil.copy(unit, units / unit.name)
    other = "f" * 40
    with h5py.File(next(iter(sorted(units.glob("*.h5")))), "r+") as f:
        f["provenance"].attrs["git_revision"] = other
        f["provenance"].attrs["git_dirty"] = "false"
    return other


def test_reused_units_of_other_code_are_named_in_the_outputs(reference, tmp_path, capsys):
    other = _copy_units_with_one_from_other_code(reference, tmp_path)
    _run(tmp_path)
    err = capsys.readouterr().err
    assert "computing" not in err and f"1 of {len(list(tmp_path.glob('units/*.h5')))} units" in err and other in err
    with h5py.File(tmp_path / "figures.h5") as f:
        computed_by = f["provenance"].attrs["units_computed_by"].split(", ")
        assert other in computed_by and len(computed_by) == 2
    assert f"1 by {other}" in (tmp_path / "REPORT.md").read_text()


def test_calibrate_refuses_units_of_other_code(reference, tmp_path, capsys):
    other = _copy_units_with_one_from_other_code(reference, tmp_path / "runs")
    settings = [a for a in TINY if a not in ("--profile", "smoke", "--seeds", "0,1")]
    argv = ["calibrate", "--profile", "smoke", "--seeds", "0,1", *settings, "--out", str(tmp_path / "runs")]
    code = cli.main([*argv, "--expected-out", str(tmp_path / "expected.json"), "--allow-dirty"])
    err = capsys.readouterr().err
    assert code == 2 and other in err and "fresh --out" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "expected.json").exists()


def test_code_labels_tell_edits_and_unknown_trees_apart():
    clean = {"git_revision": "abc", "git_dirty": "false", "git_diff_sha256": ""}
    edit_1 = {"git_revision": "abc", "git_dirty": "true", "git_diff_sha256": "1111"}
    edit_2 = {"git_revision": "abc", "git_dirty": "true", "git_diff_sha256": "2222"}
    container = {"git_revision": "abc", "git_dirty": "unknown", "git_diff_sha256": ""}
    labels = [provenance.code_label(state) for state in (clean, edit_1, edit_2, container)]
    assert labels[0] == "abc" and len(set(labels)) == 4
    assert provenance.code_label({"git_revision": "abc", "git_dirty": "true"}).endswith("+dirty:?")  # older files


def test_source_state_digests_the_uncommitted_changes():
    state = provenance.source_state()
    if state["git_dirty"] == "true":
        assert len(state["git_diff_sha256"]) == 16
    elif state["git_dirty"] == "false":
        assert state["git_diff_sha256"] == "" and len(state["git_revision"]) == 40
    else:
        pytest.skip("not a git checkout")
