"""Data flows one way: features → training → monitoring → serving → retain (the CLI).

Why a test: a library that imports the command line (or serving code that training imports)
makes every layer depend on every other; the Bento would have to ship the CLI, and a change to a
command could break training. This test fails on the first import that points upwards, inside
functions and under TYPE_CHECKING included. docs/architecture.md draws the same picture.
"""

from __future__ import annotations

from collections.abc import Iterable

from tests.architecture.imports import LIBRARIES, ROOT, Import, imports

# What each top-level package may import (besides itself). The simulator is a test bed: only
# the CLI (the demo, `retain simulate`) may use it.
MAY_IMPORT: dict[str, set[str]] = {
    "features": set(),
    "simulator": {"features"},
    "training": {"features"},
    "monitoring": {"features", "training"},
    "serving": {"features", "training", "monitoring"},
    "retain": {"features", "simulator", "training", "monitoring", "serving"},
}
# Inside serving, the same rule between its sub-packages.
SERVING_LAYERS: dict[str, set[str]] = {
    "decisions": set(),
    "scoring": {"decisions"},
    "campaigns": {"decisions", "scoring"},
    "reporting": {"decisions", "scoring", "campaigns"},
    "api": {"decisions", "scoring", "campaigns", "reporting"},
}


def violations(imported: Iterable[Import]) -> list[str]:
    """One line per import that points upwards."""
    found = []
    for imp in imported:
        source, target = imp.importer.split("."), imp.target.split(".")
        if target[0] not in LIBRARIES:
            continue
        if source[0] != target[0]:
            if target[0] not in MAY_IMPORT[source[0]]:
                found.append(f"{imp.where}: {source[0]} imports {imp.target}")
        elif source[0] == "serving" and len(source) > 2 and len(target) > 1:
            mine, theirs = source[1], target[1]
            if mine in SERVING_LAYERS and theirs != mine and theirs not in SERVING_LAYERS[mine]:
                found.append(f"{imp.where}: serving.{mine} imports {imp.target}")
    return found


def test_no_package_imports_a_layer_above_it() -> None:
    assert violations(imports()) == []


def test_the_layers_are_a_total_order_without_cycles() -> None:
    """The table itself must not allow a cycle (a layer above importing one that imports it)."""
    for table in (MAY_IMPORT, SERVING_LAYERS):
        for package, allowed in table.items():
            for other in allowed:
                assert package not in table[other], f"{package} <-> {other}"


def test_every_package_is_placed_in_a_layer() -> None:
    assert set(LIBRARIES) == set(MAY_IMPORT)
    subpackages = {p.parent.name for p in (ROOT / "serving").glob("*/__init__.py")}
    assert subpackages == set(SERVING_LAYERS)


def test_the_rule_catches_upward_imports() -> None:
    """The checker itself can fail: serving importing the CLI, decisions importing scoring."""
    upward = [
        Import("serving.scoring.pipeline", "serving.scoring", "retain.console", (), 1),
        Import("serving.decisions.policy", "serving.decisions", "serving.scoring", ("x",), 2),
        Import("training.runs", "training", "simulator", ("replay",), 3),
    ]
    assert violations(upward) == [
        "serving/scoring/pipeline.py:1: serving imports retain.console",
        "serving/decisions/policy.py:2: serving.decisions imports serving.scoring",
        "training/runs.py:3: training imports simulator",
    ]
