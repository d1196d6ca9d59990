"""The batch-by-batch score writer: atomic, with the run's attrs in Parquet, refusing drift."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.scoring.stream_output import ScoreWriter, narrow_scores


def _batch(first: int, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(first, first + n)],
            "lifecycle_stage": ["active"] * n,
            "value_tier": ["high"] * n,
            "action": ["no_action"] * n,
            "churn_model_version": ["3"] * n,
            "recall_model_version": ["1"] * n,
            "value_model_version": ["2"] * n,
            "feature_set_id": ["behavioural_v1"] * n,
            "churn_probability": [0.25] * n,
            "return_probability": [float("nan")] * n,
            "predicted_value": [10.0] * n,
            "value_at_stake": [4.0] * n,
        }
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_batches_are_appended_and_renamed_into_place_once_closed(tmp_path, suffix):
    target = tmp_path / f"scores{suffix}"
    writer = ScoreWriter(target, {"retain_decisions": {"users": 5}})
    writer.write(_batch(0, 3))
    writer.write(_batch(3, 2))
    assert not target.exists()  # nothing half-written under the real name
    writer.close()
    writer.abort()  # after close: nothing left to drop, the file stays
    read = pd.read_parquet(target) if suffix == ".parquet" else pd.read_csv(target)
    assert read["user_id"].tolist() == [f"u{i}" for i in range(5)]
    if suffix == ".parquet":
        assert read.attrs == {"retain_decisions": {"users": 5}}
    assert list(tmp_path.iterdir()) == [target]
    narrow = narrow_scores(target)
    assert narrow["action"].dtype == "category" and len(narrow) == 5


def test_an_aborted_run_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "scores.parquet"
    writer = ScoreWriter(target, {})
    writer.write(_batch(0, 2))
    with pytest.raises(ValueError, match="differ"):
        writer.write(_batch(2, 2).drop(columns="value_tier"))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
