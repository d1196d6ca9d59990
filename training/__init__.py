"""Training: LightGBM churn and value models tracked in MLflow (issue 3)."""
