"""Batch scoring on Spark: the champion models as `mlflow.pyfunc.spark_udf`, then the same
segments, decisions and reasons as `serving.scoring.score_features` (DESIGN.md §6).

How the work splits, and why:

1. **Predictions on the executors.** Both champions are applied with
   `mlflow.pyfunc.spark_udf(..., env_manager="local")` over the FEATURE_SET columns, by version
   number (resolved once from `@champion` by `load_champions`, so the numbers and the recorded
   versions cannot disagree if the alias moves mid-run). "local" means the executors use the
   Python environment they run in; on a cluster that environment must have this project's
   lock file installed (the model's own `requirements.txt` pins the same versions).
2. **Row-wise steps on the executors** (`mapInPandas`, Arrow batches): the lifecycle stage
   depends only on the row and its churn probability; the reason codes only on the row's
   TreeSHAP (or path) attributions. The churn estimator is shipped to the executors inside the
   task closure (one pickled LightGBM booster, a few MB).
3. **Whole-batch steps on the driver, on narrow columns.** Value tiers are quantile cut points
   of the whole batch, and `decide` allocates capacities and a budget across every user in
   gain order: a global sort, not a per-partition computation. So only `user_id`, the two
   predictions and the stage (about 40 bytes a user: 4 GB for 100M users) are collected via
   Arrow, the driver runs the very same `ValueTiers` and `decide` as the DuckDB path, and the
   five decision columns go back to Spark and are joined on `user_id`. The driver needs
   memory for the narrow columns plus `decide`'s users x actions matrices (8 bytes each).
4. **Where no global limit binds** (no `budget`, no action with a `capacity`, no holdout),
   a user's decision depends only on the user and the tier cut points. Then only the
   `predicted_value` column is collected (8 bytes a user) to fit the cut points exactly as
   `ValueTiers.fit` does, and tiers and decisions run per partition on the executors too
   (`decision="auto"` picks this; `"driver"` forces step 3).

The output has exactly SCORE_COLUMNS (plus `assignment` with a holdout), the columns and
values the DuckDB path writes for the same features and champions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from features.definitions import FEATURE_SET
from serving.champions import Champions
from serving.holdout import ASSIGNMENT, with_holdout
from serving.policy import decide
from serving.reasons import reason_codes
from serving.scoring import (
    REASON_SEPARATOR,
    SCORE_COLUMNS,
    ScoringConfig,
    _contributions,
    feature_matrix,
)
from serving.segments import ValueTiers, assign_stages

Decision = Literal["auto", "driver", "partitions"]
_DECISION_COLUMNS = ("value_tier", "action", "expected_gain", "action_cost", "decision_reason")
_ROW_SCHEMA = (
    "user_id string, churn_probability double, predicted_value double, "
    "lifecycle_stage string, reasons string"
)
_DECIDED_SCHEMA = (
    f"{_ROW_SCHEMA}, value_tier string, action string, expected_gain double, "
    "action_cost double, decision_reason string"
)


@dataclass(frozen=True)
class SparkScored:
    """A Spark scoring run: the score table (lazy Spark DataFrame), its cutoff, where decided."""

    scores: Any  # pyspark.sql.DataFrame with SCORE_COLUMNS (+ assignment)
    as_of: datetime
    decided_on: Literal["driver", "partitions"]

    def to_pandas(self) -> pd.DataFrame:
        """The whole table on the driver, sorted by user (tests, small batches, file output)."""
        frame = self.scores.toPandas().sort_values("user_id", kind="stable")
        frame["as_of"] = pd.to_datetime(frame["as_of"])
        return frame.reset_index(drop=True)


def champion_udfs(session: Any, champions: Champions) -> tuple[Any, Any]:
    """Spark UDFs (double results) of the exact champion versions `champions` holds."""
    import mlflow.pyfunc

    from training.registry import model_uri

    def udf(kind: Literal["churn", "value"], version: str) -> Any:
        return mlflow.pyfunc.spark_udf(
            session, model_uri(kind, version=version), result_type="double", env_manager="local"
        )

    return udf("churn", champions.churn_info.version), udf("value", champions.value_info.version)


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
    tiers: ValueTiers | None,
    as_of: datetime,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The per-batch function of `mapInPandas`: stages and reasons (and decisions, with tiers)."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            batch = batch.reset_index(drop=True)
            matrix = feature_matrix(batch)
            probability = batch["churn_probability"].to_numpy(dtype=float)
            contributions = _contributions(champions, matrix, config)
            reasons = reason_codes(matrix, contributions, config.reasons_top_k)
            out = pd.DataFrame(
                {
                    "user_id": batch["user_id"].astype("str"),
                    "churn_probability": probability,
                    "predicted_value": batch["predicted_value"].to_numpy(dtype=float),
                    "lifecycle_stage": assign_stages(batch, probability, config.segments),
                    "reasons": [REASON_SEPARATOR.join(r) for r in reasons],
                }
            )
            if tiers is not None:
                out["value_tier"] = tiers.transform(out["predicted_value"].to_numpy())
                decisions = decide(out, config.catalogue, as_of=as_of)
                for column in _DECISION_COLUMNS[1:]:
                    out[column] = decisions[column].to_numpy()
            yield out

    return run


def _global_limits(config: ScoringConfig) -> bool:
    """Whether a decision depends on other users: a budget, a capacity or a holdout."""
    capacity = any(action.capacity is not None for action in config.catalogue.actions)
    return config.budget is not None or capacity or config.holdout is not None


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
    missing = [c for c in ("user_id", "as_of", *FEATURE_SET.columns) if c not in features.columns]
    if missing:
        raise ValueError(
            f"feature table lacks {FEATURE_SET.id} columns: {', '.join(missing)} "
            "(was it built by another version of `retain features`?)"
        )
    if decision not in ("auto", "driver", "partitions"):
        raise ValueError(f"decision must be auto, driver or partitions, not {decision!r}")
    if decision == "partitions" and _global_limits(config):
        raise ValueError("a budget, a capacity or a holdout binds across users: decide on driver")
    on_driver = decision == "driver" or (decision == "auto" and _global_limits(config))
    session = features.sparkSession
    inputs = [sf.col(c).cast("double").alias(c) for c in FEATURE_SET.columns]
    base = features.select(sf.col("user_id").cast("string").alias("user_id"), "as_of", *inputs)
    # Kept: the cutoff check and the predictions both read it (features built from events
    # would otherwise be computed twice).
    base = base.persist(StorageLevel.MEMORY_AND_DISK)
    as_of = _single_cutoff(base)
    base = base.drop("as_of")
    churn_udf, value_udf = champion_udfs(session, champions)
    model_input = sf.struct(*(sf.col(c) for c in FEATURE_SET.columns))
    predicted = base.withColumn("churn_probability", churn_udf(model_input)).withColumn(
        "predicted_value", value_udf(model_input)
    )
    # Predicted once: the later steps read these rows twice (collect, then join or write).
    predicted = predicted.persist(StorageLevel.MEMORY_AND_DISK)

    if on_driver:
        rows = predicted.mapInPandas(_row_wise(champions, config, None, as_of), _ROW_SCHEMA)
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
        users = rows.select(
            "user_id", "churn_probability", "predicted_value", "lifecycle_stage"
        ).toPandas()
        users["value_tier"] = config.tiers.build().fit_transform(
            users["predicted_value"].to_numpy(dtype=float)
        )
        decided = decide(users, config.catalogue, budget=config.budget, as_of=as_of)
        decided["value_tier"] = users["value_tier"].to_numpy()
        decided["as_of"] = pd.Timestamp(as_of)
        decided = with_holdout(decided, config.holdout).drop(columns="as_of")
        kept = ["user_id", *_DECISION_COLUMNS, *([ASSIGNMENT] * (ASSIGNMENT in decided))]
        table = rows.join(session.createDataFrame(_plain_strings(decided[kept])), "user_id")
    else:
        values = predicted.select("predicted_value").toPandas()["predicted_value"]
        tiers = config.tiers.build().fit(values.to_numpy(dtype=float))
        table = predicted.mapInPandas(_row_wise(champions, config, tiers, as_of), _DECIDED_SCHEMA)

    extra = [ASSIGNMENT] if ASSIGNMENT in table.columns else []
    scores = table.select(
        *(
            _constant_or_column(name, as_of, champions)
            for name in SCORE_COLUMNS
        ),
        *extra,
    )  # fmt: skip
    return SparkScored(
        scores=scores, as_of=as_of, decided_on="driver" if on_driver else "partitions"
    )


def _plain_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed string columns as objects, which `createDataFrame` infers as strings."""
    return frame.astype({c: object for c in frame.columns if frame[c].dtype == "str"})


def _constant_or_column(name: str, as_of: datetime, champions: Champions) -> Any:
    from pyspark.sql import functions as sf

    constants = {
        "as_of": sf.lit(as_of).cast("timestamp_ntz"),
        "churn_model_version": sf.lit(champions.churn_info.version),
        "value_model_version": sf.lit(champions.value_info.version),
        "feature_set_id": sf.lit(FEATURE_SET.id),
    }
    return constants[name].alias(name) if name in constants else sf.col(name)


def write_scores(scored: SparkScored, out: str | Path) -> int:
    """Write the scores: a folder gets Parquet part files from Spark; a .parquet/.csv file is
    collected to the driver and written atomically as the DuckDB path does. Returns the rows.
    """
    from features.output import write_frame

    target = Path(out)
    if target.suffix:
        frame = scored.to_pandas()
        write_frame(frame, target)
        return len(frame)
    scored.scores.write.mode("overwrite").parquet(str(target))
    return int(scored.scores.sparkSession.read.parquet(str(target)).count())


def score_summary(scored: SparkScored) -> pd.DataFrame:
    """`serving.cli_tables.stage_totals`, aggregated on Spark (one row per stage)."""
    from pyspark.sql import functions as sf

    frame = scored.scores
    grouped = frame.groupBy("lifecycle_stage").agg(
        sf.count(sf.lit(1)).alias("users"),
        sf.sum(sf.col("churn_probability") * sf.col("predicted_value")).alias("value_at_risk"),
        sf.sum((sf.col("action") != "no_action").cast("long")).alias("actions"),
        sf.sum("action_cost").alias("cost"),
        sf.sum("expected_gain").alias("gain"),
    )
    return grouped.toPandas().sort_values("lifecycle_stage").reset_index(drop=True)
