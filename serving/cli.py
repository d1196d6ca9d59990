"""`retain score | churn-list | serve`: the serving stage's commands.

Plain Typer command functions that `retain/cli.py` registers. Heavy imports (MLflow, LightGBM,
BentoML) happen inside the commands so `retain --help` stays fast. Expected failures (a bad
file, no champion, a feature-set mismatch, a typo in a filter) end in one red line, exit 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.table import Table

from features.cli_options import WindowFlags, parse_as_of, with_window_flags
from retain.console import console, fail, progress

T = TypeVar("T")
EventsOption = Annotated[
    Path | None, typer.Option("--events", help="Event file or folder (.parquet, .csv, .jsonl).")
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Cutoff (YYYY-MM-DD, UTC) (default: midnight after the last event)."
    ),
]
CatalogueOption = Annotated[
    Path | None,
    typer.Option("--catalogue", help="Action catalogue YAML (default: the packaged playbook)."),
]
BudgetOption = Annotated[
    float | None, typer.Option("--budget", help="Total spend allowed on actions.", min=0)
]
ReasonsOption = Annotated[
    str,
    typer.Option(
        "--reasons",
        help="Reason-code attribution: treeshap (exact, slower) or path (fast, for big batches).",
    ),
]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow registry (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here).",
    ),
]
EffectsOption = Annotated[
    Path | None,
    typer.Option(
        "--effects",
        help="Effects file from `retain effects`: learned effects replace the catalogue's priors.",
    ),
]
HoldoutShareOption = Annotated[
    float | None,
    typer.Option(
        "--holdout-share",
        help="Share of each action's targets held out as a control group (adds `assignment`).",
        min=0,
        max=0.99,
    ),
]
HoldoutSeedOption = Annotated[
    int, typer.Option("--holdout-seed", help="Seed of the holdout draw (with the cutoff).", min=0)
]


def _guarded(step: Callable[[], T]) -> T:
    """Run `step`; expected failures become a one-line error instead of a traceback."""
    from features.contract import EventContractError
    from serving.actions import CatalogueError

    try:
        return step()
    except (EventContractError, CatalogueError, ValueError, LookupError, OSError) as error:
        fail(str(error))


def _playbook(catalogue: Path | None, effects: Path | None) -> Any:
    """The catalogue, with learned effects in place of the priors when an effects file is given."""
    from serving.actions import load_catalogue
    from serving.effects_file import EffectsFileError, learned_catalogue, load_effects

    playbook = _guarded(lambda: load_catalogue(catalogue))
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

    return None if share is None else _guarded(lambda: HoldoutConfig(share=share, seed=seed))


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
        champions = _guarded(lambda: load_champions(tracking_uri))
        windows = _guarded(lambda: window_flags.apply(champions.windows()))
        bar.update(task, advance=1, description=f"loading events from {events}")
        loaded = _guarded(lambda: load_events(events))
        bar.update(task, advance=1, description="building features and scoring")
        config = ScoringConfig(
            catalogue=playbook,
            budget=budget,
            attribution=attribution,  # type: ignore[arg-type]
            holdout=holdout,
        )
        scored = _guarded(lambda: score_events(loaded, champions, cutoff, config, windows))
        bar.update(task, advance=1, description="scored")
    console.print(loaded.report.summary())
    return scored


def summary_table(scores: Any) -> Table:
    """Users, value at risk and actions per lifecycle stage: the run at a glance."""
    frame = scores.assign(value_at_risk=scores["churn_probability"] * scores["predicted_value"])
    frame = frame.assign(acted=frame["action"] != "no_action")
    grouped = frame.groupby("lifecycle_stage", sort=True).agg(
        users=("user_id", "size"),
        value_at_risk=("value_at_risk", "sum"),
        actions=("acted", "sum"),
        cost=("action_cost", "sum"),
        gain=("expected_gain", "sum"),
    )
    table = Table(title="scoring summary by lifecycle stage")
    for column in ("stage", "users", "value at risk", "actions", "cost", "expected gain"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, row in grouped.iterrows():
        table.add_row(
            str(stage),
            f"{int(row.users):,}",
            f"{row.value_at_risk:,.2f}",
            f"{int(row.actions):,}",
            f"{row.cost:,.2f}",
            f"{row.gain:,.2f}",
        )
    return table


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
    _guarded(lambda: check_output_path(out))
    scored = _score(
        events, as_of, catalogue, budget, tracking_uri, flags, reasons, effects, holdout
    )
    frame = scored.scores
    if with_features:
        extra = [c for c in scored.features.columns if c not in frame.columns]
        frame = frame.join(scored.features[extra])
    _guarded(lambda: write_frame(frame, out))
    console.print(summary_table(scored.scores))
    _print_arms(scored.scores)
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
    playbook = _guarded(lambda: load_catalogue(catalogue))
    holdout = _holdout(holdout_share, holdout_seed)
    if scores is not None:
        if effects is not None:
            fail("--effects changes decisions, made when scoring: give it with --events or to "
                 "`retain score`")  # fmt: skip
        table = _guarded(lambda: read_scores(scores))
        if holdout is not None:
            from serving.holdout import ASSIGNMENT, with_holdout

            if ASSIGNMENT in table.columns:
                fail(f"{scores} already has a holdout assignment; it is not drawn twice")
            # Drawn over the whole score table, before filters: the arms do not depend on --top.
            table = _guarded(lambda: with_holdout(table, holdout))
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
        _print_arms(table)
    listed = _guarded(lambda: ranked_list(table, query, playbook.ids))
    if out is None:
        _print_list(listed)
        return
    _guarded(lambda: write_frame(listed, out))
    console.print(f"wrote {len(listed):,} users (of {len(table):,} scored) to {out}")


def _print_arms(scores: Any) -> None:
    """Targets per action and arm, so the operator sees the control group before sending."""
    from serving.holdout import ASSIGNMENT, arm_counts

    if ASSIGNMENT not in scores.columns:
        return
    counts = arm_counts(scores)
    arms = ", ".join(
        f"{action} {row.get('treated', 0):,} treated / {row.get('control', 0):,} control"
        for action, row in counts.iterrows()
    )
    console.print(f"holdout: {arms or 'no targets'}")


def _print_list(listed: Any) -> None:
    """The list on the terminal: the main reason only, so a row fits on one line."""
    table = Table(title=f"churn list ({len(listed)} users)")
    for column in ("rank", "user_id", "risk", "value", "stage", "tier", "action", "gain"):
        table.add_column(column, no_wrap=True)
    table.add_column("main reason")
    for row in listed.itertuples():
        table.add_row(
            str(row.rank),
            row.user_id,
            f"{row.churn_probability:.2f}",
            f"{row.predicted_value:,.2f}",
            row.lifecycle_stage,
            row.value_tier,
            row.action,
            f"{row.expected_gain:,.2f}",
            row.reasons.split("; ")[0],
        )
    console.print(table)


def serve(
    port: Annotated[int, typer.Option("--port", help="HTTP port.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "0.0.0.0",
    events: EventsOption = None,
    scores: Annotated[
        Path | None, typer.Option("--scores", help="Serve a `retain score` output instead.")
    ] = None,
    as_of: AsOfOption = None,
    catalogue: CatalogueOption = None,
    budget: BudgetOption = None,
    reasons: ReasonsOption = "treeshap",
    tracking_uri: TrackingOption = None,
) -> None:
    """Start the BentoML service (scores, actions, explanations, churn lists) on PORT.

    The API key, when wanted, comes from the environment variable RETAIN_API_KEY.
    """
    from serving.actions import load_catalogue
    from training.tracking import resolve_tracking_uri, sqlite_path

    if events is not None and scores is not None:
        fail("give --events or --scores, not both")
    env = dict(os.environ)
    if events is None and scores is None:
        if not (env.get("RETAIN_EVENTS") or env.get("RETAIN_SCORES")):
            fail("give --events (scored at start-up) or --scores (a `retain score` output)")
    else:  # the flag wins over a variable left in the environment
        env["RETAIN_EVENTS"] = str(events.resolve()) if events else ""
        env["RETAIN_SCORES"] = str(scores.resolve()) if scores else ""
    if as_of:
        parse_as_of(as_of)  # fail here, not inside the server
        env["RETAIN_AS_OF"] = as_of
    if catalogue is not None:
        _guarded(lambda: load_catalogue(catalogue))  # same: a bad playbook fails here
        env["RETAIN_CATALOGUE"] = str(catalogue.resolve())
    if budget is not None:
        env["RETAIN_BUDGET"] = str(budget)
    if reasons != "treeshap":
        env["RETAIN_REASONS"] = reasons
    # The server runs from the repository root: pin a relative SQLite store to this directory.
    uri = resolve_tracking_uri(tracking_uri)
    db_file = sqlite_path(uri)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{db_file}" if db_file is not None else uri
    root = Path(__file__).resolve().parent.parent
    command = [
        *(sys.executable, "-m", "bentoml", "serve", "serving.service:RetainService"),
        *("--port", str(port), "--host", host, "--working-dir", str(root)),
    ]
    console.print(f"starting the Retain service on http://{host}:{port} (Ctrl+C stops it)")
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
