"""Promotion and rollback: moving `@champion` only when the evidence says so.

Why the "same out-of-time data" rule: metrics from different cutoffs or different exports are
not comparable (churn rates drift), so a challenger is judged against the champion either on
logged metrics that provably come from identical OOT rows (same data fingerprint, OOT cutoff,
windows and feature set: the report half is a deterministic function of those), or by scoring
both models now on the challenger's OOT report half (`--events`). Anything else is refused
with the reason. A champion trained on data later than the evaluation cutoff is refused too:
it would be judged on its own training labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from features import FEATURE_SET
from training import registry
from training.config import ModelKind, PromotionConfig, parse_config
from training.datasets import oot_evaluation_set
from training.evaluate import predict, score
from training.metrics import HIGHER_IS_BETTER

_SAME_DATA_PARAMS = (
    "oot_cutoff",
    "data_fingerprint",
    "feature_set_id",
    "windows.churn_horizon_days",
    "windows.value_horizon_days",
    "windows.active_window_days",
    "windows.activity_events",
)
Evaluation = tuple[pd.DataFrame, pd.Series, datetime]  # X, y, OOT cutoff


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of `retain promote` (or a rollback), with the reason in words."""

    kind: str
    promoted: bool
    reason: str
    metric: str = ""
    margin: float = 0.0
    champion_version: str | None = None
    challenger_version: str | None = None
    champion_score: float | None = None
    challenger_score: float | None = None
    basis: str = ""


def _logged_comparable(champion: registry.ModelInfo, challenger: registry.ModelInfo) -> list[str]:
    """Parameters that differ between the two runs' OOT data (empty: identical OOT rows)."""
    return [
        key for key in _SAME_DATA_PARAMS if champion.params.get(key) != challenger.params.get(key)
    ]


def _rescore(
    kind: ModelKind,
    champion: registry.ModelInfo,
    challenger: registry.ModelInfo,
    evaluation: Evaluation,
) -> tuple[float, float, dict[str, float], dict[str, float]] | str:
    """Score both versions on the same rows; a string is a reason to refuse."""
    X, y, cutoff = evaluation  # noqa: N806
    for info in (champion, challenger):
        if info.feature_set_id != FEATURE_SET.id:
            return (
                f"v{info.version} was trained on feature set {info.feature_set_id!r}, this build "
                f"computes {FEATURE_SET.id!r}: the two cannot be scored on the same features"
            )
    trained_until = champion.params.get("oot_cutoff")
    if trained_until and trained_until > f"{cutoff:%Y-%m-%d}":
        return (
            f"champion v{champion.version} was fitted on data up to {trained_until}, after the "
            f"evaluation cutoff {cutoff:%Y-%m-%d}: it would be judged on its own training labels"
        )
    results = []
    for info in (champion, challenger):
        estimator = registry.load_estimator(kind, version=info.version)
        results.append(score(kind, y, predict(kind, estimator, X)))
    return results[0], results[1]  # type: ignore[return-value]


def _challenger_config(challenger: registry.ModelInfo) -> Any:
    import mlflow.artifacts

    text = mlflow.artifacts.load_text(f"runs:/{challenger.run_id}/config/resolved_config.yaml")
    import yaml

    return parse_config(yaml.safe_load(text), f"run {challenger.run_id} config")


def promote(
    kind: ModelKind,
    promotion: PromotionConfig | None = None,
    *,
    events: str | Path | None = None,
    evaluation: Evaluation | None = None,
) -> PromotionDecision:
    """Make `@challenger` the champion if it beats `@champion` by the margin; else refuse.

    `evaluation` (X, y, cutoff) or `events` re-score both models on the same rows; without
    either, logged metrics are compared when they come from identical OOT data.
    """
    promotion = promotion or PromotionConfig()
    metric = promotion.metric_for(kind)
    margin = promotion.margin
    challenger_v = registry.challenger_version(kind)
    champion_v = registry.champion_version(kind)
    common = {"kind": kind, "metric": metric, "margin": margin}
    if challenger_v is None:
        return PromotionDecision(promoted=False, reason="no challenger is registered", **common)
    if champion_v is None:
        registry.set_champion(kind, challenger_v, "no champion existed", None)
        return PromotionDecision(
            promoted=True, reason="there was no champion", challenger_version=challenger_v, **common
        )
    common.update(champion_version=champion_v, challenger_version=challenger_v)
    if challenger_v == champion_v:
        return PromotionDecision(
            promoted=False, reason=f"challenger v{challenger_v} is already the champion", **common
        )
    champion = registry.model_info(kind, version=champion_v)
    challenger = registry.model_info(kind, version=challenger_v)
    if evaluation is None and events is not None:
        config = _challenger_config(challenger)
        X, y, cutoff, _ = oot_evaluation_set(events, config, kind)  # noqa: N806
        evaluation = (X, y, cutoff)
    if evaluation is not None:
        rescored = _rescore(kind, champion, challenger, evaluation)
        if isinstance(rescored, str):
            return PromotionDecision(promoted=False, reason=rescored, **common)
        champion_metrics, challenger_metrics = rescored
        cutoff, rows = evaluation[2], len(evaluation[1])
        basis = f"both scored on the OOT report half at {cutoff:%Y-%m-%d} ({rows:,} rows)"
    else:
        differs = _logged_comparable(champion, challenger)
        if differs:
            return PromotionDecision(
                promoted=False,
                reason=(
                    f"champion v{champion_v} and challenger v{challenger_v} were evaluated on "
                    f"different out-of-time data ({', '.join(differs)} differ); pass --events "
                    "PATH to score both on the challenger's out-of-time data"
                ),
                **common,
            )
        champion_metrics, challenger_metrics = champion.metrics, challenger.metrics
        basis = (
            f"logged metrics on identical OOT data (cutoff {challenger.params.get('oot_cutoff')})"
        )
    ours, theirs = challenger_metrics.get(metric), champion_metrics.get(metric)
    common.update(champion_score=theirs, challenger_score=ours, basis=basis)
    if ours is None or theirs is None or ours != ours or theirs != theirs:
        return PromotionDecision(
            promoted=False, reason=f"{metric} is missing for a version", **common
        )
    gain = (ours - theirs) if HIGHER_IS_BETTER[metric] else (theirs - ours)
    verdict = (
        f"challenger v{challenger_v} {metric} {ours:.4f} vs champion v{champion_v} "
        f"{theirs:.4f}: {'+' if gain >= 0 else ''}{gain:.4f}, margin {margin:.4f}"
    )
    client = registry._client()
    name = registry.registered_name(kind)
    if gain < margin:
        client.set_model_version_tag(name, challenger_v, "promotion_refused", verdict[:5000])
        return PromotionDecision(
            promoted=False, reason=f"not better by the margin: {verdict} ({basis})", **common
        )
    registry.set_champion(kind, challenger_v, f"{verdict} ({basis})", champion_v)
    return PromotionDecision(promoted=True, reason=verdict, **common)


def rollback(kind: ModelKind, version: str | int) -> PromotionDecision:
    """Point `@champion` back at an earlier (or any existing) version, in one step."""
    version = str(version)
    known = registry.versions(kind)
    name = registry.registered_name(kind)
    if version not in known:
        listed = ", ".join(known) or "none"
        return PromotionDecision(
            kind=kind,
            promoted=False,
            reason=f"{name} has no version {version} (versions: {listed})",
        )
    previous = registry.champion_version(kind)
    if previous == version:
        return PromotionDecision(
            kind=kind,
            promoted=False,
            reason=f"v{version} is already the champion",
            champion_version=version,
        )
    registry.set_champion(kind, version, f"rollback from v{previous}", previous)
    registry._client().set_model_version_tag(name, version, "rolled_back_from", previous or "none")
    return PromotionDecision(
        kind=kind,
        promoted=True,
        reason=f"@champion moved from v{previous} to v{version} (rollback)",
        champion_version=previous,
        challenger_version=version,
        basis="rollback",
    )
