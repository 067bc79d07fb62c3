"""Faults a user meets on a shared machine: each ends with one line and a documented exit code, leaves
the folder's finished files intact and no temporaries behind, and a rerun completes.

Every run here is Fig. 2 of the tiny configuration, whose units are files of the session's reference
run (same configuration, same names), so each outcome is checked against those files.
"""

import contextlib
import errno
import json
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
from conftest import TINY, WORKERS, child_processes, wait_until_gone

from artifact import cli, fashion_mnist, files, store

FIG2 = [*TINY, "--figures", "2"]
ROOT = Path(__file__).resolve().parent.parent


def _reproduce_command(out: Path) -> list[str]:
    """A separate process, as a user runs it: with worker processes."""
    return [sys.executable, "-m", "artifact", "reproduce", *FIG2, *WORKERS, "--out", str(out)]


def _datasets(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        items = {}
        f.visititems(
            lambda name, obj: items.__setitem__(name, obj[()])
            if isinstance(obj, h5py.Dataset) and not name.startswith("volatile")
            else None
        )
    return items


def _assert_same_datasets(a: Path, b: Path) -> None:
    da, db = _datasets(a), _datasets(b)
    assert da.keys() == db.keys()
    for name in da:
        np.testing.assert_array_equal(da[name], db[name], err_msg=f"{a.name}: {name}")


def _fig2_units(reference: Path) -> list[Path]:
    return sorted(p for p in (reference / "units").glob("*.h5") if "_N20_d8_K2_seed0_" in p.name)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(files.TEMPORARY_SUFFIX)]


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _assert_finished_like_reference(out: Path, reference: Path) -> None:
    units = _fig2_units(reference)
    assert {p.name for p in units} <= {p.name for p in (out / "units").glob("*.h5")}
    for unit in units:
        _assert_same_datasets(unit, out / "units" / unit.name)
    store.validate(out / "figures.h5", "figures")
    assert not _temporaries(out)


# --- the writer ---------------------------------------------------------------------------------


def test_write_is_all_or_nothing_and_readable_by_the_group(tmp_path, monkeypatch):
    target = tmp_path / "result.bin"
    files.write_bytes(target, b"old")
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~files._umask())  # not mkstemp's private 0600

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(files.StorageError, match=r"cannot write .*result\.bin: the disk or quota is full"):
        files.write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["result.bin"]


def test_stale_temporaries_of_dead_processes_on_this_host_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = os.uname().nodename
    stale = tmp_path / f".unit.h5~{host}~{int(dead.stdout)}~abc.tmp"
    live = tmp_path / f".unit.h5~{host}~{os.getpid()}~abc.tmp"
    other_host = tmp_path / f".unit.h5~elsewhere~{int(dead.stdout)}~abc.tmp"
    for path in (stale, live, other_host):
        path.write_bytes(b"partial")
    assert files.remove_stale(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other_host.name])


# --- a full disk ------------------------------------------------------------------------------------


def test_full_disk_in_process_exits_3_keeps_units_and_resumes(reference, tmp_path, monkeypatch, capsys):
    """The writer fails as on a full disk (an injected ENOSPC), on any machine."""
    units = tmp_path / "units"
    units.mkdir()
    baseline = next(p for p in _fig2_units(reference) if p.name.startswith("baselines"))
    shutil.copy(baseline, units / baseline.name)
    real_write = files.write_bytes

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def refusing_hdf5(path, data):  # the real writer, on a disk that fills up at the first unit
        if Path(path).suffix != ".h5":
            return real_write(path, data)
        with monkeypatch.context() as patch:
            patch.setattr(files.os, "fsync", full_disk)
            return real_write(path, data)

    monkeypatch.setattr(files, "write_bytes", refusing_hdf5)
    in_process = ["--set", "layout.workers=1"]  # the patched writer lives in this process only
    assert cli.main(["reproduce", *FIG2, *in_process, "--out", str(tmp_path)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert "the disk or quota is full" in line and "rerun the same command" in line
    _assert_same_datasets(baseline, units / baseline.name)
    assert not _temporaries(tmp_path)
    monkeypatch.undo()
    assert cli.main(["reproduce", *FIG2, "--out", str(tmp_path)]) == 0
    _assert_finished_like_reference(tmp_path, reference)


@contextlib.contextmanager
def _small_tmpfs(folder: Path, size_kib: int):
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip() or 'not root'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="mounting a tmpfs needs root on Linux")
def test_full_disk_for_real_exits_3_without_a_crash(reference, tmp_path):
    """A real full file system: the process must not crash in h5py's clean-up (it used to segfault)."""
    with _small_tmpfs(tmp_path / "disk", 512) as disk:
        out = disk / "out"
        (out / "units").mkdir(parents=True)
        baseline = next(p for p in _fig2_units(reference) if p.name.startswith("baselines"))
        shutil.copy(baseline, out / "units" / baseline.name)
        filler = disk / "filler"
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 8 * 1024))  # room for run.json, not for a unit
        result = subprocess.run(_reproduce_command(out), capture_output=True, text=True, timeout=600)
        assert result.returncode == 3, result.stderr
        assert "disk or quota is full" in _one_line(result.stderr)
        _assert_same_datasets(baseline, out / "units" / baseline.name)
        assert not _temporaries(out)
        filler.unlink()
        result = subprocess.run(_reproduce_command(out), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        _assert_finished_like_reference(out, reference)


# --- corrupted inputs -------------------------------------------------------------------------------


def test_corrupted_bundled_sample_is_caught_before_decompressing(tmp_path, monkeypatch, capsys):
    sample = fashion_mnist.manifest()["offline_sample"]["search_path"][0]
    (tmp_path / "data").mkdir()
    data = bytearray((ROOT / sample).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte
    (tmp_path / sample).write_bytes(bytes(data))
    monkeypatch.setattr(fashion_mnist, "ROOT", tmp_path)
    code = cli.main(["reproduce", *TINY, "--figures", "5", "--out", str(tmp_path / "out")])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "is corrupted" in line and "git checkout --" in line
    assert not (tmp_path / "out" / "units").exists()  # refused before any compute


def test_corrupted_canonical_file_is_caught_before_parsing(tmp_path):
    name = fashion_mnist.TRAIN_IMAGES
    (tmp_path / name).write_bytes(b"\x1f\x8b" + b"\0" * 100)  # a gzip header and garbage
    with pytest.raises(fashion_mnist.DataError, match="is corrupted .*fetch-data"):
        fashion_mnist.read_verified(tmp_path, name)


def test_truncated_unit_is_named_and_computed_again(reference, tmp_path, capfd):
    shutil.copytree(reference / "units", tmp_path / "units")
    shutil.copy(reference / "run.json", tmp_path / "run.json")
    victim = next(p for p in sorted((tmp_path / "units").glob("train_*.h5")) if "_N20_d8_K2_seed0_" in p.name)
    victim.write_bytes(victim.read_bytes()[:2048])
    assert cli.main(["reproduce", *FIG2, "--out", str(tmp_path)]) == 0
    err = capfd.readouterr().err
    assert f"note: {victim} is not a readable HDF5 file" in err and "computing it again" in err
    _assert_finished_like_reference(tmp_path, reference)


def test_truncated_figures_file_is_refused_by_plot_and_failed_by_compare(reference, tmp_path, capsys):
    shutil.copytree(reference, tmp_path / "out")
    figures_h5 = tmp_path / "out" / "figures.h5"
    figures_h5.write_bytes(figures_h5.read_bytes()[:2048])
    assert cli.main(["plot", str(tmp_path / "out")]) == 2
    assert "not a readable HDF5 file" in _one_line(capsys.readouterr().err)
    assert cli.main(["compare", str(tmp_path / "out")]) == 1
    assert "schema" in capsys.readouterr().out


# --- several processes on one folder ----------------------------------------------------------------


def test_two_runs_on_one_folder_both_finish(reference, tmp_path):
    out = tmp_path / "out"
    runs = [subprocess.Popen(_reproduce_command(out), stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    _assert_finished_like_reference(out, reference)


def test_plots_and_compares_at_once_on_one_folder(reference, tmp_path):
    shutil.copytree(reference, tmp_path / "out")
    commands = [["plot", str(tmp_path / "out")], ["compare", str(tmp_path / "out")]] * 3
    runs = [
        subprocess.Popen([sys.executable, "-m", "artifact", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in commands
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    # The tiny configuration is not the smoke profile's, so compare's verdict is 1 (failed checks), every time.
    assert [run.returncode for run in runs] == [0, 1] * 3, [err for _, err in outputs]
    assert not any(b"Traceback" in err for _, err in outputs)
    assert len({out for out, _ in outputs[1::2]}) == 1
    json.loads((tmp_path / "out" / "compare.json").read_text())
    assert not _temporaries(tmp_path / "out")
    assert (tmp_path / "out" / "figures" / "fig2.png").stat().st_size > 1000


# --- signals -----------------------------------------------------------------------------------------


def test_sigterm_mid_run_leaves_no_debris_and_resumes(reference, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(_reproduce_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list((out / "units").glob("*.h5")):
        time.sleep(0.1)
    workers = child_processes(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) in (-signal.SIGTERM, 128 + signal.SIGTERM)
    assert workers and not wait_until_gone(workers, 5), "SIGTERM left a worker running"
    finished = list((out / "units").glob("*.h5"))
    assert finished and not (out / "figures.h5").exists()
    for unit in finished:
        _assert_same_datasets(reference / "units" / unit.name, unit)
    result = subprocess.run(_reproduce_command(out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    _assert_finished_like_reference(out, reference)
