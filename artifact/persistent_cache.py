"""JAX's persistent compilation cache, switched off in every process that computes.

JAX can keep compiled programs on disk (`JAX_COMPILATION_CACHE_DIR`, often set for everyone on a
cluster) and read them back in later processes instead of compiling. Under the pinned JAX 0.6.0 on
the CPU, an executable read back from that cache computes something else than the program it was
compiled from: a `lax.fori_loop` with traced bounds whose body draws random numbers (the training
loop's shape: `train.train_stacked`) returns its initial carry: a unit reads its models back
untrained, every loss 0, and nothing raises an error. Compiling costs a run seconds; a wrong number
costs the reproduction, so the cache is off whatever the environment says (tests/test_persistent_cache.py
runs the pipeline with a warm cache and compares every unit with a run without it).
"""

from __future__ import annotations


def switch_off_and_say() -> None:
    """`switch_off`, with its notice on stderr (the log of a run, or of a benchmark)."""
    import sys

    notice = switch_off()
    if notice:
        print(notice, file=sys.stderr)


def switch_off() -> str | None:
    """Switch the persistent compilation cache off in this process; it holds until the process ends.

    Call it before this process compiles, or at least before it compiles what it must get right:
    the cache's state is reset, so programs compiled after the call neither read nor write it.
    Returns a one-line notice when a cache directory is set (for the run's log), else None.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    asked = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    if not asked:
        return None
    return (
        f"note: JAX's persistent compilation cache ({asked}) is not used: executables read back from it "
        f"have returned untrained models under JAX 0.6.0 (docs/troubleshooting.md)"
    )
