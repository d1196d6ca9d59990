"""PEP 562 lazy exports, written once for every package that has them.

Why: the CLI registers every command at start-up and MLflow imports these packages when it
unpickles a model; neither should pay for Ibis, pandas, MLflow or LightGBM before a name is
used. Each package keeps a table {public name: module defining it} and resolves a name on first
use. Why here: `features` is the lowest package, and data flows upward only, so the one helper
that `features`, `training`, `serving` and `monitoring` share has to live at the bottom.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package` for its export table `exports`.

    A resolved name is stored in the package's namespace, so each is imported once. An exported
    name must not be a submodule's name (tests/architecture/test_lazy_exports.py): importing the
    submodule would bind the module under that name first.
    """
    namespace = sys.modules[package].__dict__

    def resolve(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        namespace[name] = value
        return value

    def listing() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return resolve, listing
