"""The report's tables as HTML: labelled columns, ids in words, numbers in their units.

Why not `DataFrame.to_html`: it writes ids as they are (`at_risk`, `expected_gain`), prints
integers held as floats with decimals (`490.0000`) and, for a named index, a second header row
that is empty but for the index's name. Every table here has one header row of words, ids
shown as labels, counts as integers, money with two decimals and shares as percentages.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Mapping

import pandas as pd

from serving.reporting.labels import MONEY_COLUMNS, Wording, humanise, stage_label, tier_label

MISSING = "—"  # a cell with no value (a rate of an empty group, a baseline without a metric)


def _id_labels(wording: Wording) -> dict[str, Callable[[str], str]]:
    return {
        "action": wording.action,
        "lifecycle_stage": stage_label,
        "value_tier": tier_label,
        "decision_reason": humanise,
    }


def _cell(value: object, fmt: str | Callable[[object], str] | None) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if callable(fmt):
        return fmt(value)
    if fmt is not None:
        return fmt.format(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def html_table(
    frame: pd.DataFrame,
    wording: Wording | None = None,
    *,
    formats: Mapping[str, str | Callable[[object], str]] | None = None,
    headers: Mapping[str, str] | None = None,
    text_columns: Collection[str] | None = None,
) -> str:
    """`frame` as an HTML table; a named index becomes the first column.

    `formats` maps a column to a format string (`"{:.1%}"`) or a function; money columns
    default to two decimals, integer columns to thousands separators. `headers` overrides a
    column's label. Text is aligned left and numbers right; `text_columns` names the
    left-aligned columns when some hold numbers already written as text.
    """
    wording = wording or Wording()
    formats = dict(formats or {})
    headers = dict(headers or {})
    if frame.index.name is not None or isinstance(frame.index, pd.MultiIndex):
        frame = frame.reset_index()
    ids = _id_labels(wording)
    rows, left = [], set()
    for record in frame.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            name = str(column)
            fmt = formats.get(name)
            if fmt is None and name in ids and isinstance(value, str):
                fmt = ids[name]
            elif fmt is None and name in MONEY_COLUMNS:
                fmt = "{:,.2f}"
            text = _cell(value.item() if hasattr(value, "item") else value, fmt)
            is_text = name in text_columns if text_columns is not None else isinstance(value, str)
            left.update([name] if is_text else [])
            cells.append(f"<td{' class=text' if is_text else ''}>{html.escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(
        f"<th scope='col'{' class=text' if str(c) in left else ''}>"
        f"{html.escape(headers.get(str(c)) or wording.column(str(c)))}</th>"
        for c in frame.columns
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
