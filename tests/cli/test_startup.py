"""`retain --help` (and every command's start) does not load the data and model stack first.

Why: the CLI registers all its commands at start-up, so whatever a command module imports at
its top is paid by every invocation, `--help` included. With the libraries imported eagerly,
`retain --help` took 4-9 s of CPU on the reference machine (pandas, SciPy, scikit-learn, Ibis,
PyMC-Marketing's fitter), and so did the `retain serve` parent that only starts BentoML. Each
command now imports its libraries when it runs; the packages' public names resolve lazily.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "ibis", "sklearn", "scipy", "mlflow", "lightgbm", "bentoml", "duckdb",
         "pyspark", "optuna", "matplotlib")  # fmt: skip

# The service declares its API without these; each is imported where it runs.
NOT_FOR_THE_SERVICE = ("sklearn", "scipy.optimize", "scipy.sparse", "scipy.stats", "mlflow")


def _loaded(imports: str, watched: tuple[str, ...]) -> list[str]:
    """Which of `watched` a fresh interpreter holds after running `imports`."""
    report = f"print(json.dumps(sorted(n for n in {watched!r} if n in sys.modules)))"
    probe = f"import json, sys\n{imports}\n{report}"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout)


def test_registering_every_command_loads_none_of_the_heavy_libraries() -> None:
    assert _loaded("from retain.cli import app", HEAVY) == []


def test_the_probe_would_see_a_heavy_import() -> None:
    """The same probe after importing one of the packages eagerly: it must name it."""
    assert "ibis" in _loaded("import features.definitions\nfrom retain.cli import app", HEAVY)


def test_the_service_module_loads_no_metric_or_solver_library() -> None:
    """Each `retain serve` start imports the service module twice (BentoML's arbiter, then the
    worker). scikit-learn (~1.3 CPU s), SciPy's solvers and stats and MLflow are not needed to
    declare the service: tiers, headline names and the LP solver import them where they run."""
    assert _loaded("import serving.api.service", NOT_FOR_THE_SERVICE) == []
