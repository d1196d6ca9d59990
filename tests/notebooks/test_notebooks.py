"""The notebooks execute top to bottom on small data, and are committed without outputs.

Why execute them in the suite: a notebook that no longer runs is worse than none, and the
analyses import the packages, so an API change that breaks one must fail here, not in front of
a data scientist. Each runs in its own kernel on a small simulated product: 01 simulates its
own log (its default path); 02 and 03 read the serving fixtures' store and log, trained once per
run (the path a data scientist takes with a store of their own). Their fallback, training on a
simulated product, does not run here; every call a notebook makes into Retain's packages is
checked against the current signatures instead (`test_notebook_calls_match_the_current_api`).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
NOTEBOOKS_ON_A_TRAINED_STORE = {"02-model-diagnostics", "03-policy-budget-sweep"}


def test_there_are_numbered_notebooks() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert len(names) >= 3
    assert all(name[:2].isdigit() and name[2] == "-" for name in names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


RETAIN_PACKAGES = ("features", "training", "serving", "simulator")


def _retain_calls(path: Path) -> list[tuple[object, ast.Call]]:
    """Every call in the notebook's code to a name it imported from one of Retain's packages,
    with the object that name is now (IPython magics, `%...`, are left out of the parse)."""
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if not line.lstrip().startswith("%")
    )
    tree = ast.parse(code)
    imported = {
        alias.asname or alias.name: (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in RETAIN_PACKAGES
        for alias in node.names
    }
    calls = []
    for node in ast.walk(tree):
        named = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if named and node.func.id in imported:
            module, name = imported[node.func.id]
            calls.append((getattr(importlib.import_module(module), name), node))
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_calls_match_the_current_api(path: Path) -> None:
    """Each call binds to its function's signature (names and number of arguments), including
    the branches the execution test does not take."""
    calls = _retain_calls(path)
    assert calls, f"{path.name} calls nothing of Retain's"
    for function, call in calls:
        if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
            keyword.arg is None for keyword in call.keywords
        ):
            continue  # *args / **kwargs: nothing to check statically
        arguments = [object()] * len(call.args)
        keywords = {keyword.arg: object() for keyword in call.keywords}
        try:
            inspect.signature(function).bind(*arguments, **keywords)
        except TypeError as error:
            source = ast.unparse(call)
            pytest.fail(f"{path.name}: `{source}` no longer matches {function}: {error}")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("RETAIN_NB_USERS", "2500")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RETAIN_NB_EVENTS", raising=False)
    if path.stem in NOTEBOOKS_ON_A_TRAINED_STORE:  # training twice more would cost ~35 CPU s
        store = request.getfixturevalue("serving_store")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
        monkeypatch.setenv("RETAIN_NB_EVENTS", str(store.events))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(path.parents[1]), os.environ.get("PYTHONPATH", "")])
    )
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
    if path.stem in NOTEBOOKS_ON_A_TRAINED_STORE:  # the given store was read, not a new one
        printed = "".join(
            output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
        )
        assert f"MLflow store: {store.tracking_uri}" in printed
    images = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert images >= 1, "every notebook draws at least one chart"
