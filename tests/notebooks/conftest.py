"""The notebooks read the serving fixtures' trained store (see test_notebooks.py for why)."""

from tests.serving.conftest import serving_store

__all__ = ["serving_store"]
