"""Command line: python -m artifact <subcommand>. Bad input ends with one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path


class UsageError(Exception):
    """Bad input: reported as one line that says what to do."""


def _info(args) -> int:
    from artifact import provenance

    for name, value in provenance.environment().items():
        print(f"{name:>24}: {value}")
    return 0


def _writable_folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"output folder {path} is not writable ({error.strerror}); choose another with --out"
        ) from None
    return path


def _resolve(args):
    from artifact import pipeline, profiles

    try:
        profile, overrides = profiles.resolve(args.profile, args.set or [], args.seeds)
        figures = pipeline.parse_figures(args.figures)
        shard = pipeline.parse_shard(args.shard)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return profile, overrides, figures, shard


def _run_record(profile, overrides, figures) -> dict:
    return {
        "profile": profile.name,
        "overrides": overrides,
        "figures": list(figures),
        "config": dataclasses.asdict(profile),
    }


def _reproduce(args) -> int:
    from artifact import pipeline

    profile, overrides, figures, shard = _resolve(args)
    out = Path(args.out) if args.out else Path("results") / profile.name
    record = _run_record(profile, overrides, figures)
    if args.dry_run:
        print(json.dumps(record, indent=2, default=list))
        print(f"units for figures {','.join(figures)} (shard {shard[0]}/{shard[1]}) in {out / 'units'}:")
        for line in pipeline.plan_lines(profile, figures, out, shard):
            print(line)
        return 0
    _check_device(profile, args.allow_cpu)
    _writable_folder(out)
    run_file = out / "run.json"
    if run_file.exists() and not args.force:
        previous = json.loads(run_file.read_text())
        if previous.get("config") != json.loads(json.dumps(record["config"], default=list)):
            raise UsageError(
                f"{out} holds results of another configuration ({previous.get('profile')} with "
                f"{previous.get('overrides') or 'no overrides'}); use another --out, or --force to add to it"
            )
    tmp = run_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=list) + "\n")
    tmp.replace(run_file)
    start = time.perf_counter()
    print(f"reproducing figures {','.join(figures)} at the {profile.name} profile into {out}", file=sys.stderr)
    complete = pipeline.run(profile, figures, out, shard, args.force)
    if not complete:
        print(
            f"shard {shard[0]}/{shard[1]} done in {time.perf_counter() - start:,.0f} s; other shards' units are "
            f"missing, so figures are not assembled yet: rerun without --shard once every shard has finished",
            file=sys.stderr,
        )
        return 0
    _assemble(profile, figures, out, record)
    print(
        f"done in {time.perf_counter() - start:,.0f} s: {out / 'figures.h5'}, {out / 'figures'}/, {out / 'REPORT.md'}",
        file=sys.stderr,
    )
    return 0


def _check_device(profile, allow_cpu: bool) -> None:
    if profile.name != "paper" or allow_cpu:
        return
    import jax

    if jax.default_backend() == "cpu":
        raise UsageError(
            "the paper profile needs a GPU but JAX sees only the CPU (check `python -m artifact info`); "
            "pass --allow-cpu to run it on the CPU anyway (days)"
        )


def _assemble(profile, figures, out: Path, record: dict) -> None:
    from artifact import figures as figure_data
    from artifact import plots, provenance, report, store

    start = time.perf_counter()
    trees = figure_data.assemble(profile, figures, out)
    trees["attrs"] = {"profile": profile.name}
    store.write_atomic(
        out / "figures.h5",
        "figures",
        record,
        trees,
        provenance.stable(),
        provenance.volatile(time.perf_counter() - start),
    )
    plots.render(out / "figures.h5", out / "figures")
    report.write(out / "figures.h5", out, f"Profile `{profile.name}`: {profile.description}", out / "units")


def _plot(args) -> int:
    from artifact import plots, store

    folder = Path(args.dir)
    path = folder / "figures.h5" if folder.is_dir() else folder
    try:
        store.validate(path, "figures")
    except store.InvalidResultFile as error:
        raise UsageError(f"{error}; run `python -m artifact reproduce --out {folder}` first") from None
    out = Path(args.out) if args.out else path.parent / "figures"
    for written in plots.render(path, _writable_folder(out)):
        print(written)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m artifact",
        description="Reproduce 'On the Edge of Memorization in Diffusion Models' (NeurIPS 2025).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, devices and numerics settings of this machine")
    info.set_defaults(run=_info)

    rep = sub.add_parser(
        "reproduce",
        help="train, evaluate and assemble figures into HDF5, plots and REPORT.md",
        description="Compute the units the chosen figures need (skipping finished ones), then "
        "assemble DIR/figures.h5, DIR/figures/*.png|pdf and DIR/REPORT.md from them.",
    )
    rep.add_argument("--profile", default="cpu", help="smoke | cpu | paper (default: cpu)")
    rep.add_argument("--figures", default="all", help="comma-separated subset of 1,2,3,6,7, or all (default)")
    rep.add_argument("--out", help="output folder (default: results/<profile>)")
    rep.add_argument("--seeds", help="comma-separated seeds; the first drives Figs 1-3 and 6, all of them Fig. 7")
    rep.add_argument("--shard", help="I/N: run only the I-th of N deterministic slices of the units (0 <= I < N)")
    rep.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a profile setting, e.g. train.num_steps=1000 (repeatable; see --dry-run)",
    )
    rep.add_argument(
        "--dry-run", action="store_true", help="print the resolved configuration and the units with their state"
    )
    rep.add_argument("--force", action="store_true", help="recompute finished units and overwrite results")
    rep.add_argument("--allow-cpu", action="store_true", help="let the paper profile run without a GPU")
    rep.set_defaults(run=_reproduce)

    plot = sub.add_parser("plot", help="render figures (PNG, PDF) from DIR/figures.h5 only")
    plot.add_argument("dir", help="a reproduce output folder (or a figures.h5 file)")
    plot.add_argument("--out", help="where to write the images (default: DIR/figures)")
    plot.set_defaults(run=_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished units are kept; rerun the same command to resume", file=sys.stderr)
        return 130
