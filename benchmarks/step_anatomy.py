"""Benchmark: where one batched training step's gradient spends its time (README "Speed").

Same problem as train_step.py (M = 20..200, N = 200, d = 50, N_dup = 100; --size N,d,N_dup for
another, with M = N/10..N). Prints one JSON record:
  gradient   train.batched_losses_and_grads alone (no Adam, no noise draw), best of --repeats (s);
  products   only the five matrix products per model and chunk that the gradient needs, in its
             layout, plus one exponential and one elementwise product: a floor for this layout (s);
each also as counted flops (12 N N_dup d sum M) over the float32 matmul rate; from a
jax.profiler trace of the gradient, the share of XLA thunk time in matrix products ("dot"), in
fusions that contain an exponential, and in the rest (summed over threads: shares, not seconds);
and the compiled operations in one chunk's step of the scan (all ten models). --record FILE
appends the record (with the git revision measured) to a JSON-lines file. --family colored does the
same for Fig. 5's colored step (the autodiff'd family default) at a profile's Fig. 5 settings:
its gradient's time, counted flops over the matmul rate, thunk shares and compiled operations.

    python benchmarks/step_anatomy.py [--repeats 10] [--size 200,50,100] [--record benchmarks/results.jsonl]
    python benchmarks/step_anatomy.py --family colored [--profile cpu]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import records
from train_step import colored_problem

from artifact import data, experiment, process, provenance
from artifact import train as training
from artifact.layout import Layout


def _flops(num_train: int, dim: int, noise_draws: int) -> float:
    return 12.0 * num_train * noise_draws * dim * sum(experiment.initial_sizes(num_train, 10))


def _problem(num_train: int = 200, dim: int = 50, noise_draws: int = 100):
    dataset = data.make_dataset(data.MixtureDataConfig(num_train=num_train, dim=dim, num_components=12), seed=0)
    x0 = jnp.asarray(dataset.train, jnp.float32)
    models = training.init_models(jax.random.key(1), x0, list(experiment.initial_sizes(num_train, 10)), 1e-2)
    t, eps = training.draw_batch(jax.random.key(2), num_train, process.time_grid(), noise_draws, dim)
    return models, x0, t, eps


def products_only(models, x0, t, eps, chunk: int = 10):
    """The gradient's five products per model and chunk, component-major, with one exp and one product."""
    num_points, draws, dim = eps.shape
    rows = eps.reshape(num_points // chunk, chunk * draws, dim)

    def step(carry, rows_c):
        out = []
        for model in models:
            proj = model.means @ rows_c.T  # (M, R)
            weights = jnp.exp(proj * 1e-3)
            centroid = model.means.T @ weights  # (d, R)
            back = weights * (model.means @ centroid)  # (M, R)
            out.append(weights @ centroid.T + back @ rows_c)  # (M, d)
        return jax.tree.map(jnp.add, carry, out), None

    zeros = [jnp.zeros_like(m.means) for m in models]
    return jax.lax.scan(step, zeros, rows)[0]


def _best(fn, args, repeats):
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def thunk_shares(fn, args) -> dict[str, float]:
    """Share of XLA thunk time by kind, from a perfetto trace of three calls."""
    hlo = fn.lower(*args).compile().as_text()
    # Parallel fusions run as call.N thunks; their names are those of the computations they call.
    called = dict(re.findall(r"%(call[.\d]*) = [^\n]* call\([^\n]*to_apply=%([\w.-]+)", hlo))
    jax.block_until_ready(fn(*args))
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            for _ in range(3):
                jax.block_until_ready(fn(*args))
        trace = json.load(gzip.open(next(Path(folder).rglob("perfetto_trace.json.gz"))))
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    totals = collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") != "X" or name.startswith("$") or "Thunk" in name or "Pjit" in name:
            continue
        if name.endswith(".clone") or name.startswith(("fused_computation", "end:", "while", "Transpose")):
            continue  # nested in an event counted already
        name = called.get(name, name)
        kind = "dot" if name.startswith("dot") else "exp fusion" if "exponential" in name else "other"
        totals[kind] += event.get("dur", 0)
    whole = sum(totals.values())
    return {kind: round(value / whole, 3) for kind, value in totals.items()}


def operations_per_chunk(fn, args) -> int:
    """Operations in the compiled scan body (one chunk, every model), not counting tuple bookkeeping.

    Without a loop (a single chunk), the operations of the entry computation."""
    hlo = fn.lower(*args).compile().as_text()
    bodies = re.findall(r"while\([^\n]*body=%([\w.-]+)", hlo)
    texts = [re.search(r"\n%" + re.escape(b) + r" \(.*?\n\}", hlo, re.S).group(0) for b in bodies]
    if not texts:
        entry = hlo[hlo.index("ENTRY") :]
        texts = [entry[: entry.index("\n}")]]
    ops = re.findall(r"= \S+ ([\w-]+)\(", max(texts, key=len))
    return sum(op not in ("get-tuple-element", "bitcast", "constant", "parameter", "tuple") for op in ops)


def colored_anatomy(args) -> None:
    """The colored family's gradient at a profile's Fig. 5 settings (bundled templates: same cost)."""
    family, config, dataset, sizes, train = colored_problem(args.profile)
    draws = train.noise_draws
    models = tuple(family.init(jax.random.fold_in(jax.random.key(1), m), dataset, m, train) for m in sizes)
    t, eps = training.draw_batch(
        jax.random.key(2), config.num_train, process.time_grid(), draws, dataset.train.shape[1:]
    )
    chunk = Layout().points_per_chunk_for("cpu", config.num_train)
    gradient = jax.jit(lambda ms, x0, tt, e: family.losses_and_grads(ms, x0, tt, e, chunk))
    problem = (models, dataset.train, t, eps)
    seconds = _best(gradient, problem, args.repeats)
    flops = family.training_flops(config, sizes, 1, draws)
    matmul = provenance.matmul_rate(2048, repeats=10)
    fields = {
        "family": "colored",
        "profile": args.profile,
        "N": config.num_train,
        "template_size": config.size,
        "N_dup": draws,
        "M": sizes,
        "gradient_seconds": round(seconds, 6),
        "gradient_fraction_of_matmul": round(flops / seconds / matmul, 4),
        "matmul_gflops": round(matmul / 1e9, 1),
        "gradient_thunk_shares": thunk_shares(gradient, problem),
        "operations_per_chunk": operations_per_chunk(gradient, problem),
    }
    records.emit("step_anatomy", fields, args.record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--size", default="200,50,100", help="N,d,N_dup (models M = N/10, ..., N)")
    parser.add_argument("--family", default="isotropic", choices=("isotropic", "colored"))
    parser.add_argument("--profile", default="cpu", help="the profile whose Fig. 5 settings --family colored uses")
    parser.add_argument("--record", help="append the JSON record to this file")
    args = parser.parse_args()
    if args.family == "colored":
        colored_anatomy(args)
        return
    num_train, dim, noise_draws = (int(x) for x in args.size.split(","))
    problem = _problem(num_train, dim, noise_draws)
    flops = _flops(num_train, dim, noise_draws)
    gradient = jax.jit(training.batched_losses_and_grads)
    products = jax.jit(products_only)
    matmul = provenance.matmul_rate(2048, repeats=10)
    seconds = {"gradient": _best(gradient, problem, args.repeats), "products": _best(products, problem, args.repeats)}
    fields = {
        "N": num_train,
        "d": dim,
        "N_dup": noise_draws,
        **{f"{k}_seconds": round(v, 4) for k, v in seconds.items()},
        **{f"{k}_fraction_of_matmul": round(flops / v / matmul, 3) for k, v in seconds.items()},
        "matmul_gflops": round(matmul / 1e9, 1),
        "gradient_thunk_shares": thunk_shares(gradient, problem),
        "operations_per_chunk": operations_per_chunk(gradient, problem),
    }
    records.emit("step_anatomy", fields, args.record)


if __name__ == "__main__":
    main()
