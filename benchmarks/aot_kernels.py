"""Seeing the GPU program without a GPU: kernel launches and temporaries of one training step, per layout.

Compiles one full-batch training step of the isotropic family (ten models M = 20..200, N = 200,
d = 50, N_dup = 100: loss, gradients, Adam; --family colored: Fig. 5's colored step at the paper
profile's settings, N = 100, 15 x 15 x 3 templates, M = 10..100) for an NVIDIA H100 with JAX's deviceless ahead-of-time
compilation, and counts the instructions of the compiled program that launch work on the device
(fusions, custom calls such as cuBLAS products, copies, sorts, ...): a while loop's body counts
once per iteration (XLA's known trip count). memory_analysis() gives the temporaries. One record
per candidate points_per_chunk (`artifact/layout.py`) and number of data sets trained in one
program (--datasets: the step vmapped over stacked copies, as `train.train_stacked` runs it),
printed as JSON lines; --record appends them.

JAX 0.6.0's deviceless path does not work, so this runs in a throwaway environment, not the lock:
    python3 -m venv /tmp/jaxcuda && /tmp/jaxcuda/bin/pip install "jax[cuda12]==0.10.2" equinox optax h5py pillow
    JAX_PLATFORMS=cpu /tmp/jaxcuda/bin/python benchmarks/aot_kernels.py [--record benchmarks/results.jsonl]
The target is h100_target_config.txtpb beside this file: XLA's GpuTargetConfig for an H100 80GB
(SXM), with the device figures XLA's public test fixtures use for that card.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from artifact import data, families, process, provenance  # noqa: E402
from artifact import train as training  # noqa: E402

TARGET = Path(__file__).resolve().parent / "h100_target_config.txtpb"
# Instructions that do not launch a kernel of their own.
FREE = {
    "parameter",
    "constant",
    "tuple",
    "get-tuple-element",
    "bitcast",
    "while",
    "conditional",
    "call",
    "after-all",
    "partition-id",
    "replica-id",
    "opt-barrier",
    "add-dependency",
}
INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?(?P<name>[\w.\-]+)\s*=\s*(?P<type>.+?)\s(?P<op>[a-z][\w\-]*)\(")
COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?(?P<name>[\w.\-]+)\s.*\{\s*$")


def parse_computations(hlo: str) -> tuple[dict[str, list[str]], str]:
    """name -> instruction lines of every computation in an HLO module's text, and the entry's name."""
    computations, entry, current = {}, None, None
    for line in hlo.splitlines():
        if current is None:
            match = COMPUTATION.match(line)
            if match and not line.startswith(" "):
                current = match.group("name")
                computations[current] = []
                if line.startswith("ENTRY"):
                    entry = current
        elif line.strip() == "}":
            current = None
        else:
            computations[current].append(line)
    return computations, entry


def launches(computations: dict[str, list[str]], name: str) -> int:
    """Kernel launches of one run of computation `name`: launching instructions, while bodies times their trips."""
    count = 0
    for line in computations[name]:
        match = INSTRUCTION.match(line)
        if not match:
            continue
        op = match.group("op")
        if op == "while":
            body = re.search(r"body=%?([\w.\-]+)", line).group(1)
            trips = re.search(r'"known_trip_count":\{"n":"(\d+)"\}', line)
            count += (int(trips.group(1)) if trips else 1) * launches(computations, body)
        elif op in ("call", "conditional"):
            for callee in re.findall(r"(?:to_apply|branch_computations=\{[^}]*)=?%?([\w.\-]+)", line):
                if callee in computations:
                    count += launches(computations, callee)
        elif op not in FREE:
            count += 1
    return count


def paper_problem(family_name: str):
    """(family, data set, sizes, TrainConfig, record fields) of the paper's step for `family_name`:
    isotropic, Fig. 2's first stage (N = 200, d = 50, K = 12, N_dup = 100, M = 20..200); colored,
    Fig. 5's unit at the paper profile's settings (N = 100, 15 x 15 x 3, M = 10..100)."""
    if family_name == "colored":
        from train_step import colored_problem  # this folder: run as a script

        family, config, dataset, sizes, train = colored_problem("paper")
        fields = {"N": config.num_train, "template_size": config.size, "N_dup": train.noise_draws, "M": sizes}
        return family, dataset, sizes, train, fields
    sizes = list(range(20, 201, 20))
    dataset = data.make_dataset(data.MixtureDataConfig(num_train=200, dim=50, num_components=12), seed=0)
    fields = {"N": 200, "d": 50, "N_dup": 100, "M": sizes}
    return families.family("isotropic"), dataset, sizes, training.TrainConfig(noise_draws=100), fields


def step_function(points_per_chunk: int, config: training.TrainConfig, flat: bool, models, family=None):
    """One step as `train.train_stacked` takes it: Adam model by model (CPU) or on one vector (GPU).

    Returns step(params, states, train, key), the initial params (the models, or their vector) and the
    optimizer's initial state, all from `train`'s own helpers. family: default the isotropic one.
    """
    family = family or families.family("isotropic")
    optimizer = training.make_optimizer(config)
    grid = jnp.asarray(process.time_grid(), jnp.float32)
    layout = training.FlatParameters.of(models)[0] if flat else None
    params = tuple(models) if layout is None else layout.flatten(models)

    def step(params, states, train, key):
        t, eps = training.draw_batch(key, train.shape[0], grid, config.noise_draws, train.shape[1:])
        current = params if layout is None else layout.models(params)
        losses, grads = family.losses_and_grads(current, train, t, eps, points_per_chunk)
        return *training.apply_optimizer(optimizer, config.clip_norm, layout, params, states, grads), losses

    return step, params, training.initial_state(optimizer, layout, params)


def measure(
    points_per_chunk: int, target: str, datasets: int = 1, flat: bool = False, family_name: str = "isotropic"
) -> dict:
    from jax.experimental import topologies
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    topology = topologies.get_topology_desc(platform="cuda", topology="1x1x1", target_config=target)
    mesh = Mesh(np.array(topology.devices).reshape(1), ("x",))
    replicated = NamedSharding(mesh, PartitionSpec())
    family, dataset, sizes, config, fields = paper_problem(family_name)
    models = tuple(family.init(jax.random.PRNGKey(m), dataset, m, config) for m in sizes)
    step, params, states = step_function(points_per_chunk, config, flat, models, family)
    concrete = (params, states, jnp.asarray(dataset.train, jnp.float32), jax.random.PRNGKey(0))
    if datasets > 1:  # S copies with a leading axis, as train_stacked holds them
        concrete = jax.tree.map(lambda x: jnp.stack([x] * datasets), concrete)
        step = jax.vmap(step)

    def abstract(x):
        return jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x), sharding=replicated)

    compiled = jax.jit(step).lower(*jax.tree.map(abstract, concrete)).compile()
    computations, entry = parse_computations(compiled.as_text())
    memory = compiled.memory_analysis()
    return {
        "benchmark": "aot_kernels",
        "date": time.strftime("%Y-%m-%d"),
        "target": "NVIDIA H100 80GB (deviceless compile)",
        **({} if family_name == "isotropic" else {"family": family_name}),
        **fields,
        "points_per_chunk": points_per_chunk,
        "datasets_per_program": datasets,
        "optimizer": "flat" if flat else "per_model",
        "kernel_launches_per_step": launches(computations, entry),
        "temporaries_mb": round(memory.temp_size_in_bytes / 2**20, 1) if memory is not None else None,
        "jax": jax.__version__,
        **provenance.source_state(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="10,40,200", help="points_per_chunk values to compile")
    parser.add_argument("--datasets", default="1", help="data sets per program to compile (e.g. 1,4)")
    parser.add_argument(
        "--optimizer", default="per_model,flat", help="Adam model by model (the CPU's) or on one vector (the GPU's)"
    )
    parser.add_argument(
        "--family", default="isotropic", choices=("isotropic", "colored"), help="whose paper-size step (Figs 2, 5)"
    )
    parser.add_argument("--record", help="append the JSON records to this file")
    args = parser.parse_args(argv)
    target = "\n".join(line for line in TARGET.read_text().splitlines() if not line.startswith("#"))
    for stacked in (int(s) for s in args.datasets.split(",")):
        for chunk, optimizer in itertools.product([int(c) for c in args.chunks.split(",")], args.optimizer.split(",")):
            record = measure(chunk, target, stacked, optimizer == "flat", args.family)
            print(json.dumps(record), flush=True)
            if args.record:
                with open(args.record, "a") as f:
                    f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
