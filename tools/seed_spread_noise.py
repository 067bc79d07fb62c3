"""How large Fig. 7's seed-to-seed spread is from sampling noise alone, for a finished run.

Fig. 7's statistic is the largest spread (max - min over seeds) of the memorization ratio at any M.
Each ratio is a count out of the DDIM samples, so even identical models per seed would spread. This
draws, for every M, one binomial count per seed at the seeds' mean ratio and the run's number of
samples, and reports the distribution of the largest spread against the observed one.

    python tools/seed_spread_noise.py DIR [--draws 20000] [--bound 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np


def simulated_spread(ratios: np.ndarray, samples: int, draws: int, seed: int = 0) -> np.ndarray:
    """ratios: (seeds, M) observed -> (draws,) largest spread over M of binomial counts at the mean ratio."""
    rng = np.random.default_rng(seed)
    counts = rng.binomial(samples, ratios.mean(axis=0), size=(draws, *ratios.shape)) / samples
    return (counts.max(axis=1) - counts.min(axis=1)).max(axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="a finished reproduce folder with Fig. 7")
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--bound", type=float, default=0.1, help="the band to report the chance of")
    args = parser.parse_args(argv)
    with h5py.File(Path(args.dir) / "figures.h5", "r") as f:
        ratios = f["fig7/memorization_ratio"][()]
        samples = json.loads(f.attrs["config"])["config"]["eval"]["num_samples"]
    spread = simulated_spread(ratios, samples, args.draws)
    observed = float((ratios.max(axis=0) - ratios.min(axis=0)).max())
    print(
        json.dumps(
            {
                "observed": observed,
                "samples": samples,
                "binomial_median": float(np.median(spread)),
                "binomial_chance_within_bound": float(np.mean(spread <= args.bound + 1e-9)),
                "bound": args.bound,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
