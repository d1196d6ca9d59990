"""A lazily exported name must never be the name of a submodule of its package.

Why: `features`, `monitoring`, `training` and `serving` resolve their public names on first
use (PEP 562 `__getattr__`). Importing a submodule binds it as an attribute of the package, so
once `training/json_object.py` had been imported anywhere, `from training import json_object`
returned the module and the manifest reader failed with "'module' object is not callable", but
only in processes that had imported the submodule first. This checks every lazy package's
export table against its files, so the clash is caught before it depends on import order.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

LAZY_PACKAGES = ("features", "monitoring", "training", "serving")


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_no_exported_name_is_also_a_submodule(package: str) -> None:
    module = importlib.import_module(package)
    exports = module._EXPORTS
    folder = Path(module.__file__).parent
    submodules = {p.stem for p in folder.glob("*.py")} | {
        p.parent.name for p in folder.glob("*/__init__.py")
    }
    assert exports, f"{package} has no lazy export table"
    clashes = sorted(name for name in exports if name in submodules)
    assert not clashes, f"{package}: exported names that are also submodules: {clashes}"
