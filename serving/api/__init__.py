"""The BentoML service for backend services and operators: settings, authentication, request
models and guards, the state it serves from, the OpenAPI document and the operator page.

Why: the HTTP surface is one layer on top of scoring, decisions and reporting; nothing below
imports it.
"""

from __future__ import annotations

from serving.api.decision_files import DecisionFiles, read_decision_files
from serving.api.settings import ServiceSettings

__all__ = [
    "DecisionFiles",
    "ServiceSettings",
    "read_decision_files",
]
