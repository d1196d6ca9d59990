"""Experiment configs: every shipped YAML validates; mistakes fail with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, ExperimentConfig, load_config, parse_config, write_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_experiment_validates(path: Path) -> None:
    config = load_config(path)
    assert config.name == path.stem
    assert config.feature_set in ("behavioural_v1", "behavioural_v2")


def test_behavioural_v1_stays_the_default_and_types_need_v2() -> None:
    assert parse_config({}).feature_set == "behavioural_v1"
    v2 = parse_config({"feature_set": "behavioural_v2", "event_types": ["view", "login"]})
    assert v2.chosen_feature_set().event_types == ("view", "login")
    with pytest.raises(ConfigError, match="no per-event-type columns"):
        parse_config({"event_types": ["view"]})  # v1 with types: refused, not ignored
    with pytest.raises(ConfigError, match="distinct"):
        parse_config({"feature_set": "behavioural_v2", "event_types": ["view", "view"]})


def test_there_is_a_baseline_config_per_model() -> None:
    models = {load_config(p).models for p in EXPERIMENTS.glob("*-baseline.yaml")}
    assert {("churn",), ("recall",), ("value",)} <= models


def test_misspelt_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nchurn:\n  num_boost_rounds: 10\n")
    with pytest.raises(ConfigError, match=r"churn\.num_boost_rounds"):
        load_config(path)


def test_invalid_values_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"churn\.params\.learning_rate"):
        parse_config({"churn": {"params": {"learning_rate": 0}}})
    with pytest.raises(ConfigError, match="feature set"):
        parse_config({"feature_set": "behavioural_v0"})
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")


def test_written_config_reads_back_identical(tmp_path: Path) -> None:
    config = parse_config({"name": "roundtrip", "value": {"tweedie_variance_power": 1.6}})
    path = write_config(config.model_copy(update={"description": "why"}), tmp_path / "x.yaml")
    again = load_config(path)
    assert again.value.tweedie_variance_power == 1.6
    assert again.model_dump() == config.model_copy(update={"description": "why"}).model_dump()
    assert ExperimentConfig().models == ("churn", "recall", "value")


def test_churn_defaults_are_regularised_and_partial_overrides_keep_them() -> None:
    config = parse_config({"churn": {"params": {"num_leaves": 63}}})
    churn, value = config.churn.params, config.value.params
    assert churn.num_leaves == 63
    assert config.recall.params.num_leaves == 15  # the recall section keeps its own defaults
    # The keys the YAML did not set stay at the churn defaults, not at the value model's.
    assert (churn.min_child_samples, churn.lambda_l2) == (200, 10.0)
    assert (value.num_leaves, value.min_child_samples, value.lambda_l2) == (31, 50, 1.0)
    assert ExperimentConfig().churn.params.num_leaves == 15


def test_purchase_log_preset_widens_the_windows_but_not_the_cutoff_count() -> None:
    preset = load_config(EXPERIMENTS / "purchase-log.yaml")
    assert (preset.windows.churn_horizon_days, preset.windows.active_window_days) == (90, 365)
    # `retain evaluate` keeps its own (larger) cutoff count unless a config names one.
    assert "count" not in preset.cutoffs.model_fields_set
