"""Reason codes on the 3,000-user simulated population with trained champions: at most one
reason per signal family, every listed reason worded the way its contribution pushes, and
`/explain` labelled by sign, in process and over HTTP.

Why an independent table here: the expected directions and families below are written out again
(not read from serving/decisions/reason_families.py), so a wrong entry in the code's table shows
up as a disagreement instead of being checked against itself. The reference is recomputed with
pandas (`groupby(...).median()`), not with the code's `typical_values`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features import ACTIVE_FLAG
from serving.decisions.reason_wording import describe
from serving.decisions.reasons import MIXED_SIGNALS_TEXT
from serving.scoring.pipeline import ScoringConfig, churn_contributions, feature_matrix
from serving.scoring.snapshot import Snapshot, split_reasons

# More of these should lower churn risk ...
SAFER_WITH_MORE = {
    "events_7d": "recency",
    "events_30d": "recency",
    "active_days_30d": "recency",
    "events_per_active_day_30d": "recency",
    "events_90d": "engagement",
    "active_days_90d": "engagement",
    "distinct_event_types_90d": "engagement",
    "events_prev_30d": "engagement",
    "activity_change_30d": "trend",
    "days_since_first_event": "history",
    "events_total": "history",
    "purchases_90d": "purchases",
    "purchases_total": "purchases",
    "purchase_rate_90d": "purchases",
    "revenue_30d": "spend",
    "revenue_prev_30d": "spend",
    "revenue_90d": "spend",
    "revenue_total": "spend",
    "revenue_change_30d": "spend",
    "avg_purchase_value": "spend",
}
# ... more of these should raise it ...
RISKIER_WITH_MORE = {
    "days_since_last_event": "recency",
    "mean_gap_days": "history",
    "days_since_last_purchase": "purchases",
    "refunds_90d": "refunds",
    "refund_amount_total": "refunds",
}
# ... and these have no expected direction, so they are never a listed reason.
NO_DIRECTION = {
    "reactivated_30d": "trend",
    "weekend_share_90d": "timing",
    "night_share_90d": "timing",
}
FAMILY = {**SAFER_WITH_MORE, **RISKIER_WITH_MORE, **NO_DIRECTION}
# Missing values that mean "none at all" (no purchase, no activity): on the risky side.
MISSING_IS_RISKY = {
    "days_since_last_event",
    "days_since_last_purchase",
    "mean_gap_days",
    "avg_purchase_value",
    "purchase_rate_90d",
    "events_per_active_day_30d",
}
RAISING_QUALIFIER = re.compile(r"\b(only|no|not|never|nothing|down|less than)\b")
RAISING_WORDS = re.compile(r"\b(only|no|not|never|nothing)\b")


@pytest.fixture(scope="module")
def population(scored, champions):
    """Per user: feature values, churn-side contributions, and the typical values they are read
    against (median of their model's population, computed here with pandas)."""
    matrix = feature_matrix(scored.features)
    active = scored.features[ACTIVE_FLAG].to_numpy(dtype=float) == 1
    contributions = churn_contributions(champions, matrix, active, ScoringConfig())
    population = np.where(active, "active", "lapsed")
    if champions.recall is None:  # the churn model explains everyone: read against its users
        population = np.full(len(active), "active")
    medians = matrix.groupby(np.where(active, "active", "lapsed")).median()
    reference = medians.loc[population].reset_index(drop=True)
    family_sums = contributions.drop(columns="bias").T.groupby(FAMILY).sum().T
    return matrix, contributions, reference, family_sums


def _source(text: str, values: pd.Series) -> list[str]:
    """The features whose risk-raising words for this user's value are exactly `text`."""
    return [f for f in FAMILY if describe(f, values[f], "raises") == text]


def test_one_reason_per_family_each_worded_the_way_it_pushes(scored, population):
    matrix, contributions, reference, family_sums = population
    reasons = scored.scores["reasons"].map(split_reasons)
    with_reasons = 0
    for row, texts in enumerate(reasons):
        values, typical = matrix.iloc[row], reference.iloc[row]
        total = contributions.drop(columns="bias").iloc[row].sum()
        if len(texts) == 1 and texts[0].startswith("no more at risk than a typical"):
            assert total <= 0, (row, texts, total)
            continue
        if texts == [MIXED_SIGNALS_TEXT]:
            assert total > 0, (row, total)
            continue
        with_reasons += 1
        assert len(texts) <= 3
        families = []
        for text in texts:
            sources = _source(text, values)
            assert sources, f"user {row}: {text!r} is no feature's wording of their values"
            family = {FAMILY[f] for f in sources}
            assert len(family) == 1, (row, text, sources)
            families.append(family.pop())
            assert family_sums.iloc[row][families[-1]] > 0, (row, text)
            assert any(_agrees(f, values[f], typical[f], text) for f in sources), (row, text)
            assert any(contributions.iloc[row][f] > 0 for f in sources), (row, text)
        assert len(set(families)) == len(families), f"user {row}: two reasons of one family"
        sums = family_sums.iloc[row][families].to_numpy()
        assert (np.diff(sums) <= 1e-12).all(), f"user {row}: families not ranked by their sum"
    assert with_reasons > len(reasons) / 2  # the checks above ran on most of the population


def _agrees(feature: str, value: float, typical: float, text: str) -> bool:
    """Whether a risk-raising reason from `feature` agrees with where the value stands."""
    if feature in SAFER_WITH_MORE:
        stands = value <= typical if not np.isnan(value) else feature in MISSING_IS_RISKY
        return stands and bool(RAISING_QUALIFIER.search(text))
    if feature in RISKIER_WITH_MORE:
        if np.isnan(value):
            return feature in MISSING_IS_RISKY
        return value >= typical and value > 0
    return False  # no expected direction: never a reason


def test_explanations_label_both_directions_by_sign(scored, champions, population):
    matrix, contributions, reference, family_sums = population
    snapshot = Snapshot.from_scored(scored, "test")
    lapsed = np.flatnonzero(scored.features[ACTIVE_FLAG].to_numpy(dtype=float) != 1)
    rows = [*range(0, len(scored), 37), *lapsed[:20].tolist()]
    effects = set()
    for row in rows:
        user_id = scored.scores["user_id"].iloc[row]
        body = snapshot.explain(user_id, champions, top_k=8)
        assert body["reasons"] == split_reasons(scored.scores["reasons"].iloc[row])
        for item in body["contributions"]:
            expected = contributions.iloc[row][item["feature"]]
            assert item["contribution"] == pytest.approx(expected, abs=1e-12)
            assert item["effect"] == ("raises risk" if expected > 0 else "lowers risk")
            assert item["family"] == FAMILY[item["feature"]]
            _check_words(item["effect"], item["text"])
            if RAISING_WORDS.search(item["text"]):  # worded as a risk: it must be one
                feature = item["feature"]
                typical = reference.iloc[row][feature]
                assert _agrees(feature, matrix.iloc[row][feature], typical, item["text"]), item
            effects.add(item["effect"])
        for family in body["families"]:
            expected = family_sums.iloc[row][family["family"]]
            assert family["contribution"] == pytest.approx(expected, abs=1e-9)
            assert family["effect"] == ("raises risk" if expected > 0 else "lowers risk")
            assert sorted(family["features"]) == sorted(
                f for f, name in FAMILY.items() if name == family["family"]
            )
            _check_words(family["effect"], family["text"])
        listed = [f["family"] for f in body["families"]]
        assert len(set(listed)) == len(listed)
        sizes = [abs(f["contribution"]) for f in body["families"]]
        assert sizes == sorted(sizes, reverse=True)
    assert effects == {"raises risk", "lowers risk"}


def _check_words(effect: str, text: str) -> None:
    """Protective items never read as risks ("only", "no", ...)."""
    if effect == "lowers risk":
        assert not RAISING_WORDS.search(text), f"protective item worded as a risk: {text!r}"


def test_explain_over_http_groups_by_family(service, scored, champions):
    active = np.flatnonzero(scored.features[ACTIVE_FLAG].to_numpy(dtype=float) == 1)
    row = int(active[len(active) // 2])
    user_id = scored.scores["user_id"].iloc[row]
    response = service.post("/explain", json={"user_id": user_id, "top_k": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    one = champions.churn.contributions(feature_matrix(scored.features.iloc[[row]])).iloc[0]
    sums = one.drop("bias").groupby(FAMILY).sum()
    assert body["families"], body
    for family in body["families"]:
        assert family["contribution"] == pytest.approx(sums[family["family"]], abs=1e-9)
        assert family["effect"] == ("raises risk" if family["contribution"] > 0 else "lowers risk")
        assert family["text"] and family["label"]
    for item in body["contributions"]:
        assert item["effect"] == ("raises risk" if item["contribution"] > 0 else "lowers risk")
        assert item["family"] == FAMILY[item["feature"]]
