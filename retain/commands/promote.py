"""`retain promote | rollback`: moving `@champion`, only on evidence or back to a known state.

Exit statuses a scheduler can act on: 0 when the champion moved or there was nothing to do (no
challenger, or it is the champion already), 1 when the challenger was refused, 2 for bad input
(a rollback to a version that never was champion, without --force).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retain.commands.options import ConfigOption, KindOption, ModelKind, TrackingOption
from retain.commands.train import experiment_config, run_guarded
from retain.console import console, err_console, fail, refuse

if TYPE_CHECKING:
    from training import PromotionDecision


def promote(
    model: KindOption,
    config: ConfigOption = None,
    margin: Annotated[
        float | None,
        typer.Option("--margin", help="Required improvement (default: the config's).", min=0),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="Re-score champion and challenger on this data's OOT cutoff."
        ),
    ] = None,
    rollback_to: Annotated[
        str | None, typer.Option("--rollback-to", help="Instead: make this version champion again.")
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Make the challenger champion only if it beats the champion on the same OOT data.

    Exit 0 when promoted or when there is nothing to do (no challenger, or it is the champion
    already); exit 1 when the challenger is refused.
    """
    from training import configure
    from training import promote as run_promote

    if rollback_to is not None:
        refuse({"--margin": margin, "--events": events}, "with --rollback-to (nothing is compared)")
    cfg = experiment_config(config)
    configure(tracking_uri, cfg.experiment)
    if rollback_to is not None:
        _rollback(model, rollback_to, force=False)
        return
    promotion = (
        cfg.promotion if margin is None else cfg.promotion.model_copy(update={"margin": margin})
    )
    decision = run_guarded(lambda: run_promote(model, promotion, events=events))
    idle = decision.challenger_version in (None, decision.champion_version)
    _report_decision(decision, "promoted", nothing_to_do=idle)


def rollback(
    model: KindOption,
    version: Annotated[str, typer.Option("--version", help="The version that becomes champion.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Also a version that was never champion (never promoted)."),
    ] = False,
    tracking_uri: TrackingOption = None,
) -> None:
    """Point @champion back at a version that was champion before, in one step."""
    from training import configure

    configure(tracking_uri)
    _rollback(model, version, force=force)


def _rollback(kind: ModelKind, version: str, *, force: bool) -> None:
    """Roll back to `version`, refusing one that never was champion unless `force`.

    Why: a rollback returns to a model that served before; a version that never passed
    promotion (a challenger that lost, or was never compared) is not a known-good state.
    """
    from training import rollback as run_rollback

    if not force and _was_champion(kind, version) is False:
        fail(
            f"retain-{kind} v{version} was never champion (no promotion recorded), so it is not a "
            "rollback; `retain rollback --force` makes it champion anyway"
        )
    decision = run_guarded(lambda: run_rollback(kind, version))
    _report_decision(decision, "rolled back", nothing_to_do=decision.champion_version == version)


def _was_champion(kind: ModelKind, version: str) -> bool | None:
    """Whether the version was ever champion (the registry tags each promotion with
    `promoted_at`); None when there is no such version (the rollback then says so)."""
    from mlflow.exceptions import MlflowException

    from training import model_info

    try:
        return "promoted_at" in model_info(kind, version=version).tags
    except MlflowException:
        return None


def _report_decision(decision: PromotionDecision, done: str, *, nothing_to_do: bool) -> None:
    """One line: `done` (promoted, rolled back) and why; nothing to do is not a failure."""
    if decision.promoted:
        console.print(f"[bold green]{decision.kind}: {done}[/] — {decision.reason}")
        return
    if nothing_to_do:
        console.print(f"{decision.kind}: nothing to do — {decision.reason}")
        return
    err_console.print(f"[bold red]{decision.kind}: refused[/] — {decision.reason}")
    raise typer.Exit(1)
