"""PySpark's Python daemon, started with what Retain's scoring tasks import already imported.

Why: Spark runs Python UDFs in worker processes that it forks from one daemon per executor
(`spark.python.daemon.module`). With PySpark's own daemon every new worker imports MLflow,
scikit-learn, LightGBM, pandas, Arrow and Retain's scoring before its first row, a few CPU
seconds each (the models' `spark_udf` and scoring's row-wise step each run in their own
workers). This daemon imports them once; forked workers start with them in memory. Measured on
the test suite's Spark files (58 tests, one local session): 210 -> 188 busy CPU s. Nothing is
loaded that a task could need fresh: models still come from each task's closure or URI.

Use: `features.engines.connect("spark", python_daemon=SCORING_DAEMON)` (`serving.scoring`'s
name for this module) when the session starts, as `retain score --engine spark` does; a session
that already runs keeps the daemon it started with.
"""

from __future__ import annotations

# What a scoring task imports (preloaded for the forks; not used here). The models' own
# classes (training's, unpickled per task) then cost ~0.1 s more.
import lightgbm  # noqa: F401
import mlflow.pyfunc  # noqa: F401
import pyarrow  # noqa: F401
import pyspark.daemon
import pyspark.worker
import sklearn.base  # noqa: F401

import serving.scoring.pipeline
import serving.scoring.spark  # noqa: F401

if __name__ == "__main__":
    pyspark.daemon.manager()
