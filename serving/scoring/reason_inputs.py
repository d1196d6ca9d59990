"""What scoring hands the reason codes: the reference each user is read against, and the
joined column score files store.

Why a reference per population: a model's contributions are relative to the population it was
trained on (TreeSHAP's expected value), so "more purchases than typical" means more than the
typical *active* user for the churn model and more than the typical *lapsed* user for the
recall model. Both engines compute the same medians over the whole scored table before any
batch is worded (DuckDB in pandas, Spark with its exact `percentile`), so a user's reasons do
not depend on which batch they fell in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features import ACTIVE_FLAG, FEATURE_SET
from serving.decisions import joined_reason_codes, typical_values
from serving.scoring.champions import Champions

REASON_SEPARATOR = "; "  # reason texts never contain it (serving/decisions/reason_wording.py)
ACTIVE_POPULATION, LAPSED_POPULATION = "active", "lapsed"


def reason_reference(matrix: pd.DataFrame, active: np.ndarray) -> pd.DataFrame:
    """The typical (median) feature values of active and of lapsed users."""
    return typical_values(matrix, np.where(active, ACTIVE_POPULATION, LAPSED_POPULATION))


def spark_reason_reference(
    features: Any, columns: Sequence[str] = FEATURE_SET.columns
) -> pd.DataFrame:
    """`reason_reference` of a Spark feature table's `columns` (doubles: the champions'
    feature set), computed by Spark.

    `percentile` is exact and interpolates as numpy's median does; NaN is turned into null so
    that, as in pandas, missing values are ignored. The reasons round both sides to the same
    decimals before comparing, so the last bits of the two engines' sums do not matter.
    """
    from pyspark.sql import functions as sf

    population = sf.when(sf.col(ACTIVE_FLAG) == 1, ACTIVE_POPULATION).otherwise(LAPSED_POPULATION)
    no_value = sf.lit(None).cast("double")
    medians = features.groupBy(population.alias("_population")).agg(
        *(
            sf.percentile(sf.nanvl(sf.col(c).cast("double"), no_value), 0.5).alias(c)
            for c in columns
        )
    )
    table = medians.toPandas().set_index("_population").rename_axis(None)
    return table.astype("float64")


def reason_populations(
    active: np.ndarray, champions: Champions, reference: pd.DataFrame
) -> np.ndarray:
    """Which reference row each user is read against: the population of the model explaining
    them. Lapsed users without a recall champion are explained by the churn model, so they are
    read against active users (when there are any)."""
    if champions.recall is None and ACTIVE_POPULATION in reference.index:
        return np.full(len(active), ACTIVE_POPULATION)
    return np.where(active, ACTIVE_POPULATION, LAPSED_POPULATION)


def reason_lines(
    matrix: pd.DataFrame,
    contributions: pd.DataFrame,
    active: np.ndarray,
    champions: Champions,
    top_k: int,
    reference: pd.DataFrame,
) -> np.ndarray:
    """Each user's risk-raising reasons joined by REASON_SEPARATOR (the score files' column)."""
    populations = reason_populations(active, champions, reference)
    return joined_reason_codes(
        matrix, contributions, REASON_SEPARATOR, top_k, reference, populations
    )
