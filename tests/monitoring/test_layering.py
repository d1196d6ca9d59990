"""monitoring sits between training and serving: it may use their public names only.

Why a test: another package importing `serving` or the CLI from here would make the layers a
cycle, and a private import (`training.metrics`) would tie monitoring to a module layout that
is free to change. Checked on the source, so no import side effects are needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import features
import monitoring
import training

PACKAGE = Path(monitoring.__file__).parent
PUBLIC = {"features": set(features.__all__), "training": set(training.__all__)}


def _imports() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [(path.name, alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((path.name, node.module, [a.name for a in node.names]))
    return found


def test_no_serving_or_cli_imports() -> None:
    for file, module, _ in _imports():
        assert module.split(".")[0] not in {"serving", "retain"}, f"{file} imports {module}"


def test_features_and_training_only_through_their_public_names() -> None:
    for file, module, names in _imports():
        top = module.split(".")[0]
        if top in PUBLIC:
            assert module == top, f"{file} imports the private module {module}"
            assert set(names) <= PUBLIC[top], f"{file}: {set(names) - PUBLIC[top]} not public"


def test_public_api_is_exported() -> None:
    assert sorted(monitoring.__all__) == sorted(set(monitoring.__all__))
    for name in monitoring.__all__:
        assert hasattr(monitoring, name), name
