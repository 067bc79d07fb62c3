"""A denoiser family defined here, not in artifact/, trains, samples and evaluates through the generic units."""

import json
from typing import ClassVar

import equinox as eqx
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from artifact import data, experiment, families, figures, pipeline, stages, store, workers
from artifact.process import alpha, sigma
from artifact.train import TrainConfig


class OneGaussian(eqx.Module):
    """N(mean, exp(log_variance) I): one component, whatever size it is asked for."""

    mean: jax.Array  # (d,)
    log_variance: jax.Array  # scalar

    @property
    def variance(self):
        return jnp.exp(self.log_variance)

    @property
    def num_components(self) -> int:
        return 1


def gaussian_x0(mean, variance, x_t, t):
    """E[X0 | X_t = x_t] for X0 ~ N(mean, variance I): mean + a v / (a² v + s²) (x_t - a mean). t broadcasts."""
    a, s = alpha(t), sigma(t)
    return mean + a * variance / (a * a * variance + s * s) * (x_t - a * mean)


class OneGaussianFamily(families.AbstractDenoiserFamily):
    name: ClassVar[str] = "test-one-gaussian"
    unit_kind: ClassVar[str] = "test_one_gaussian_training_unit"
    data_model: ClassVar[str] = "isotropic"
    statistics: ClassVar[tuple[str, ...]] = ("learned_variance", "distance_to_data_mean")
    loss_points_per_chunk: ClassVar[int] = 10
    cpu_flops_per_second: ClassVar[float] = 1e9
    cpu_chunk_factor: ClassVar[float] = 1.0

    def init(self, key, dataset, size, config):
        return OneGaussian(jnp.zeros(dataset.train.shape[1]), jnp.log(jnp.asarray(0.1)))

    def residual(self, model, x0, eps, t):
        return self.evaluation_residual((model.mean, model.variance), x0, eps, t)

    def evaluation_arrays(self, model, rows):
        return model.mean, model.variance

    def denoise(self, arrays, x_t, t):
        return gaussian_x0(*arrays, x_t, t)

    def evaluation_residual(self, arrays, x0, eps, t):
        a, s = alpha(t)[:, None, None], sigma(t)[:, None, None]
        x_t = a * x0[:, None] + s * eps
        return (x_t - a * gaussian_x0(*arrays, x_t, t[:, None, None])) / s - eps

    def statistics_of(self, model, dataset):
        data_mean = np.mean(np.asarray(dataset.train), axis=0)
        return {
            "learned_variance": float(model.variance),
            "distance_to_data_mean": float(np.linalg.norm(np.asarray(model.mean) - data_mean)),
        }

    def training_flops(self, data_config, sizes, num_steps, noise_draws):
        return 10.0 * data_config.num_train * noise_draws * data_config.dim * num_steps


@pytest.fixture(scope="module")
def toy_family():
    try:
        return families.register_family(OneGaussianFamily())
    except ValueError:  # registered by an earlier test of this session
        return families.family(OneGaussianFamily.name)


def test_a_family_defined_outside_the_artifact_trains_samples_and_evaluates(toy_family, tmp_path):
    config = data.MixtureDataConfig(num_train=20, dim=4, num_components=2, num_heldout=10)
    unit = experiment.TrainingUnit(
        toy_family.name,
        config,
        0,
        TrainConfig(num_steps=2000, noise_draws=8, peak_lr=2e-2, final_lr=1e-3),
        experiment.EvalConfig(num_samples=20, loss_noise_draws=8, baseline_points=5),
        (1,),
    )
    assert unit.kind == "test_one_gaussian_training_unit" and "distance_to_data_mean" in unit.required_datasets()
    assert pipeline.run_unit(unit, tmp_path, force=False) == "computed"
    path = tmp_path / unit.filename
    store.validate(path, unit.kind, experiment.required_datasets(unit.kind))
    tree = store.read_tree(path)
    with h5py.File(path, "r") as f:  # the layout that computed it, outside its identity
        assert json.loads(f["provenance"].attrs["layout"]) == {
            "points_per_chunk": 10,
            "trained_with": [unit.label()],
            "cores": len(workers.available_cores()),  # computed in this process, with its cores
        }
    assert pipeline.run_unit(unit, tmp_path, force=False) == "done"

    train = np.asarray(data.make_dataset(config, 0).train, np.float64)
    spread = float(np.mean(np.var(train, axis=0)))  # the isotropic Gaussian closest to the data has this variance
    assert tree["distance_to_data_mean"][0] < 0.1 * np.sqrt(config.dim * spread)
    assert 0.8 * spread < tree["learned_variance"][0] < 1.25 * spread
    assert tree["memorization_ratio"][0] <= 0.1  # a broad Gaussian lands near a training point by chance only (d = 4)
    history = tree["loss_history"][:, 0]
    assert history[-10:].mean() < 0.8 * history[:5].mean()  # training lowered the loss
    assert tree["train_loss_eps"].shape == tree["heldout_loss_eps"].shape == (1, 26)


def test_names_and_kinds_are_unique(toy_family):
    class Impostor(OneGaussianFamily):
        unit_kind: ClassVar[str] = "training_unit"  # the isotropic family's

    with pytest.raises(ValueError, match="taken"):
        families.register_family(Impostor())
    with pytest.raises(ValueError, match="unknown denoiser family 'nope'"):
        families.family("nope")


def test_unit_identities_of_the_built_in_families_are_unchanged():
    """The hashes name the files of finished work: the smoke profile's, as of unit schema v3 (training units
    hold their distances from x̄_* and x̄_mem). A change here makes every finished unit unreachable: say why
    in the commit."""
    from artifact import profiles

    profile, _ = profiles.resolve("smoke", [], None)
    singles, groups = figures.needed(profile, figures.paper_keys())
    names = sorted(u.filename for u in singles) + sorted(stages.stage1(profile, g).filename for g in groups[:1])
    assert names == [
        "baselines_N20_d8_K2_seed0_bac93de857d480f6.h5",
        "baselines_colored_N10_K4_seed0_39afee26fa4e50e4.h5",
        "train_colored_N10_K4_seed0_d663a019ba1e12f6.h5",
        "train_N16_d8_K2_seed0_6b7cfd005222ab11.h5",
    ]
    # The layout is speed only: it leaves every identity alone.
    other, _ = profiles.resolve("smoke", ["layout.points_per_chunk=5"], None)
    assert sorted(u.filename for u in figures.needed(other, figures.paper_keys())[0]) == names[:3]
