"""Paging the operator lists (serving/api/list_answers.py) over lists longer than one answer.

In process, on a made-up snapshot of 25,000 users with many ties, so that the longest list the
shared service has (3,000 users) is not the only case: every page is fetched by following
`next_offset`, and the pages put together must be the whole list in the order computed here
independently (Python's own sort on the documented keys), with no user twice and none missing.
The HTTP side (the same over `retain serve`, GET and POST) is in test_api_reads.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from serving.api.list_answers import ListRequestError, churn_page, plan_page, snapshot_id
from serving.api.list_requests import ActionPlanRequest, ChurnListRequest
from serving.api.ranked_lists import RankedLists

USERS = 25_000
ACTIONS = ("no_action", "habit_nudge", "retention_email", "vip_care")


@pytest.fixture(scope="module")
def state() -> SimpleNamespace:
    """What the list answers read of a ServingState: scores, catalogue ids, source identity.

    Probabilities on a 0.01 grid and five values at stake make many exact ties in value at
    risk, so the tie-breaking keys (and finally the user id) decide much of the order.
    """
    rng = np.random.default_rng(7)
    action = rng.choice(ACTIONS, USERS)
    cost = np.where(action == "no_action", 0.0, rng.choice([1.0, 2.0, 25.0], USERS))
    scores = pd.DataFrame(
        {
            "user_id": [f"u{i:06d}" for i in rng.permutation(USERS)],
            "churn_probability": rng.integers(0, 101, USERS) / 100,
            "value_at_stake": rng.choice([0.0, 10.0, 20.0, 50.0, 80.0], USERS),
            "predicted_value": rng.uniform(0, 100, USERS),
            "lifecycle_stage": rng.choice(["active", "at_risk", "dormant"], USERS),
            "value_tier": rng.choice(["high", "mid", "low"], USERS),
            "action": action,
            "expected_gain": np.where(action == "no_action", 0.0, rng.integers(1, 40, USERS)),
            "action_cost": cost,
            "decision_reason": np.where(action == "no_action", "no_gain", "best_gain"),
            "reasons": "few events in the last 30 days",
        }
    )
    snapshot = SimpleNamespace(scores=scores, as_of=None, decisions=None)
    return SimpleNamespace(
        snapshot=snapshot,
        catalogue=SimpleNamespace(ids=ACTIONS),
        source=("test", USERS),
        lists=RankedLists(),
    )


def _every_page(answer, request_type, state, **query) -> tuple[list[str], list[int], set[int]]:
    """Follow next_offset from 0 to the end: (user ids in page order, ranks, totals seen)."""
    ids: list[str] = []
    ranks: list[int] = []
    totals: set[int] = set()
    offset: int | None = 0
    first = None
    while offset is not None:
        page = answer(state, request_type(**query, offset=offset, snapshot_id=first))
        first = page["snapshot_id"]
        assert page["offset"] == offset and len(page["rows"]) <= page["limit"]
        ids += page["rows"]["user_id"].tolist()
        ranks += page["rows"]["rank"].tolist()
        totals.add(page["total"])
        offset = page["next_offset"]
    return ids, ranks, totals


def _by_hand(scores: pd.DataFrame, keys: tuple[str, ...]) -> list[str]:
    """The documented order: each key highest first, then the user id; Python's sort."""
    records = scores.assign(value_at_risk=scores["churn_probability"] * scores["value_at_stake"])
    rows = records.to_dict(orient="records")
    rows.sort(key=lambda row: (*(-row[key] for key in keys), row["user_id"]))
    return [row["user_id"] for row in rows]


@pytest.mark.parametrize("limit", [10_000, 999])
def test_a_25000_user_churn_list_comes_whole_in_pages(state, limit):
    ids, ranks, totals = _every_page(churn_page, ChurnListRequest, state, limit=limit)
    expected = _by_hand(
        state.snapshot.scores, ("value_at_risk", "churn_probability", "expected_gain")
    )
    assert totals == {USERS}
    assert len(ids) == len(set(ids)) == USERS  # no duplicates, nobody missing
    assert ids == expected
    assert ranks == list(range(1, USERS + 1))  # no gaps in the ranks either


def test_the_action_plan_comes_whole_in_pages_with_filters(state):
    query = {"stage": "at_risk,dormant", "min_risk": 0.2, "limit": 1_234}
    ids, ranks, totals = _every_page(plan_page, ActionPlanRequest, state, **query)
    scores = state.snapshot.scores
    kept = scores[
        (scores["action"] != "no_action")
        & scores["lifecycle_stage"].isin(["at_risk", "dormant"])
        & (scores["churn_probability"] >= 0.2)
    ]
    expected = _by_hand(kept, ("expected_gain", "value_at_risk", "churn_probability"))
    assert len(expected) > 5 * 1_234  # several pages
    assert totals == {len(expected)}
    assert ids == expected and ranks == list(range(1, len(expected) + 1))


def test_top_cuts_the_list_and_limit_pages_it(state):
    ids, _, totals = _every_page(churn_page, ChurnListRequest, state, top=2_500, limit=1_000)
    full = _by_hand(state.snapshot.scores, ("value_at_risk", "churn_probability", "expected_gain"))
    assert totals == {2_500} and ids == full[:2_500]
    whole = churn_page(state, ChurnListRequest(top=2_500))  # no limit: top, up to 10,000
    assert len(whole["rows"]) == 2_500 and whole["next_offset"] is None
    default = churn_page(state, ChurnListRequest())  # neither: the first 100 of every user
    assert len(default["rows"]) == 100 and default["next_offset"] == 100
    assert default["total"] == USERS
    beyond = churn_page(state, ChurnListRequest(offset=USERS + 5))
    assert beyond["rows"].empty and beyond["next_offset"] is None


def test_a_page_of_another_snapshot_is_refused(state):
    served = snapshot_id(state)
    assert churn_page(state, ChurnListRequest(snapshot_id=served))["snapshot_id"] == served
    moved = SimpleNamespace(**{**vars(state), "source": ("test", USERS + 1)})
    assert snapshot_id(moved) != served
    with pytest.raises(ListRequestError) as refused:
        plan_page(moved, ActionPlanRequest(offset=100, snapshot_id=served))
    assert refused.value.status == 409 and "offset 0" in str(refused.value)
