"""`retain score | churn-list`: the serving stage's batch commands (`serve` is in serve_cli.py).

Plain Typer command functions that `retain/cli.py` registers. Heavy imports (MLflow, LightGBM,
BentoML) happen inside the commands so `retain --help` stays fast. Expected failures (a bad
file, no champion, a feature-set mismatch, a typo in a filter) end in one red line, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from features.cli_options import WindowFlags, parse_as_of, with_window_flags
from retain.console import console, fail, progress
from serving.cli_options import (
    AsOfOption,
    BudgetOption,
    CatalogueOption,
    EffectsOption,
    EventsOption,
    HoldoutSeedOption,
    HoldoutShareOption,
    ReasonsOption,
    TrackingOption,
    guarded,
)
from serving.cli_tables import print_arms, print_list, stage_totals, summary_table


def _playbook(catalogue: Path | None, effects: Path | None) -> Any:
    """The catalogue, with learned effects in place of the priors when an effects file is given."""
    from serving.actions import load_catalogue
    from serving.effects_file import EffectsFileError, learned_catalogue, load_effects

    playbook = guarded(lambda: load_catalogue(catalogue))
    if effects is None:
        return playbook
    try:
        learned, skipped = learned_catalogue(playbook, load_effects(effects))
    except EffectsFileError as error:
        fail(str(error))
    if skipped:
        console.print(f"[yellow]effects for actions not in the catalogue ignored:[/] {skipped}")
    return learned


def _holdout(share: float | None, seed: int) -> Any:
    from serving.holdout import HoldoutConfig

    return None if share is None else guarded(lambda: HoldoutConfig(share=share, seed=seed))


def _score(
    events: Path,
    as_of: str | None,
    catalogue: Path | None,
    budget: float | None,
    tracking_uri: str | None,
    window_flags: WindowFlags,
    attribution: str = "treeshap",
    effects: Path | None = None,
    holdout: Any = None,
) -> Any:
    """Load champions and events, build features, score: the shared body of two commands."""
    from features.loading import load_events
    from serving.champions import load_champions
    from serving.scoring import ScoringConfig, score_events

    cutoff = parse_as_of(as_of) if as_of else None
    if attribution not in ("treeshap", "path"):
        fail(f"--reasons must be treeshap or path, not {attribution!r}")
    playbook = _playbook(catalogue, effects)
    with progress() as bar:
        task = bar.add_task("loading the champion models", total=3)
        champions = guarded(lambda: load_champions(tracking_uri))
        windows = guarded(lambda: window_flags.apply(champions.windows()))
        bar.update(task, advance=1, description=f"loading events from {events}")
        loaded = guarded(lambda: load_events(events))
        bar.update(task, advance=1, description="building features and scoring")
        config = ScoringConfig(
            catalogue=playbook,
            budget=budget,
            attribution=attribution,  # type: ignore[arg-type]
            holdout=holdout,
        )
        scored = guarded(lambda: score_events(loaded, champions, cutoff, config, windows))
        bar.update(task, advance=1, description="scored")
    console.print(loaded.report.summary())
    return scored


@with_window_flags
def score(
    events: EventsOption = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output file, .parquet or .csv (written atomically); with --engine spark, a "
            "folder (no suffix) gets Parquet part files written by Spark.",
        ),
    ] = ...,
    as_of: AsOfOption = None,
    catalogue: CatalogueOption = None,
    budget: BudgetOption = None,
    with_features: Annotated[
        bool,
        typer.Option("--with-features", help="Also write the features (lets `serve` explain)."),
    ] = False,
    reasons: ReasonsOption = "treeshap",
    tracking_uri: TrackingOption = None,
    effects: EffectsOption = None,
    holdout_share: HoldoutShareOption = None,
    holdout_seed: HoldoutSeedOption = 0,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="duckdb (embedded) or spark (mlflow spark_udf over a Spark feature table).",
        ),
    ] = "duckdb",
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="With --engine spark: a partitioned feature table from `retain features`.",
        ),
    ] = None,
    windows: WindowFlags | None = None,
) -> None:
    """Score every user with the champion models: stage, tier, next best action and reasons."""
    from features.output import check_output_path, write_frame

    flags = windows or WindowFlags()
    holdout = _holdout(holdout_share, holdout_seed)
    if engine == "spark":
        from serving.spark_cli import score_on_spark

        score_on_spark(
            events=events,
            features=features,
            out=out,
            as_of=as_of,
            playbook=_playbook(catalogue, effects),
            budget=budget,
            tracking_uri=tracking_uri,
            window_flags=flags,
            attribution=reasons,
            holdout=holdout,
            with_features=with_features,
        )
        return
    if engine != "duckdb":
        fail(f"unknown engine {engine!r}; choose duckdb or spark")
    if events is None or features is not None:
        fail("give --events (the DuckDB path builds the features itself; --features is for spark)")
    guarded(lambda: check_output_path(out))
    scored = _score(
        events, as_of, catalogue, budget, tracking_uri, flags, reasons, effects, holdout
    )
    frame = scored.scores
    if with_features:
        extra = [c for c in scored.features.columns if c not in frame.columns]
        frame = frame.join(scored.features[extra])
    guarded(lambda: write_frame(frame, out))
    console.print(summary_table(stage_totals(scored.scores)))
    print_arms(scored.scores)
    console.print(f"wrote {len(frame):,} users as of {scored.as_of:%Y-%m-%d %H:%M} UTC to {out}")


@with_window_flags
def churn_list(
    scores: Annotated[
        Path | None, typer.Option("--scores", help="A `retain score` output to list from.")
    ] = None,
    events: EventsOption = None,
    as_of: AsOfOption = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Comma-separated lifecycle stages to keep.")
    ] = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="Comma-separated value tiers to keep.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Comma-separated action ids to keep.")
    ] = None,
    min_risk: Annotated[
        float, typer.Option("--min-risk", help="Lowest churn probability kept.", min=0, max=1)
    ] = 0.0,
    top: Annotated[int, typer.Option("--top", help="Rows in the list.", min=1)] = 100,
    sort_by: Annotated[
        str, typer.Option("--sort-by", help="gain, risk or value_at_risk (highest first).")
    ] = "gain",
    out_format: Annotated[
        Literal["csv", "parquet"], typer.Option("--format", help="csv or parquet.")
    ] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: print the list).")
    ] = None,
    catalogue: CatalogueOption = None,
    budget: BudgetOption = None,
    reasons: ReasonsOption = "treeshap",
    tracking_uri: TrackingOption = None,
    effects: EffectsOption = None,
    holdout_share: HoldoutShareOption = None,
    holdout_seed: HoldoutSeedOption = 0,
    windows: WindowFlags | None = None,
) -> None:
    """The operator's ranked list, from a score file or by scoring events now."""
    from pydantic import ValidationError

    from features.output import write_frame
    from serving.actions import load_catalogue
    from serving.churn_list import ChurnListQuery, split_list
    from serving.churn_list import churn_list as ranked_list
    from serving.scoring import read_scores

    if (scores is None) == (events is None):
        fail("give either --scores (a `retain score` output) or --events to score now")
    if out is not None and out.suffix.lower() != f".{out_format}":
        fail(f"--out {out} does not end in .{out_format} (the --format)")
    try:
        query = ChurnListQuery(
            stages=split_list(stage),
            tiers=split_list(tier),
            actions=split_list(action),
            min_risk=min_risk,
            top=top,
            sort_by=sort_by,  # type: ignore[arg-type]
        )
    except ValidationError as error:
        names = {"stages": "--stage", "tiers": "--tier", "actions": "--action"}
        fail(
            "; ".join(
                f"{names.get(str(e['loc'][0]), '--' + str(e['loc'][0]).replace('_', '-'))}: "
                + e["msg"].removeprefix("Value error, ")
                for e in error.errors()
            )
        )
    playbook = guarded(lambda: load_catalogue(catalogue))
    holdout = _holdout(holdout_share, holdout_seed)
    if scores is not None:
        if effects is not None:
            fail("--effects changes decisions, made when scoring: give it with --events or to "
                 "`retain score`")  # fmt: skip
        table = guarded(lambda: read_scores(scores))
        if holdout is not None:
            from serving.holdout import ASSIGNMENT, with_holdout

            if ASSIGNMENT in table.columns:
                fail(f"{scores} already has a holdout assignment; it is not drawn twice")
            # Drawn over the whole score table, before filters: the arms do not depend on --top.
            table = guarded(lambda: with_holdout(table, holdout))
    else:
        flags = windows or WindowFlags()
        scored = _score(
            events,  # type: ignore[arg-type]
            as_of,
            catalogue,
            budget,
            tracking_uri,
            flags,
            reasons,
            effects,
            holdout,
        )
        table = scored.scores
    if holdout is not None:
        print_arms(table)
    listed = guarded(lambda: ranked_list(table, query, playbook.ids))
    if out is None:
        print_list(listed)
        return
    guarded(lambda: write_frame(listed, out))
    console.print(f"wrote {len(listed):,} users (of {len(table):,} scored) to {out}")
