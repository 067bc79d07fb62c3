"""Compare a finished output folder with expected values (expected/<profile>.json).

Observables are numbers derived from figures.h5 (a memorization ratio at a given M/N, a crossover
position, a fit error, ...). Each expected entry gives the value, a tolerance rule that fits the
quantity, and where the tolerance comes from:
- ratio:    a count out of the evaluated samples; passes if |obs - exp| * samples <= counts (+ rounding)
- grid:     a position on the trained M grid (M/N); passes if |obs - exp| <= tolerance (in M/N)
- relative: |obs / exp - 1| <= tolerance
- absolute: |obs - exp| <= tolerance
- at_most / at_least: a bound (the paper's own statements)
Provenance is schema-checked, never compared as numbers.

A statement of the paper that cannot hold at a reduced profile's scale says so in its entry
(`not_at_reduced_scale`: profile -> why, with the measurement that shows it); a failure there is
reported as explained (`waived`), never dropped, and does not fail the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import h5py

from artifact import figures, store
from artifact.figures import Observation

EXPECTED_DIR = Path(__file__).resolve().parent.parent / "expected"
PAPER_CLAIMS = EXPECTED_DIR / "paper.json"  # the paper's own statements, checked on any profile for REPORT.md
RULES = ("ratio", "grid", "relative", "absolute", "at_most", "at_least")
# Continuous quantities (losses, fit errors) can agree to many digits across three seeds by chance
# (the regression's optimum, a baseline loss): calibration never makes their band narrower than this.
CONTINUOUS_FLOOR = 0.05


@dataclass(frozen=True)
class CheckResult:
    id: str
    claim: str
    observed: float | None
    expected: float
    rule: str
    tolerance: float
    margin: float  # how much room was left (negative: by how much it failed)
    passed: bool
    note: str = ""
    waived: bool = False  # failed where the expected file explains why it cannot hold at this scale


def _check(entry: dict, observed: float | None) -> CheckResult:
    observed = None if observed is None else float(observed)  # numpy scalars would not serialize as numbers
    rule, expected, tol = entry["rule"], float(entry["expected"]), float(entry["tolerance"])
    base = dict(id=entry["id"], claim=entry["claim"], observed=observed, expected=expected, rule=rule, tolerance=tol)
    if observed is None:
        return CheckResult(**base, margin=-math.inf, passed=False, note="missing in the output")
    if math.isnan(observed) or math.isnan(expected):
        ok = math.isnan(observed) and math.isnan(expected)
        return CheckResult(**base, margin=0.0 if ok else -math.inf, passed=ok, note="" if ok else "NaN mismatch")
    if rule == "ratio":
        samples = entry["samples"]
        margin = tol - abs(observed - expected) * samples  # in counts
        return CheckResult(**base, margin=margin, passed=bool(margin >= -1e-6))
    if rule in ("grid", "absolute"):
        margin = tol - abs(observed - expected)
    elif rule == "relative":
        margin = tol - abs(observed / expected - 1.0) if expected else -math.inf
    elif rule == "at_most":
        margin = expected - observed
    elif rule == "at_least":
        margin = observed - expected
    else:
        raise ValueError(f"unknown rule {rule!r}")
    return CheckResult(**base, margin=margin, passed=bool(margin >= -1e-9 * max(1.0, abs(expected))))


def statement(rule: str, expected: float, tolerance: float) -> str:
    """What a check asks for, in words: "<= 0.05", "0.8 ± 0.1", "1 ± 10%", "0.06 ± 10 samples"."""
    if rule == "at_most":
        return f"<= {expected:.4g}"
    if rule == "at_least":
        return f">= {expected:.4g}"
    if rule == "ratio":
        return f"{expected:.4g} ± {tolerance:.0f} samples"
    if rule == "relative":
        return f"{expected:.4g} ± {tolerance:.0%}"
    return f"{expected:.4g} ± {tolerance:.4g}"


def load_expected(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read expected values {path}: {error}") from None
    for entry in doc.get("checks", []):
        missing = {"id", "claim", "expected", "rule", "tolerance", "source"} - entry.keys()
        if missing or entry.get("rule") not in RULES:
            raise ValueError(
                f"{path}: entry {entry.get('id', '?')} is malformed (missing {sorted(missing)} or bad rule)"
            )
    return doc


def compare(out: Path, expected_path: Path) -> list[CheckResult]:
    """Check out/figures.h5 against the expected file. A schema problem is a failed check, not a crash."""
    expected = load_expected(expected_path)
    figures_h5 = out / "figures.h5"
    try:
        store.validate(figures_h5, "figures")
    except store.InvalidResultFile as error:
        return [
            CheckResult(
                "schema", "output is a complete figures file", None, 0.0, "schema", 0.0, -math.inf, False, str(error)
            )
        ]
    results = []
    with h5py.File(figures_h5, "r") as f:
        missing_prov = [
            k for k in ("jax", "git_revision", "requirements_lock_sha256", "devices") if k not in f["provenance"].attrs
        ]
    results.append(
        CheckResult(
            "provenance",
            "provenance is recorded",
            None,
            0.0,
            "schema",
            0.0,
            0.0 if not missing_prov else -math.inf,
            not missing_prov,
            f"missing: {', '.join(missing_prov)}" if missing_prov else "",
        )
    )
    obs = figures.observables(figures_h5)
    with h5py.File(figures_h5, "r") as f:
        fig5_config = f["fig5"].attrs.get("fig5_config") if "fig5" in f else None
        run = json.loads(f.attrs["config"])
        requested = set(run.get("figures", [])) or None
        profile = run.get("profile")
    for entry in expected["checks"]:
        wanted = entry.get("only_for_fig5_config")
        if wanted is not None and wanted != fig5_config:
            continue  # a check of the other named Fig. 5 configuration
        figure = entry["id"].split(".")[0].removeprefix("fig")
        if requested is not None and figure not in requested:
            continue  # the run did not ask for this figure (reproduce --figures)
        value = obs.get(entry["id"])
        result = _check(entry, None if value is None else value.value)
        why = entry.get("not_at_reduced_scale", {}).get(profile)
        if why and not result.passed:
            note = f"not expected at the {profile} profile's scale: {why}"
            result = dataclasses.replace(result, waived=True, note=note)
        results.append(result)
    return results


def paper_claims_must_hold(figures_h5: Path) -> bool:
    """Whether the run's profile says the paper's claims must hold, from the run record in figures.h5
    (the record `compare` reads the profile and figures from); True where it does not say or cannot be
    read (`compare` has failed such a file already)."""
    try:
        with h5py.File(figures_h5, "r") as f:
            run = json.loads(f.attrs["config"])
    except (OSError, KeyError, ValueError):
        return True
    return bool(run.get("config", {}).get("paper_claims_must_hold", True))


def render(results: list[CheckResult]) -> tuple[str, str]:
    """(plain-text table, Markdown table), grouped by claim."""
    rows = sorted(results, key=lambda r: (r.claim, r.id))
    header = ("check", "observed", "expected", "tolerance", "margin", "result")

    def fmt(x):
        return "—" if x is None else f"{x:.4g}"

    body = [
        (
            r.id,
            fmt(r.observed),
            fmt(r.expected),
            f"{r.rule} {fmt(r.tolerance)}",
            fmt(r.margin),
            ("pass" if r.passed else "fails, explained" if r.waived else "FAIL") + (f" ({r.note})" if r.note else ""),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    text, md, claim = [], [], None
    md.append("| claim | " + " | ".join(header) + " |")
    md.append("|---" * (len(header) + 1) + "|")
    for r, b in zip(rows, body, strict=True):
        if r.claim != claim:
            claim = r.claim
            text.append(f"\n{claim}")
        text.append("  " + "  ".join(v.ljust(w) for v, w in zip(b, widths, strict=True)))
        md.append(f"| {r.claim} | " + " | ".join(b) + " |")
    failed = sum(not r.passed and not r.waived for r in results)
    waived = sum(r.waived for r in results)
    summary = f"all {len(results)} checks passed" if not failed else f"{failed} of {len(results)} checks FAILED"
    if waived:
        summary += f"; {waived} fail{'s' if waived == 1 else ''} where the reduced scale explains it"
    return "\n".join(text).lstrip() + "\n" + summary + "\n", "\n".join(md) + f"\n\n{summary}\n"


def merge_calibration(previous: dict | None, checks: list[dict], groups: list[str], revision: str) -> tuple[list, dict]:
    """The checks of an expected file after calibrating only the figures whose groups are `groups`.

    Checks of other figures are kept from `previous` (a document of the same profile and overrides);
    returns the checks and which revision calibrated each figure's checks.
    """
    kept, by_figure = [], {}
    if previous is not None:
        earlier = previous.get("calibration", {}).get("git_revision", "?")
        by_figure = dict(previous.get("calibrated_figures", {}))
        for check in previous["checks"]:
            group = check["id"].split(".")[0]
            if group not in groups:
                kept.append(check)
                by_figure.setdefault(group, earlier)
    by_figure.update({group: revision for group in groups})
    return kept + checks, dict(sorted(by_figure.items()))


def calibrated_checks(per_seed: dict[int, dict[str, Observation]], canonical: int, samples: int) -> list[dict]:
    """Expected values from the canonical seed's run, tolerances from the spread over all seeds.

    per_seed: seed -> observables of a run whose first (main) seed is that seed.
    """
    reference = per_seed[canonical]
    seeds = sorted(per_seed)
    checks = []
    for key, obs in reference.items():
        if key.startswith("fig7."):
            continue  # Fig. 7 already spans every seed: rotating the main seed cannot measure its spread
        values = [per_seed[s][key].value for s in seeds if key in per_seed[s]]
        if any(math.isnan(v) for v in values):
            continue  # undefined for some seed (no model memorizes): not a stable quantity
        deviations = [abs(v - obs.value) for v in values]
        entry = {"id": key, "claim": obs.claim, "expected": obs.value, "rule": obs.rule}
        if obs.rule == "ratio":
            entry["samples"] = samples
            entry["tolerance"] = round(max(deviations) * samples)
            unit = "samples"
        elif obs.rule == "relative":
            spread = max(abs(v / obs.value - 1.0) for v in values) if obs.value else max(deviations)
            entry["tolerance"] = max(spread, CONTINUOUS_FLOOR)
            unit = f"relative, at least {CONTINUOUS_FLOOR}"
        elif obs.rule == "absolute":
            entry["tolerance"] = max(max(deviations), CONTINUOUS_FLOOR * abs(obs.value))
            unit = f"absolute, at least {CONTINUOUS_FLOOR:.0%} of the value"
        else:
            entry["tolerance"] = max(deviations)
            unit = "M/N"
        entry["source"] = f"max deviation over seeds {seeds} from seed {canonical} ({unit})"
        checks.append(entry)
    return checks
