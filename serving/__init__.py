"""Serving: segments, actions, decisions and the BentoML service (issue 4)."""
