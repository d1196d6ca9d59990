"""The MLflow pyfunc form of our estimators: what the registry stores and serving loads.

Why "models from code" with a pickled estimator artifact: MLflow 3 recommends logging a
PythonModel from a code file rather than cloudpickling a live object. The estimator itself is
pickled with the standard library (classes by reference to their `training` modules), and the
`training` package is shipped with the model (`code_paths`), so the model loads in a fresh
process even where this project is not installed; where it is installed the installed
package is used (MLflow only appends the shipped copy to `sys.path`).

`predict` returns one number per row: the churn probability (churn model), the return
probability (recall model) or the unconditional predicted value (value model), so every
registered signature is the same simple one. `unwrap_python_model()` gives a
`RetainPyfuncModel` whose `.estimator` is the fitted `ChurnClassifier`/`RecallClassifier`/
`ValueRegressor`; for convenience it also forwards a fixed list of the estimator's methods and
attributes (`_FORWARDED`: probabilities, the value heads, `expected_value`, the tier cut points
`retained_value_percentiles_`, contributions, ...).
"""

from __future__ import annotations

import pickle
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

ESTIMATOR_ARTIFACT = "estimator"
_MODEL_CODE = Path(__file__).with_name("_model_code.py")
_PACKAGE_DIR = Path(__file__).resolve().parent
_FORWARDED = frozenset(
    {
        "predict_proba",
        "churn_probability",
        "return_probability",
        "value_if_retained",
        "value_if_churned",
        "expected_value",
        "lost_probability",
        "retained_value_percentiles_",
        "conditional",
        "contributions",
        "raw_score",
        "feature_importance",
        "feature_set_id",
        "feature_names_",
        "best_iteration_",
    }
)
_REQUIREMENTS = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "scipy", "pyyaml")


class RetainPyfuncModel(mlflow.pyfunc.PythonModel):
    """Loads the pickled estimator and answers one number per input row."""

    estimator: Any = None

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        with open(context.artifacts[ESTIMATOR_ARTIFACT], "rb") as handle:
            self.estimator = pickle.load(handle)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        """Churn or return probability (classifiers), unconditional future value (regressor)."""
        for probability in ("churn_probability", "return_probability"):
            if hasattr(self.estimator, probability):
                return getattr(self.estimator, probability)(model_input)
        return self.estimator.predict(model_input)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes the wrapper lacks. A fixed list, so MLflow's own
        # `hasattr` probes on the python model never find an estimator method by accident.
        estimator = self.__dict__.get("estimator")
        if name not in _FORWARDED or estimator is None:
            raise AttributeError(name)
        return getattr(estimator, name)


def _requirements() -> list[str]:
    """Pinned requirements of the running environment (no slow inference by MLflow)."""
    pinned = []
    for name in _REQUIREMENTS:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pinned.append(name)
    return pinned


def log_estimator(
    estimator: Any,
    example: pd.DataFrame,
    kind: str,
    name: str = "model",
) -> mlflow.models.model.ModelInfo:
    """Log `estimator` as a pyfunc model (signature + input example) in the active run."""
    features = example[estimator.feature_names_].astype("float64").head(5).reset_index(drop=True)
    output = _Loaded(estimator).predict(None, features)
    signature = infer_signature(features, output)
    metadata = {
        "feature_set_id": estimator.feature_set_id,
        "model_kind": kind,
        "feature_names": list(estimator.feature_names_),
        "estimator_class": type(estimator).__name__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "estimator.pkl"
        artifact.write_bytes(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(_MODEL_CODE),
            artifacts={ESTIMATOR_ARTIFACT: str(artifact)},
            code_paths=[str(_PACKAGE_DIR)],
            signature=signature,
            input_example=features,
            pip_requirements=_requirements(),
            metadata=metadata,
            tags={"feature_set_id": str(estimator.feature_set_id), "model_kind": kind},
        )


class _Loaded(RetainPyfuncModel):
    """A wrapper around an in-memory estimator (to compute the signature's output example)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
