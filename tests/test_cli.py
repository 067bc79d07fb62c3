"""Bad input gets one line and exit code 2; --dry-run works on every profile."""

import json
import os
import re
import subprocess
import sys

import jax
import pytest

from artifact import cli, profiles

BAD = [
    (["reproduce", "--profile", "laptop", "--dry-run"], "unknown profile 'laptop'"),
    (["reproduce", "--figures", "2,8", "--dry-run"], "unknown figure(s) 8"),
    (["reproduce", "--set", "train.num_steps", "--dry-run"], "is not key=value"),
    (["reproduce", "--set", "train.num_stepz=5", "--dry-run"], "unknown setting 'num_stepz'"),
    (["reproduce", "--set", "train.num_steps=many", "--dry-run"], "takes an int"),
    (["reproduce", "--set", "train.warmup_fraction=2", "--dry-run"], "warmup_fraction must be in [0, 1)"),
    (["reproduce", "--set", "train=3", "--dry-run"], "is a group"),
    (["reproduce", "--seeds", "1,1", "--dry-run"], "seeds must be distinct"),
    (["reproduce", "--shard", "3/3", "--dry-run"], "need 0 <= I < N"),
    (["reproduce", "--shard", "a/b", "--dry-run"], "--shard takes I/N"),
    (["reproduce", "--set", "fig2=200/50", "--dry-run"], "takes N/d/K"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_unwritable_output_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions
        pytest.skip("running as root: permissions are not enforced")
    assert cli.main(["reproduce", "--profile", "smoke", "--out", str(locked / "out")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_output_inside_a_file_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["reproduce", "--profile", "smoke", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and err.count("\n") == 1


def test_plot_of_a_folder_without_results(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "run `python -m artifact reproduce" in capsys.readouterr().err


def test_paper_profile_refuses_a_cpu_only_jax(tmp_path, capsys):
    assert cli.main(["reproduce", "--profile", "paper", "--out", str(tmp_path)]) == 2
    assert "needs a GPU" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["reproduce", "calibrate"])
def test_64_bit_mode_is_refused_before_anything_is_written(command, tmp_path, capsys):
    """With JAX_ENABLE_X64 set, training would stop deep in its loop with a page of dtype mismatches."""
    jax.config.update("jax_enable_x64", True)
    try:
        argv = [command, "--profile", "smoke", "--figures", "2", "--out", str(tmp_path / "out")]
        if command == "calibrate":  # never the repository's expected values, even if the check regresses
            argv += ["--allow-dirty", "--expected-out", str(tmp_path / "expected.json")]
        assert cli.main(argv) == 2
    finally:
        jax.config.update("jax_enable_x64", False)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unset JAX_ENABLE_X64" in err, err
    assert not (tmp_path / "out").exists()


def test_a_platform_jax_cannot_start_is_one_line_and_info_still_reports(tmp_path, monkeypatch, capsys):
    """JAX_PLATFORMS=cuda with the CPU lock: JAX 0.6.0 raises a bare AssertionError from default_backend()."""

    def cannot_start():
        raise AssertionError

    monkeypatch.setattr(jax, "default_backend", cannot_start)
    for argv in (["reproduce", "--profile", "smoke", "--figures", "1"], ["reproduce", "--dry-run"]):
        assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "JAX cannot start" in err and "docs/troubleshooting.md" in err, err
    assert not (tmp_path / "out").exists()
    assert cli.main(["info"]) == 0
    assert "backend: unavailable: JAX cannot start" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_dry_run_on_every_profile(name, tmp_path, capsys):
    assert (
        cli.main(["reproduce", "--profile", name, "--dry-run", "--out", str(tmp_path), "--set", "train.num_steps=1234"])
        == 0
    )
    out = capsys.readouterr().out
    assert '"num_steps": 1234' in out and "train.num_steps=1234" in out
    assert "to do" in out and "min on a 2-core CPU" in out
    assert not (tmp_path / "units").exists()  # a dry run writes nothing


def test_module_entry_point_and_help():
    result = subprocess.run([sys.executable, "-m", "artifact", "reproduce", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for flag in ("--profile", "--figures", "--out", "--seeds", "--shard", "--set", "--dry-run", "--force"):
        assert flag in result.stdout


def test_a_folder_of_an_older_unit_schema_is_refused(tmp_path, capsys):
    (tmp_path / "run.json").write_text(json.dumps({"profile": "smoke", "overrides": [], "config": {}}))
    assert cli.main(["reproduce", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "older version of the artifact (unit schema v1, this is v3)" in err


def test_an_unreadable_run_record_is_one_line(tmp_path, capsys):
    (tmp_path / "run.json").write_text('{"profile": "smo')
    assert cli.main(["reproduce", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run.json is unreadable" in err


def test_cpu_dry_run_counts_a_shared_program_once_per_step(tmp_path, capsys):
    """On the CPU the fixed cost of a step is shared by the data sets trained in one program (the cpu profile
    stacks four); the flops are not: a unit's estimate falls when it shares, but by less than the share."""

    def minutes(*extra):
        assert (
            cli.main(["reproduce", "--profile", "cpu", "--figures", "7", "--dry-run", "--out", str(tmp_path), *extra])
            == 0
        )
        out = capsys.readouterr().out
        line = next(line for line in out.splitlines() if "to do    train 30/20/2 seed 1" in line)
        return float(line.split("~")[2].split()[0])

    alone, shared = minutes("--set", "layout.datasets_per_program=1"), minutes()
    assert alone / 3 < shared < alone


def test_dry_run_on_an_accelerator_labels_its_estimate(tmp_path, monkeypatch, capsys):
    """The GPU branch of --dry-run, wired on a CPU: the device's measured matmul rate and the stated assumptions."""
    from artifact import pipeline

    monkeypatch.setattr(pipeline.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(pipeline.provenance, "matmul_rate", lambda: 2e13)
    assert cli.main(["reproduce", "--profile", "paper", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert "on this gpu (an estimate: its float32 matmul rate, 20.0 TFLOP/s measured now" in last
    assert "GPU-min" in out and "CPU-min" not in out
    # Every unit to do and every refinement still pending counts in the total.
    minutes = [float(m.replace(",", "")) for m in re.findall(r"~([\d,.]+) GPU-min", out)]
    assert len(minutes) == sum(1 for line in out.splitlines() if line.startswith(("  to do ", "  pending ")))
    assert abs(float(last.split()[3].replace(",", "")) - sum(minutes)) < 1


def test_cpu_dry_run_divides_its_estimate_among_the_workers(tmp_path, capsys):
    def last_line(*extra):
        assert cli.main(["reproduce", "--profile", "cpu", "--dry-run", "--out", str(tmp_path), *extra]) == 0
        return capsys.readouterr().out.strip().splitlines()[-1]

    alone, four = last_line("--set", "layout.workers=1"), last_line("--set", "layout.workers=4")
    total = float(alone.split()[3])
    assert "at once" not in alone
    assert f"{total / 4:,.1f} min at best with 4 units at once" in four


def test_worker_processes_on_an_accelerator_are_refused(tmp_path, monkeypatch, capsys):
    """Several processes would each claim the one device's memory."""
    import jax

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    argv = ["reproduce", "--profile", "smoke", "--set", "layout.workers=2", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "leave layout.workers at 0" in err
