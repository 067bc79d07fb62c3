"""The MLP family (beyond the paper): trained through the generic units, batched over widths, padded exactly."""

import h5py
import jax
import numpy as np
import pytest
from conftest import key

from artifact import data, experiment, families, pipeline, process, store
from artifact.families import mlp
from artifact.train import TrainConfig, train_models

MLP = families.family("mlp")


@pytest.fixture(scope="module")
def dataset():
    return data.make_dataset(data.MixtureDataConfig(num_train=20, dim=4, num_components=2, num_heldout=10), seed=0)


def test_parameter_count_is_the_models_size(dataset):
    for width in (1, 7, 64):
        model = MLP.init(key("init"), dataset, width, TrainConfig())
        assert sum(leaf.size for leaf in jax.tree.leaves(model)) == mlp.parameter_count(width, 4)


def test_zero_padding_changes_nothing(dataset):
    """Evaluation pads every width to one shape: the padded model must compute the same ε̂."""
    model = MLP.init(key("init"), dataset, 5, TrainConfig())
    x = jax.random.normal(key("x"), (7, 4))
    for t in (0.001, 0.36, 0.999):
        exact = MLP.denoise(MLP.evaluation_arrays(model, 5), x, t)
        padded = MLP.denoise(MLP.evaluation_arrays(model, 40), x, t)
        np.testing.assert_allclose(padded, exact, rtol=1e-6, atol=1e-6)


def test_widths_trained_together_equal_each_width_alone(dataset):
    config = TrainConfig(num_steps=60, noise_draws=8, peak_lr=1e-2, final_lr=1e-4)
    grid = process.time_grid()
    together = train_models(key("run"), MLP, dataset, grid, [3, 16], config, num_logs=3)
    for column, width in enumerate([3, 16]):
        alone = train_models(key("run"), MLP, dataset, grid, [width], config, num_logs=3)
        for a, b in zip(jax.tree.leaves(alone.models[0]), jax.tree.leaves(together.models[column]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_an_mlp_unit_trains_samples_and_evaluates(dataset, tmp_path):
    unit = experiment.TrainingUnit(
        "mlp",
        data.MixtureDataConfig(num_train=20, dim=4, num_components=2, num_heldout=10),
        0,
        TrainConfig(num_steps=1500, noise_draws=8, peak_lr=1e-2, final_lr=1e-4),
        experiment.EvalConfig(num_samples=20, loss_noise_draws=8, baseline_points=5),
        (4, 32),
    )
    assert unit.kind == "mlp_training_unit" and unit.filename.startswith("train_mlp_N20_d4_K2_seed0_")
    assert pipeline.run_unit(unit, tmp_path, force=False) == "computed"
    store.validate(tmp_path / unit.filename, unit.kind, experiment.required_datasets(unit.kind))
    tree = store.read_tree(tmp_path / unit.filename)
    assert tree["parameter_count"].tolist() == [mlp.parameter_count(4, 4), mlp.parameter_count(32, 4)]
    history = tree["loss_history"]
    assert np.all(history[-5:].mean(0) < 0.7 * history[:3].mean(0))  # both widths learned
    assert np.all(np.isfinite(tree["heldout_loss_eps"])) and np.all(
        (0 <= tree["memorization_ratio"]) & (tree["memorization_ratio"] <= 1)
    )
    # A trained ε-predictor beats predicting zero (loss d = 4 per sample) at the panel's time.
    assert np.all(tree["train_loss_eps"][:, 16] < 4.0)


def test_all_means_the_papers_figures_and_extensions_run_when_named():
    assert pipeline.parse_figures("all") == ("1", "2", "3", "4", "5", "6", "7")
    assert pipeline.parse_figures("all,mlp") == ("1", "2", "3", "4", "5", "6", "7", "mlp")
    assert pipeline.parse_figures("mlp,2") == ("mlp", "2")


def test_the_mlp_figure_end_to_end(tmp_path):
    """A tiny --figures mlp run: the figure's group, its attributes and observables, its plot and its report."""
    from conftest import TINY

    from artifact import cli, figures

    settings = ["--set", "mlp.widths=1,4,16", "--set", "mlp.train.num_steps=300", "--seeds", "0"]
    argv = ["reproduce", *[a for a in TINY if a not in ("--seeds", "0,1")], *settings, "--figures", "mlp"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    with h5py.File(tmp_path / "figures.h5", "r") as f:
        g = f["mlp"]
        assert g["parameter_count"][()].tolist() == [mlp.parameter_count(w, 8) for w in (1, 4, 16)]
        assert g.attrs["parameter_count_formula"] == mlp.PARAMETER_FORMULA
        assert g["loss_history"].shape[1] == 3 and g["mixture_memorization_ratio"].shape == g["mixture_M"].shape
        assert all("paper" in g[name].attrs and "units" in g[name].attrs for name in g)
    observed = figures.observables(tmp_path / "figures.h5")
    assert {"mlp.memorization_ratio@widest", "mlp.widest_loss_change_last_tenth"} <= observed.keys()
    assert all(o.claim.startswith("Extension (not in the paper)") for k, o in observed.items() if k.startswith("mlp."))
    assert (tmp_path / "figures" / "mlp.png").stat().st_size > 1000
    assert "![Extension, not in the paper: mlp](figures/mlp.png)" in (tmp_path / "REPORT.md").read_text()
