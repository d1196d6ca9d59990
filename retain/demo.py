"""`retain demo`: the main job on embedded defaults.

Today: simulate an event log (when the simulator is installed) and build point-in-time features
and labels at the latest fully labelled cutoff. Training, scoring and the churn list join as the
training and serving stages land.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retain.console import console, fail


def demo(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the demo writes its files.")
    ] = Path("retain-output"),
    users: Annotated[int, typer.Option("--users", help="Simulated users.", min=100)] = 20_000,
    days: Annotated[int, typer.Option("--days", help="Simulated days of history.", min=180)] = 365,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 7,
) -> None:
    """Simulate data and build features and labels on DuckDB (the embedded default)."""
    from datetime import timedelta

    from features import WindowConfig, feature_frame, load_events
    from features.output import write_frame

    try:
        from features.simulation import SimulationConfig, write_simulation
    except ImportError:
        fail("the event simulator (features.simulation) is not part of this build yet")
    events_path = out_dir / "events.parquet"
    write_simulation(SimulationConfig(users=users, days=days, seed=seed), events_path)
    loaded = load_events(events_path)
    console.print(loaded.report.summary())
    windows = WindowConfig()
    last = loaded.report.max_event_time
    cutoff = (last - timedelta(days=windows.label_horizon_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    frame = feature_frame(loaded, cutoff, windows, labels=True)
    path = write_frame(frame, out_dir / "features.parquet")
    console.print(f"features for {len(frame):,} users as of {cutoff:%Y-%m-%d} written to {path}")
