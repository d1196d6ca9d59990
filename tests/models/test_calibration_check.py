"""The calibration check separates base-rate drift, shape and sampling noise in a churn ECE.

Known answers come from hand algebra and from SciPy's binomial distribution, not from the code
under test: a logit shift of ln 3 turns 0.5 into 0.75; the ECE of a constant prediction is the
absolute error of one binomial mean, whose expectation SciPy computes exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from training.calibration_check import (
    calibration_check,
    ece_noise_floor,
    shift_to_rate,
    value_scale_check,
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_shift_to_rate_moves_the_logit_by_one_constant():
    # 0.5 has logit 0; the mean 0.75 needs logit ln 3 for both users.
    assert shift_to_rate(np.array([0.5, 0.5]), 0.75) == pytest.approx([0.75, 0.75], abs=1e-9)
    # 0.2 and 0.8 already average 0.5, so the shift is 0 and they stay.
    assert shift_to_rate(np.array([0.2, 0.8]), 0.5) == pytest.approx([0.2, 0.8], abs=1e-9)
    # A shift of c on the logit: 0.2 -> sigmoid(logit 0.2 + c), checked against the mean asked.
    shifted = shift_to_rate(np.array([0.2, 0.4, 0.9]), 0.7)
    c = math.log(shifted[0] / (1 - shifted[0])) - math.log(0.2 / 0.8)
    expected = _sigmoid(np.log(np.array([0.2, 0.4, 0.9]) / np.array([0.8, 0.6, 0.1])) + c)
    assert shifted == pytest.approx(expected, abs=1e-9) and shifted.mean() == pytest.approx(0.7)


def test_the_noise_floor_of_a_constant_prediction_is_a_binomial_mean_error():
    # All 100 users at 0.5: one bin, ECE = |k/100 - 0.5| with k ~ Binomial(100, 0.5).
    n = 100
    k = np.arange(n + 1)
    exact = float(np.sum(binom.pmf(k, n, 0.5) * np.abs(k / n - 0.5)))  # 0.0398
    mean, p95 = ece_noise_floor(np.full(n, 0.5), draws=2000)
    assert mean == pytest.approx(exact, abs=0.003)
    cdf_at_p95 = float(np.sum(binom.pmf(k, n, 0.5)[np.abs(k / n - 0.5) <= p95 + 1e-12]))
    assert 0.93 <= cdf_at_p95 <= 0.99


@pytest.fixture(scope="module")
def predictions() -> np.ndarray:
    rng = np.random.default_rng(5)
    return _sigmoid(rng.normal(1.0, 1.2, 20_000))  # a churn-like spread around 0.7


def test_a_moved_base_rate_is_told_apart_from_noise(predictions: np.ndarray):
    rng = np.random.default_rng(6)
    logit = np.log(predictions / (1 - predictions))
    fit_labels = rng.random(len(predictions)) < predictions  # calibrated where it was fitted
    moved = _sigmoid(logit + 0.4)  # the world at the report cutoff: every log-odds + 0.4
    report_labels = rng.random(len(predictions)) < moved
    check = calibration_check(fit_labels, report_labels, predictions)
    assert check.report_rate - check.fit_rate == pytest.approx(
        moved.mean() - predictions.mean(), abs=0.01
    )
    assert check.ece > 4 * check.floor_p95  # far beyond sampling error ...
    assert check.ece_at_report_rate < 1.5 * check.floor_p95  # ... and all of it the base rate


def test_a_wrong_shape_stays_wrong_with_the_base_rate_known(predictions: np.ndarray):
    rng = np.random.default_rng(7)
    logit = np.log(predictions / (1 - predictions))
    steeper = _sigmoid(2.0 * (logit - logit.mean()) + logit.mean())  # over-confident model
    labels = rng.random(len(predictions)) < predictions
    check = calibration_check(labels, labels, steeper)
    assert check.ece_at_report_rate > 4 * check.floor_p95


def test_a_calibrated_model_sits_at_its_noise_floor(predictions: np.ndarray):
    labels = np.random.default_rng(8).random(len(predictions)) < predictions
    check = calibration_check(labels, labels, predictions)
    assert check.ece <= check.floor_p95 * 1.2
    assert "ECE" in check.line() and f"{check.rows:,} users" in check.line()


def test_one_prediction_per_row_is_required():
    with pytest.raises(ValueError, match="one prediction per report row"):
        calibration_check(np.ones(3), np.ones(3), np.full(2, 0.5))


def test_the_value_scale_check_puts_the_bias_beside_the_move():
    # Calibrated where the actual mean was 10; here the actual mean is 8 and the model says 10:
    # bias 10 / 8 - 1 = +25%, and the actual mean moved 8 / 10 - 1 = -20%.
    check = value_scale_check(np.array([0.0, 20.0]), np.array([4.0, 12.0]), np.array([9.0, 11.0]))
    assert check.bias == pytest.approx(0.25) and check.moved == pytest.approx(-0.20)
    assert (check.fit_mean, check.report_mean, check.mean_predicted) == (10.0, 8.0, 10.0)
    assert "+25.0%" in check.line() and "-20.0%" in check.line()
    assert math.isnan(value_scale_check(np.ones(2), np.zeros(2), np.ones(2)).bias)  # nobody spent
