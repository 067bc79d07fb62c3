"""The decisions that choose what is trained and what Fig. 3 reports, on inputs with known answers.

`transition_bracket` and `refinement_sizes` choose the second stage's M (DESIGN: M equally spaced in
[last M below ratio 0.1, first M at ratio >= 0.9], leaving out M already trained);
`first_memorizing_size` is the empirical M_pt (first trained M with ratio >= 1/2); `regression.fit`
is the lambda-tilde regression of App. H.3, checked against a float64 numpy transcription of its
module docstring.
"""

import numpy as np
import pytest

from artifact import process, regression
from artifact.experiment import first_memorizing_size, initial_sizes, refinement_sizes, transition_bracket

# --- transition_bracket -----------------------------------------------------------------------

TENTHS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]  # initial_sizes(100, 10)
S_CURVE = [0.0, 0.0, 0.0, 0.05, 0.3, 0.6, 0.95, 1.0, 1.0, 1.0]


def test_tenths_are_the_initial_sizes():
    assert initial_sizes(100, 10) == tuple(TENTHS)


def test_bracket_of_an_s_curve():
    # Ratio first >= 0.1 at M = 50, so the last M below it is 40; first >= 0.9 at M = 70.
    assert transition_bracket(TENTHS, S_CURVE) == (40, 70)


def test_bracket_thresholds_are_inclusive():
    # 0.1 is reached at M = 2 (so the start is M = 1), 0.9 at M = 4.
    assert transition_bracket([1, 2, 3, 4, 5], [0.0, 0.1, 0.5, 0.9, 1.0]) == (1, 4)


def test_bracket_with_other_thresholds():
    assert transition_bracket(TENTHS, S_CURVE, start_at=0.5, end_at=0.99) == (50, 80)


def test_bracket_when_the_first_model_already_passes_start():
    assert transition_bracket([10, 20, 30], [0.2, 0.5, 1.0]) == (10, 30)


def test_bracket_when_every_model_memorizes_is_the_first_size():
    # Nothing below 0.1 to start from: the bracket collapses onto the first M (nothing to refine).
    assert transition_bracket(TENTHS, [1.0] * 10) == (10, 10)


def test_bracket_when_no_model_memorizes_is_the_last_interval():
    # Never reaches 0.1: start is the M before the last, end falls back to the last M.
    assert transition_bracket(TENTHS, [0.0] * 10) == (90, 100)
    # Reaches 0.1 but never 0.9: end falls back to the last M.
    assert transition_bracket(TENTHS, [0.0, 0.0, 0.2, 0.4, 0.5, 0.5, 0.6, 0.7, 0.8, 0.85]) == (20, 100)


def test_bracket_of_a_non_monotone_curve_uses_first_crossings():
    # Dips below 0.1 after first reaching it, and below 0.9 after first reaching it: first crossings count.
    ratios = [0.0, 0.2, 0.05, 0.5, 0.95, 0.85, 1.0]
    assert transition_bracket([10, 20, 30, 40, 50, 60, 70], ratios) == (10, 50)


def test_bracket_of_one_size():
    assert transition_bracket([7], [0.3]) == (7, 7)


def test_bracket_rejects_ratios_of_another_length():
    with pytest.raises(ValueError):
        transition_bracket([10, 20, 30], [0.0, 0.0])


# --- refinement_sizes -------------------------------------------------------------------------


def test_refinement_of_an_s_curve_leaves_out_trained_sizes():
    # Bracket (40, 70), 5 points equally spaced inside it: 45, 50, 55, 60, 65; 50 and 60 are trained.
    assert refinement_sizes(TENTHS, S_CURVE, 5) == (45, 55, 65)


def test_refinement_at_paper_size_fills_the_cap():
    # N = 200: bracket (100, 140); 100 + 40 k / 11 for k = 1..10, rounded, none of them trained.
    sizes = list(initial_sizes(200, 10))
    ratios = [0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 0.9, 1.0, 1.0, 1.0]
    assert transition_bracket(sizes, ratios) == (100, 140)
    assert refinement_sizes(sizes, ratios, 10) == (104, 107, 111, 115, 118, 122, 125, 129, 133, 136)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 10, 29, 30, 100])  # 2: 50 and 60, both trained
def test_refinement_is_capped_new_and_inside_the_bracket(count):
    start, end = transition_bracket(TENTHS, S_CURVE)
    extra = refinement_sizes(TENTHS, S_CURVE, count)
    assert len(extra) <= count
    assert list(extra) == sorted(set(extra))
    assert all(type(m) is int and start < m < end for m in extra)
    assert not set(extra) & set(TENTHS)
    # Dense enough, every new integer inside the bracket is chosen.
    if count >= end - start:
        assert set(extra) == set(range(start + 1, end)) - set(TENTHS)


def test_refinement_of_a_narrow_bracket_drops_duplicates():
    # Bracket (10, 14): ten points round to 10..14, so only 11, 12, 13 are new.
    assert refinement_sizes([10, 14], [0.0, 1.0], 10) == (11, 12, 13)
    # Bracket (4, 6) with 5 trained: nothing new.
    assert refinement_sizes([4, 5, 6], [0.0, 0.5, 1.0], 10) == ()


@pytest.mark.parametrize("count", [0, -3])
def test_no_refinement_when_none_asked(count):
    assert refinement_sizes(TENTHS, S_CURVE, count) == ()


def test_no_refinement_when_every_model_memorizes():
    assert refinement_sizes(TENTHS, [1.0] * 10, 10) == ()


def test_refinement_when_no_model_memorizes_is_inside_the_last_interval():
    assert refinement_sizes(TENTHS, [0.0] * 10, 4) == (92, 94, 96, 98)


# --- first_memorizing_size --------------------------------------------------------------------


def test_first_memorizing_size_threshold_is_inclusive():
    assert first_memorizing_size([10, 20, 30, 40, 50], [0.0, 0.2, 0.49, 0.5, 0.9]) == 40


def test_first_memorizing_size_is_the_first_crossing_of_a_non_monotone_curve():
    assert first_memorizing_size([10, 20, 30, 40], [0.0, 0.6, 0.3, 0.8]) == 20


def test_first_memorizing_size_edges():
    assert first_memorizing_size(TENTHS, [0.0] * 9 + [0.49]) is None
    assert first_memorizing_size(TENTHS, [0.5] + [1.0] * 9) == 10
    assert first_memorizing_size(TENTHS, S_CURVE) == 60
    assert first_memorizing_size(TENTHS, S_CURVE, threshold=0.95) == 70
    assert first_memorizing_size([], []) is None


def test_first_memorizing_size_rejects_ratios_of_another_length():
    with pytest.raises(ValueError):
        first_memorizing_size([10, 20, 30], [0.0, 0.0])


def test_a_length_mismatch_is_rejected_even_when_an_early_size_decides():
    with pytest.raises(ValueError):
        first_memorizing_size([10, 20, 30], [0.9])
    with pytest.raises(ValueError):
        transition_bracket([10, 20, 30], [0.0, 1.0])


# --- regression.fit ---------------------------------------------------------------------------

GRID = process.time_grid()


def _docstring_model(weights, num_train, variance, constant, temperature=1 / 20):
    """float64 numpy, from regression.py's docstring: per tuple the softmin over M = 1..N of g(M)^2
    (temperature tau) averaged M/N, the argmin M/N, and the zero of the gap, 1 - sum(l g)/(C sum(l))."""
    weights = np.asarray(weights, np.float64)
    psi = (1.0 - GRID**2) / GRID**2  # alpha_t^2 / sigma_t^2
    generalizing = np.sum(weights / (psi * variance + 1.0))
    soft, hard = [], []
    for n in num_train:
        m = np.arange(1, n + 1) / n
        gap = constant * (1.0 - m) * weights.sum() - generalizing
        logits = -(gap**2) / temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        soft.append(np.sum(p * m))
        hard.append(m[np.argmin(gap**2)])
    return np.asarray(soft), np.asarray(hard), 1.0 - generalizing / (constant * weights.sum())


def _two_time_weights(crossing, variance, constant):
    """A lambda-tilde on two grid times whose gap vanishes exactly at M/N = crossing."""
    psi = (1.0 - GRID**2) / GRID**2
    g = 1.0 / (psi * variance + 1.0)
    want = constant * (1.0 - crossing)  # sum(l g) / sum(l)
    a, b = int(np.argmax(g < want)), int(np.argmax(g > want))  # one time on each side of it
    weights = np.zeros_like(GRID)
    weights[a], weights[b] = g[b] - want, want - g[a]
    return weights


# Targets on every tuple's M grid: 0.85 = 17/20 = 34/40 = 85/100 = 170/200, 0.6 = 12/20 = ... = 120/200.
NUM_TRAIN = np.array([20, 40, 100, 200])


@pytest.mark.parametrize(("crossing", "variance", "constant"), [(0.85, 1.0, 2.0), (0.6, 4.0, 1.0)])
def test_fit_recovers_the_crossing_of_a_known_lambda(crossing, variance, constant):
    truth = _two_time_weights(crossing, variance, constant)
    _, targets, truth_crossing = _docstring_model(truth, NUM_TRAIN, variance, constant)
    assert truth_crossing == pytest.approx(crossing, abs=1e-12)
    np.testing.assert_allclose(targets, crossing, atol=1e-12)  # the known lambda's M_pt/N for every N

    result = regression.fit(NUM_TRAIN, targets, np.ones(4, bool), GRID, variance, constant)
    # Only the zero of the gap is identifiable (the gap depends on M/N and t only): it is recovered to
    # within half a step of the finest M grid, every tuple's hard prediction is the target M exactly,
    # and the smoothed prediction is the target.
    soft, hard, fitted_crossing = _docstring_model(result.weights, NUM_TRAIN, variance, constant)
    assert abs(fitted_crossing - crossing) < 0.5 / NUM_TRAIN.max()
    np.testing.assert_array_equal(np.rint(result.predicted_hard * NUM_TRAIN), np.rint(crossing * NUM_TRAIN))
    np.testing.assert_allclose(result.predicted, crossing, atol=1e-4)
    assert result.fit_mse < 1e-8 and np.isnan(result.heldout_mse)
    assert result.weights.shape == GRID.shape and np.all(result.weights > 0)


def test_fit_reports_the_docstring_model_of_its_weights():
    """Mixed N (padded to the largest) and targets no lambda fits: the reported predictions are the
    model of the reported weights, and the errors are the mean squared errors of each split."""
    num_train = np.array([8, 30, 50, 120, 200])
    targets = np.array([0.875, 0.8, 0.84, 0.85, 0.79])
    is_fit = np.array([True, True, False, True, True])
    result = regression.fit(num_train, targets, is_fit, GRID, 1.0, 2.0)
    soft, hard, _ = _docstring_model(result.weights, num_train, 1.0, 2.0)
    np.testing.assert_allclose(result.predicted, soft, atol=1e-4)
    np.testing.assert_array_equal(np.rint(result.predicted_hard * num_train), np.rint(hard * num_train))
    assert np.all(result.predicted_hard <= 1.0) and np.all(result.predicted <= 1.0)
    errors = (result.predicted - targets) ** 2
    assert result.fit_mse == pytest.approx(errors[is_fit].mean(), rel=1e-9)
    assert result.heldout_mse == pytest.approx(errors[~is_fit].mean(), rel=1e-9)
    assert result.fit_mse > 1e-6  # no single crossing fits these targets


def test_held_out_targets_do_not_move_the_fit():
    is_fit = np.array([True, False, True, True])
    near = regression.fit(NUM_TRAIN, [0.85, 0.85, 0.85, 0.85], is_fit, GRID)
    far = regression.fit(NUM_TRAIN, [0.85, 0.3, 0.85, 0.85], is_fit, GRID)
    np.testing.assert_array_equal(near.weights, far.weights)
    np.testing.assert_array_equal(near.predicted, far.predicted)
    assert near.fit_mse == far.fit_mse < 1e-8
    assert far.heldout_mse == pytest.approx((far.predicted[1] - 0.3) ** 2, rel=1e-9)
    assert far.heldout_mse == pytest.approx(0.55**2, abs=1e-3)


def test_fit_starts_from_uniform_weights_and_a_smooth_softmin():
    """No steps: lambda-tilde = 1/26 in X0 units (DESIGN), and the prediction is the unsaturated softmin."""
    num_train = np.array([8, 30, 200])
    result = regression.fit(num_train, [0.8, 0.8, 0.8], np.ones(3, bool), GRID, 1.0, 2.0, steps=0)
    np.testing.assert_allclose(result.weights, 1 / len(GRID), rtol=1e-6)
    soft, hard, crossing = _docstring_model(result.weights, num_train, 1.0, 2.0)
    assert crossing == pytest.approx(0.8302, abs=1e-4)  # uniform lambda, C = 2 (as in test_theory)
    assert abs(soft[0] - hard[0]) > 0.02  # unsaturated: at N = 8 the softmin averages over several M
    np.testing.assert_allclose(result.predicted, soft, atol=1e-5)
    np.testing.assert_array_equal(np.rint(result.predicted_hard * num_train), np.rint(hard * num_train))


def test_held_out_tuples_take_no_part_in_the_fit():
    fit_only = regression.fit(NUM_TRAIN, [0.85] * 4, np.ones(4, bool), GRID)
    with_heldout = regression.fit(
        np.append(NUM_TRAIN, [10, 160]), [0.85] * 4 + [0.3, 0.5], np.array([True] * 4 + [False] * 2), GRID
    )
    # Equal up to float32 summation order over more rows (~1e-5); an unmasked entropy term moves them by ~1.
    np.testing.assert_allclose(with_heldout.weights, fit_only.weights, rtol=1e-3)
    np.testing.assert_allclose(with_heldout.predicted[:4], fit_only.predicted, atol=1e-6)
