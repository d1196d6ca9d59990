"""ReferenceProfile: built from a feature frame and scores, and back from its JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features import FEATURE_SET
from monitoring import PROFILE_ARTIFACT, PROFILE_VERSION, ProfileError, ReferenceProfile


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 400
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "as_of": pd.Timestamp("2024-03-01"),
            "events_30d": rng.poisson(4, n).astype(float),
            "revenue_90d": np.where(rng.uniform(size=n) < 0.7, 0.0, rng.gamma(2, 30, n)),
            "days_since_last_purchase": np.where(rng.uniform(size=n) < 0.3, np.nan, 5.0),
            "churned": rng.integers(0, 2, n),
        }
    )


def test_json_round_trip_is_exact(frame: pd.DataFrame) -> None:
    scores = {"churn_probability": np.linspace(0, 1, len(frame))}
    profile = ReferenceProfile.build(frame, scores)
    again = ReferenceProfile.from_json(profile.to_json())
    assert again == profile
    data = json.loads(profile.to_json())
    assert data["version"] == PROFILE_VERSION
    assert data["feature_set_id"] == FEATURE_SET.id
    assert data["as_of"] == "2024-03-01"  # taken from the frame's single as_of
    assert set(data["scores"]) == {"churn_probability"}


def test_default_columns_are_the_feature_sets(frame: pd.DataFrame) -> None:
    profile = ReferenceProfile.build(frame)
    assert list(profile.features) == [c for c in FEATURE_SET.columns if c in frame.columns]
    assert "churned" not in profile.features and "user_id" not in profile.features
    assert profile.rows == len(frame)
    assert profile.features["days_since_last_purchase"].missing_share > 0


def test_scores_from_a_frame_skip_keys(frame: pd.DataFrame) -> None:
    scores = pd.DataFrame(
        {"user_id": frame["user_id"], "churn_probability": 0.2, "predicted_value": 10.0}
    )
    profile = ReferenceProfile.build(frame, scores, columns=["events_30d"])
    assert set(profile.scores) == {"churn_probability", "predicted_value"}


def test_all_missing_column_is_strict_json(frame: pd.DataFrame) -> None:
    frame = frame.assign(events_30d=np.nan)
    text = ReferenceProfile.build(frame).to_json()
    assert "NaN" not in text
    assert ReferenceProfile.from_json(text).features["events_30d"].missing_share == 1.0


def test_write_and_read_a_folder(frame: pd.DataFrame, tmp_path) -> None:
    profile = ReferenceProfile.build(frame, as_of="2024-03-01")
    path = profile.write(tmp_path)
    assert path.name == PROFILE_ARTIFACT
    assert ReferenceProfile.read(tmp_path) == profile


def test_a_newer_version_is_refused(frame: pd.DataFrame) -> None:
    data = ReferenceProfile.build(frame).as_dict() | {"version": PROFILE_VERSION + 1}
    with pytest.raises(ProfileError, match="version"):
        ReferenceProfile.from_dict(data)


def test_malformed_profiles_say_so() -> None:
    with pytest.raises(ProfileError, match="not valid JSON"):
        ReferenceProfile.from_json("{")
    with pytest.raises(ProfileError, match="malformed"):
        ReferenceProfile.from_dict({"version": 1, "rows": 1})


def test_unknown_columns_are_named(frame: pd.DataFrame) -> None:
    with pytest.raises(ProfileError, match="no_such_feature"):
        ReferenceProfile.build(frame, columns=["events_30d", "no_such_feature"])
    with pytest.raises(ProfileError, match="none of the"):
        ReferenceProfile.build(frame[["user_id", "churned"]])
