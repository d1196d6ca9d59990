"""Loading a registered pyfunc model, with a cheap check that this environment matches its pins.

Why not MLflow's own check: `mlflow.pyfunc.load_model` first maps every installed distribution
to the modules it provides (`importlib.metadata.packages_distributions`, ~1.1 s of CPU here),
once in every process, then compares the model's requirements with what is installed. Every
`retain` command and both processes of `retain serve` paid that second for seven pinned
versions (training/pyfunc.py pins exact ones). Comparing each requirement with its
distribution's installed version gives the same answer in about a millisecond, so loading
skips MLflow's check and runs this one, with the same warning.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

__all__ = ["load_pyfunc", "python_mismatch", "requirement_mismatches"]

_log = logging.getLogger(__name__)
REQUIREMENTS_FILE = "requirements.txt"


def requirement_mismatches(requirements: Iterable[str]) -> list[str]:
    """The requirements this environment does not satisfy, one line each, as MLflow words them
    ("lightgbm (current: 4.5.0, required: lightgbm==4.6.0)").

    Lines that are not a requirement (comments, `-r file`, URLs) and requirements whose
    environment marker does not apply here are skipped, as MLflow skips them.
    """
    mismatches = []
    for line in requirements:
        text = line.strip()
        if not text or text.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed: str | None = version(requirement.name)
        except PackageNotFoundError:
            installed = None
        if installed is None or not requirement.specifier.contains(installed, prereleases=True):
            mismatches.append(
                f"{requirement.name} (current: {installed or 'uninstalled'}, required: {text})"
            )
    return mismatches


def python_mismatch(model_python: str | None) -> str | None:
    """A warning when the model was saved by another Python minor version (pickles of fitted
    estimators may not load the same), else None."""
    if not model_python:
        return None
    saved = model_python.split(".")[:2]
    running = platform.python_version_tuple()[:2]
    if saved == list(running):
        return None
    running_version = platform.python_version()
    return f"the model was saved with Python {model_python}; this is Python {running_version}"


def load_pyfunc(uri: str) -> Any:
    """`mlflow.pyfunc.load_model(uri)`, with the environment checked by this module: a
    mismatch is logged as a warning naming the model and each differing package."""
    import mlflow.artifacts
    import mlflow.pyfunc

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    requirements = local / REQUIREMENTS_FILE
    lines = requirements.read_text(encoding="utf-8").splitlines() if requirements.exists() else []
    problems = requirement_mismatches(lines)
    model = mlflow.pyfunc.load_model(str(local), suppress_warnings=True)
    flavor = model.metadata.flavors.get("python_function", {})
    python = python_mismatch(flavor.get("python_version"))
    if python is not None:
        problems.append(python)
    if problems:
        _log.warning(
            "%s was saved in another environment than this one (predictions may differ; "
            "install the versions it pins):\n - %s",
            uri,
            "\n - ".join(problems),
        )
    return model
