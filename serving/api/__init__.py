"""The BentoML service for backend services and operators: settings, authentication, request
models and guards, the state it serves from, the OpenAPI document and the operator page.

Why: the HTTP surface is one layer on top of scoring, decisions and reporting; nothing below
imports it.
"""

from __future__ import annotations

from serving.api.settings import ServiceSettings
from serving.api.state import decision_inputs

__all__ = [
    "ServiceSettings",
    "decision_inputs",
]
