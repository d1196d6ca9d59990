"""Feature-build benchmark: Retain (Ibis on DuckDB) against a plain pandas group-by.

Both run in the same invocation, each in its own child process so that each peak memory is its
own. Prints events/s, peak RSS and the speed ratio; checks the two agree on the core features.

    .venv/bin/python benchmarks/bench_features.py --users 500000 --days 365

Targets (issue 2): >= 5M events/s and >= 10x pandas on 2 cores, peak memory <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

TARGET_EVENTS_PER_S = 5_000_000
TARGET_RATIO = 10.0
TARGET_PEAK_GB = 4.0


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _cutoff(events: Path) -> datetime:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    times = pq.read_table(events, columns=["event_time"]).column("event_time")
    last = pc.max(times).as_py().replace(tzinfo=None)
    return (last - timedelta(days=90)).replace(hour=0, minute=0, second=0, microsecond=0)


def worker(kind: str, events: Path, cutoff: datetime, out: Path) -> None:
    """Build features once with one implementation; print seconds and peak memory as JSON."""
    started = time.perf_counter()
    if kind == "retain":
        from features import WindowConfig, feature_frame, load_events

        frame = feature_frame(load_events(events), cutoff, WindowConfig())
    else:
        import pandas as pd

        sys.path.insert(0, str(Path(__file__).parent))
        from pandas_core_features import core_features_pandas

        table = pd.read_parquet(events, columns=["user_id", "event_time", "event_type", "amount"])
        table["event_time"] = table["event_time"].dt.tz_convert(None)
        frame = core_features_pandas(table, cutoff)
    seconds = time.perf_counter() - started
    frame.to_parquet(out, index=False)
    print(json.dumps({"seconds": seconds, "peak_gb": _peak_gb(), "users": len(frame)}))


def _run(kind: str, events: Path, cutoff: datetime, out: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--events",
        str(events),
        "--cutoff",
        cutoff.isoformat(),
        "--result",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _agree(retain_out: Path, pandas_out: Path) -> float:
    """Largest absolute difference over the core features (0 means identical)."""
    import pandas as pd

    from features import CORE_FEATURES

    left = pd.read_parquet(retain_out).set_index("user_id")[list(CORE_FEATURES)]
    right = pd.read_parquet(pandas_out).set_index("user_id").loc[left.index, list(CORE_FEATURES)]
    return float((left.astype(float) - right.astype(float)).abs().max().max())


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events", type=Path, help="reuse an event file instead of simulating")
    parser.add_argument("--worker", choices=["retain", "pandas"])
    parser.add_argument("--cutoff")
    parser.add_argument("--result", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.events, datetime.fromisoformat(args.cutoff), args.result)
        return
    work = Path("benchmarks/.data")
    work.mkdir(parents=True, exist_ok=True)
    events = args.events or work / f"events-{args.users}-{args.days}-{args.seed}.parquet"
    if not events.exists():
        from features.simulation import SimulationConfig, write_simulation

        print(f"simulating {args.users:,} users × {args.days} days → {events} …", flush=True)
        started = time.perf_counter()
        summary = write_simulation(
            SimulationConfig(users=args.users, days=args.days, seed=args.seed), events
        )
        print(f"  {summary.events:,} events in {time.perf_counter() - started:.0f}s")
    import pyarrow.parquet as pq

    n_events = pq.ParquetFile(events).metadata.num_rows
    cutoff = _cutoff(events)
    retain = _run("retain", events, cutoff, work / "retain-features.parquet")
    pandas = _run("pandas", events, cutoff, work / "pandas-features.parquet")
    difference = _agree(work / "retain-features.parquet", work / "pandas-features.parquet")
    rate = n_events / retain["seconds"]
    ratio = pandas["seconds"] / retain["seconds"]
    print(
        f"\nfeature build over {n_events:,} events, {retain['users']:,} users, cutoff {cutoff:%Y-%m-%d}"
    )
    print(f"{'implementation':<28}{'seconds':>9}{'events/s':>14}{'peak GB':>9}")
    for name, result in (
        ("retain (ibis/duckdb, 28 f.)", retain),
        ("pandas group-by (9 core)", pandas),
    ):
        print(
            f"{name:<28}{result['seconds']:>9.2f}{n_events / result['seconds']:>14,.0f}{result['peak_gb']:>9.2f}"
        )
    print(
        f"\nspeed-up over pandas: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )
    print(
        f"events/s: {rate:,.0f} (target >= {TARGET_EVENTS_PER_S:,}: {'met' if rate >= TARGET_EVENTS_PER_S else 'NOT met'})"
    )
    print(
        f"peak memory: {retain['peak_gb']:.2f} GB (target <= {TARGET_PEAK_GB} GB: {'met' if retain['peak_gb'] <= TARGET_PEAK_GB else 'NOT met'})"
    )
    print(f"core features agree with pandas: max abs difference {difference:.2e}")


if __name__ == "__main__":
    main()
