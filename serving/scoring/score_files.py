"""Reading `retain score` outputs back: a Parquet or CSV file, or Spark's folder of part files.

Why its own module: the churn list, the action plan, the report and the service all read score
files, and must accept and refuse exactly the same ones.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from serving.scoring.pipeline import SCORE_COLUMNS, VERSION_COLUMNS


def _has_parquet_parts(folder: Path) -> bool:
    """Spark's output folder: part files, beside `_SUCCESS` and hidden `.crc` files."""
    return any(
        not any(part.startswith(("_", ".")) for part in path.relative_to(folder).parts)
        for path in folder.rglob("*.parquet")
    )


def read_scores(path: str | Path) -> pd.DataFrame:
    """A `retain score` output, checked for the score columns.

    A Parquet or CSV file, or the folder of Parquet part files that `retain score --engine
    spark --out FOLDER` writes (read whole on one machine: a churn list needs every user).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such score file")
    suffix = path.suffix.lower()
    if path.is_dir() and not _has_parquet_parts(path):
        raise ValueError(f"{path}: a folder without Parquet part files, not a score output")
    if path.is_dir() or suffix == ".parquet":
        scores = pd.read_parquet(path)
    elif suffix == ".csv":
        scores = pd.read_csv(path, dtype={"user_id": "str", "reasons": "str"})
    else:
        raise ValueError(f"{path}: unsupported score file type {suffix!r}; use .parquet or .csv")
    missing = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing:
        raise ValueError(
            f"{path} is not a `retain score` output of this version: it lacks "
            f"{', '.join(missing)} (score again with `retain score`)"
        )
    scores["as_of"] = pd.to_datetime(scores["as_of"])
    for column in ("user_id", *VERSION_COLUMNS):
        scores[column] = scores[column].astype("str")
    scores["reasons"] = scores["reasons"].fillna("").astype("str")
    return scores
