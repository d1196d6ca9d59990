"""Churn-model training benchmark: Retain's ChurnClassifier against scikit-learn's
HistGradientBoostingClassifier on the same matrix, in the same run.

The matrix: simulated users' behavioural_v1 features (28 columns) stacked over monthly
cutoffs until there are `--rows` training rows, widened to `--width` columns with derived
columns (log, square-root and pairwise-ratio transforms of the real features) so the width
matches the issue's "~100 features"; the derived columns are deterministic functions of real
ones, so they cost what real columns cost. Each side runs in its own process (own peak RSS).
Ours: LightGBM with early stopping on the OOT fit half + Platt calibration (what `retain
train` does). Baseline: HistGradientBoostingClassifier with the same learning rate, leaves,
bins, minimum leaf size and L2 penalty (the churn defaults) and the number of trees of our
early-stopped model, without early stopping.

    .venv/bin/python benchmarks/bench_training.py --users 1000000 --rows 1000000

Target (issue 3): churn model on 1M users x ~100 features in <= 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import DATA, peak_gb, record, run_child, simulated_events, verdict

TARGET_SECONDS = 180.0


def _widen(frame, width: int):
    """Add derived columns until `frame` has `width` columns."""
    import numpy as np

    base = list(frame.columns)
    extra = {}
    for name in base:
        values = frame[name].to_numpy(dtype="float64")
        extra[f"log_{name}"] = np.sign(values) * np.log1p(np.abs(values))
        extra[f"sqrt_{name}"] = np.sqrt(np.abs(values))
    for i, left in enumerate(base):
        for right in base[i + 1 :]:
            extra[f"{left}_per_{right}"] = frame[left] / (frame[right].abs() + 1.0)
    import pandas as pd

    wanted = list(extra)[: max(0, width - len(base))]
    return pd.concat(
        [frame, pd.DataFrame({k: extra[k] for k in wanted}, index=frame.index)], axis=1
    )


def prepare(users: int, rows: int, width: int) -> Path:
    """Build (or reuse) the benchmark matrices under benchmarks/.data."""
    from training.config import parse_config
    from training.datasets import build_training_data

    path = DATA / f"train_{users}u_{rows}r_{width}w"
    if (path / "report.parquet").exists():
        return path
    events = simulated_events(users, 365)
    count = 2
    while True:
        config = parse_config(
            {"models": ["churn"], "cutoffs": {"count": count, "min_history_days": 30}}
        )
        data = build_training_data(events, config)
        split = data.for_model("churn")
        if len(split.X_train) >= rows or count >= 8:
            break
        count += 1
    path.mkdir(parents=True, exist_ok=True)
    X = split.X_train.sample(n=min(rows, len(split.X_train)), random_state=0)  # noqa: N806
    y = split.y_train.loc[X.index]
    for name, features, labels in (
        ("train", X, y),
        ("fit", split.X_fit, split.y_fit),
        ("report", split.X_report, split.y_report),
    ):
        widened = _widen(features.reset_index(drop=True), width)
        widened["churned"] = labels.to_numpy()
        widened.to_parquet(path / f"{name}.parquet", index=False)
    return path


def _load(path: Path, name: str):
    import pandas as pd

    frame = pd.read_parquet(path / f"{name}.parquet")
    return frame.drop(columns="churned"), frame["churned"].to_numpy()


def worker(kind: str, path: Path, trees: int) -> None:
    """Fit one implementation; print seconds, trees, AUC and peak memory as JSON."""
    from sklearn.metrics import roc_auc_score

    X, y = _load(path, "train")  # noqa: N806
    X_fit, y_fit = _load(path, "fit")  # noqa: N806
    X_report, y_report = _load(path, "report")  # noqa: N806
    from training.config import ChurnModelConfig

    settings = ChurnModelConfig()  # the churn model's defaults, for both implementations
    started = time.perf_counter()
    if kind == "retain":
        from training.estimators import ChurnClassifier

        model = ChurnClassifier(
            params=settings.params.lightgbm(),
            num_boost_round=settings.num_boost_round,
            early_stopping_rounds=settings.early_stopping_rounds,
        ).fit(X, y, X_fit, y_fit)
        trees = model.best_iteration_
        predicted = model.churn_probability(X_report)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        params = settings.params
        model = HistGradientBoostingClassifier(
            learning_rate=params.learning_rate,
            max_iter=trees,
            max_leaf_nodes=params.num_leaves,
            min_samples_leaf=params.min_child_samples,
            l2_regularization=params.lambda_l2,
            max_bins=params.max_bin,
            early_stopping=False,
            random_state=7,
        ).fit(X, y)
        predicted = model.predict_proba(X_report)[:, 1]
    seconds = time.perf_counter() - started
    auc = float(roc_auc_score(y_report, predicted))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "trees": trees,
                "auc": auc,
                "peak_gb": peak_gb(),
                "rows": len(X),
                "columns": X.shape[1],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Training rows.")
    parser.add_argument("--width", type=int, default=100, help="Feature columns.")
    parser.add_argument(
        "--worker", nargs=3, metavar=("KIND", "PATH", "TREES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        kind, path, trees = args.worker
        worker(kind, Path(path), int(trees))
        return
    started = time.perf_counter()
    path = prepare(args.users, args.rows, args.width)
    print(f"inputs ready in {time.perf_counter() - started:.0f}s: {path}")
    ours = run_child(Path(__file__), ["retain", str(path), "0"])
    theirs = run_child(Path(__file__), ["sklearn", str(path), str(ours["trees"])])
    print(
        f"\nchurn model on {ours['rows']:,} rows x {ours['columns']} features, 2000 rounds max, early stopping"
    )
    print(f"{'implementation':<34}{'seconds':>9}{'trees':>7}{'OOT AUC':>9}{'peak GB':>9}")
    for name, result in (
        ("Retain (LightGBM + calibration)", ours),
        ("sklearn HistGradientBoosting", theirs),
    ):
        print(
            f"{name:<34}{result['seconds']:>9.1f}{result['trees']:>7}{result['auc']:>9.4f}{result['peak_gb']:>9.2f}"
        )
    print(f"\nspeed-up vs sklearn, same trees: {theirs['seconds'] / ours['seconds']:.1f}x")
    print(
        f"target <= {TARGET_SECONDS:.0f}s for the churn model: {ours['seconds']:.1f}s, {verdict(ours['seconds'] <= TARGET_SECONDS)}"
    )
    shape = f"{ours['rows']:,} rows x {ours['columns']}"
    record(f"churn training ({shape})", ours["seconds"], "s", f"<= {TARGET_SECONDS:.0f} s",
           ours["seconds"] <= TARGET_SECONDS)  # fmt: skip
    record("churn training vs sklearn HGB", theirs["seconds"] / ours["seconds"], "x")
    record("churn training peak memory", ours["peak_gb"], "GB")


if __name__ == "__main__":
    main()
