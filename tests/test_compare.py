"""compare: seed-calibrated expected values pass; perturbed outputs fail and name the claim."""

import json
import shutil
from pathlib import Path

import h5py
import pytest
from conftest import TINY

from artifact import cli, compare


@pytest.fixture(scope="module")
def expected(reference, tmp_path_factory) -> Path:
    """Calibrated on the TINY configuration over seeds 0 and 1 (shares the reference's units by hash)."""
    work = tmp_path_factory.mktemp("calibration")
    path = work / "expected.json"
    settings = [a for a in TINY if a not in ("--profile", "smoke", "--seeds", "0,1")]
    argv = [
        "calibrate",
        "--profile",
        "smoke",
        "--seeds",
        "0,1",
        *settings,
        "--out",
        str(work / "runs"),
        "--expected-out",
        str(path),
        "--allow-dirty",
    ]
    assert cli.main(argv) == 0
    return path


def _checks(path: Path) -> dict:
    return {c["id"]: c for c in json.loads(path.read_text())["checks"]}


def _perturbed_copy(reference: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(reference / "figures.h5", copy / "figures.h5")
    shutil.copy(reference / "run.json", copy / "run.json")
    return copy


def _claims_must_hold(copy: Path) -> None:
    """Make the copied run's record (in figures.h5, where compare reads it) say the claims must hold."""
    with h5py.File(copy / "figures.h5", "a") as f:
        record = json.loads(f.attrs["config"])
        record["config"]["paper_claims_must_hold"] = True
        f.attrs["config"] = json.dumps(record)


def test_calibrated_file_is_readable_and_sourced(expected):
    doc = json.loads(expected.read_text())
    assert doc["profile"] == "smoke" and doc["calibration"]["git_revision"]
    assert all(c["source"].startswith("max deviation over seeds [0, 1]") for c in doc["checks"])
    rules = {c["rule"] for c in doc["checks"]}
    assert {"ratio", "grid", "relative", "absolute"} <= rules


def test_the_run_itself_and_another_seed_pass(reference_copy, expected, tmp_path, capsys):
    assert cli.main(["compare", str(reference_copy), "--expected", str(expected)]) == 0
    out = capsys.readouterr().out
    assert "checks passed" in out and "Fig. 2: memorization ratio vs M/N" in out
    assert (reference_copy / "compare.md").exists() and (reference_copy / "compare.json").exists()
    other = tmp_path / "seed1"
    argv = ["reproduce", "--profile", "smoke", "--seeds", "1,0", *TINY[4:], "--out", str(other)]
    assert cli.main(argv) == 0
    assert cli.main(["compare", str(other), "--expected", str(expected)]) == 0


def test_one_sample_more_or_less_fails_and_names_the_claim(reference, expected, tmp_path, capsys):
    exact = [
        c for c in _checks(expected).values() if c["rule"] == "ratio" and c["tolerance"] == 0 and "@M/N=" in c["id"]
    ]
    assert exact, "no memorization ratio agreed exactly across seeds"
    target = exact[-1]
    x = float(target["id"].split("=")[1])
    copy = _perturbed_copy(reference, tmp_path)
    with h5py.File(copy / "figures.h5", "a") as f:
        ds = f["fig2/memorization_ratio"]
        ratios, m_over_n = ds[()], f["fig2/M_over_N"][()]
        i = int(abs(m_over_n - x).argmin())
        ratios[i] += (-1 if ratios[i] > 0 else 1) / target["samples"]
        ds[...] = ratios
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 1
    out = capsys.readouterr().out
    assert f"{target['id']}" in out and "FAIL" in out and "Fig. 2: memorization ratio vs M/N" in out


def test_a_crossover_moved_by_one_grid_step_fails(reference, expected, tmp_path, capsys):
    exact = [c for c in _checks(expected).values() if c["id"].startswith("fig3.M_pt_over_N@") and c["tolerance"] == 0]
    assert exact, "no Fig. 3 crossover agreed exactly across seeds"
    target = exact[0]
    n = int(target["id"].split("@")[1].split("/")[0])
    copy = _perturbed_copy(reference, tmp_path)
    with h5py.File(copy / "figures.h5", "a") as f:
        ds = f["fig3/M_pt_over_N"]
        tuples = [tuple(t) for t in f["fig3/tuples"][()]]
        values = ds[()]
        i = tuples.index(tuple(int(v) for v in target["id"].split("@")[1].split("/")))
        values[i] += (n // 5) / n  # one step of the 5-model grid of the smoke profile
        ds[...] = values
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 1
    out = capsys.readouterr().out
    assert target["id"] in out and "Fig. 3: empirical M_pt/N" in out


def test_missing_dataset_and_broken_file_fail_cleanly(reference, expected, tmp_path, capsys):
    copy = _perturbed_copy(reference, tmp_path)
    with h5py.File(copy / "figures.h5", "a") as f:
        del f["fig6"]
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 1
    assert "missing in the output" in capsys.readouterr().out
    data = (copy / "figures.h5").read_bytes()
    (copy / "figures.h5").write_bytes(data[: len(data) // 3])
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 1
    assert "not a readable HDF5 file" in capsys.readouterr().out


def test_compare_without_expected_values_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["compare", str(tmp_path)]) == 2
    assert "run.json" in capsys.readouterr().err


def test_calibrating_some_figures_keeps_the_others_checks():
    previous = {
        "calibration": {"git_revision": "old"},
        "checks": [{"id": "fig2.M_pt_over_N", "expected": 0.6}, {"id": "mlp.memorization_ratio@widest", "expected": 0}],
    }
    new = [{"id": "mlp.memorization_ratio@widest", "expected": 0.36}]
    checks, by_figure = compare.merge_calibration(previous, new, ["mlp"], "new")
    assert checks == [{"id": "fig2.M_pt_over_N", "expected": 0.6}, *new]
    assert by_figure == {"fig2": "old", "mlp": "new"}
    everything, by_figure = compare.merge_calibration(None, new, ["mlp"], "new")
    assert everything == new and by_figure == {"mlp": "new"}


def test_the_paper_claims_are_reported_at_smoke_and_must_hold_where_the_profile_says(reference, expected, tmp_path):
    """The same output, judged by the same expected values: a failed paper claim is reported at smoke
    (exit 0) and fails compare (exit 1) once the run's profile says the claims must hold (cpu, paper)."""
    copy = _perturbed_copy(reference, tmp_path)
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 0
    document = json.loads((copy / "compare.json").read_text())
    failed = [r["id"] for r in document["paper_claims"] if not r["passed"]]
    assert document["paper_claims_must_hold"] is False and all(r["passed"] for r in document["checks"])
    assert failed, "the tiny run shows every paper claim: this test needs one that fails"
    assert "The paper's claims" in (copy / "compare.md").read_text()
    _claims_must_hold(copy)
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 1
    assert json.loads((copy / "compare.json").read_text())["paper_claims_must_hold"] is True


def test_every_profile_but_smoke_must_show_the_paper_claims():
    from artifact import profiles

    assert {name: p.paper_claims_must_hold for name, p in profiles.PROFILES.items()} == {
        "paper": True,
        "cpu": True,
        "smoke": False,
    }


def test_a_claim_explained_at_reduced_scale_is_reported_not_dropped(reference, expected, tmp_path, monkeypatch):
    """A paper statement whose entry says why it cannot hold at this profile's scale still fails, visibly
    ("fails, explained" with the reason), but does not fail a run whose claims must hold; one without
    the explanation does."""
    copy = _perturbed_copy(reference, tmp_path)
    _claims_must_hold(copy)
    failing = {
        "id": "fig2.memorization_ratio@M/N=1.0",
        "claim": "a bound this run misses",
        "expected": 2.0,
        "rule": "at_least",
        "tolerance": 0,
        "source": "test",
    }
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"checks": [failing | {"not_at_reduced_scale": {"smoke": "the test says so"}}]}))
    monkeypatch.setattr(compare, "PAPER_CLAIMS", claims)
    (result,) = [r for r in compare.compare(copy, claims) if r.id == failing["id"]]
    assert not result.passed and result.waived and "the test says so" in result.note
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 0
    assert "fails, explained" in (copy / "compare.md").read_text()
    claims.write_text(json.dumps({"checks": [failing]}))
    assert cli.main(["compare", str(copy), "--expected", str(expected)]) == 1
