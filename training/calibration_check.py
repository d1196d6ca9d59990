"""Why a model's calibration error is what it is: base-rate drift, shape, or sampling noise.

Why: `retain evaluate` calibrates on a validation cutoff one horizon before `--as-of` and
reports ECE at `--as-of`. On real logs the churn *rate* moves between the two (seasons, an
ageing cohort): measured on CDNOW, +3.8 points into January 1998 and −5.7 into March, so any
model calibrated a month earlier is off by about that much, however good its ranking. And ECE
on a few thousand users is never zero: a perfectly calibrated model shows sampling error.
A single ECE figure mixes the three; this check separates them, so a data scientist can tell
"recalibrate the shape" from "the base rate moved" from "this is noise":

- **rates:** the observed churn rate where the model was calibrated and at the report cutoff;
- **ECE at the report rate:** the ECE after one logit-intercept shift that makes the mean
  prediction equal the report rate, i.e. with the base rate known in hindsight. What remains
  is miscalibration of shape;
- **noise floor:** the ECE a perfectly calibrated model would show with these predictions on
  this many users (labels drawn from the predictions themselves), mean and 95th percentile.

The value model's mean bias has the same first cause: its scale is set on the validation
cutoff, and the mean future value moves between that cutoff and `--as-of` (CDNOW −11% into
1998; Online Retail +37% into the autumn 2011 peak). `ValueScaleCheck` puts the two means
beside the bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from training.metrics import ECE_BINS, expected_calibration_error
from training.stack_terms import logit

__all__ = [
    "CalibrationCheck",
    "ValueScaleCheck",
    "calibration_check",
    "ece_noise_floor",
    "shift_to_rate",
    "value_scale_check",
]

_FLOOR_DRAWS = 400


@dataclass(frozen=True)
class CalibrationCheck:
    """The pieces of one model's ECE on the report rows (module docstring)."""

    rows: int
    fit_rate: float  # observed positive rate where the model was calibrated
    report_rate: float  # observed positive rate on the report rows
    mean_predicted: float
    ece: float
    ece_at_report_rate: float
    floor_mean: float
    floor_p95: float

    def line(self, fit_label: str = "the validation cutoff") -> str:
        """One sentence for an operator's or a data scientist's reading."""
        moved = (self.report_rate - self.fit_rate) * 100
        return (
            f"Calibration: ECE {self.ece:.4f}. The churn rate was {self.fit_rate:.3f} at "
            f"{fit_label}, where the model was calibrated, and {self.report_rate:.3f} here "
            f"({moved:+.1f} points; mean prediction {self.mean_predicted:.3f}). With this rate "
            f"known (hindsight: one intercept shift) the ECE would be "
            f"{self.ece_at_report_rate:.4f}; a perfectly calibrated model scores "
            f"{self.floor_mean:.4f} on average on these {self.rows:,} users (95%: "
            f"{self.floor_p95:.4f})."
        )

    def metrics(self) -> dict[str, float]:
        """The figures under stable names, for MLflow."""
        return {
            "fit_rate": self.fit_rate,
            "report_rate": self.report_rate,
            "ece": self.ece,
            "ece_at_report_rate": self.ece_at_report_rate,
            "ece_floor_mean": self.floor_mean,
            "ece_floor_p95": self.floor_p95,
        }


def shift_to_rate(p: np.ndarray, rate: float) -> np.ndarray:
    """`p` moved by one constant on the logit scale so that its mean is `rate`.

    The mean of sigmoid(logit p + c) increases with c, so bisection finds c; with `rate` at 0
    or 1 (no shift can reach it) the probabilities go to that bound.
    """
    p = np.asarray(p, dtype=float)
    if rate <= 0.0 or rate >= 1.0:
        return np.full_like(p, float(np.clip(rate, 0.0, 1.0)))
    log_odds = logit(p)  # the stack's own log-odds, clipped as it clips them
    low, high = -40.0, 40.0
    for _ in range(100):
        middle = (low + high) / 2
        if np.mean(expit(log_odds + middle)) < rate:
            low = middle
        else:
            high = middle
    return expit(log_odds + (low + high) / 2)


def ece_noise_floor(
    p: np.ndarray, draws: int = _FLOOR_DRAWS, seed: int = 0, bins: int = ECE_BINS
) -> tuple[float, float]:
    """Mean and 95th percentile of the ECE of labels drawn from `p` itself (so `p` is exactly
    calibrated for them): the ECE sampling error alone, on this many rows and these bins."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    values = [expected_calibration_error(rng.random(len(p)) < p, p, bins) for _ in range(draws)]
    return float(np.mean(values)), float(np.quantile(values, 0.95))


def _paired(y_report: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and predictions as float arrays, one prediction per report row (at least one)."""
    y_report, p = np.asarray(y_report, dtype=float), np.asarray(p, dtype=float)
    if len(y_report) != len(p) or not len(p):
        raise ValueError(f"need one prediction per report row; got {len(p)} for {len(y_report)}")
    return y_report, p


def calibration_check(y_fit: np.ndarray, y_report: np.ndarray, p: np.ndarray) -> CalibrationCheck:
    """Split the ECE of predictions `p` for labels `y_report` (module docstring); `y_fit` are
    the labels of the rows the model was calibrated on."""
    y_report, p = _paired(y_report, p)
    report_rate = float(y_report.mean())
    floor_mean, floor_p95 = ece_noise_floor(p)
    return CalibrationCheck(
        rows=len(p),
        fit_rate=float(np.mean(np.asarray(y_fit, dtype=float))),
        report_rate=report_rate,
        mean_predicted=float(p.mean()),
        ece=expected_calibration_error(y_report, p),
        ece_at_report_rate=expected_calibration_error(y_report, shift_to_rate(p, report_rate)),
        floor_mean=floor_mean,
        floor_p95=floor_p95,
    )


@dataclass(frozen=True)
class ValueScaleCheck:
    """The value model's mean bias beside how far the actual mean moved since calibration."""

    rows: int
    fit_mean: float  # mean future value where the value model's scale was set
    report_mean: float  # mean future value on the report rows
    mean_predicted: float

    @property
    def bias(self) -> float:
        """Mean prediction over mean outcome, minus one (NaN when nobody spent)."""
        return self.mean_predicted / self.report_mean - 1.0 if self.report_mean else float("nan")

    @property
    def moved(self) -> float:
        """The actual mean here over the actual mean at calibration, minus one."""
        return self.report_mean / self.fit_mean - 1.0 if self.fit_mean else float("nan")

    def line(self, fit_label: str = "the validation cutoff") -> str:
        return (
            f"Value scale: mean prediction {self.mean_predicted:,.2f} against an actual "
            f"{self.report_mean:,.2f} ({self.bias:+.1%}). The mean future value was "
            f"{self.fit_mean:,.2f} at {fit_label}, where the value model's scale was set, and "
            f"{self.report_mean:,.2f} here ({self.moved:+.1%})."
        )

    def metrics(self) -> dict[str, float]:
        return {
            "fit_mean": self.fit_mean,
            "report_mean": self.report_mean,
            "mean_bias": self.bias,
            "actual_mean_moved": self.moved,
        }


def value_scale_check(y_fit: np.ndarray, y_report: np.ndarray, p: np.ndarray) -> ValueScaleCheck:
    """`ValueScaleCheck` of predictions `p` for outcomes `y_report`; `y_fit` are the outcomes
    of the rows the value model's scale was set on."""
    y_report, p = _paired(y_report, p)
    return ValueScaleCheck(
        rows=len(p),
        fit_mean=float(np.mean(np.asarray(y_fit, dtype=float))),
        report_mean=float(y_report.mean()),
        mean_predicted=float(p.mean()),
    )
