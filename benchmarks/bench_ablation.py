"""Feature-set ablation (issue 17 item 1): v1, v2 and v2 minus each feature group, out of time.

Trains the churn and value models on the same rows with each variant's columns
(`training.ablation`) and prints one Markdown table per log: churn ROC-AUC and PR-AUC (with the
95% paired bootstrap interval of ROC-AUC − v1's), value Spearman, Gini and decile MAPE, and the
best classical baseline beside them. Logs: the simulator (the demo's log by default: 20,000
users, 365 days, seed 7) and CDNOW from ../shared/data (skipped, saying why, when absent). The
experiment config (`experiments/ablation.yaml`) keeps boosting small enough for a few minutes
on 2 cores; CDNOW, a purchase-only log, gets the purchase-log windows automatically.

    nice .venv/bin/python benchmarks/bench_ablation.py [--users 20000 --days 365 --seed 7]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import simulated_events

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "ablation.yaml"
CDNOW = ROOT.parent / "shared" / "data" / "CDNOW_master.txt.gz"


def ablate(name: str, events: Path, config_path: Path) -> None:
    """Build the v2 training set once, run every variant, print the table."""
    from training.ablation import run_ablation
    from training.config import load_config
    from training.datasets import build_training_data

    started = time.perf_counter()
    config = load_config(config_path)
    data = build_training_data(events, config)
    config = data.apply_to(config)
    built = time.perf_counter() - started
    result = run_ablation(data, config, on_step=lambda message: print(f"  {message}", flush=True))
    windows = data.windows
    print(f"\n### {name}\n")
    for note in data.notes:
        print(f"- {note.text}")
    print(
        f"- windows: churn {windows.churn_horizon_days} d, value {windows.value_horizon_days} d, "
        f"active {windows.active_window_days} d; OOT cutoff {data.oot_cutoff:%Y-%m-%d}; "
        f"report-half rows: {', '.join(f'{k} {n:,}' for k, n in result.rows.items())}; "
        f"features built in {built:.0f} s, total {time.perf_counter() - started:.0f} s\n"
    )
    print(result.to_markdown(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-simulator", action="store_true")
    parser.add_argument("--skip-cdnow", action="store_true")
    parser.add_argument(
        "--config", type=Path, default=CONFIG, help="another ablation config (e.g. windows)"
    )
    args = parser.parse_args()
    if not args.skip_simulator:
        events = simulated_events(args.users, args.days, args.seed)
        name = f"Simulator ({args.users:,} users, {args.days} days, seed {args.seed})"
        ablate(name, events, args.config)
    if args.skip_cdnow:
        return
    if CDNOW.exists():
        ablate("CDNOW master (23,570 customers)", CDNOW, args.config)
    else:
        print(f"\nCDNOW skipped: {CDNOW} is absent (see ../shared/data/*.source.txt)")


if __name__ == "__main__":
    main()
