"""Batch scoring on Spark: the champion models as `mlflow.pyfunc.spark_udf`, then the same
segments, decisions and reasons as `serving.scoring.pipeline.score_features` (DESIGN.md §6).

How the work splits, and why:

1. **Probabilities on the executors.** The churn and recall champions are applied with
   `mlflow.pyfunc.spark_udf(..., env_manager="local")` over their feature set's columns, by version
   number (resolved once from `@champion` by `load_champions`, so the numbers and the recorded
   versions cannot disagree if the alias moves mid-run). "local" means the executors use the
   Python environment they run in; on a cluster that environment must have this project's
   lock file installed (the model's own `requirements.txt` pins the same versions).
2. **Row-wise steps on the executors** (`mapInPandas`, Arrow batches): the churn probability
   (churn model for active users, 1 − return probability for lapsed ones), the value heads
   (value if retained and if churned: the value estimator is shipped in the task closure, as
   the churn and recall estimators are for the reasons), value at stake, the lifecycle stage,
   the value tier (cut points stored with the value model: no global pass) and the reason codes.
3. **Decisions on the driver, on narrow columns, when they bind across users.** `decide`
   allocates capacities and a budget across every user (an LP over the whole population), and
   a contact history or a holdout also needs the whole table. So only `user_id`, the churn
   probability, the value at stake, the stage and the tier (about 50 bytes a user) are
   collected via Arrow, the driver runs the very same `plan_decisions` as the DuckDB path, and the
   decision columns go back to Spark, joined on `user_id`.
4. **Where nothing binds across users** (no `budget`, no action with a `capacity`, no
   contacts, no holdout), a user's decision depends only on the user, so decisions run per
   partition on the executors too (`decision="auto"` picks this; `"driver"` forces step 3).

The output has exactly SCORE_COLUMNS (plus `assignment` with a holdout), the columns and
values the DuckDB path writes for the same features and champions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from features import ACTIVE_FLAG
from serving.decisions import (
    ASSIGNMENT,
    DECISION_COLUMNS,
    DecisionSummary,
    assign_stages,
    decide_run,
    plan_decisions,
)
from serving.scoring.champions import Champions
from serving.scoring.pipeline import (
    SCORE_COLUMNS,
    ScoringConfig,
    churn_contributions,
    feature_matrix,
    value_tiers,
)
from serving.scoring.reason_inputs import reason_lines, spark_reason_reference

Decision = Literal["auto", "driver", "partitions"]
_DECISION_COLUMNS = DECISION_COLUMNS[1:]
# Users per scoring task: enough that a task's fixed start-up cost (Python workers, models
# unpickled) is small next to its users, few enough that large tables still use every core.
USERS_PER_TASK = 50_000
# The daemon to start a scoring session with (`features.engines.connect(..., python_daemon=)`):
# its workers are forked with scoring's imports done (serving/scoring/spark_daemon.py).
SCORING_DAEMON = "serving.scoring.spark_daemon"
_NARROW = ("user_id", "churn_probability", "value_at_stake", "lifecycle_stage", "value_tier")
_ROW_SCHEMA = (
    "user_id string, churn_probability double, return_probability double, "
    "predicted_value double, value_if_retained double, value_at_stake double, "
    "lifecycle_stage string, value_tier string, reasons string"
)
_DECIDED_SCHEMA = (
    f"{_ROW_SCHEMA}, action string, expected_gain double, action_cost double, "
    "decision_reason string"
)


@dataclass(frozen=True)
class SparkScored:
    """A Spark scoring run: the score table (lazy Spark DataFrame), its cutoff, where decided."""

    scores: Any  # pyspark.sql.DataFrame with SCORE_COLUMNS (+ assignment)
    as_of: datetime
    decided_on: Literal["driver", "partitions"]
    decisions: DecisionSummary | None = None  # the driver's run; None when decided per partition

    def to_pandas(self) -> pd.DataFrame:
        """The whole table on the driver, sorted by user (tests, small batches, file output)."""
        frame = self.scores.toPandas().sort_values("user_id", kind="stable")
        frame["as_of"] = pd.to_datetime(frame["as_of"])
        return frame.reset_index(drop=True)


def champion_udfs(session: Any, champions: Champions) -> tuple[Any, Any | None]:
    """Spark UDFs (double results) of the exact churn and recall versions `champions` holds
    (None for recall when there is no recall champion)."""
    import mlflow.pyfunc

    from training import model_uri

    def udf(kind: Literal["churn", "recall"], version: str) -> Any:
        return mlflow.pyfunc.spark_udf(
            session, model_uri(kind, version=version), result_type="double", env_manager="local"
        )

    recall = champions.recall_info
    return udf("churn", champions.churn_info.version), (
        udf("recall", recall.version) if recall is not None else None
    )


def _single_cutoff(features: Any) -> datetime:
    """The one `as_of` of the table (read as UTC text: Python's local zone plays no part)."""
    from pyspark.sql import functions as sf

    rows = (
        features.select(sf.date_format("as_of", "yyyy-MM-dd HH:mm:ss.SSSSSS").alias("t"))
        .distinct()
        .limit(2)
        .collect()
    )
    if not rows:
        raise ValueError("the feature table is empty; nothing to score")
    if len(rows) > 1:
        raise ValueError("feature table mixes several cutoffs; score one cutoff at a time")
    return datetime.fromisoformat(rows[0]["t"])


def _row_wise(
    champions: Champions,
    config: ScoringConfig,
    reference: pd.DataFrame,
    decide_here: bool,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The per-batch function of `mapInPandas`: everything per user (and decisions, if local).

    `reference` (typical feature values, `spark_reason_reference`) is computed over the whole
    table first, so reasons do not depend on how users fall into batches.
    """
    segmentation = config.segmentation.for_windows(champions.windows())
    tiers = value_tiers(champions, segmentation)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            batch = batch.reset_index(drop=True)
            matrix = feature_matrix(batch, champions.feature_set)
            active = batch[ACTIVE_FLAG].to_numpy(dtype=float) == 1
            returning = np.where(active, np.nan, batch["_recall"].to_numpy(dtype=float))
            churn = np.where(active, batch["_churn"].to_numpy(dtype=float), 1.0 - returning)
            retained = np.asarray(champions.value.value_if_retained(matrix), dtype=float)
            churned = np.asarray(champions.value.value_if_churned(matrix), dtype=float)
            contributions = churn_contributions(champions, matrix, active, config)
            top_k = config.reasons_top_k
            reasons = reason_lines(matrix, contributions, active, champions, top_k, reference)
            out = pd.DataFrame(
                {
                    "user_id": batch["user_id"].astype("str"),
                    "churn_probability": churn,
                    "return_probability": returning,
                    "predicted_value": churn * churned + (1.0 - churn) * retained,
                    "value_if_retained": retained,
                    "value_at_stake": np.clip(retained - churned, 0.0, None),
                    "lifecycle_stage": assign_stages(batch, churn, segmentation.stages),
                    "value_tier": tiers.transform(retained),
                    "reasons": reasons,
                }
            )
            if decide_here:
                decisions = decide_run(out, config.catalogue).frame
                for column in _DECISION_COLUMNS:
                    out[column] = decisions[column].to_numpy()
            yield out

    return run


def _global_limits(config: ScoringConfig) -> bool:
    """Whether a decision depends on other users: a budget, a capacity, contacts, a holdout."""
    capacity = any(action.capacity is not None for action in config.catalogue.actions)
    return (
        config.budget is not None
        or capacity
        or config.holdout is not None
        or config.contacts is not None
    )


def score_spark(
    features: Any,
    champions: Champions,
    config: ScoringConfig | None = None,
    *,
    decision: Decision = "auto",
) -> SparkScored:
    """Score a Spark feature table (one row per user, one cutoff) as `score_features` would."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as sf

    config = config or ScoringConfig()
    chosen = champions.feature_set
    present = set(features.columns)
    missing = [c for c in ("user_id", "as_of", ACTIVE_FLAG, *chosen.columns) if c not in present]
    if missing:
        raise ValueError(
            f"feature table lacks {chosen.id} columns (the champions' set): {', '.join(missing)}"
        )
    if decision not in ("auto", "driver", "partitions"):
        raise ValueError(f"decision must be auto, driver or partitions, not {decision!r}")
    if decision == "partitions" and _global_limits(config):
        raise ValueError(
            "a budget, a capacity, a contact history or a holdout binds across users: decide "
            "on the driver"
        )
    on_driver = decision == "driver" or (decision == "auto" and _global_limits(config))
    session = features.sparkSession
    inputs = [sf.col(c).cast("double").alias(c) for c in chosen.columns]
    base = features.select(
        sf.col("user_id").cast("string").alias("user_id"),
        "as_of",
        sf.col(ACTIVE_FLAG).cast("double").alias(ACTIVE_FLAG),
        *inputs,
    )
    # Kept: the cutoff check and the predictions both read it (features built from events
    # would otherwise be computed twice).
    base = _fewer_tasks_when_small(base.persist(StorageLevel.MEMORY_AND_DISK))
    as_of = _single_cutoff(base)
    base = base.drop("as_of")
    churn_udf, recall_udf = champion_udfs(session, champions)
    model_input = sf.struct(*(sf.col(c) for c in chosen.columns))
    predicted = base.withColumn("_churn", churn_udf(model_input))
    # No recall champion: the churn model's probability for lapsed users too (Champions.notes).
    returning = recall_udf(model_input) if recall_udf is not None else 1.0 - sf.col("_churn")
    predicted = predicted.withColumn("_recall", returning)
    schema = _ROW_SCHEMA if on_driver else _DECIDED_SCHEMA
    reference = spark_reason_reference(base, chosen.columns)
    table = predicted.mapInPandas(_row_wise(champions, config, reference, not on_driver), schema)
    summary = None
    if on_driver:
        # Kept: the narrow columns are collected, then the rows are joined and written.
        table = table.persist(StorageLevel.MEMORY_AND_DISK)
        users = table.select(*_NARROW).toPandas()
        blocks = None
        if config.contacts is not None:
            blocks = config.contacts.blocks(
                pd.Index(users["user_id"].astype(str)), config.catalogue, pd.Timestamp(as_of)
            )
        decided, summary = plan_decisions(
            users,
            config.catalogue,
            budget=config.budget,
            blocks=blocks,
            holdout=config.holdout,
            as_of=pd.Timestamp(as_of),
        )
        kept = ["user_id", *_DECISION_COLUMNS, *([ASSIGNMENT] * (ASSIGNMENT in decided))]
        table = table.join(session.createDataFrame(_plain_strings(decided[kept])), "user_id")

    extra = [ASSIGNMENT] if ASSIGNMENT in table.columns else []
    scores = table.select(
        *(
            _constant_or_column(name, as_of, champions)
            for name in SCORE_COLUMNS
        ),
        *extra,
    )  # fmt: skip
    return SparkScored(
        scores=scores,
        as_of=as_of,
        decided_on="driver" if on_driver else "partitions",
        decisions=summary,
    )


def _fewer_tasks_when_small(base: Any) -> Any:
    """`base` in at most one partition per USERS_PER_TASK users (never more than it has).

    Why: every task of the scoring stage pays a fixed price before its first user: Python
    workers for the two model UDFs and the row-wise step, the champions unpickled from the task
    closure, the models loaded by `spark_udf`. Measured on 1,500 users in 8 shuffle partitions,
    warm tasks took 6-9 s each for ~190 users. A feature table's partitions come from the
    shuffle that built it (`spark.sql.shuffle.partitions`), sized for the events, not for
    scoring; `coalesce` merges them without a shuffle.
    """
    import math

    partitions = base.rdd.getNumPartitions()
    wanted = max(1, math.ceil(base.count() / USERS_PER_TASK))
    return base.coalesce(wanted) if wanted < partitions else base


def _plain_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed string columns as objects, which `createDataFrame` infers as strings."""
    return frame.astype({c: object for c in frame.columns if frame[c].dtype == "str"})


def _constant_or_column(name: str, as_of: datetime, champions: Champions) -> Any:
    from pyspark.sql import functions as sf

    constants = {
        "as_of": sf.lit(as_of).cast("timestamp_ntz"),
        "churn_model_version": sf.lit(champions.churn_info.version),
        "recall_model_version": sf.lit(champions.versions["recall"]).cast("string"),
        "value_model_version": sf.lit(champions.value_info.version),
        "feature_set_id": sf.lit(champions.feature_set.id),
    }
    return constants[name].alias(name) if name in constants else sf.col(name)


def write_scores(scored: SparkScored, out: str | Path) -> int:
    """Write the scores: a folder gets Parquet part files from Spark; a .parquet/.csv file is
    collected to the driver and written atomically as the DuckDB path does. Returns the rows.
    """
    from features import write_frame

    target = Path(out)
    if target.suffix:
        frame = scored.to_pandas()
        write_frame(frame, target)
        return len(frame)
    scored.scores.write.mode("overwrite").parquet(str(target))
    return int(scored.scores.sparkSession.read.parquet(str(target)).count())


def score_summary(scored: SparkScored) -> pd.DataFrame:
    """`retain.commands.tables.stage_totals`, aggregated on Spark (one row per stage)."""
    from pyspark.sql import functions as sf

    frame = scored.scores
    grouped = frame.groupBy("lifecycle_stage").agg(
        sf.count(sf.lit(1)).alias("users"),
        sf.sum(sf.col("churn_probability") * sf.col("value_at_stake")).alias("value_at_risk"),
        sf.sum((sf.col("action") != "no_action").cast("long")).alias("actions"),
        sf.sum("action_cost").alias("cost"),
        sf.sum("expected_gain").alias("gain"),
    )
    return grouped.toPandas().sort_values("lifecycle_stage").reset_index(drop=True)
