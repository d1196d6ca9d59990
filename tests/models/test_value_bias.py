"""The value model's level out of time on the demo's own data (issues "Decisions that pay"
and 17 item 4: mean bias within ±5% on the report half).

Why a demo-sized simulation of its own: spend is heavy-tailed, and on the 4,000-user fixture
the two OOT halves' mean spend differs by a third by chance, so no calibration fitted on one
half can be judged on the other there. The demo's 20,000 users (same seed, same config as
`retain demo`) are where the issue measured a −25% bias (18.04 predicted vs 24.17 actual); there
the two halves' mean spend agree (25.61 vs 25.62), and the per-head scales alone left the
report half at −5.1% (−1.4% on the fit half itself); the mixture scale brings it to −3.7%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.simulation import SimulationConfig, write_simulation
from training.config import ExperimentConfig, load_config
from training.datasets import ModelData, build_training_data
from training.evaluation import evaluate

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "demo.yaml"
BIAS_BOUND = 0.05

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_value(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelData, ExperimentConfig]:
    path = tmp_path_factory.mktemp("demo") / "events.parquet"
    write_simulation(SimulationConfig(users=20_000, days=365, seed=7), path)
    config = load_config(DEMO_CONFIG)
    return build_training_data(path, config).for_model("value"), config


def test_value_bias_on_the_report_half_is_within_five_percent(
    demo_value: tuple[ModelData, ExperimentConfig],
) -> None:
    data, config = demo_value
    calibrated = evaluate(data, config, with_baselines=False).metrics
    uncalibrated_config = config.model_copy(
        update={"value": config.value.model_copy(update={"calibration": "none"})}
    )
    uncalibrated = evaluate(data, uncalibrated_config, with_baselines=False).metrics
    assert uncalibrated["bias"] < -0.15  # the finding, still there without calibration
    assert abs(calibrated["bias"]) <= BIAS_BOUND
    assert abs(calibrated["retained_bias"]) <= BIAS_BOUND
    # Level calibration rescales, it does not reorder.
    assert calibrated["gini"] == pytest.approx(uncalibrated["gini"], abs=0.01)
