"""Loading a model checks this environment against its pins as MLflow would, without the second
MLflow spends mapping every installed package to its modules (training/model_environment.py).

The oracle is MLflow's own check (`warn_dependency_requirement_mismatches`), run on the same
requirement lines: both must name the same packages with the same wording.
"""

from __future__ import annotations

import logging
import platform
import re
from importlib.metadata import version
from typing import Any

import mlflow
import pandas as pd
import pytest

from training.model_environment import load_pyfunc, python_mismatch, requirement_mismatches

NUMPY = version("numpy")


class _Doubler(mlflow.pyfunc.PythonModel):
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return model_input * 2


def _mlflow_mismatches(lines: list[str], caplog: pytest.LogCaptureFixture) -> set[str]:
    from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        warn_dependency_requirement_mismatches(lines)
    found = set()
    for record in caplog.records:
        found |= set(re.findall(r"^ - (.+)$", record.getMessage(), flags=re.MULTILINE))
    return found


def test_mismatches_are_the_ones_mlflow_names(caplog: pytest.LogCaptureFixture) -> None:
    lines = [
        f"numpy=={NUMPY}",  # satisfied
        "numpy==0.0.1",  # wrong version
        "pandas>=0.1",  # satisfied range
        "not-a-retain-package-xyz==1.0",  # not installed
        "numpy==0.0.1; python_version < '3'",  # marker does not apply here
        "# a comment",
        "-r other-requirements.txt",
    ]
    ours = requirement_mismatches(lines)
    assert ours == [
        f"numpy (current: {NUMPY}, required: numpy==0.0.1)",
        "not-a-retain-package-xyz (current: uninstalled, required: not-a-retain-package-xyz==1.0)",
    ]
    assert set(ours) == _mlflow_mismatches(lines, caplog)


def test_the_python_version_matters_to_the_minor_version() -> None:
    major, minor, _ = platform.python_version_tuple()
    assert python_mismatch(f"{major}.{minor}.0") is None  # a patch release apart: the same
    assert python_mismatch(None) is None
    other = python_mismatch(f"{major}.{int(minor) + 1}.2")
    assert other is not None and f"{major}.{int(minor) + 1}.2" in other


@pytest.mark.parametrize("pin, warned", [(f"numpy=={NUMPY}", False), ("numpy==0.0.1", True)])
def test_loading_warns_when_a_pin_differs_and_predicts_either_way(
    pin: str, warned: bool, tracking_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(name="model", python_model=_Doubler(), pip_requirements=[pin])
    uri = f"runs:/{run.info.run_id}/model"
    with caplog.at_level(logging.WARNING, logger="training.model_environment"):
        model = load_pyfunc(uri)
    messages = [r.getMessage() for r in caplog.records if r.name == "training.model_environment"]
    if warned:
        assert len(messages) == 1 and uri in messages[0], messages
        assert f"numpy (current: {NUMPY}, required: numpy==0.0.1)" in messages[0]
    else:
        assert messages == []
    frame = pd.DataFrame({"x": [1.0, 2.5]})
    assert model.predict(frame)["x"].tolist() == [2.0, 5.0]
