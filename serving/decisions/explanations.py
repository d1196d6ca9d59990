"""One user's explanation both ways (`/explain`): features and signal families, each labelled
with the way it pushes churn risk.

Why both ways here and not in lists: an operator deciding whom to call needs what raises risk
(serving/decisions/reasons.py); someone checking one user needs the whole picture, what protects
them too. The labels follow the sign of the contribution; the words follow it only where they
agree with where the value stands (the same rule as the lists), and state the value plainly
otherwise, so no protective item reads "only" or "no".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from serving.decisions.reason_families import family_label, signal
from serving.decisions.reason_wording import Tone, describe
from serving.decisions.reasons import BIAS_COLUMNS, agreement, settled, signals_of

RAISES, LOWERS = "raises risk", "lowers risk"


def _effect(contribution: float) -> str:
    return RAISES if contribution > 0 else LOWERS


def explain_contributions(
    values: pd.Series, contributions: pd.Series, reference: pd.Series, top_k: int
) -> dict[str, list[dict[str, Any]]]:
    """One user's explanation both ways: the top_k features and the top_k families by size.

    Each item's `effect` follows the sign of its contribution. A feature is worded in its
    direction when the words agree with where its value stands (reasons.py), plainly
    otherwise; a family by its strongest agreeing member in its direction, else plainly by its
    strongest member in that direction. Families with a zero sum are left out.
    """
    columns = tuple(c for c in contributions.index if c not in BIAS_COLUMNS)
    signals = signals_of(columns)
    row = settled(values.to_frame().T, columns)
    may_raise, may_lower = (
        a[0] for a in agreement(row, settled(reference.to_frame().T, columns), signals)
    )
    contrib = contributions[list(columns)].to_numpy(dtype=float)
    agrees = np.where(contrib > 0, may_raise, np.where(contrib < 0, may_lower, False))

    def item(position: int, worded: bool) -> dict[str, Any]:
        c, value = float(contrib[position]), float(row[0, position])
        tone: Tone = ("raises" if c > 0 else "lowers") if worded else "neutral"
        feature = columns[position]
        return {
            "feature": feature,
            "family": signal(feature).family,
            "value": None if np.isnan(value) else value,
            "contribution": c,
            "effect": _effect(c),
            "text": describe(feature, value, tone),
        }

    by_size = np.argsort(-np.abs(contrib), kind="stable")[:top_k]
    features = [item(int(p), bool(agrees[p])) for p in by_size]
    families = []
    for family, members in zip(signals.families, signals.members, strict=True):
        total = float(contrib[members].sum())
        if total == 0:
            continue
        pushes = contrib[members] * np.sign(total)  # > 0: pushes the family's way
        worded = agrees[members] & (pushes > 0)
        strongest = np.where(worded, pushes, -np.inf) if worded.any() else pushes
        text = item(int(members[strongest.argmax()]), bool(worded.any()))["text"]
        families.append(
            {
                "family": family,
                "label": family_label(family),
                "contribution": total,
                "effect": _effect(total),
                "text": text,
                "features": [columns[m] for m in members],
            }
        )
    families.sort(key=lambda f: -abs(f["contribution"]))
    return {"contributions": features, "families": families[:top_k]}
