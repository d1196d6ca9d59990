"""Lifecycle stages and value tiers: the two axes the action catalogue is written against.

Why here and not in the models: stages and tiers are business definitions (DESIGN.md §4) that
operators tune without retraining. The churn model says how likely a user is to leave, the value
model how much they are worth; this module turns both, plus recency, into the segment names that
`actions.yaml` uses for eligibility and effects.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

STAGES: tuple[str, ...] = ("new", "active", "at_risk", "dormant", "churned", "reactivated")
TIERS: tuple[str, ...] = ("high", "mid", "low", "none")

_REQUIRED_STAGE_COLUMNS = ("days_since_first_event", "days_since_last_event")


class SegmentConfig(BaseModel):
    """Thresholds of the lifecycle stages, in days and churn probability."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    new_days: float = Field(14, ge=0, description="Tenure up to which a user is `new`.")
    active_window_days: float = Field(
        90, gt=0, description="Days without activity after which a user is no longer active."
    )
    dormant_max_days: float = Field(
        365, gt=0, description="Days without activity after which a lapsed user is `churned`."
    )
    at_risk_threshold: float = Field(
        0.5, ge=0, le=1, description="Churn probability from which an active user is `at_risk`."
    )

    @model_validator(mode="after")
    def _windows_ordered(self) -> SegmentConfig:
        """A dormant spell must start before it can end in churn, or `dormant` would be empty."""
        if self.dormant_max_days < self.active_window_days:
            raise ValueError(
                f"dormant_max_days ({self.dormant_max_days}) must be >= active_window_days "
                f"({self.active_window_days})"
            )
        return self


def assign_stages(
    frame: pd.DataFrame,
    churn_probability: Sequence[float] | np.ndarray | pd.Series,
    config: SegmentConfig | None = None,
) -> pd.Series:
    """The lifecycle stage of every row of a feature frame.

    Rules, first match wins: `new` (tenure <= new_days); `dormant`/`churned` when the last
    activity is missing or older than the active window (split at dormant_max_days; a user with
    no activity event at all is judged by tenure); `at_risk` when the churn probability reaches
    the threshold; `reactivated` when the feature `reactivated_30d` is 1 (absent column: never);
    otherwise `active`. `churn_probability` is read by position; NaN never makes a user at risk.
    """
    config = config or SegmentConfig()
    missing = [column for column in _REQUIRED_STAGE_COLUMNS if column not in frame.columns]
    if missing:
        raise KeyError(f"assign_stages needs feature columns {missing}; got {list(frame.columns)}")
    probability = np.asarray(churn_probability, dtype=float)
    if probability.shape != (len(frame),):
        raise ValueError(
            f"churn_probability has shape {probability.shape}; expected ({len(frame)},), "
            "one value per row of the feature frame"
        )
    tenure = frame["days_since_first_event"].to_numpy(dtype=float, na_value=np.nan)
    recency = frame["days_since_last_event"].to_numpy(dtype=float, na_value=np.nan)
    if "reactivated_30d" in frame.columns:
        reactivated = frame["reactivated_30d"].to_numpy(dtype=float, na_value=np.nan) == 1
    else:
        reactivated = np.zeros(len(frame), dtype=bool)

    no_activity = np.isnan(recency)
    lapsed = no_activity | (recency > config.active_window_days)
    within_year = np.where(
        no_activity, tenure <= config.dormant_max_days, recency <= config.dormant_max_days
    )
    conditions = [
        tenure <= config.new_days,
        lapsed & within_year,
        lapsed,
        probability >= config.at_risk_threshold,
        reactivated,
    ]
    choices = ["new", "dormant", "churned", "at_risk", "reactivated"]
    stages = np.select(conditions, choices, default="active")
    return pd.Series(stages.astype(object), index=frame.index, name="lifecycle_stage", dtype="str")


def _check_tier_params(
    mode: str,
    high_quantile: float,
    mid_quantile: float,
    high_amount: float | None,
    mid_amount: float | None,
    zero_value: float,
) -> None:
    """One set of checks for the estimator and its YAML config, so both fail the same way."""
    if mode not in ("quantile", "fixed"):
        raise ValueError(f"mode must be 'quantile' or 'fixed'; got {mode!r}")
    if not zero_value >= 0:
        raise ValueError(f"zero_value must be >= 0; got {zero_value}")
    if mode == "quantile":
        for name, q in (("high_quantile", high_quantile), ("mid_quantile", mid_quantile)):
            if not 0 < q < 1:
                raise ValueError(f"{name} must be in (0, 1); got {q}")
        if mid_quantile > high_quantile:
            raise ValueError(
                f"mid cut must be <= high cut: mid_quantile ({mid_quantile}) > "
                f"high_quantile ({high_quantile})"
            )
        return
    if high_amount is None or mid_amount is None:
        raise ValueError("mode 'fixed' needs both high_amount and mid_amount")
    for name, amount in (("high_amount", high_amount), ("mid_amount", mid_amount)):
        if not amount >= 0:
            raise ValueError(f"{name} must be >= 0; got {amount}")
    if mid_amount > high_amount:
        raise ValueError(
            f"mid cut must be <= high cut: mid_amount ({mid_amount}) > high_amount ({high_amount})"
        )


class ValueTiers:
    """Cuts predicted value into `high`, `mid`, `low` and `none` (scikit-learn conventions).

    Why an estimator: in `quantile` mode the cut points are learnt from one scoring batch and must
    be reused unchanged on the next (a user's tier should not move because others did), so they
    are fitted state (`high_cut_`, `mid_cut_`) that can be saved with the model. Quantiles are
    taken over users worth at least `zero_value` only, so a mass of zero-value users does not
    drag every cut to zero. A tier holds values `>=` its cut; values below `zero_value` (or NaN)
    are `none`. With no user worth at least `zero_value`, both cuts are +inf (everyone `low`).

    Why not a subclass of scikit-learn's `BaseEstimator`: importing scikit-learn costs ~1.3 CPU s,
    paid by every process that imports the decisions (each `retain serve` process, every CLI
    command), for two methods. `get_params` / `set_params` keep the estimator contract, so
    `sklearn.clone` still works; the state was never pickled (tiers are rebuilt from the value
    model's stored percentiles at every scoring run).
    """

    def __init__(
        self,
        mode: Literal["quantile", "fixed"] = "quantile",
        high_quantile: float = 0.8,
        mid_quantile: float = 0.5,
        high_amount: float | None = None,
        mid_amount: float | None = None,
        zero_value: float = 0.01,
    ) -> None:
        self.mode = mode
        self.high_quantile = high_quantile
        self.mid_quantile = mid_quantile
        self.high_amount = high_amount
        self.mid_amount = mid_amount
        self.zero_value = zero_value

    def get_params(self, deep: bool = True) -> dict[str, object]:
        """The constructor's parameters (scikit-learn's estimator contract; `deep` is moot)."""
        return {name: getattr(self, name) for name in _TIER_DEFAULTS}

    def set_params(self, **params: object) -> ValueTiers:
        """Set constructor parameters by name; an unknown name is refused, as scikit-learn does."""
        unknown = sorted(set(params) - set(_TIER_DEFAULTS))
        if unknown:
            raise ValueError(f"invalid parameter(s) for ValueTiers: {', '.join(unknown)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != _TIER_DEFAULTS[k]}
        return f"ValueTiers({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _check(self) -> None:
        """The same checks as TierConfig's, so both fail the same way."""
        _check_tier_params(**self.get_params())  # type: ignore[arg-type]

    def fit(self, predicted_value: Sequence[float] | np.ndarray | pd.Series) -> ValueTiers:
        """Fix the cut points: quantiles of the valued users, or the configured amounts."""
        self._check()
        if self.mode == "fixed":
            self.high_cut_ = float(self.high_amount)  # type: ignore[arg-type]
            self.mid_cut_ = float(self.mid_amount)  # type: ignore[arg-type]
            return self
        values = np.asarray(predicted_value, dtype=float).ravel()
        valued = values[values >= self.zero_value]
        if valued.size == 0:
            self.high_cut_ = self.mid_cut_ = float("inf")
            return self
        mid_cut, high_cut = np.quantile(valued, [self.mid_quantile, self.high_quantile])
        self.high_cut_, self.mid_cut_ = float(high_cut), float(mid_cut)
        return self

    def fit_percentiles(self, percentiles: Sequence[float] | np.ndarray) -> ValueTiers:
        """Fix the cut points from stored percentiles (0, 1, ..., 100) of the valued users.

        Why: the value model stores, at training, the percentiles of `value_if_retained` over
        its out-of-time users worth at least `zero_value`. Cutting every scoring run on them
        keeps a user's tier fixed while other users come and go; quantiles are interpolated
        between the stored percentiles. `fixed` mode ignores them (the amounts are the cuts).
        """
        if self.mode == "fixed":
            return self.fit(np.zeros(0))
        self._check()
        grid = np.asarray(percentiles, dtype=float).ravel()
        if grid.shape != (101,) or np.isnan(grid).all():
            raise ValueError(
                f"stored value percentiles must be 101 numbers (0..100); got shape {grid.shape}"
            )
        if not np.isfinite(grid).all():
            self.high_cut_ = self.mid_cut_ = float("inf")
            return self
        steps = np.arange(101, dtype=float)
        self.mid_cut_ = float(np.interp(self.mid_quantile * 100, steps, grid))
        self.high_cut_ = float(np.interp(self.high_quantile * 100, steps, grid))
        return self

    def transform(self, predicted_value: Sequence[float] | np.ndarray | pd.Series) -> pd.Series:
        """The tier of each value; keeps the index when given a Series."""
        if not hasattr(self, "high_cut_"):
            from sklearn.exceptions import NotFittedError  # only on misuse: see the class note

            raise NotFittedError("ValueTiers is not fitted yet; call fit() first")
        index = predicted_value.index if isinstance(predicted_value, pd.Series) else None
        values = np.asarray(predicted_value, dtype=float).ravel()
        tiers = np.select(
            [
                ~(values >= self.zero_value),
                values >= self.high_cut_,
                values >= self.mid_cut_,
            ],
            ["none", "high", "mid"],
            default="low",
        )
        return pd.Series(tiers.astype(object), index=index, name="value_tier", dtype="str")

    def fit_transform(self, predicted_value: Sequence[float] | np.ndarray | pd.Series) -> pd.Series:
        """Fit on a batch and tier the same batch (the usual scoring call)."""
        return self.fit(predicted_value).transform(predicted_value)


# The constructor's parameters and defaults, read from its signature as scikit-learn does.
_TIER_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(ValueTiers.__init__).parameters.items()
    if name != "self"
}


class TierConfig(BaseModel):
    """The YAML form of `ValueTiers`; validated on load with the estimator's own checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["quantile", "fixed"] = "quantile"
    high_quantile: float = 0.8
    mid_quantile: float = 0.5
    high_amount: float | None = None
    mid_amount: float | None = None
    zero_value: float = 0.01

    @model_validator(mode="after")
    def _consistent(self) -> TierConfig:
        """Fail when the YAML is read, not at the first scoring run."""
        _check_tier_params(**self.model_dump())
        return self

    def build(self) -> ValueTiers:
        """An unfitted estimator with these parameters."""
        return ValueTiers(**self.model_dump())
