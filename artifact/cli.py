"""Command line: python -m artifact <subcommand>.

Every failure the user can act on ends with one line on stderr that says what to do, and an exit
code from EXIT_CODES; none ends in a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from artifact import files, persistent_cache, workers

EXIT_CODES = {
    0: "done",
    1: "compare: a check failed",
    2: "bad input (arguments, configuration, missing or corrupted data, unreadable results)",
    3: "the file system refused a write (disk full, quota, I/O error); finished units are kept",
    4: "a worker process died (e.g. killed for memory); finished units are kept",
    130: "interrupted (Ctrl-C); finished units are kept",
    143: "terminated by SIGTERM (e.g. SLURM pre-emption); finished units are kept",
}
EPILOG = (
    "exit codes: "
    + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    + ". A rerun of the same command resumes: it skips finished units."
)


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
        with tempfile.TemporaryFile(dir=path):
            pass
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


def _check_same_run(run_file: Path, record: dict) -> None:
    """Refuse to add to a folder that holds another configuration's results, or an older schema's units.

    The layout (speed only) and whether the paper's claims must hold (a verdict, not a result) may differ.
    """
    from artifact import store

    try:
        previous = json.loads(run_file.read_text())
    except (OSError, ValueError):
        raise UsageError(f"{run_file} is unreadable; delete it (the units are kept) or use another --out") from None
    if previous.get("schema", 1) != store.SCHEMA_VERSION:
        raise UsageError(
            f"{run_file.parent} holds units of an older version of the artifact (unit schema "
            f"v{previous.get('schema', 1)}, this is v{store.SCHEMA_VERSION}), which are not reused; use a fresh "
            "--out, or --force to recompute into it"
        )

    def identity(config):
        return {key: value for key, value in config.items() if key not in ("layout", "paper_claims_must_hold")}

    if identity(previous.get("config", {})) != identity(json.loads(json.dumps(record["config"], default=list))):
        raise UsageError(
            f"{run_file.parent} holds results of another configuration ({previous.get('profile')} with "
            f"{previous.get('overrides') or 'no overrides'}); use another --out, or --force to add to it"
        )


def _run_record(profile, overrides, figures) -> dict:
    from artifact import store

    return {
        "schema": store.SCHEMA_VERSION,
        "profile": profile.name,
        "overrides": overrides,
        "figures": list(figures),
        "config": dataclasses.asdict(profile),
    }


def _reproduce(args) -> int:
    from artifact import pipeline, provenance

    provenance.source_state()  # the code this process imported, before any unit is written

    profile, overrides, figures, shard = _resolve(args)
    persistent_cache.switch_off_and_say()  # before this process compiles anything
    _check_backend()
    out = Path(args.out) if args.out else Path("results") / profile.name
    record = _run_record(profile, overrides, figures)
    if args.dry_run:
        print(json.dumps(record, indent=2, default=list))
        print(f"units for figures {','.join(figures)} (shard {shard[0]}/{shard[1]}) in {out / 'units'}:")
        for line in pipeline.plan_lines(profile, figures, out, shard):
            print(line)
        return 0
    _check_float32()
    _check_device(profile, args.allow_cpu)
    _check_data(profile, figures)
    _writable_folder(out)
    run_file = out / "run.json"
    if run_file.exists() and not args.force:
        _check_same_run(run_file, record)
    files.write_text(run_file, json.dumps(record, indent=2, default=list) + "\n")
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


def _check_backend() -> None:
    """JAX can start the platform it is asked for, before anything is written."""
    from artifact import provenance

    try:
        provenance.default_backend()
    except provenance.BackendUnavailable as error:
        raise UsageError(str(error)) from None


def _check_float32() -> None:
    """The models, the data and every expected value are float32, as in the released code: with
    64-bit mode on, JAX would mix float64 into the training loop and stop at its first carry."""
    import jax

    if jax.config.jax_enable_x64:
        raise UsageError(
            "JAX's 64-bit mode is on (JAX_ENABLE_X64 or jax_enable_x64); the artifact computes in float32, "
            "as the paper's code: unset JAX_ENABLE_X64 and rerun"
        )


def _check_device(profile, allow_cpu: bool) -> None:
    import jax

    if profile.layout.workers > 1 and jax.default_backend() != "cpu":
        raise UsageError(
            f"layout.workers={profile.layout.workers} runs units in CPU worker processes, but JAX runs on "
            f"{jax.default_backend()}; leave layout.workers at 0 (one unit at a time on the device)"
        )
    if profile.name != "paper" or allow_cpu:
        return
    if jax.default_backend() == "cpu":
        raise UsageError(
            "the paper profile needs a GPU but JAX sees only the CPU (check `python -m artifact info`); "
            "pass --allow-cpu to run it on the CPU anyway (days)"
        )


def _check_data(profile, figures) -> None:
    """Fail before any compute if Figs 4/5 need the canonical Fashion-MNIST files and they are not there."""
    from artifact import fashion_mnist

    if set(figures) & {"4", "5"}:
        try:
            if profile.fig5_data.template_source == "canonical":
                fashion_mnist.read_verified(fashion_mnist.data_dir(), fashion_mnist.TRAIN_IMAGES)
            else:
                fashion_mnist.offline_sample()
        except fashion_mnist.DataError as error:
            raise UsageError(str(error)) from None


def _fetch_data(args) -> int:
    from artifact import fashion_mnist

    folder = Path(args.dir) if args.dir else fashion_mnist.data_dir()
    _writable_folder(folder)
    try:
        written = fashion_mnist.fetch(folder, args.base_url)
    except fashion_mnist.DataError as error:
        raise UsageError(str(error)) from None
    for name in fashion_mnist.manifest()["files"]:
        print(f"verified {folder / name}" + (" (downloaded)" if folder / name in written else ""))
    return 0


def _assemble(profile, figures, out: Path, record: dict) -> None:
    from artifact import figures as figure_data
    from artifact import pipeline, plots, provenance, report, stages, store

    start = time.perf_counter()
    units = pipeline.units_in_use(profile, figures, out)
    if units is None or not all(stages.is_done(u, out / "units") for u in units):
        raise UsageError(f"{out / 'units'} lacks units these figures need: rerun the same command to compute them")
    trees = figure_data.assemble(profile, figures, out)
    trees["attrs"] = {"profile": profile.name}
    # Finished units are reused by configuration, whatever code computed them: say which code did.
    unit_paths = [out / "units" / unit.filename for unit in units]
    labels = store.code_labels(unit_paths)
    stable = provenance.stable()
    stable["units_computed_by"] = ", ".join(sorted(labels))
    foreign = {label: names for label, names in labels.items() if label != provenance.code_label(stable)}
    if foreign:
        reused = "; ".join(f"{len(names)} by {label}" for label, names in sorted(foreign.items()))
        print(
            f"note: {sum(map(len, foreign.values()))} of {len(units)} units were computed by other code ({reused}), "
            f"not this checkout's {provenance.code_label(stable)}; recorded in figures.h5 and REPORT.md "
            "(--force recomputes every unit)",
            file=sys.stderr,
        )
    store.write_atomic(
        out / "figures.h5", "figures", record, trees, stable, provenance.volatile(time.perf_counter() - start)
    )
    plots.render(out / "figures.h5", out / "figures")
    report.write(out / "figures.h5", out, f"Profile `{profile.name}`: {profile.description}", unit_paths)


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


def _profile_of(out: Path) -> str:
    try:
        return json.loads((out / "run.json").read_text())["profile"]
    except (OSError, ValueError, KeyError):
        raise UsageError(
            f"{out} has no run.json; pass --expected FILE or run `python -m artifact reproduce --out {out}`"
        ) from None


def _compare(args) -> int:
    from artifact import compare

    out = Path(args.dir)
    if not out.is_dir():
        raise UsageError(f"{out} is not a folder; pass the --out folder of a reproduce run")
    expected = Path(args.expected) if args.expected else compare.EXPECTED_DIR / f"{_profile_of(out)}.json"
    if not expected.exists():
        raise UsageError(
            f"no expected values at {expected}; pass --expected FILE or run `python -m artifact calibrate`"
        )
    try:
        results = compare.compare(out, expected)
        same = expected.resolve() == compare.PAPER_CLAIMS.resolve()
        paper = [] if same else [r for r in compare.compare(out, compare.PAPER_CLAIMS) if r.rule != "schema"]
    except ValueError as error:
        raise UsageError(str(error)) from None
    must_hold = compare.paper_claims_must_hold(out / "figures.h5")
    text, markdown = compare.render(results)
    print(f"comparing {out} with {expected}\n{text}", end="")
    sections = [f"# Comparison with {expected.name}\n\n{markdown}"]
    paper_failed = [r for r in paper if not r.passed and not r.waived]
    if paper:
        paper_text, paper_markdown = compare.render(paper)
        verdict = (
            "must hold at this profile: a failure fails compare"
            if must_hold
            else "reported only: this profile checks the pipeline, not the paper's numbers"
        )
        print(f"\nthe paper's claims ({compare.PAPER_CLAIMS.name}; {verdict})\n{paper_text}", end="")
        sections.append(f"## The paper's claims ({compare.PAPER_CLAIMS.name}; {verdict})\n\n{paper_markdown}")
    files.write_text(out / "compare.md", "\n".join(sections))
    document = {
        "expected": expected.name,
        "checks": [dataclasses.asdict(r) for r in results],
        "paper_claims": [dataclasses.asdict(r) for r in paper],
        "paper_claims_must_hold": must_hold,
    }
    files.write_text(out / "compare.json", json.dumps(document, indent=1, default=str) + "\n")
    return 0 if all(r.passed for r in results) and not (must_hold and paper_failed) else 1


def _calibrate(args) -> int:
    """Run the profile once per seed as the main seed (units are shared), then write expected/<profile>.json."""
    from artifact import compare, pipeline, profiles, provenance, store
    from artifact import figures as figure_modules

    started_from = provenance.stable()  # the code that makes the numbers: recorded as it was at the start
    if started_from["git_dirty"] != "false" and not args.allow_dirty:
        raise UsageError(
            "calibration records the code's revision: commit your changes first "
            "(the tree is dirty or not a git checkout)"
        )
    profile, overrides, figures, _ = _resolve(args)
    persistent_cache.switch_off_and_say()  # before this process compiles anything
    _check_backend()
    _check_float32()
    base = Path(args.out) if args.out else Path("results") / f"calibrate-{profile.name}"
    shared_units = _writable_folder(base) / "units"
    shared_units.mkdir(exist_ok=True)
    # Units are reused by configuration; a calibration claims one revision, so it must not reuse others'.
    foreign = sorted(set(store.code_labels(shared_units.glob("*.h5"))) - {provenance.code_label(started_from)})
    if foreign:
        raise UsageError(
            f"{shared_units} holds units computed by other code ({', '.join(foreign)}), not this checkout's "
            f"{provenance.code_label(started_from)}: calibrate into a fresh --out, or delete that folder"
        )
    per_seed = {}
    for i, seed in enumerate(profile.seeds):
        rotated = profile.seeds[i:] + profile.seeds[:i]
        rotated_profile, _ = profiles.resolve(profile.name, args.set or [], ",".join(map(str, rotated)))
        out = base / f"seed{seed}"
        out.mkdir(exist_ok=True)
        if not (out / "units").exists():
            (out / "units").symlink_to(shared_units.resolve(), target_is_directory=True)
        print(f"calibration run with main seed {seed}", file=sys.stderr)
        if not pipeline.run(rotated_profile, figures, out, (0, 1), force=False):
            raise UsageError(f"{out / 'units'} lacks units after the run: rerun the same command to compute them")
        record = _run_record(rotated_profile, overrides, figures)
        _assemble(rotated_profile, figures, out, record)
        per_seed[seed] = figure_modules.observables(out / "figures.h5")
    checks = compare.calibrated_checks(per_seed, profile.seeds[0], profile.eval.num_samples)
    path = Path(args.expected_out) if args.expected_out else compare.EXPECTED_DIR / f"{profile.name}.json"
    # Calibrating some figures replaces their checks only: the others keep theirs (same profile and overrides).
    previous = json.loads(path.read_text()) if path.exists() else None
    if previous is not None and (previous.get("profile"), previous.get("overrides")) != (profile.name, overrides):
        previous = None
    groups = [figure_modules.figure(key).group for key in figures]
    checks, by_figure = compare.merge_calibration(previous, checks, groups, started_from["git_revision"])
    document = {
        "profile": profile.name,
        "about": f"Expected values for `reproduce --profile {profile.name}` with its default seeds: the values of "
        f"the run whose main seed is {profile.seeds[0]}, tolerances from the spread over the main seeds "
        f"{list(profile.seeds)}. "
        "Regenerate with `python -m artifact calibrate --profile " + profile.name + "` from a clean checkout.",
        "overrides": overrides,
        "calibration": {**started_from, "dirty_allowed": bool(args.allow_dirty)},
        "calibrated_figures": by_figure,
        "checks": checks,
    }
    files.write_text(path, json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(checks)} checks to {path}", file=sys.stderr)
    return 0


def _profile_arguments(parser: argparse.ArgumentParser, default_profile: str) -> None:
    """The options that choose and adjust a profile (reproduce, calibrate)."""
    parser.add_argument("--profile", default=default_profile, help=f"smoke | cpu | paper (default: {default_profile})")
    parser.add_argument(
        "--figures",
        default="all",
        help="comma-separated subset of 1,2,3,4,5,6,7, or all (default: the paper's); mlp, beyond the paper, "
        "runs when named (all,mlp)",
    )
    parser.add_argument("--seeds", help="comma-separated seeds; the first drives Figs 1-3, 5 and 6, all of them Fig. 7")
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a profile setting, e.g. train.num_steps=1000 (repeatable; see --dry-run)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m artifact",
        description="Reproduce 'On the Edge of Memorization in Diffusion Models' (NeurIPS 2025).",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, devices and numerics settings of this machine")
    info.set_defaults(run=_info)

    rep = sub.add_parser(
        "reproduce",
        help="train, evaluate and assemble figures into HDF5, plots and REPORT.md",
        description="Compute the units the chosen figures need (skipping finished ones), then "
        "assemble DIR/figures.h5, DIR/figures/*.png|pdf and DIR/REPORT.md from them.",
        epilog=EPILOG,
    )
    _profile_arguments(rep, default_profile="cpu")
    rep.add_argument("--out", help="output folder (default: results/<profile>)")
    rep.add_argument("--shard", help="I/N: run only the I-th of N deterministic slices of the units (0 <= I < N)")
    rep.add_argument(
        "--dry-run", action="store_true", help="print the resolved configuration and the units with their state"
    )
    rep.add_argument("--force", action="store_true", help="recompute finished units and overwrite results")
    rep.add_argument("--allow-cpu", action="store_true", help="let the paper profile run without a GPU")
    rep.set_defaults(run=_reproduce)

    cmp = sub.add_parser(
        "compare",
        help="check a finished output folder against expected values",
        description="Prints one row per check grouped by paper claim, writes DIR/compare.md and "
        "DIR/compare.json; also checks the paper's claims (expected/paper.json): they must hold at the cpu and "
        "paper profiles and are reported at smoke. Exit code 1 iff a check fails (or a paper claim, where it "
        "must hold).",
    )
    cmp.add_argument("dir", help="a reproduce output folder")
    cmp.add_argument("--expected", help="expected-values file (default: expected/<profile of DIR>.json)")
    cmp.set_defaults(run=_compare)

    cal = sub.add_parser(
        "calibrate",
        help="regenerate expected/<profile>.json from runs over the profile's seeds",
        description="Runs the profile once with each of its seeds as the main seed (sharing units) and "
        "writes the canonical seed's values with the seed spread as tolerances. Refuses a dirty tree.",
    )
    _profile_arguments(cal, default_profile="smoke")
    cal.add_argument("--out", help="working folder (default: results/calibrate-<profile>)")
    cal.add_argument("--expected-out", help="where to write (default: expected/<profile>.json)")
    cal.add_argument(
        "--allow-dirty", action="store_true", help="development only: calibrate uncommitted code (recorded)"
    )
    cal.add_argument("--shard", help=argparse.SUPPRESS)
    cal.set_defaults(run=_calibrate)

    fetch = sub.add_parser("fetch-data", help="download and verify the canonical Fashion-MNIST files (Figs 4, 5)")
    fetch.add_argument("--dir", help="target folder (default: $ARTIFACT_DATA_DIR or data/fashion-mnist)")
    fetch.add_argument("--base-url", help="another server holding the four files (default: the manifest's)")
    fetch.set_defaults(run=_fetch_data)

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
    except files.StorageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except workers.WorkerDied as error:
        print(f"error: {error}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("interrupted: finished units are kept; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
