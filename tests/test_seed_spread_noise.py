"""tools/seed_spread_noise.py: the sampling-noise floor of Fig. 7's seed spread."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from seed_spread_noise import simulated_spread  # noqa: E402


def test_certain_ratios_do_not_spread_and_even_ones_spread_by_binomial_noise():
    sure = simulated_spread(np.array([[0.0, 1.0]] * 3), samples=50, draws=2000)
    assert np.all(sure == 0.0)
    even = simulated_spread(np.full((3, 1), 0.5), samples=50, draws=20000)
    # range of 3 draws of Binomial(50, 1/2) / 50: sd 0.0707, expected range ~1.69 sd = 0.12
    assert abs(np.mean(even) - 1.69 * np.sqrt(0.25 / 50)) < 0.01
