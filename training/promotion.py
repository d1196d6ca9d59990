"""Promotion and rollback: moving `@champion` only when the evidence says so.

Why the "same out-of-time data" rule: metrics from different cutoffs or different exports are
not comparable (churn rates drift), so a challenger is judged against the champion either on
logged metrics that provably come from identical OOT rows (same data fingerprint, OOT cutoff
and windows: the report half is a deterministic function of those), or by scoring both models
now on the challenger's OOT report half (`--events`). Anything else is refused with the
reason. A champion trained on data later than the evaluation cutoff is refused too: it would be
judged on its own training labels.

The feature set is deliberately not part of "the same rows": every set has one row per user
seen before the cutoff, and labels do not depend on features, so a v1 champion and a v2
challenger trained on the same log and schedule were measured on identical report rows
(tests/models/test_feature_set_wiring.py checks it). Rescoring builds every column either model
needs, from the sets and event types their runs recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from features import FeatureSet, feature_set
from training import registry
from training.config import ModelKind, PromotionConfig, parse_config
from training.datasets import oot_evaluation_set
from training.evaluation import predict, score
from training.metrics import HIGHER_IS_BETTER

_SAME_DATA_PARAMS = (
    "oot_cutoff",
    "data_fingerprint",
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


def model_feature_set(info: registry.ModelInfo) -> FeatureSet | str:
    """The feature set a version was trained on, with its recorded event types; a string is
    the reason it cannot be rebuilt (a set this build does not compute, a broken record)."""
    try:
        return feature_set(info.feature_set_id, info.event_types)
    except ValueError as error:
        return f"v{info.version} cannot be rescored: {error}"


def _rescore(
    kind: ModelKind,
    champion: registry.ModelInfo,
    challenger: registry.ModelInfo,
    evaluation: Evaluation,
) -> tuple[dict[str, float], dict[str, float]] | str:
    """Score both versions on the same rows; a string is a reason to refuse."""
    X, y, cutoff = evaluation  # noqa: N806
    for info in (champion, challenger):
        known = model_feature_set(info)
        if isinstance(known, str):
            return known
    trained_until = champion.params.get("oot_cutoff")
    if trained_until and trained_until > f"{cutoff:%Y-%m-%d}":
        return (
            f"champion v{champion.version} was fitted on data up to {trained_until}, after the "
            f"evaluation cutoff {cutoff:%Y-%m-%d}: it would be judged on its own training labels"
        )
    results = []
    for info in (champion, challenger):
        estimator = registry.load_estimator(kind, version=info.version)
        lacking = [name for name in estimator.feature_names_ if name not in X.columns]
        if lacking:
            return (
                f"v{info.version} ({info.feature_set_id}) needs columns the evaluation rows "
                f"lack: {', '.join(lacking[:5])}{' …' if len(lacking) > 5 else ''}"
            )
        results.append(score(kind, y, predict(kind, estimator, X)))
    return results[0], results[1]


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
        sets = [model_feature_set(info) for info in (champion, challenger)]
        refused = [reason for reason in sets if isinstance(reason, str)]
        if refused:
            return PromotionDecision(promoted=False, reason=refused[0], **common)
        config = _challenger_config(challenger)
        known = [fs for fs in sets if isinstance(fs, FeatureSet)]
        X, y, cutoff, _ = oot_evaluation_set(events, config, kind, known)  # noqa: N806
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
    return PromotionDecision(
        promoted=True, reason=verdict + _other_sets(kind, challenger), **common
    )


def _other_sets(kind: ModelKind, promoted: registry.ModelInfo) -> str:
    """A sentence when the other champions were trained on another feature set: scoring needs
    them all on one, and will refuse until they are (serving/scoring/champions.py)."""
    others = []
    for other in ("churn", "recall", "value"):
        if other == kind or registry.champion_version(other) is None:  # type: ignore[arg-type]
            continue
        info = registry.model_info(other)  # type: ignore[arg-type]
        if (info.feature_set_id, info.event_types) != (
            promoted.feature_set_id,
            promoted.event_types,
        ):
            others.append(f"{other} v{info.version} ({info.feature_set_id})")
    if not others:
        return ""
    return (
        f"; note: the {', '.join(others)} champion(s) use another feature set than "
        f"{promoted.feature_set_id}: scoring refuses mixed champions until they agree"
    )


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
