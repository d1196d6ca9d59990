"""Population stability index (PSI) against a stored reference profile of one column.

PSI = Σ_bins (c − r)·ln(c / r), with r and c the shares of reference and current rows in each
bin. Bins are fixed by the reference alone, so a profile stored at training (a few numbers per
column, JSON) is enough to compare any later population with it; the training rows are not
needed again.

- Numeric columns: cut points at the reference's deciles (by default), intervals closed on the
  right: (−∞, e₁], (e₁, e₂], …, (e_k, ∞). Tied quantiles collapse into one cut point, so a
  zero-inflated column (most users spent nothing) gets one bin holding every zero instead of
  several empty ones, and a constant column gets two bins: ≤ the constant and above it.
  Reference shares are counted, not assumed to be 1/bins, because ties make them unequal.
- Categorical columns: one bin per reference category (the most frequent `MAX_CATEGORIES`),
  plus one for every other value, including categories the reference never saw.
- Missing values (NaN, None) are a bin of their own in both kinds: a feature that starts
  arriving empty is drift too, and must not vanish from the denominator.

Epsilon smoothing: a share of zero makes ln(c / r) infinite, so every share is floored at
`EPSILON` = 1e-4 (one row in ten thousand) before the sum, without renormalising (the same
choice as Evidently's PSI). A bin empty on both sides then adds exactly 0, and a bin holding
10% of the current rows but none of the reference adds (0.1 − 1e-4)·ln(0.1 / 1e-4) ≈ 0.69:
large enough to be critical, finite enough to print and compare.

Sampling noise: two samples of one population still differ, and their PSI is about
(bins − 1)·(1/n_reference + 1/n_current) on average (its chi-square approximation): 0.002 for
10 bins and 10,000 rows a side, but 0.2 for 100 rows. Compare populations of thousands, or
widen the thresholds for small ones. Cut points use numpy's default (linear) quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

EPSILON = 1e-4
DEFAULT_BINS = 10
MAX_CATEGORIES = 50
OTHER = "__other__"  # the categorical bin for categories beyond those the reference lists
QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}


def psi(reference: Sequence[float], current: Sequence[float], epsilon: float = EPSILON) -> float:
    """Σ (c − r)·ln(c / r) over matching bins, each share floored at `epsilon` first.

    Both arguments are shares of the same bins (the missing bin included), each summing to 1.
    """
    r = np.maximum(np.asarray(reference, dtype=float), epsilon)
    c = np.maximum(np.asarray(current, dtype=float), epsilon)
    if r.shape != c.shape:
        raise ValueError(f"reference has {r.size} bins, current {c.size}")
    return float(np.sum((c - r) * np.log(c / r)))


def _as_float(values: Any) -> np.ndarray:
    """Values as floats, with None, pd.NA and unparsable text as NaN (counted as missing)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series.astype(object), errors="coerce")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _numeric_shares(edges: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Shares of `x` in the right-closed intervals cut at `edges`, then the missing share."""
    missing = np.isnan(x)
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=float), x[~missing], side="left"),
        minlength=len(edges) + 1,
    )
    all_bins = np.append(counts, missing.sum()).astype(float)
    return all_bins / len(x) if len(x) else all_bins


class _Binned:
    """What both kinds of profile share: PSI of new values against their own bins."""

    shares: tuple[float, ...]
    missing_share: float
    count: int

    def current_shares(self, values: Any) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def psi(self, values: Any, epsilon: float = EPSILON) -> float:
        """PSI of `values` against this profile; NaN when either side has no rows."""
        shares, n = self.current_shares(values)
        if n == 0 or self.count == 0:
            return float("nan")
        return psi([*self.shares, self.missing_share], shares, epsilon)


@dataclass(frozen=True)
class NumericProfile(_Binned):
    """The reference distribution of a numeric column: bins, shares, and a summary.

    `shares` has one entry per interval (len(edges) + 1) and, with `missing_share`, sums to 1
    over all `count` rows. `quantiles` (min, p01 … p99, max, mean of the non-missing values,
    None when there are none) are for people and manifests; PSI uses only edges and shares.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    missing_share: float
    count: int
    quantiles: dict[str, float | None]
    kind: ClassVar[str] = "numeric"

    def current_shares(self, values: Any) -> tuple[np.ndarray, int]:
        """Shares of `values` in this profile's bins, missing bin last, and the row count."""
        x = _as_float(values)
        return _numeric_shares(self.edges, x), len(x)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "edges": list(self.edges),
            "shares": list(self.shares),
            "missing_share": self.missing_share,
            "count": self.count,
            "quantiles": dict(self.quantiles),
        }


@dataclass(frozen=True)
class CategoricalProfile(_Binned):
    """The reference distribution of a categorical column: one share per category.

    `shares` has one entry per category plus a last one for every other value; with
    `missing_share` it sums to 1. Categories are compared as text, so a bool column stored as
    True/False and read back as "True"/"False" still matches.
    """

    categories: tuple[str, ...]
    shares: tuple[float, ...]
    missing_share: float
    count: int
    kind: ClassVar[str] = "categorical"

    def current_shares(self, values: Any) -> tuple[np.ndarray, int]:
        """Shares of `values` per category, then the other bin, then the missing bin."""
        series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
        missing = series.isna().to_numpy()
        other = len(self.categories)
        codes = pd.Index(self.categories, dtype=object).get_indexer(
            series[~missing].astype(str).astype(object)
        )
        counts = np.bincount(np.where(codes < 0, other, codes), minlength=other + 1)
        all_bins = np.append(counts, missing.sum()).astype(float)
        return (all_bins / len(series) if len(series) else all_bins), len(series)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "categories": list(self.categories),
            "shares": list(self.shares),
            "missing_share": self.missing_share,
            "count": self.count,
        }


ColumnProfile = NumericProfile | CategoricalProfile


def numeric_profile(values: Any, bins: int = DEFAULT_BINS) -> NumericProfile:
    """Profile a numeric column: cut points at its `bins`-quantiles (ties merged), shares.

    Cut points come from finite values only (±inf land in the outer bins; NaN is missing).
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, not {bins}")
    x = _as_float(values)
    present = x[~np.isnan(x)]
    finite = present[np.isfinite(present)]
    if finite.size:
        cuts = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        edges = tuple(float(e) for e in np.unique(cuts))
        summary = {name: float(np.quantile(finite, q)) for name, q in QUANTILES.items()}
        summary |= {"min": float(finite.min()), "max": float(finite.max())}
        summary["mean"] = float(finite.mean())
    else:
        edges = ()
        summary = dict.fromkeys([*QUANTILES, "min", "max", "mean"])
    shares = _numeric_shares(edges, x)
    return NumericProfile(
        edges=edges,
        shares=tuple(float(s) for s in shares[:-1]),
        missing_share=float(shares[-1]),
        count=len(x),
        quantiles={key: summary[key] for key in ["min", *QUANTILES, "max", "mean"]},
    )


def categorical_profile(values: Any, max_categories: int = MAX_CATEGORIES) -> CategoricalProfile:
    """Profile a categorical column: its most frequent categories (ties by name) and shares."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    present = series[~series.isna()].astype(str)
    counts = present.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_categories]
    n = len(series)
    shares = [count / n for _, count in ranked] if n else []
    listed = sum(count for _, count in ranked)
    return CategoricalProfile(
        categories=tuple(category for category, _ in ranked),
        shares=(*(float(s) for s in shares), float((len(present) - listed) / n) if n else 0.0),
        missing_share=float((n - len(present)) / n) if n else 0.0,
        count=n,
    )


def column_profile(values: Any, bins: int = DEFAULT_BINS) -> ColumnProfile:
    """A numeric profile for numeric columns (bool excluded), a categorical one otherwise."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return numeric_profile(series, bins)
    return categorical_profile(series)


def profile_from_dict(data: dict[str, Any]) -> ColumnProfile:
    """Rebuild a column profile from `as_dict()` output (read from JSON)."""
    kind = data.get("kind")
    if kind == NumericProfile.kind:
        return NumericProfile(
            edges=tuple(float(e) for e in data["edges"]),
            shares=tuple(float(s) for s in data["shares"]),
            missing_share=float(data["missing_share"]),
            count=int(data["count"]),
            quantiles={k: (None if v is None else float(v)) for k, v in data["quantiles"].items()},
        )
    if kind == CategoricalProfile.kind:
        return CategoricalProfile(
            categories=tuple(str(c) for c in data["categories"]),
            shares=tuple(float(s) for s in data["shares"]),
            missing_share=float(data["missing_share"]),
            count=int(data["count"]),
        )
    raise ValueError(f"unknown column profile kind {kind!r} (numeric or categorical)")
