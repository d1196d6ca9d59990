"""Streamed scoring (serving/scoring/streaming.py) against the whole-population pipeline.

Known answers: the whole-population run (`score_events`, a different code path that holds every
user at once) for scores, stages, tiers, reasons and — when no limit binds — actions; and, when
the budget and capacities bind, the LP relaxation solved by HiGHS on every user's gains
(`lp_bound`), an upper bound no allocation can beat, checked here independently of both runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURE_SET
from serving.decisions.actions import load_catalogue
from serving.decisions.allocation import lp_bound
from serving.decisions.holdout import HoldoutConfig
from serving.decisions.policy import DECISIONS_ATTR, expected_gains
from serving.decisions.segments import STAGES, TIERS
from serving.scoring.pipeline import ScoringConfig, latest_cutoff, score_events
from serving.scoring.score_files import read_scores
from serving.scoring.stream_run import score_streamed
from serving.scoring.streaming import (
    StreamPlan,
    batch_events,
    cap_engine_memory,
    choose_plan,
    count_users,
    plan_batches,
)

pytestmark = pytest.mark.slow  # the session fixture trains the champions once

BATCH_USERS = 800
CHUNK_USERS = 300  # pass 3 goes in chunks smaller than a batch: each batch is cut in three
# Both runs compute contributions with the same function (pipeline._contributions); path
# attribution keeps this file fast. What is under test is that a user's reasons do not depend
# on their batch (the reference is the whole population's), whatever the attribution.
REASONS = "path"


def _unlimited():
    """The default playbook without capacities: with no budget either, nothing binds."""
    catalogue = load_catalogue()
    actions = [a.model_copy(update={"capacity": None}) for a in catalogue.actions]
    return catalogue.model_copy(update={"actions": actions})


def _streamed(loaded_events, champions, out, config, batch_users=BATCH_USERS, **options):
    cutoff = latest_cutoff(loaded_events)
    plan = plan_batches(count_users(loaded_events, cutoff), batch_users)
    batches = []
    run = score_streamed(
        loaded_events, champions, out, plan, config=config, each_batch=batches.append, **options
    )
    return run, read_scores(out), batches


@pytest.fixture(scope="module")
def unlimited_runs(loaded_events, champions, tmp_path_factory):
    config = ScoringConfig(catalogue=_unlimited(), attribution=REASONS)
    whole = score_events(loaded_events, champions, config=config).scores
    out = tmp_path_factory.mktemp("streamed") / "scores.parquet"
    return whole, *_streamed(loaded_events, champions, out, config, chunk_users=CHUNK_USERS)


def test_batches_partition_the_users(loaded_events):
    """Every user falls in exactly one bucket: the buckets' users are disjoint and complete."""
    table = loaded_events.table
    everyone = set(table.user_id.to_pandas())
    seen: list[str] = []
    for batch in range(4):
        seen += list(set(batch_events(loaded_events, 4, batch).table.user_id.to_pandas()))
    assert len(seen) == len(set(seen)) and set(seen) == everyone


def test_streamed_run_equals_the_whole_population_run(unlimited_runs):
    whole, run, streamed, batches = unlimited_runs
    assert run.plan.batches >= 3 and run.largest_batch <= BATCH_USERS
    # Pass 3 wrote each batch in chunks: more parts than batches, none over the chunk size.
    assert len(batches) > run.plan.batches and max(len(b) for b in batches) == CHUNK_USERS
    assert sum(len(b) for b in batches) == len(whole)
    whole = whole.set_index("user_id").sort_index()
    streamed = streamed.set_index("user_id").sort_index()
    assert streamed.index.equals(whole.index)  # the same users, each once
    for column in ("churn_probability", "return_probability", "predicted_value", "value_at_stake"):
        np.testing.assert_allclose(streamed[column], whole[column], rtol=1e-12, atol=1e-12)
    for column in ("lifecycle_stage", "value_tier", "action", "decision_reason", "reasons"):
        pd.testing.assert_series_equal(streamed[column], whole[column], check_dtype=False)
    np.testing.assert_allclose(streamed["expected_gain"], whole["expected_gain"], atol=1e-9)
    assert whole["action"].nunique() > 2 and (whole["reasons"].str.len() > 0).all()
    summary = streamed.attrs[DECISIONS_ATTR]
    assert summary["method"] == "unconstrained"
    assert summary["users"] == len(whole)
    assert summary["achieved_gain"] == pytest.approx(whole["expected_gain"].sum())
    assert summary["upper_bound"] == pytest.approx(summary["achieved_gain"])


def _gains(scores: pd.DataFrame, catalogue):
    """Every user's eligible gains, recomputed from the score columns (the LP's input)."""
    eligible, gain = expected_gains(
        catalogue,
        scores["churn_probability"].to_numpy(float),
        scores["value_at_stake"].to_numpy(float),
        pd.Index(STAGES).get_indexer(scores["lifecycle_stage"]),
        pd.Index(TIERS).get_indexer(scores["value_tier"]),
    )
    return eligible & (gain > 0), gain


def test_binding_budget_and_capacities_hold_with_99_percent_of_the_lp_bound(
    loaded_events, champions, tmp_path
):
    catalogue = _unlimited()
    config = ScoringConfig(catalogue=catalogue, attribution=REASONS)
    free = score_events(loaded_events, champions, config=config)
    spent = free.scores["action_cost"].sum()
    # Capacities below what the unconstrained plan uses, and a third of its spend.
    used = free.scores["action"].value_counts()
    actions = [
        a.model_copy(update={"capacity": int(used[a.id] // 2)}) if used.get(a.id, 0) > 20 else a
        for a in catalogue.actions
    ]
    catalogue = catalogue.model_copy(update={"actions": actions})
    budget = round(spent / 3, 2)
    config = ScoringConfig(catalogue=catalogue, budget=budget, attribution=REASONS)
    run, streamed, _ = _streamed(loaded_events, champions, tmp_path / "s.csv", config)
    whole = score_events(loaded_events, champions, config=config).scores

    candidate, gain = _gains(streamed, catalogue)
    cost = np.array([a.cost for a in catalogue.actions])
    capacity = np.array([np.inf if a.capacity is None else a.capacity for a in catalogue.actions])
    bound = lp_bound(np.where(candidate, gain, 0.0), candidate, cost, capacity, budget)
    for scores in (streamed, whole):
        assert scores["action_cost"].sum() <= budget + 1e-9
        counts = scores["action"].value_counts()
        for action in catalogue.actions:
            if action.capacity is not None:
                assert counts.get(action.id, 0) <= action.capacity
        assert scores["expected_gain"].sum() <= bound + 1e-6
    achieved = streamed["expected_gain"].sum()
    assert run.decisions.method == "streamed_prices"
    assert achieved >= 0.99 * bound, (achieved, bound)
    assert run.decisions.achieved_gain == pytest.approx(achieved)
    assert bound - 1e-6 <= run.decisions.upper_bound
    assert run.decisions.cost <= budget + 1e-9
    assert run.decisions.cost > 0.9 * budget  # the budget binds: it is nearly all spent


def test_holdouts_and_population_fitted_feature_sets_are_refused(
    loaded_events, champions, tmp_path
):
    plan = StreamPlan(users=10, batches=2)
    config = ScoringConfig(holdout=HoldoutConfig(share=0.1))
    with pytest.raises(ValueError, match="holdout draws exactly"):
        score_streamed(loaded_events, champions, tmp_path / "x.parquet", plan, config=config)
    assert champions.feature_set.id == FEATURE_SET.id


def test_the_plan_streams_above_the_threshold_and_sizes_batches_by_memory():
    assert choose_plan(999_999) is None  # small runs are scored at once
    # 4 GB: (4 - 0.8 GB base) / 1.8 GB per million = 1,777,777 users a batch at most, planned
    # 4·√1,777,777 smaller: 1,772,444; 10M users need 6 buckets of 1,666,667
    plan = choose_plan(10_000_000)
    assert plan is not None and plan.users == 10_000_000
    assert plan.batches == 6 and plan.batch_users <= 1_777_777
    assert choose_plan(500, batch_users=100).batches == 9  # buckets of 100 - 4·√100 = 60 users
    # 2 GB: 1.2 / 1.8 → 666,666 users a batch, planned 663,400; 5M users need 8 buckets
    assert choose_plan(5_000_000, memory_gb=2.0).batches == 8
    assert choose_plan(100_000, memory_gb=2.0) is None  # one batch: scored at once
    with pytest.raises(ValueError, match="not both"):
        choose_plan(10, batch_users=5, memory_gb=4)


def test_duckdb_is_held_to_half_the_memory_target_of_a_sized_plan(loaded_events):
    backend = loaded_events.backend

    def limit() -> str:
        return backend.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]

    before = limit()
    cap_engine_memory(loaded_events, plan_batches(1_000, 100))  # sized by users: untouched
    assert limit() == before
    cap_engine_memory(loaded_events, choose_plan(5_000_000, memory_gb=2.0))
    try:
        assert limit() in ("1000.0 MB", "1.0 GB", "953.6 MiB")  # 2 GB / 2, as DuckDB prints it
    finally:
        backend.raw_sql(f"SET memory_limit = '{before}'")


def test_retain_score_streams_on_request_and_records_the_run(
    serving_store, loaded_events, champions, tmp_path
):
    """`retain score --batch-users`: the file has every user once with the whole run's scores,
    its decision summary in the Parquet metadata, the default capacities held, and the run is
    recorded in MLflow."""
    import mlflow
    from typer.testing import CliRunner

    from retain.cli import app

    out = tmp_path / "streamed.parquet"
    args = ["score", "--events", str(serving_store.events), "--out", str(out)]
    args += ["--tracking-uri", serving_store.tracking_uri, "--reasons", REASONS]
    result = CliRunner().invoke(app, [*args, "--batch-users", str(BATCH_USERS)])
    assert result.exit_code == 0, result.output
    assert "streamed in" in result.output and "batches" in result.output
    written = read_scores(out)
    whole = score_events(loaded_events, champions, config=ScoringConfig(attribution=REASONS))
    whole = whole.scores.set_index("user_id").sort_index()
    written = written.set_index("user_id").sort_index()
    assert written.index.equals(whole.index)
    np.testing.assert_allclose(written["churn_probability"], whole["churn_probability"])
    summary = pd.read_parquet(out).attrs[DECISIONS_ATTR]
    assert summary["users"] == len(whole)
    assert summary["achieved_gain"] == pytest.approx(written["expected_gain"].sum())
    counts = written["action"].value_counts()
    for action in load_catalogue().actions:
        if action.capacity is not None:
            assert counts.get(action.id, 0) <= action.capacity
    client = mlflow.MlflowClient(tracking_uri=serving_store.tracking_uri)
    experiment = client.get_experiment_by_name("retain-scoring")
    runs = client.search_runs([experiment.experiment_id], f"params.output = '{out}'")
    assert len(runs) == 1
    assert runs[0].data.metrics["achieved_gain"] == pytest.approx(summary["achieved_gain"])


def test_churn_list_from_events_streamed_is_the_whole_runs_list(
    serving_store, loaded_events, champions, tmp_path
):
    """Each batch keeps its own top rows; the list of their union is the whole run's list."""
    from typer.testing import CliRunner

    from retain.cli import app
    from serving.decisions.churn_list import ChurnListQuery, churn_list

    out = tmp_path / "list.csv"
    args = ["churn-list", "--events", str(serving_store.events), "--top", "40"]
    args += ["--tracking-uri", serving_store.tracking_uri, "--reasons", REASONS, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--batch-users", str(BATCH_USERS)])
    assert result.exit_code == 0, result.output
    streamed = pd.read_csv(out, dtype={"user_id": "str"})
    whole = score_events(loaded_events, champions, config=ScoringConfig(attribution=REASONS))
    expected = churn_list(whole.scores, ChurnListQuery(top=40))
    assert streamed["user_id"].tolist() == expected["user_id"].tolist()
    np.testing.assert_allclose(streamed["value_at_risk"], expected["value_at_risk"])


def test_streaming_flags_are_refused_with_a_score_file(serving_store, tmp_path):
    from typer.testing import CliRunner

    from retain.cli import app

    scores = tmp_path / "none.parquet"
    args = ["churn-list", "--scores", str(scores), "--batch-users", "10"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--batch-users" in result.output
