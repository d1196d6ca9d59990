"""MLflow "model from code" entry point: MLflow executes this file when it loads the model.

Not imported by the package itself (the side effect, `set_model`, belongs to MLflow's load).
"""

import mlflow

from training.pyfunc import RetainPyfuncModel

mlflow.models.set_model(RetainPyfuncModel())
