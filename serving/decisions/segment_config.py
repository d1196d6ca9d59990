"""Stage thresholds and tier rules from one typed file, used alike by every path.

Why a file of its own: the thresholds that make a user `at_risk` or `dormant`, and the rules
that cut value tiers, are operators' settings. Scoring, the service, the report and the segment
summary must all read the same ones, or a user counted `at_risk` in the report would be
`active` on the operator page. The active window is not an operator's choice, though: it is
part of what the models learnt ("active" at the cutoff), so it comes from the champions'
windows, and a file or flag that contradicts them is refused instead of silently splitting
users differently from the models.

YAML form (every key optional)::

    stages:
      new_days: 14
      dormant_max_days: 365
      at_risk_threshold: 0.5
    tiers:
      mode: quantile        # or fixed, with high_amount and mid_amount
      high_quantile: 0.8
      mid_quantile: 0.5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from features import WindowConfig
from serving.decisions.segments import SegmentConfig, TierConfig

SEGMENTATION_ATTR = "retain_segmentation"  # where a score table records its segmentation


class SegmentationError(ValueError):
    """A segmentation file or flag that cannot be used; the message names the key."""


class Segmentation(BaseModel):
    """Lifecycle-stage thresholds and value-tier rules (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: SegmentConfig = SegmentConfig()
    tiers: TierConfig = TierConfig()

    def with_threshold(self, at_risk_threshold: float | None) -> Segmentation:
        """A copy with the `--at-risk-threshold` flag applied (None: unchanged)."""
        if at_risk_threshold is None:
            return self
        stages = _validated(
            {**self.stages.model_dump(), "at_risk_threshold": at_risk_threshold},
            "--at-risk-threshold",
        )
        return self.model_copy(update={"stages": stages})

    def for_windows(self, windows: WindowConfig) -> Segmentation:
        """The stages with the models' active window; a contradicting setting is refused."""
        given = "active_window_days" in self.stages.model_fields_set
        if given and self.stages.active_window_days != windows.active_window_days:
            raise SegmentationError(
                f"stages.active_window_days is {self.stages.active_window_days:g} but the "
                f"champion models were trained with a {windows.active_window_days}-day active "
                "window; remove the setting (it comes from the models) or retrain with "
                "--active-window-days"
            )
        stages = _validated(
            {**self.stages.model_dump(), "active_window_days": windows.active_window_days},
            "stages",
        )
        return self.model_copy(update={"stages": stages})


def _validated(values: dict[str, Any], source: str) -> SegmentConfig:
    try:
        return SegmentConfig.model_validate(values)
    except ValidationError as error:
        raise SegmentationError(f"{source}: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'value'}: "
        + item["msg"].removeprefix("Value error, ")
        for item in error.errors(include_url=False)
    )


def load_segmentation(
    path: str | Path | None = None, *, at_risk_threshold: float | None = None
) -> Segmentation:
    """The segmentation in `path` (defaults when None), with the threshold flag on top."""
    if path is None:
        return Segmentation().with_threshold(at_risk_threshold)
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SegmentationError(f"{source}: cannot read file: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SegmentationError(f"{source}: not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SegmentationError(f"{source}: expected a mapping with `stages` and/or `tiers`")
    try:
        segmentation = Segmentation.model_validate(data)
    except ValidationError as error:
        raise SegmentationError(f"{source}: {_describe(error)}") from None
    return segmentation.with_threshold(at_risk_threshold)


def stored_threshold(scores: Any) -> float | None:
    """The at-risk threshold a score table was segmented with (its attrs), None if unrecorded.

    Why: a report or a service reading a score file must draw and count `at_risk` with the
    threshold the file was scored with, not today's default.
    """
    stored = getattr(scores, "attrs", {}).get(SEGMENTATION_ATTR)
    try:
        return float(stored["stages"]["at_risk_threshold"])
    except (TypeError, KeyError, ValueError):
        return None
