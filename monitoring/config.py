"""Typed monitoring thresholds, parsed from YAML: when a figure is a warning, when critical.

Why typed and strict (pydantic, `extra="forbid"`, as `training.config` does): a scheduler acts
on the exit code these thresholds produce, so a misspelt key must fail loudly instead of
silently leaving a default in force. Every band is phrased so that larger is worse (a drop in
ROC-AUC rather than the ROC-AUC itself, the share of volume lost rather than the volume), so one
rule (`monitoring.status.grade`) grades them all.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitoring.status import Status, grade


class MonitorConfigError(ValueError):
    """A thresholds file that cannot be read or is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """A warning and a critical level for one figure where larger is worse."""

    warning: float = Field(ge=0)
    critical: float = Field(ge=0)

    @model_validator(mode="after")
    def _warning_first(self) -> Band:
        if self.warning > self.critical:
            raise ValueError(f"warning ({self.warning}) must not exceed critical ({self.critical})")
        return self

    def grade(self, value: float) -> Status:
        """ok below `warning`, warning from it, critical from `critical` on."""
        return grade(value, self.warning, self.critical)


class MonitorThresholds(_Strict):
    """When `retain monitor` warns and when it calls a figure critical.

    Defaults and why:
    - `psi` 0.1 / 0.25: the usual reading of a population stability index (below 0.1 no
      meaningful shift, 0.1–0.25 a moderate one, above 0.25 a significant one).
    - `roc_auc_decay` 0.03 / 0.07: realised churn ROC-AUC this far below the out-of-time figure
      at training. 0.03 is about the spread of out-of-time ROC-AUC across backtest origins, so
      less is noise; 0.07 means the ranking has visibly lost its edge.
    - `ece_increase` 0.02 / 0.05: calibration error this much above training's, in probability
      points; expected gains multiply the probability, so 5 points mis-state every decision.
    - `spearman_decay`, `gini_decay` 0.05 / 0.10: value rankings are noisier than churn
      rankings (heavy-tailed spend), hence wider bands than ROC-AUC.
    - `value_bias` 0.25 / 0.50: |mean predicted / mean realised − 1|, judged on its own rather
      than against training (where calibration drives it to about zero).
    - `freshness_days` 2 / 7: days from the last event to as-of; daily exports land a day late.
    - `volume_drop` 0.5 / 0.8: share of daily event volume lost, recent days against the
      trailing average (a half-empty export is a warning, a near-empty one critical).
    - `rejected_share` 0.01 / 0.05: share of read rows rejected by the event contract.
    - `min_labelled_rows`: below this many labelled users the realised figures are shown but
      not judged; a ROC-AUC from a few dozen users moves by more than the bands.
    """

    psi: Band = Band(warning=0.10, critical=0.25)
    roc_auc_decay: Band = Band(warning=0.03, critical=0.07)
    ece_increase: Band = Band(warning=0.02, critical=0.05)
    spearman_decay: Band = Band(warning=0.05, critical=0.10)
    gini_decay: Band = Band(warning=0.05, critical=0.10)
    value_bias: Band = Band(warning=0.25, critical=0.50)
    freshness_days: Band = Band(warning=2.0, critical=7.0)
    volume_drop: Band = Band(warning=0.5, critical=0.8)
    rejected_share: Band = Band(warning=0.01, critical=0.05)
    volume_recent_days: int = Field(7, ge=1, le=365, description="Days averaged as 'recent'.")
    volume_trailing_days: int = Field(28, ge=1, le=3650, description="Days before them.")
    min_labelled_rows: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _shares_are_shares(self) -> MonitorThresholds:
        for name in ("volume_drop", "rejected_share"):
            if getattr(self, name).critical > 1:
                raise ValueError(f"{name} levels are shares and must be at most 1")
        return self

    def to_yaml(self) -> str:
        """The resolved thresholds as YAML (what a run logs so its verdict can be replayed)."""
        return yaml.safe_dump(self.model_dump(), sort_keys=False)


def thresholds_from_mapping(data: object) -> MonitorThresholds:
    """Validate a parsed mapping (None or empty: every default)."""
    if data is None:
        return MonitorThresholds()
    if not isinstance(data, dict):
        raise MonitorConfigError("monitor thresholds must be a mapping of keys to values")
    try:
        return MonitorThresholds.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '(top level)'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise MonitorConfigError(f"invalid monitor thresholds: {problems}") from None


def load_thresholds(path: str | Path) -> MonitorThresholds:
    """Read thresholds from a YAML file; keys left out keep their defaults."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise MonitorConfigError(f"cannot read monitor thresholds {path}: {error}") from None
    except yaml.YAMLError as error:
        raise MonitorConfigError(f"{path} is not valid YAML: {error}") from None
    try:
        return thresholds_from_mapping(data)
    except MonitorConfigError as error:
        raise MonitorConfigError(f"{path}: {error}") from None
