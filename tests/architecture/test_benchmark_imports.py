"""Every name the benchmarks import from Retain's packages exists.

Why: the benchmarks are not part of the suite (their timings belong on an idle machine), and
they import inside functions so that each child process pays only for what it measures. A
renamed function therefore broke `make bench` without any test noticing (`_active` became
`active_mask`). This resolves every such import, at any depth, without running a benchmark.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("features", "training", "serving", "monitoring", "simulator", "retain")
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def _imports(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) for each `from <Retain package…> import name` in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        if node.module.split(".")[0] in PACKAGES:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


def test_the_benchmarks_import_from_retain() -> None:
    assert sum(len(_imports(path)) for path in SCRIPTS) > 20  # the check below has work to do


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_every_name_a_benchmark_imports_exists(path: Path) -> None:
    missing = []
    for module, name, line in _imports(path):
        loaded = importlib.import_module(module)
        if not hasattr(loaded, name):
            try:  # `from package import submodule`
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"line {line}: from {module} import {name}")
    assert not missing, f"{path.name}: " + "; ".join(missing)
