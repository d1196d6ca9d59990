"""`retain effects`: learn action effects from a campaign log with control groups.

Why a command of its own: learning effects is a stage like training (inputs → an MLflow run →
a versioned artifact that later stages consume with `--effects`), and operators run it after
each campaign's outcome window has passed. Expected failures end in one red line, exit 2.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from retain.commands.options import TrackingOption
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, fail, progress, refuse

DEFAULT_UPLIFT_MIN_PER_ARM = 300


def _effects_table(effects: Any) -> Table:
    """Per action × segment: arms, churn effect with interval, prior → learned, verdict."""
    table = Table(title="learned effects (churn: treated − control; share of churn removed)")
    for column in ("action", "segment", "treated", "control", "churn effect", "interval",
                   "removed", "prior", "learned", "verdict"):  # fmt: skip
        text = column in ("action", "segment")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)

    def num(value: Any, pattern: str) -> str:
        return "—" if value is None or value != value else pattern.format(value)

    for row in effects.itertuples():
        interval = "—"
        if row.churn_effect_low == row.churn_effect_low:
            interval = f"[{row.churn_effect_low:+.3f}, {row.churn_effect_high:+.3f}]"
        verdict = row.verdict
        if verdict == "backfires":
            verdict = "[bold red]backfires[/]"
        table.add_row(
            row.action_id, row.segment, f"{row.n_treated:,}", f"{row.n_control:,}",
            num(row.churn_effect, "{:+.3f}"), interval, num(row.relative_effect, "{:.2f}"),
            f"{row.prior_effect:.2f}", f"{row.learned_effect:.2f}", verdict,
        )  # fmt: skip
    return table


def _uplift_table(learned: Any) -> Table:
    k = f"{learned.uplift[0].k_share:.0%}" if learned.uplift else "k"
    table = Table(title=f"uplift models (out of fold): Qini and retention uplift in the top {k}")
    for column in ("action", "users", "qini model", "qini by risk", f"uplift@{k} model",
                   f"uplift@{k} by risk", f"uplift@{k} random"):  # fmt: skip
        table.add_column(column, justify="left" if column == "action" else "right",
                         no_wrap=column == "action")  # fmt: skip
    for e in learned.uplift:
        table.add_row(
            e.action_id, f"{e.rows:,}", f"{e.qini_model:+.4f}", f"{e.qini_by_risk:+.4f}",
            f"{e.uplift_at_k_model:+.3f}", f"{e.uplift_at_k_by_risk:+.3f}",
            f"{e.uplift_at_k_random:+.3f}",
        )  # fmt: skip
    for action_id, why in learned.uplift_skipped.items():
        table.add_row(action_id, "—", "—", "—", "—", "—", why)
    return table


@with_window_flags
def effects(
    campaigns: Annotated[
        Path, typer.Option("--campaigns", help="Campaign log (.parquet, .csv, .jsonl).")
    ],
    events: Annotated[
        Path, typer.Option("--events", help="Event log covering the outcome windows.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Effects file to write (.yaml).")] = Path(
        "effects.yaml"
    ),
    catalogue: Annotated[
        Path | None,
        typer.Option("--catalogue", help="Action catalogue whose effects are the priors."),
    ] = None,
    confidence: Annotated[
        float, typer.Option("--confidence", help="Interval level.", min=0.5, max=0.999)
    ] = 0.95,
    prior_sd: Annotated[
        float,
        typer.Option("--prior-sd", help="Prior's spread (share of churn removed).", min=0.001),
    ] = 0.3,
    effect_basis: Annotated[
        Literal["churn", "revenue"],
        typer.Option(
            "--effect-basis",
            help="What learned effects are fitted to: churn, or incremental revenue (needs the "
            "log's churn_probability and value_at_stake, as a --holdout-share list has them; "
            "an action's segments are pooled, see docs/campaigns.md).",
        ),
    ] = "churn",
    uplift: Annotated[
        bool, typer.Option("--uplift/--no-uplift", help="Fit two-model uplift per action.")
    ] = True,
    uplift_min_per_arm: Annotated[
        int | None,
        typer.Option(
            "--uplift-min-per-arm",
            help=f"Users per arm for an uplift model (default: {DEFAULT_UPLIFT_MIN_PER_ARM}).",
            min=1,
        ),
    ] = None,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags | None = None,
) -> None:
    """Effects of each action per segment (treated vs control), logged to MLflow and written."""
    from features import FEATURE_SET, EventContractError, load_events, write_text
    from serving import (
        CampaignLog,
        CampaignLogError,
        CatalogueError,
        EffectsConfig,
        EstimationConfig,
        build_effects_file,
        dump_effects,
        learn_effects,
        load_campaigns,
        load_catalogue,
        log_run,
        with_log_scores,
    )
    from training import data_fingerprint, provenance_tags

    if out.suffix.lower() not in (".yaml", ".yml"):
        fail(f"--out {out}: the effects file is YAML; use a name ending in .yaml")
    if not uplift:
        refuse({"--uplift-min-per-arm": uplift_min_per_arm}, "with --no-uplift")
    min_per_arm = uplift_min_per_arm or DEFAULT_UPLIFT_MIN_PER_ARM
    window_config = (windows or WindowFlags()).apply()
    config = EffectsConfig(
        estimation=EstimationConfig(confidence, prior_sd, effect_basis),  # type: ignore[arg-type]
        uplift=uplift,
        uplift_min_per_arm=min_per_arm,
    )
    try:
        playbook = load_catalogue(catalogue)
        with progress() as bar:
            task = bar.add_task(f"reading {campaigns}", total=3)
            log = load_campaigns(campaigns)
            if effect_basis == "revenue":
                log = CampaignLog(with_log_scores(log.frame, campaigns), log.report)
            bar.update(task, advance=1, description=f"loading events from {events}")
            loaded = load_events(events)
            bar.update(task, advance=1, description="measuring outcomes, estimating effects")
            learned = learn_effects(log, loaded, window_config, playbook, config)
            bar.update(task, advance=1, description="estimated")
        fingerprints = {"campaigns_fingerprint": data_fingerprint(campaigns),
                        "events_fingerprint": data_fingerprint(events)}  # fmt: skip
        source = {"campaigns": str(campaigns), "events": str(events), **fingerprints}
        params = {"windows": window_config.model_dump(), "estimation": vars(config.estimation),
                  "uplift_min_per_arm": min_per_arm, "catalogue": str(catalogue or
                  "packaged"), "campaign_rows": log.report.rows_accepted}  # fmt: skip
        tags = provenance_tags(FEATURE_SET.id, fingerprints["campaigns_fingerprint"], "effects")

        created_at = datetime.now(UTC)

        def render(run_id: str | None) -> str:
            """The effects file; the same text for the MLflow artifact and for --out."""
            return dump_effects(
                build_effects_file(
                    learned.effects,
                    source=source,
                    windows=window_config.model_dump(mode="json"),
                    estimation=vars(config.estimation),
                    uplift=[vars(e) for e in learned.uplift],
                    mlflow_run_id=run_id,
                    created_at=created_at,
                )
            )

        run_id = log_run(
            learned, params=params, tags=tags, tracking_uri=tracking_uri, write_file=render
        )
        write_text(render(run_id), out)
    except (CampaignLogError, EventContractError, CatalogueError, ValueError, OSError) as error:
        fail(str(error))
    console.print(log.report.summary())
    console.print(loaded.report.summary())
    console.print(learned.outcomes.summary())
    console.print(_effects_table(learned.effects))
    if uplift:
        console.print(_uplift_table(learned))
    pooled = learned.effects.dropna(subset=["beyond_churn_pooled"])
    for action_id, cells in pooled.groupby("action_id", sort=True):
        mean, spread = cells[["beyond_churn_pooled", "beyond_churn_sd"]].iloc[0]
        console.print(f"revenue basis: {action_id} pooled over {len(cells)} segments: "
                      f"{mean:+.2f} beyond its churn effect, spread between segments "
                      f"{spread:.2f}")  # fmt: skip
    backfires = learned.effects[learned.effects["verdict"] == "backfires"]
    for row in backfires.itertuples():
        console.print(f"[bold red]{row.action_id} backfires on {row.segment}[/]: churn "
                      f"{row.churn_effect:+.3f} (treated − control)")  # fmt: skip
    console.print(f"wrote {out} (MLflow run {run_id} in experiment 'retain-effects')")
