"""Random-effects pooling: an action's segment estimates borrow strength from one another.

Why: revenue differences are far noisier than churn rates. On the policy benchmark's campaigns
a cell's revenue effect often has a standard error above 1 in the catalogue's unit, so taken
alone it is mostly noise; shrinking it toward a fixed prior decides how much it counts by a
number nobody measured. Here the data decide. The estimates of one action's segments (in
serving/campaigns/estimates.py: the revenue each cell's action adds beyond its churn effect)
are treated as draws around the action's own value, and how far they truly differ is estimated
from how far they differ beyond their noise (DerSimonian and Laird, "Meta-analysis in clinical
trials", 1986). A cell then moves from the pooled value toward its own estimate in proportion
to how much of its spread is real:

    spread² τ² = max(0, (Q − (k − 1)) / (Σw − Σw² / Σw)),  w = 1 / se²,
                 Q = Σ w (estimate − precision-weighted mean)²
    pooled μ   = Σ w* estimate / Σ w*,  w* = 1 / (se² + τ²)   (standard error (Σ w*)^-½)
    learned    = μ + τ² / (τ² + se²) × (estimate − μ)

and its standard error adds the uncertainty of μ:
(τ² se² / (τ² + se²) + (se² / (τ² + se²))² / Σ w*)^½. With τ² = 0 every cell gets μ: the data
cannot tell the segments apart, so the action's whole campaign speaks for each of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PooledEffects:
    """One action's pooled effect, the spread between its segments, and each cell's result."""

    mean: float
    mean_se: float
    spread: float  # τ: standard deviation of the true effects between segments
    learned: np.ndarray  # per cell, in the input order
    learned_se: np.ndarray


def pool_cells(estimate: np.ndarray, se: np.ndarray) -> PooledEffects:
    """Pool k ≥ 2 cell estimates with positive, finite standard errors (see the module)."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    if estimate.shape != se.shape or estimate.ndim != 1 or estimate.size < 2:
        raise ValueError("pooling needs at least two cells, each with an estimate and an error")
    if not (np.isfinite(estimate).all() and np.isfinite(se).all() and (se > 0).all()):
        raise ValueError("pooling needs finite estimates and positive, finite standard errors")
    variance = se**2
    weight = 1.0 / variance
    fixed_mean = float((weight * estimate).sum() / weight.sum())
    q = float((weight * (estimate - fixed_mean) ** 2).sum())
    scale = float(weight.sum() - (weight**2).sum() / weight.sum())
    spread2 = max(0.0, (q - (estimate.size - 1)) / scale)
    random_weight = 1.0 / (variance + spread2)
    mean = float((random_weight * estimate).sum() / random_weight.sum())
    mean_var = 1.0 / float(random_weight.sum())
    keep = spread2 / (spread2 + variance)  # share of a cell's deviation that is real
    learned = mean + keep * (estimate - mean)
    learned_var = keep * variance + (1.0 - keep) ** 2 * mean_var
    return PooledEffects(
        mean=mean,
        mean_se=mean_var**0.5,
        spread=spread2**0.5,
        learned=learned,
        learned_se=np.sqrt(learned_var),
    )
