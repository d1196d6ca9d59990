"""The report's monitoring section, drawn from the JSON object `retain monitor --json` writes.

Why from the JSON and not by monitoring again: the report explains a scoring run to operators
and must not need the event log or minutes of scoring to be written; `retain monitor` has
already judged, logged and exited with the verdict, and its JSON is that verdict. The section
shows the overall status, the realised quality of past runs beside training's figures, the
columns that drifted (every column's PSI would drown them), and the data-health checks.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitoring import HEADLINE_FIGURES

REQUIRED_KEYS = ("status", "realised", "drift")
_COLOURS = {"ok": "#1a7f37", "warning": "#9a6700", "critical": "#a40000", "pending": "#0550ae"}


def read_monitor_json(path: str | Path) -> dict[str, Any]:
    """The object `retain monitor --json` printed, checked for the keys the section reads."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise OSError(f"cannot read the monitor report {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not JSON ({error}); write it with `retain monitor --json > FILE`"
        ) from None
    if not isinstance(data, dict) or any(key not in data for key in REQUIRED_KEYS):
        raise ValueError(
            f"{path} is not a `retain monitor --json` report: it needs the keys "
            f"{', '.join(REQUIRED_KEYS)}"
        )
    return data


def _status(status: str) -> str:
    colour = _COLOURS.get(status, "#222")
    return f"<b style='color:{colour}'>{html.escape(status)}</b>"


def _number(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3f}"


def _cell(run: Mapping[str, Any], name: str) -> str:
    reference = next((c.get("reference") for c in run.get("checks", []) if c["name"] == name), None)
    text = _number(run.get(name))
    return text if reference is None else f"{text} <span class='muted'>({reference:.3f})</span>"


def _rows(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _realised(runs: list[Mapping[str, Any]]) -> str:
    if not runs:
        return "<p class='muted'>No recorded scoring run yet.</p>"
    rows = []
    for run in runs:
        if run.get("status") == "pending":
            detail = f"labels complete on {run.get('labels_complete_on', '?')}"
        else:
            checks = run.get("checks", [])
            detail = "; ".join(c["detail"] for c in checks if c["status"] != "ok" and c["detail"])
        figures = [_cell(run, name) for name in HEADLINE_FIGURES]
        when = html.escape(str(run.get("scored_as_of")))
        rows.append([when, _status(run.get("status", "?")), *figures, html.escape(detail)])
    return _rows(["scored as of", "status", *HEADLINE_FIGURES.values(), "detail"], rows)


def _drift(columns: list[Mapping[str, Any]]) -> str:
    moved = [c for c in columns if c.get("status") != "ok"]
    summary = (
        f"<p class='muted'>{len(columns)} columns compared with the champions' reference "
        f"profiles; {len(moved)} moved (PSI at or above the warning level).</p>"
    )
    if not moved:
        return summary
    moved.sort(key=lambda c: -(c.get("psi") or 0.0))
    rows = [
        [html.escape(c["feature"]), html.escape(c.get("kind", "")), _number(c.get("psi")),
         _status(c["status"]), html.escape(c.get("detail", ""))]
        for c in moved
    ]  # fmt: skip
    return summary + _rows(["column", "kind", "PSI", "status", "detail"], rows)


def monitoring_section(data: Mapping[str, Any], source: str = "") -> str:
    """The HTML section: status, realised quality, drifted columns, data health, notes."""
    parts = [
        "<h2>Monitoring: do the scores come true, has the population moved?</h2>",
        f"<p>Status {_status(str(data['status']))} as of {html.escape(str(data.get('as_of')))}"
        + (f" <span class='muted'>({html.escape(source)})</span>" if source else "")
        + "</p>",
        "<h3>Realised quality of past scoring runs (at training in brackets)</h3>",
        _realised(list(data["realised"])),
        "<h3>Drift</h3>",
        _drift(list(data["drift"])),
    ]
    health = data.get("data_health") or []
    if health:
        parts.append("<h3>Data health</h3>")
        rows = [
            [html.escape(c["name"]), _number(c.get("value")), _number(c.get("reference")),
             _status(c["status"]), html.escape(c.get("detail", ""))]
            for c in health
        ]  # fmt: skip
        parts.append(_rows(["check", "value", "reference", "status", "detail"], rows))
    parts += [f"<p class='muted'>{html.escape(note)}</p>" for note in data.get("notes", [])]
    return "\n".join(parts)
