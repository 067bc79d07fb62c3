"""A persistent compilation cache asked for by the environment changes no number (artifact/persistent_cache.py)."""

import jax
from conftest import WORKERS, assert_same_numbers, run_tiny


def test_a_warm_persistent_cache_in_the_environment_changes_no_unit(reference, tmp_path, monkeypatch, capfd):
    """Two runs with a cache directory in the environment, the second one finding the first one's
    executables, must give the reference run's units. Under JAX 0.6.0 on the CPU a training
    program read back from the cache returns its models untrained: if the artifact used the cache,
    the second run's losses would all be 0. The worker processes read the variables as they start,
    as a cluster's environment would reach them; this process's JAX read its settings at import
    and is given the directory directly."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(cache))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # small programs are cached too
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
    settings = {
        "jax_compilation_cache_dir": str(cache),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": -1,
    }
    previous = {name: getattr(jax.config, name) for name in settings}
    for name, value in settings.items():
        jax.config.update(name, value)
    try:
        for run in ("cold", "warm"):
            run_tiny(tmp_path / run, "--figures", "2", *WORKERS)
            assert "persistent compilation cache" in capfd.readouterr().err
    finally:
        for name, value in previous.items():
            jax.config.update(name, value)
    for run in ("cold", "warm"):
        units = sorted((tmp_path / run / "units").glob("*.h5"))
        assert units
        for unit in units:
            assert_same_numbers(unit, reference / "units" / unit.name)
    assert not cache.exists() or not any(cache.iterdir())
