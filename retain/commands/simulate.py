"""`retain simulate`: write a realistic synthetic event log (and, optionally, a campaign log).

Why a command: demos, benchmarks and tests need data of any size with known structure, made
the same way every time from a seed.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from retain.console import console, fail, progress, refuse


def _require_parquet(path: Path, flag: str) -> None:
    if path.suffix.lower() != ".parquet":
        fail(f"{flag} {path}: the simulator writes Parquet; use a name ending in .parquet")


def simulate(
    users: Annotated[
        int, typer.Option("--users", min=1, help="Users acquired over the simulated period.")
    ] = 10_000,
    days: Annotated[
        int, typer.Option("--days", min=1, max=3650, help="Length of the simulated period.")
    ] = 365,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: same seed and options, same log.")
    ] = 7,
    out: Annotated[
        Path, typer.Option("--out", help="Event log to write (.parquet, written in chunks).")
    ] = Path("data/events.parquet"),
    start: Annotated[
        str, typer.Option("--start", help="First simulated day, YYYY-MM-DD (UTC).")
    ] = "2024-01-01",
    campaigns: Annotated[
        Path | None,
        typer.Option(
            "--campaigns",
            help=(
                "Also run randomised campaigns and write their log here (.parquet); the true "
                "per-segment effects go to <name>.truth.json beside it."
            ),
        ),
    ] = None,
    drift_from: Annotated[
        str | None,
        typer.Option(
            "--drift-from",
            help="Shift behaviour from this day (YYYY-MM-DD) on, to test monitoring against it.",
        ),
    ] = None,
    drift_spend: Annotated[
        float, typer.Option("--drift-spend", min=0.01, help="With --drift-from: amounts × this.")
    ] = 1.0,
    drift_activity: Annotated[
        float,
        typer.Option(
            "--drift-activity",
            min=0.01,
            max=1.0,
            help="With --drift-from: share of non-purchase events kept.",
        ),
    ] = 1.0,
    drift_new_type: Annotated[
        str | None,
        typer.Option("--drift-new-type", help="With --drift-from: relabel views as this type."),
    ] = None,
) -> None:
    """Simulate users of a product: acquisition, engagement, purchases, churn and return."""
    from simulator import CampaignPlan, DriftConfig, SimulationConfig, truth_path, write_simulation

    _require_parquet(out, "--out")
    if campaigns is not None:
        _require_parquet(campaigns, "--campaigns")
    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        fail(f"--start {start!r}: expected a date as YYYY-MM-DD")
    shifts = {"--drift-spend": drift_spend != 1.0, "--drift-activity": drift_activity != 1.0,
              "--drift-new-type": drift_new_type is not None}  # fmt: skip
    if drift_from is None:
        refuse(shifts, "without --drift-from")
    try:
        drift = None
        if drift_from is not None:
            day = (date.fromisoformat(drift_from) - first_day).days
            drift = DriftConfig(
                from_day=day, spend_factor=drift_spend, activity_factor=drift_activity,
                new_event_type=drift_new_type,
            )  # fmt: skip
        config = SimulationConfig(
            users=users,
            days=days,
            seed=seed,
            start=first_day,
            campaigns=CampaignPlan() if campaigns is not None else None,
            drift=drift,
        )
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        fail(f"invalid simulation settings: {error}")

    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"simulating {users:,} users × {days} days", total=config.n_chunks)
        summary = write_simulation(
            config, out, campaigns, on_chunk=lambda _chunk: bar.advance(task)
        )
    elapsed = time.perf_counter() - started

    date_range = "no events"
    if summary.first_event is not None and summary.last_event is not None:
        date_range = f"{summary.first_event:%Y-%m-%d} to {summary.last_event:%Y-%m-%d}"
    console.print(
        f"wrote {summary.events:,} events of {summary.users:,} users to {summary.path} "
        f"in {elapsed:.1f}s"
    )
    console.print(
        f"purchases {summary.purchases:,}, revenue {summary.revenue:,.2f} "
        f"(refunds {summary.refunds:,.2f}), events {date_range} (UTC)"
    )
    if summary.campaigns_path is not None:
        console.print(
            f"campaign log: {summary.campaign_rows:,} assignments to {summary.campaigns_path}; "
            f"true effects in {truth_path(summary.campaigns_path)}"
        )
