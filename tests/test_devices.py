"""Several local devices: the models of a unit are split across them, with the single-device result."""

import subprocess
import sys
import textwrap

from artifact.train import device_groups

SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, numpy as np
    from artifact import data, families, process, rng, train
    assert jax.local_device_count() == 2, jax.local_devices()
    dataset = data.make_dataset(data.MixtureDataConfig(num_train=20, dim=6, num_components=3), seed=5)
    config = train.TrainConfig(num_steps=80, noise_draws=6, peak_lr=1e-2, final_lr=1e-4)
    isotropic = families.family("isotropic")
    args = (rng.stream(5, "devices"), isotropic, dataset, process.time_grid(), [3, 8, 20, 12], config)
    both = train.train_models(*args, num_logs=2)
    one = train.train_models(*args, num_logs=2, devices=jax.local_devices()[:1])
    for a, b in zip(both.models, one.models):
        np.testing.assert_allclose(a.means, b.means, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.std, b.std, rtol=1e-5)
    np.testing.assert_allclose(both.losses, one.losses, rtol=1e-5)
    print("equal on", [d.id for d in jax.local_devices()])
    """
)


def test_two_cpu_devices_give_the_single_device_result():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "equal on [0, 1]" in result.stdout


def test_device_groups_balance_the_total_number_of_components():
    groups = device_groups([20, 40, 60, 80, 100, 120, 140, 160, 180, 200], ["a", "b"])
    loads = [sum((20, 40, 60, 80, 100, 120, 140, 160, 180, 200)[i] for i in idx) for idx, _ in groups]
    assert sorted(i for idx, _ in groups for i in idx) == list(range(10))
    assert abs(loads[0] - loads[1]) <= 20
    assert device_groups([5], ["a", "b"]) == [([0], "a")]
