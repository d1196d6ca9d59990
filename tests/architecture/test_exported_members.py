"""One public API per package: `__all__` is what other packages may use, and all they use.

In the spirit of httpx's tests/test_exported_members.py: a package's `__all__` must match what
its `__init__` actually binds, every name in it must resolve, and every import that crosses a
package boundary must go through that package (`from serving.decisions import decide`, never
`from serving.decisions.policy import decide` from outside) and name only what `__all__` lists.
Why: a module's internals can then change freely, and the public surface is reviewable in one
file per package. Tests and benchmarks may reach inside; library code may not.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterable

import pytest

from tests.architecture.imports import LIBRARIES, ROOT, Import, imports, is_package

PACKAGES = sorted(
    ".".join(init.parent.relative_to(ROOT).parts)
    for library in LIBRARIES
    if (ROOT / library).is_dir()
    for init in (ROOT / library).rglob("__init__.py")
    if "static" not in init.parts
)


def _public(package: types.ModuleType) -> list[str]:
    """Names an `__init__` binds that are not private, not submodules, not `__future__` flags."""
    return sorted(
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__name__ != "_Feature"
    )


@pytest.mark.parametrize("dotted", PACKAGES)
def test_all_lists_exactly_what_the_package_exports(dotted: str) -> None:
    package = importlib.import_module(dotted)
    exported = getattr(package, "__all__", None)
    if dotted in ("retain", "retain.commands"):  # the CLI is the top: nobody imports it
        assert not exported
        return
    assert exported, f"{dotted} has no __all__"
    assert len(set(exported)) == len(exported), f"{dotted}.__all__ repeats a name"
    for name in exported:
        assert getattr(package, name) is not None, f"{dotted}.{name}"
    lazy = getattr(package, "_EXPORTS", None)  # PEP 562: names resolved on first use
    if lazy is not None:
        assert sorted(exported) == sorted(lazy)
    else:
        assert sorted(exported) == _public(package)


def crossings(imported: Iterable[Import]) -> list[str]:
    """Imports that reach past a package's API: into its modules, or for a name not in __all__."""
    found = []
    for imp in imported:
        target = imp.target.split(".")
        if target[0] not in LIBRARIES or (target[0] == "retain" == imp.importer.split(".")[0]):
            continue
        mine = imp.package.split(".")
        common = 0
        while common < min(len(mine), len(target)) and mine[common] == target[common]:
            common += 1
        if common == len(target):  # an ancestor package of the importer
            continue
        boundary = ".".join(target[: common + 1])
        if not is_package(boundary):
            continue  # a sibling module in the importer's own package
        if boundary != imp.target:
            found.append(f"{imp.where}: reaches into {imp.target} (use {boundary})")
            continue
        api = importlib.import_module(boundary).__all__
        found += [f"{imp.where}: {boundary}.{n} is not exported" for n in imp.names if n not in api]
    return found


def test_packages_use_each_other_only_through_their_api() -> None:
    assert crossings(imports()) == []


def test_the_api_check_can_fail() -> None:
    here = ("serving.scoring.pipeline", "serving.scoring")
    reaching = [
        Import(*here, "serving.decisions.policy", ("decide",), 1),
        Import(*here, "training", ("no_such_name",), 2),
        Import(*here, "serving.scoring.champions", ("Champions",), 3),  # its own package: fine
    ]
    assert crossings(reaching) == [
        "serving/scoring/pipeline.py:1: reaches into serving.decisions.policy"
        " (use serving.decisions)",
        "serving/scoring/pipeline.py:2: training.no_such_name is not exported",
    ]
