"""The colored-template model and its data (Figs 4, 5)."""

import gzip
import hashlib
import http.server
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from artifact import cli, colored, fashion_mnist

C, P, M = 3, 6, 4


def _dense_posterior_mean(x_t, t, templates, color_means, variance, log_det_factor=True):
    """float64 reference: each component as a full (C P)-dimensional Gaussian."""
    a, s = np.sqrt(1 - t * t), t
    out = []
    for xi in np.asarray(x_t, np.float64).reshape(len(x_t), -1):
        logs, means = [], []
        for k in range(len(templates)):
            factor = np.kron(np.eye(C), templates[k][:, None])  # (C P, C)
            mean, cov = np.kron(color_means[k], templates[k]), variance * factor @ factor.T
            noisy = a * a * cov + s * s * np.eye(C * P)
            d = xi - a * mean
            logs.append(-0.5 * (np.linalg.slogdet(noisy)[1] + d @ np.linalg.solve(noisy, d)))
            means.append(mean + a * cov @ np.linalg.solve(noisy, d))
        w = np.exp(np.array(logs) - max(logs))
        out.append((w / w.sum()) @ np.array(means))
    return np.array(out).reshape(len(x_t), C, P)


@pytest.mark.parametrize("t", [0.001, 0.36, 0.999])
def test_woodbury_denoiser_and_residual_equal_dense_float64(t):
    rs = np.random.default_rng(0)
    templates, color_means, variance = rs.uniform(0, 1, (M, P)), rs.normal(size=(M, C)), 0.3
    x0, eps = rs.normal(size=(5, C, P)), rs.normal(size=(5, 3, C, P))
    a = np.sqrt(1 - t * t)
    f32 = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
    x_t = a * x0 + t * eps[:, 0]
    dense = _dense_posterior_mean(x_t, t, templates, color_means, variance)
    fast = colored.posterior_mean(f32(x_t), t, f32(templates), f32(color_means), variance)
    np.testing.assert_allclose(fast, dense, atol=2e-5 * (1 + np.abs(dense).max()))
    x_all = a * x0[:, None] + t * eps
    dense_res = (
        x_all
        - a * _dense_posterior_mean(x_all.reshape(15, C, P), t, templates, color_means, variance).reshape(5, 3, C, P)
    ) / t - eps
    fast_res = colored.eps_residual(f32(x0), f32(eps), t, f32(templates), f32(color_means), variance)
    np.testing.assert_allclose(fast_res, dense_res, rtol=1e-4, atol=1e-4 * (1 + np.abs(dense_res).max()))


def test_generalizing_denoiser_is_the_posterior_mean_by_importance_sampling():
    rs = np.random.default_rng(1)
    templates = rs.uniform(0.2, 1, (2, 2))  # K = 2 templates of 2 pixels: dimension 6
    prior, _, _ = colored.sample_colored(key("prior"), jnp.asarray(templates, jnp.float32), 400_000)
    prior = np.asarray(prior, np.float64).reshape(len(prior), -1)
    t = 0.7
    a, s = np.sqrt(1 - t * t), t
    x_t = np.asarray(jax.random.normal(key("x"), (3, 6)), np.float64)
    log_lik = -((x_t[:, None] - a * prior[None]) ** 2).sum(-1) / (2 * s * s)
    w = np.exp(log_lik - log_lik.max(1, keepdims=True))
    monte_carlo = (w / w.sum(1, keepdims=True)) @ prior
    model = colored.generalizing(jnp.asarray(templates, jnp.float32))
    closed = np.asarray(model.x0(jnp.asarray(x_t.reshape(3, 3, 2), jnp.float32), t)).reshape(3, 6)
    np.testing.assert_allclose(closed, monte_carlo, atol=2e-2)


def test_log_determinant_carries_the_channel_factor():
    """Templates of different norms: dropping the factor C (released code) changes the weights."""
    rs = np.random.default_rng(2)
    templates, color_means = np.stack([0.2 * np.ones(P), np.ones(P)]), np.zeros((2, C))
    x_t = rs.normal(size=(4, C, P)) * 0.5
    dense = _dense_posterior_mean(x_t, 0.5, templates, color_means, 1.0)
    fast = colored.posterior_mean(
        jnp.asarray(x_t, jnp.float32),
        0.5,
        jnp.asarray(templates, jnp.float32),
        jnp.asarray(color_means, jnp.float32),
        1.0,
    )
    np.testing.assert_allclose(fast, dense, atol=1e-5)


def test_partial_memorization_init_reproduces_training_points():
    rs = np.random.default_rng(3)
    templates = jnp.asarray(rs.uniform(0.1, 1, (3, P)), jnp.float32)
    x, labels, _ = colored.sample_colored(key("data"), templates, 12)
    init = colored.partial_memorization_init(key("init"), x, labels, templates, 5, 1e-6)
    means = np.asarray(init.means()).reshape(5, -1)
    data = np.asarray(x).reshape(12, -1)
    assert all(np.min(np.abs(data - m).max(1)) < 1e-5 for m in means)
    assert float(init.variance) == pytest.approx(1e-6)


def _csv_sample_rows(count=5):
    text = gzip.decompress(fashion_mnist.offline_sample()[1].read_bytes()).decode()
    return "\n".join(text.splitlines()[: count + 1]) + "\n"


def test_csv_and_idx_readers_agree():
    labels, images = fashion_mnist.parse_csv_images(_csv_sample_rows())
    header = np.array([fashion_mnist.IMAGE_MAGIC, len(images), 28, 28], ">u4").tobytes()
    idx = gzip.compress(header + images.astype(np.uint8).tobytes())
    np.testing.assert_array_equal(fashion_mnist.parse_idx_images(idx), images)
    assert labels.shape == (5,) and images.dtype == np.uint8
    with pytest.raises(fashion_mnist.DataError):
        fashion_mnist.parse_idx_images(gzip.compress(b"\x00" * 20))


def test_templates_follow_the_papers_rule():
    chosen = fashion_mnist.make_templates(8, 15, "offline")
    assert chosen.images.shape == (8, 15, 15) and chosen.images.min() == 0.0 and chosen.images.max() == 1.0
    # the same choice rule as the paper: jax.random.choice(PRNGKey(1), pool, (K,), replace=False)
    np.testing.assert_array_equal(
        fashion_mnist.choose_indices(8, 60000), [25074, 4949, 448, 39245, 9526, 37828, 28290, 50163]
    )
    np.testing.assert_array_equal(fashion_mnist.choose_indices(4, 60000), [25074, 4949, 448, 39245])


def test_missing_and_corrupted_files_are_named_with_the_fix(tmp_path):
    with pytest.raises(fashion_mnist.DataError, match="is missing; run `python -m artifact fetch-data"):
        fashion_mnist.read_verified(tmp_path, fashion_mnist.TRAIN_IMAGES)
    (tmp_path / fashion_mnist.TRAIN_IMAGES).write_bytes(b"not the file")
    with pytest.raises(fashion_mnist.DataError, match="is corrupted"):
        fashion_mnist.read_verified(tmp_path, fashion_mnist.TRAIN_IMAGES)


def test_fetch_downloads_verifies_and_rejects_a_bad_server(tmp_path, monkeypatch):
    served = tmp_path / "server"
    served.mkdir()
    good = gzip.compress(b"pretend idx")
    (served / "a.gz").write_bytes(good)
    manifest = {
        "base_url": "unused",
        "mirror": "m",
        "files": {"a.gz": {"md5": hashlib.md5(good).hexdigest(), "sha256": hashlib.sha256(good).hexdigest()}},
    }
    monkeypatch.setattr(fashion_mnist, "manifest", lambda: manifest)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        written = fashion_mnist.fetch(tmp_path / "data", url)
        assert [p.name for p in written] == ["a.gz"] and (tmp_path / "data" / "a.gz").read_bytes() == good
        assert fashion_mnist.fetch(tmp_path / "data", url) == []  # verified files are kept
        (served / "a.gz").write_bytes(b"tampered")
        with pytest.raises(fashion_mnist.DataError, match="not the official"):
            fashion_mnist.fetch(tmp_path / "other", url)
        assert not list((tmp_path / "other").glob("*"))
    finally:
        server.shutdown()


def test_paper_profile_refuses_to_run_figure_5_without_the_canonical_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARTIFACT_DATA_DIR", str(tmp_path / "empty"))
    assert (
        cli.main(["reproduce", "--profile", "paper", "--allow-cpu", "--figures", "5", "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert "fetch-data" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_reference_run_records_the_template_source(reference):
    import h5py

    with h5py.File(reference / "figures.h5") as f:
        assert f["fig5"].attrs["template_source"] == "fashion-mnist_test_1000.csv.gz"
        assert f["fig4"].attrs["template_source"] == "fashion-mnist_test_1000.csv.gz"
        assert f["fig4/colored_samples"].shape == (8, 3, 15, 15)
        assert len(f["fig5/released_notebook_ratios"][()]) == 10
