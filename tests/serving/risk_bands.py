"""The change in risk's distribution counted by hand: users per 5-point band of churn risk.

Why here: two test files check `/risk_change` against it (the shared service, and the score-file
service refreshed with hand-made changes), and the count must not come from the code it checks.
"""

from __future__ import annotations

import itertools

import pandas as pd

__all__ = ["risk_bands"]


def risk_bands(risks: pd.Series) -> list[int]:
    """Users per 5-point band of churn risk, counted one band at a time (the last includes 1)."""
    edges = [round(i * 0.05, 2) for i in range(21)]
    values = risks.dropna().to_numpy()
    counts = []
    for low, high in itertools.pairwise(edges):
        inside = (values >= low) & ((values < high) if high < 1 else (values <= high))
        counts.append(int(inside.sum()))
    return counts
