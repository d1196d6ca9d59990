"""The champion models that scoring uses, and the one feature set they were trained on.

Why a separate step: batch scoring and the service must load the same three models (churn,
recall, value) the same way (by the `champion` alias, version resolved once) and refuse the
same mistakes. Scoring builds one feature table for all champions, so they must agree on one
feature set (`behavioural_v1`, or `behavioural_v2` with the same event types); the set and its
event types come from the models' runs, never from the log being scored, so a v2 model trained
on `view` and `login` columns gets exactly those columns on any log. A set this build cannot
compute, columns the set lacks, or champions that disagree are errors here, before any user is
scored. The windows the models were trained with are recovered from their runs, checked to
agree, so scoring defines "active" and the horizons as the models learnt them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from features import FEATURE_SET, FEATURE_SETS, FeatureSet, WindowConfig, feature_set
from training import ModelInfo

_WINDOW_PARAMS = ("churn_horizon_days", "value_horizon_days", "active_window_days")
MODEL_KINDS = ("churn", "recall", "value")
# Scoring needs the churn and value champions; without a recall champion it falls back, and
# says so (RECALL_FALLBACK), instead of refusing a purchase log too short to train one.
REQUIRED_KINDS = ("churn", "value")
RECALL_FALLBACK = (
    "no recall champion: lapsed users are scored by the churn model, an extrapolation beyond"
    " the active users it was trained on. Train the recall model with `retain train --config"
    " CONFIG` where CONFIG's models include recall; it needs users lapsed at past cutoffs (a"
    " log longer than the active window plus the churn horizon), some of whom came back"
)
# What serving needs of each model beyond `predict`: a model registered by an older Retain
# lacks some of these and must be retrained before it can drive decisions.
_NEEDS: dict[str, tuple[str, ...]] = {
    "churn": ("churn_probability", "contributions"),
    "recall": ("return_probability", "contributions"),
    "value": ("value_if_retained", "value_if_churned", "retained_value_percentiles_"),
}


class FeatureSetMismatchError(ValueError):
    """A model's feature set cannot be built here, or the champions disagree on theirs."""


class ChampionsUnavailableError(LookupError):
    """The registry has no champion for a model (nothing trained yet, or a wrong store)."""


class WindowMismatchError(ValueError):
    """The champions were trained with different windows, or a flag contradicts them."""


@dataclass(frozen=True)
class Champions:
    """The churn, recall and value models behind `@champion`, with their registry facts."""

    churn: Any
    recall: Any | None  # None: no recall champion; lapsed users fall back to the churn model
    value: Any
    churn_info: ModelInfo
    recall_info: ModelInfo | None
    value_info: ModelInfo
    feature_set: FeatureSet = FEATURE_SET  # what all of them were trained on (see above)

    @property
    def versions(self) -> dict[str, str | None]:
        """`{"churn": "3", "recall": "1", "value": "2"}`: what every scored row records."""
        return {
            "churn": self.churn_info.version,
            "recall": self.recall_info.version if self.recall_info is not None else None,
            "value": self.value_info.version,
        }

    @property
    def notes(self) -> list[str]:
        """What an operator must know about these champions (a fallback in use)."""
        return [RECALL_FALLBACK] if self.recall is None else []

    def windows(self) -> WindowConfig:
        """The windows all the models were trained with; they must agree (see below)."""
        infos = [self.churn_info, self.recall_info, self.value_info]
        return consistent_windows([info for info in infos if info is not None])


def consistent_windows(infos: list[ModelInfo]) -> WindowConfig:
    """The shared windows of several models' runs; refuse champions that disagree.

    Why: the churn and recall models split users at the same active window, and the value
    model's conditional heads assume the churn horizon the churn model predicts. Champions
    trained with different windows would score users on definitions none of them learnt.
    """
    found = [(info, model_windows(info)) for info in infos]
    first_info, first = found[0]
    for info, windows in found[1:]:
        if windows != first:
            raise WindowMismatchError(
                f"the champions disagree on their windows: {first_info.name} v"
                f"{first_info.version} has {first.model_dump()} but {info.name} v{info.version} "
                f"has {windows.model_dump()}; retrain them on one experiment config"
            )
    return first


def refuse_window_flags(flags: dict[str, Any], windows: WindowConfig) -> None:
    """A scoring window flag must agree with the champions' windows, or it is refused.

    Building features with windows the models never saw would score nonsense without a sign;
    a flag that repeats the models' value is accepted (scripts may pass it explicitly).
    """
    trained = windows.model_dump()
    for name, value in flags.items():
        if value is None:
            continue
        wanted = WindowConfig.model_validate({**trained, name: value}).model_dump()[name]
        if wanted != trained[name]:
            flag = "--" + name.replace("_", "-")
            raise WindowMismatchError(
                f"{flag} {value} contradicts the champion models, trained with {name} = "
                f"{trained[name]}; omit the flag (scoring uses the models' windows) or retrain "
                "with it"
            )


def check_feature_set(estimator: Any, info: ModelInfo) -> FeatureSet:
    """The feature set (with its recorded event types) a model was trained on; refuse a set
    this build does not compute, or a model that needs columns its set lacks."""
    declared = getattr(estimator, "feature_set_id", None) or info.feature_set_id
    if declared not in FEATURE_SETS:
        known = ", ".join(repr(name) for name in FEATURE_SETS)
        raise FeatureSetMismatchError(
            f"model {info.name} version {info.version} was trained on feature set "
            f"{declared!r}, which this build does not compute (it computes {known}); retrain it "
            "(`retain train`) or promote a model trained on one of those"
        )
    try:
        chosen = feature_set(declared, info.event_types)
    except ValueError as error:
        raise FeatureSetMismatchError(
            f"model {info.name} version {info.version}: {error}"
        ) from None
    names = list(getattr(estimator, "feature_names_", []))
    unknown = [name for name in names if name not in chosen.columns]
    if unknown:
        recorded = ", ".join(chosen.event_types) or "none"
        raise FeatureSetMismatchError(
            f"model {info.name} version {info.version} needs columns absent from "
            f"{chosen.id} (event types recorded with its run: {recorded}): {', '.join(unknown)}"
        )
    return chosen


def agreed_feature_set(chosen: list[tuple[ModelInfo, FeatureSet]]) -> FeatureSet:
    """The one feature set every champion was trained on; refuse champions that disagree.

    Why refuse rather than build each model its own table: the scores, stages, reasons and
    decisions of one run must come from one set of features, and a mixed set of champions is
    usually a promotion half done (a v2 churn model promoted, its v2 value model not yet).
    """
    first = chosen[0][1]
    if all(fs == first for _, fs in chosen):
        return first

    def described(info: ModelInfo, fs: FeatureSet) -> str:
        types = f" (event types {', '.join(fs.event_types)})" if fs.event_types else ""
        return f"{info.name} v{info.version} on {fs.id}{types}"

    listed = "; ".join(described(info, fs) for info, fs in chosen)
    raise FeatureSetMismatchError(
        f"the champions were trained on different feature sets: {listed}. Scoring builds one "
        "feature table for all of them: promote models trained on one feature set (retrain the "
        "others with that `feature_set` in their experiment config)"
    )


def check_capabilities(kind: str, estimator: Any, info: ModelInfo) -> None:
    """Refuse a model that lacks what decisions need (registered by an older Retain)."""
    lacking = [name for name in _NEEDS.get(kind, ()) if not _has(estimator, name)]
    if lacking:
        raise FeatureSetMismatchError(
            f"model {info.name} version {info.version} lacks {', '.join(lacking)} (it was "
            "registered by an older Retain); retrain it with `retain train` and promote it"
        )


def _has(estimator: Any, name: str) -> bool:
    try:
        getattr(estimator, name)
    except AttributeError:
        return False
    return True


def model_windows(info: ModelInfo) -> WindowConfig:
    """Windows from the run's `windows.*` params; missing or unreadable params keep defaults."""
    values: dict[str, Any] = {}
    for name in _WINDOW_PARAMS:
        raw = info.params.get(f"windows.{name}")
        if raw is not None and str(raw).isdigit():
            values[name] = int(raw)
    events = info.params.get("windows.activity_events")
    if events and events != "none":
        values["activity_events"] = events
    return WindowConfig.model_validate(values)


def point_mlflow_at(tracking_uri: str | None) -> None:
    """Read-only counterpart of `training.tracking.configure`: never creates a store.

    Why: a serving process pointed at a wrong path must say so, not create an empty SQLite
    store and then report that no model is registered.
    """
    import mlflow

    from training import quiet_mlflow, resolve_tracking_uri, sqlite_path

    quiet_mlflow()
    uri = resolve_tracking_uri(tracking_uri)
    db_file = sqlite_path(uri)
    if db_file is not None:
        if not db_file.exists():
            raise ChampionsUnavailableError(
                f"no MLflow store at {db_file} (set MLFLOW_TRACKING_URI, or train first)"
            )
        uri = f"sqlite:///{db_file}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def load_champions(tracking_uri: str | None = None) -> Champions:
    """The champions from the registry at `tracking_uri` (else MLFLOW_TRACKING_URI).

    A missing recall champion is not an error (`Champions.notes` says what scoring does
    instead). Raises ChampionsUnavailableError when the churn or value champion is missing,
    FeatureSetMismatchError when a model's feature set cannot be built here, the champions
    disagree on it, or a model lacks what decisions need, and
    WindowMismatchError when the models were trained with different windows.
    """
    from training import load_champion

    point_mlflow_at(tracking_uri)
    loaded: dict[str, tuple[Any, ModelInfo | None]] = {}
    chosen: list[tuple[ModelInfo, FeatureSet]] = []
    for kind in MODEL_KINDS:
        try:
            estimator, info = load_champion(kind)  # type: ignore[arg-type]
        except LookupError as error:
            if kind in REQUIRED_KINDS:
                raise ChampionsUnavailableError(str(error)) from None
            loaded[kind] = (None, None)
            continue
        chosen.append((info, check_feature_set(estimator, info)))
        check_capabilities(kind, estimator, info)
        loaded[kind] = (estimator, info)
    champions = Champions(
        churn=loaded["churn"][0],
        recall=loaded["recall"][0],
        value=loaded["value"][0],
        churn_info=loaded["churn"][1],  # type: ignore[arg-type]
        recall_info=loaded["recall"][1],
        value_info=loaded["value"][1],  # type: ignore[arg-type]
        feature_set=agreed_feature_set(chosen),
    )
    champions.windows()  # refuse disagreeing champions at load, not at the first scoring run
    return champions
