"""`retain retrain`: one idempotent step a scheduler can run every night.

Why one command and not `train` then `promote` in a cron line: a scheduler needs a single exit
code and four guarantees the two commands do not give together:

1. **Check the data first.** A volume collapse, a stale log or a high reject share would train
   challengers on broken data; critical data health refuses, with the reason.
2. **One at a time.** Two schedulers (or a retry that overlaps a slow run) must not train and
   promote at once: an exclusive `flock` on a lock file; the second exits at once.
3. **Nothing new, nothing done.** When every champion was trained on exactly this data (same
   fingerprint) with exactly this config (same digest), or an earlier `retain retrain` already
   trained challengers on both, running again trains nothing. The second rule is what makes a
   nightly job idempotent when a challenger lost (its champion keeps older data) or a model
   could not be trained (a log where no lapsed user comes back has no recall model): without
   it every night retrained the same data into yet another identical version.
4. **Promote on evidence only.** Challengers are compared with the champions on the same newest
   out-of-time rows (`training.promote` with the events, both models re-scored) and promoted
   only when better by the configured margin; every decision and its reason is logged to MLflow
   (experiment `retain-retrain`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from monitoring.config import MonitorThresholds
from monitoring.event_health_checks import event_health
from monitoring.status import Check, worst_status

if TYPE_CHECKING:
    from training import ExperimentConfig

EXPERIMENT = "retain-retrain"
Outcome = Literal["retrained", "up_to_date", "refused"]


class RetrainBusyError(RuntimeError):
    """Another `retain retrain` holds the lock."""


@dataclass(frozen=True)
class RetrainReport:
    """What one run did: its outcome, the data health it judged, and each model's decision."""

    outcome: Outcome
    reason: str
    health: list[Check] = field(default_factory=list)
    decisions: list[dict[str, object]] = field(default_factory=list)
    run_id: str | None = None

    @property
    def promoted(self) -> list[str]:
        return [str(d["kind"]) for d in self.decisions if d.get("promoted")]


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold `path` exclusively for the block, or raise RetrainBusyError at once (never wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrainBusyError(
                f"another `retain retrain` holds {path}; this run does nothing"
            ) from None
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()} {datetime.now():%Y-%m-%dT%H:%M:%S}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_lock(tracking_uri: str) -> Path:
    """Beside a SQLite store (`<store>.retrain.lock`); in the working folder for a server."""
    from training import sqlite_path

    db_file = sqlite_path(tracking_uri)
    if db_file is not None:
        return db_file.with_name(db_file.name + ".retrain.lock")
    return Path("retain-retrain.lock").resolve()


def _already_trained(kinds: tuple[str, ...], fingerprint: str, digest: str) -> bool:
    """Every champion's run was trained on this data fingerprint with this config digest."""
    from training import champion_version, model_info

    for kind in kinds:
        if champion_version(kind) is None:
            return False
        params = model_info(kind).params
        if params.get("data_fingerprint") != fingerprint or params.get("config_digest") != digest:
            return False
    return True


def _retrained_before(fingerprint: str, digest: str) -> str | None:
    """The id of an earlier `retain retrain` run that trained on this data and config, if any."""
    import mlflow

    runs = mlflow.search_runs(
        experiment_names=[EXPERIMENT],
        filter_string=(
            f"params.data_fingerprint = '{fingerprint}' and params.config_digest = '{digest}' "
            "and tags.outcome = 'retrained'"
        ),
        max_results=1,
        output_format="list",
    )
    return runs[0].info.run_id if runs else None


def retrain(
    events: str | Path,
    config: ExperimentConfig,
    *,
    tracking_uri: str,
    thresholds: MonitorThresholds | None = None,
    lock: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RetrainReport:
    """Check the data, train challengers, promote the better ones; see the module docstring.

    Raises RetrainBusyError when another run holds the lock, and ValueError for unreadable
    events or a config the data cannot train.
    """
    from training import configure, data_fingerprint, promote, resolve_tracking_uri, train_models

    step = on_step or (lambda message: None)
    uri = resolve_tracking_uri(tracking_uri)
    configure(uri, config.experiment)
    with exclusive_lock(lock or default_lock(uri)):
        step("checking the data")
        loaded = config.data.load(events)  # as training will read it
        if loaded.report.max_event_time is None:
            raise ValueError(f"{loaded.report.summary()}: no valid events")
        as_of = loaded.report.max_event_time
        health = event_health(loaded, as_of, thresholds)
        if worst_status(check.status for check in health) == "critical":
            failed = "; ".join(f"{c.name}: {c.detail}" for c in health if c.status == "critical")
            report = RetrainReport("refused", f"critical data health ({failed})", health)
            return _logged(report, config, uri)
        kinds = tuple(config.models)
        fingerprint = data_fingerprint(events)
        if _already_trained(kinds, fingerprint, config.digest):
            reason = f"every champion was trained on this data ({fingerprint[:12]}) and config"
            return _logged(RetrainReport("up_to_date", reason, health), config, uri, fingerprint)
        if earlier := _retrained_before(fingerprint, config.digest):
            reason = (
                f"retrain run {earlier} already trained on this data ({fingerprint[:12]}) and "
                "config; its decisions stand"
            )
            return _logged(RetrainReport("up_to_date", reason, health), config, uri, fingerprint)
        step("training challengers")
        results = train_models(config, events, tracking_uri=uri, on_step=step)
        decisions = []
        for result in results:
            if not result.trained:
                decisions.append({"kind": result.kind, "promoted": False, "reason": result.warning})
                continue
            if "champion" in result.aliases:  # the first model of its kind: champion already
                reason = f"v{result.version} is the first {result.kind} model: champion"
                decisions.append({"kind": result.kind, "promoted": True, "reason": reason})
                continue
            step(f"comparing the {result.kind} challenger with its champion")
            decision = promote(result.kind, config.promotion, events=events)
            decisions.append(
                {
                    "kind": result.kind,
                    "promoted": decision.promoted,
                    "reason": decision.reason,
                    "challenger_version": decision.challenger_version or result.version,
                    "champion_version": decision.champion_version,
                }
            )
        promoted = [str(d["kind"]) for d in decisions if d["promoted"]]
        reason = f"promoted: {', '.join(promoted)}" if promoted else "no challenger was better"
        report = RetrainReport("retrained", reason, health, decisions)
        return _logged(report, config, uri, fingerprint)


def _logged(
    report: RetrainReport, config: ExperimentConfig, uri: str, fingerprint: str | None = None
) -> RetrainReport:
    """The report with the MLflow run (experiment `retain-retrain`) that records it, and the
    data fingerprint when the data got that far (`_retrained_before` looks runs up by it)."""
    import mlflow

    from training import configure

    configure(uri, EXPERIMENT)
    with mlflow.start_run(run_name=f"retrain-{report.outcome}") as run:
        mlflow.set_tags({"outcome": report.outcome, "reason": report.reason[:5000]})
        mlflow.log_params({"config_name": config.name, "config_digest": config.digest})
        if fingerprint is not None:
            mlflow.log_param("data_fingerprint", fingerprint)
        promoted = {f"promoted_{d['kind']}": float(bool(d["promoted"])) for d in report.decisions}
        mlflow.log_metrics(promoted)
        mlflow.log_dict(
            {
                "outcome": report.outcome,
                "reason": report.reason,
                "health": [check.as_dict() for check in report.health],
                "decisions": report.decisions,
            },
            "retrain.json",
        )
    return RetrainReport(
        report.outcome, report.reason, report.health, report.decisions, run.info.run_id
    )
