"""Paired bootstrap of an ROC-AUC margin: `training.metrics.auc_difference_interval` against
scikit-learn per resample (the implementation it replaced, and what a data scientist writes).

On one simulated report half (--rows users, 30% positives, two scores rounded to two decimals so
that ties occur), with --resamples multinomial resamples drawn from the same seeded stream, it
measures, in one run:
  1. Retain: `auc_difference_interval` (weights drawn in blocks, each AUC a weighted
     Mann-Whitney count over score levels sorted once): CPU seconds, best of --repeats;
  2. scikit-learn: per resample, the row weights and `roc_auc_score(sample_weight=…)` for both
     scores: CPU seconds, one run;
and the largest difference between the two intervals' ends (the same resamples: it should be
at rounding level, ~1e-16).

    .venv/bin/python benchmarks/bench_bootstrap_auc.py --rows 10000 --resamples 1000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import record

from training.metrics import auc_difference_interval


def scikit_learn_interval(y, ours, theirs, resamples: int, seed: int = 7) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n = len(y)
    differences = np.empty(resamples)
    for i in range(resamples):
        weight = np.bincount(rng.integers(0, n, n), minlength=n)
        differences[i] = roc_auc_score(y, ours, sample_weight=weight) - roc_auc_score(
            y, theirs, sample_weight=weight
        )
    low, high = np.quantile(differences, [0.025, 0.975])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    y = (rng.random(args.rows) < 0.3).astype(float)
    ours = np.round(0.5 * y + rng.random(args.rows), 2)
    theirs = np.round(0.4 * y + rng.random(args.rows), 2)

    best = np.inf
    for _ in range(args.repeats):
        start = time.process_time()
        retain = auc_difference_interval(y, ours, theirs, resamples=args.resamples)
        best = min(best, time.process_time() - start)
    start = time.process_time()
    reference = scikit_learn_interval(y, ours, theirs, args.resamples)
    sklearn_s = time.process_time() - start
    gap = max(abs(a - b) for a, b in zip(retain, reference, strict=True))

    print(f"{args.rows:,} rows, {args.resamples:,} paired resamples (CPU seconds)")
    print(f"  Retain (blocked weighted Mann-Whitney) {best:8.2f} s  interval {retain}")
    print(f"  scikit-learn roc_auc_score per resample {sklearn_s:8.2f} s  interval {reference}")
    print(f"  speed-up {sklearn_s / best:.1f}x; largest difference between the ends {gap:.1e}")
    record("bootstrap AUC interval, Retain", best, "CPU s")
    record("bootstrap AUC interval, scikit-learn per resample", sklearn_s, "CPU s")


if __name__ == "__main__":
    main()
