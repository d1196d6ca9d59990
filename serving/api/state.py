"""What a service worker answers from, and how it is replaced while requests flow.

Why one immutable `ServingState` behind one reference: a request reads `holder.state` once and
uses only that object, so its answer comes entirely from one scoring run (scores, `as_of`,
model versions and the explaining model agree), whatever a refresh does meanwhile. A refresh
builds the next state off to the side (in a thread, so the event loop keeps answering) and then
swaps the reference in one assignment; a failed build keeps the current state and says why.

What triggers a rebuild is a change of `SourceVersion`: the versions behind `@champion` (one
registry query per model) or the size and modification time of the source file and of the
decision files (catalogue, effects, contact history, segmentation), so a contact history that
grows after a campaign is decided on at the next poll. Each worker polls on its own
(`RETAIN_REFRESH_SECONDS`), so every replica picks up a promotion within one interval with no
restart; `POST /refresh` asks the worker that receives it to check at once.

No champion in the registry is not fatal: the worker starts, `/readyz` answers 503 and the log
says what is missing, until a poll finds one. A champion that cannot be loaded (a corrupted or
unreadable artefact, another feature set) is fatal at start-up, and so is a decision file that
cannot be used (a bad catalogue, effects file, contact history or segmentation): `preflight`
runs both once before any worker is spawned, so `bentoml serve` exits with the reason instead
of respawning workers.
Log lines carry counts, dates, versions and paths, never user ids or feature values.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.api.decision_files import DecisionFiles, read_decision_files
from serving.api.ranked_lists import RankedLists
from serving.api.risk_change import PreviousRun, previous_run
from serving.api.settings import ServiceSettings
from serving.decisions import (
    ActionCatalogue,
    ContactHistory,
    Segmentation,
    stored_threshold,
)
from serving.reporting import SegmentSummaryCache
from serving.scoring import (
    MODEL_KINDS,
    Champions,
    ChampionsUnavailableError,
    Snapshot,
    load_champions,
)

log = logging.getLogger("retain.service")


class ServiceStartupError(RuntimeError):
    """The service cannot serve this configuration at all (not merely: no champion yet)."""


@dataclass(frozen=True)
class SourceVersion:
    """What a state was built from: champion versions (MODEL_KINDS order) and file identities."""

    models: tuple[str | None, ...]
    data: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ServingState:
    """Everything one answer needs, from one scoring run; replaced whole, never mutated.

    `segmentation` is the one the snapshot was segmented with (the models' active window
    applied); the defaults for a score file, which carries its stages already. `contacts` is
    the history the snapshot was decided with (the budget what-if decides with it again);
    `previous` what is kept of the snapshot served before this one (serving.api.risk_change);
    `lists` the rankings clients are paging through (serving.api.ranked_lists).
    """

    champions: Champions
    catalogue: ActionCatalogue
    segmentation: Segmentation
    snapshot: Snapshot
    segments: SegmentSummaryCache
    source: SourceVersion
    loaded_at: datetime
    contacts: ContactHistory | None = None
    previous: PreviousRun | None = None
    lists: RankedLists = field(default_factory=RankedLists)  # pages cut from one ranking


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did: `reloaded`, `unchanged` or `failed` (with the reason)."""

    status: str
    detail: str


def _file_identity(path: Path | None) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime_ns) of the file, or of every file under the folder; cheap to poll."""
    if path is None:
        return ()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        files = [path]
    identity = []
    for file in files:
        stat = file.stat()
        identity.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(identity)


def _watched_files(settings: ServiceSettings) -> tuple[tuple[str, int, int], ...]:
    """Identity of the source and of every decision file the settings name."""
    paths = (
        settings.events or settings.scores,
        settings.catalogue,
        settings.effects,
        settings.contacts,
        settings.segments,
    )
    return tuple(item for path in paths for item in _file_identity(path))


def current_source(settings: ServiceSettings) -> SourceVersion:
    """The champion versions and file identities right now (raises when no store)."""
    from serving.scoring import point_mlflow_at
    from training import champion_version

    point_mlflow_at(settings.tracking_uri)
    models = tuple(champion_version(kind) for kind in MODEL_KINDS)  # type: ignore[arg-type]
    return SourceVersion(models=models, data=_watched_files(settings))


def build_snapshot(
    settings: ServiceSettings, champions: Champions, inputs: DecisionFiles
) -> Snapshot:
    """Score the events at the configured (or latest) cutoff, or read a score file."""
    from serving.scoring import ScoringConfig, read_scores, score_events

    if settings.scores is not None:
        snapshot = Snapshot.from_score_file(read_scores(settings.scores), str(settings.scores))
        if snapshot.model_versions and snapshot.model_versions != champions.versions:
            log.warning(
                "%s was scored by models %s but the champions are %s; serving the file as is",
                settings.scores,
                snapshot.model_versions,
                champions.versions,
            )
        return snapshot
    from features import load_events

    events = load_events(settings.events)  # type: ignore[arg-type]
    log.info("%s", events.report.summary())
    config = ScoringConfig(
        catalogue=inputs.catalogue,
        segmentation=inputs.segmentation,
        budget=settings.budget,
        contacts=inputs.contacts,
        attribution=settings.reasons,
    )
    scored = score_events(events, champions, settings.as_of, config)
    if scored.decisions is not None:
        log.info("%s", scored.decisions.line())
    return Snapshot.from_scored(scored, str(settings.events))


def build_state(settings: ServiceSettings) -> ServingState:
    """Load the champions and build a snapshot: the slow part of a start or a refresh."""
    data = _watched_files(settings)  # before reading: a later change is seen by the next poll
    champions = load_champions(settings.tracking_uri)
    inputs = read_decision_files(settings)
    segmentation = inputs.segmentation.for_windows(champions.windows())
    snapshot = build_snapshot(settings, champions, inputs)
    _record(settings, snapshot, champions)
    threshold = stored_threshold(snapshot.scores)  # a score file counts at its own threshold
    if threshold is None:
        threshold = segmentation.stages.at_risk_threshold
    return ServingState(
        champions=champions,
        catalogue=inputs.catalogue,
        segmentation=segmentation,
        snapshot=snapshot,
        segments=SegmentSummaryCache(
            snapshot.scores,
            snapshot.as_of,
            inputs.catalogue,
            at_risk_threshold=threshold,
        ),
        source=SourceVersion(
            models=tuple(champions.versions[kind] for kind in MODEL_KINDS), data=data
        ),
        loaded_at=datetime.now(UTC),
        contacts=inputs.contacts,
    )


def _record(settings: ServiceSettings, snapshot: Snapshot, champions: Champions) -> None:
    """Log the snapshot's manifest to MLflow (retain-scoring); a store that refuses it is
    logged as a warning, never a reason to stop serving."""
    from serving.scoring import record_snapshot

    try:
        run_id = record_snapshot(snapshot, settings.events or settings.scores, champions.windows())
    except Exception as error:
        log.warning("snapshot manifest not logged to MLflow: %s: %s", type(error).__name__, error)
        return
    log.info("snapshot manifest logged to MLflow: run %s", run_id)


def _describe(state: ServingState) -> str:
    versions = ", ".join(f"{kind} v{version}" for kind, version in state.champions.versions.items())
    return (
        f"{len(state.snapshot)} users as of {state.snapshot.as_of:%Y-%m-%d} from "
        f"{state.snapshot.source} ({versions})"
        if state.snapshot.as_of
        else f"an empty snapshot from {state.snapshot.source}"
    )


class StateHolder:
    """The current `ServingState` of one worker (None until a champion exists) and its refresh."""

    def __init__(self, settings: ServiceSettings, build: Any = build_state) -> None:
        self.settings = settings
        self.state: ServingState | None = None
        self.problem: str | None = "starting"
        self._build = build
        self._lock = threading.Lock()

    def _not_ready(self, reason: str) -> RefreshOutcome:
        if reason != self.problem:  # once per new reason, not once per poll
            log.error("not ready: %s; /readyz answers 503 until a champion is registered", reason)
        self.problem = reason
        return RefreshOutcome("failed", reason)

    def refresh(self, starting: bool = False) -> RefreshOutcome:
        """Rebuild when the champions or the source moved; swap only a complete new state.

        At start-up (`starting`), anything but a missing champion raises ServiceStartupError.
        """
        with self._lock:  # one build at a time; a second caller then finds nothing changed
            current = self.state
            try:
                if current is not None and current_source(self.settings) == current.source:
                    return RefreshOutcome("unchanged", _describe(current))
                new = self._build(self.settings)
            except ChampionsUnavailableError as error:
                if current is None:
                    return self._not_ready(str(error))
                log.error("refresh failed, still serving the previous snapshot: %s", error)
                return RefreshOutcome("failed", str(error))
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                if starting:
                    raise ServiceStartupError(f"cannot start the service: {reason}") from error
                log.error("refresh failed, still serving the previous snapshot: %s", reason)
                return RefreshOutcome("failed", reason)
            if current is not None:  # its risks, aligned to the new users: the risk change
                new = replace(
                    new, previous=previous_run(current.snapshot, current.loaded_at, new.snapshot)
                )
            self.state, self.problem = new, None  # the swap: one reference assignment
            verb = "serving" if current is None else "refreshed: now serving"
            del current  # the old snapshot goes now, not after the collection below
            _settle_heap()
            log.info("%s %s", verb, _describe(new))
            return RefreshOutcome("reloaded", _describe(new))


def _settle_heap() -> None:
    """Collect once, then exempt what is left (the new state) from later full collections.

    The previous swap's frozen objects are thawed first, so an old snapshot held in reference
    cycles is collected here rather than kept for the worker's life.

    Why: the snapshot, the models and the imported libraries live as long as the worker; left
    in the collector's oldest generation they were walked every ~20 s under load, stalling
    every request in flight for up to 300 ms (p99 116 ms against a 1.5 ms median in
    benchmarks/bench_load.py). One collection per swap costs one such pause, on a swap.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def preflight(settings: ServiceSettings) -> None:
    """Fail before any worker starts when the champions cannot be loaded, the source is absent
    or a decision file (catalogue, effects, contacts, segmentation) cannot be used.

    A missing champion passes (workers start not ready and poll); a corrupted or unreadable
    artefact, a feature-set mismatch, a missing source file or a bad decision file raises
    ServiceStartupError with the reason, which `bentoml serve` prints before exiting.
    """
    source = settings.events or settings.scores
    if source is not None and not source.exists():
        raise ServiceStartupError(f"cannot start the service: {source} does not exist")
    try:
        inputs = read_decision_files(settings)
    except (OSError, ValueError) as error:
        raise ServiceStartupError(f"cannot start the service: {error}") from error
    try:
        champions = load_champions(settings.tracking_uri)
    except ChampionsUnavailableError as error:
        log.error("no champion yet (%s): workers start not ready and poll the registry", error)
        return
    except Exception as error:
        raise ServiceStartupError(
            f"cannot start the service: the champion models cannot be loaded "
            f"({type(error).__name__}: {error})"
        ) from error
    try:  # a segmentation that contradicts the models' windows is refused here, not per poll
        inputs.segmentation.for_windows(champions.windows())
    except ValueError as error:
        raise ServiceStartupError(f"cannot start the service: {error}") from error
