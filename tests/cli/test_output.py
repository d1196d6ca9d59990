"""What the commands print: progress counts, metric tables, the churn list at 80 columns."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from rich.console import Console

from retain.commands.tables import list_table
from retain.commands.train import metric_cell, metrics_table
from retain.console import progress


def _render(renderable, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


def test_progress_shows_real_counts_and_no_none(monkeypatch):
    import retain.console as console_module

    sink = io.StringIO()
    monkeypatch.setattr(
        console_module, "err_console", Console(file=sink, width=100, color_system=None)
    )
    with progress() as bar:
        unknown = bar.add_task("training", total=None)
        counted = bar.add_task("scoring", total=3)
        bar.update(counted, advance=2)
        bar.update(unknown, description="trained")
    shown = sink.getvalue()
    assert "2/3" in shown
    assert "None" not in shown and "0/None" not in shown
    trained = next(line for line in shown.splitlines() if "trained" in line)
    assert "/" not in trained  # no count for work of unknown length


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("rows", 4560.0, "4,560"),
        ("retained_rows", 317.0, "317"),
        ("best_iteration", 56.0, "56"),
        ("roc_auc", 0.5, "0.5000"),
        ("mae", 34.02171, "34.0217"),
        ("mean_actual", 1234.56789, "1,234.5679"),
        ("bias", -0.2453, "-0.2453"),
        ("rows", float("nan"), "–"),
        ("pr_auc", None, "–"),
    ],
)
def test_metric_cells_show_counts_as_whole_numbers(metric, value, shown):
    assert metric_cell(metric, value) == shown


def test_a_metric_table_has_no_fractional_row_counts():
    table = metrics_table(
        "value", {"rows": 4560.0, "mae": 3.25}, {"last_period_spend": {"rows": 4560.0}}
    )
    text = _render(table, 100)
    assert "4560.0000" not in text and "4,560.0000" not in text
    assert text.count("4,560") == 2 and "3.2500" in text


@pytest.fixture
def listed() -> pd.DataFrame:
    """Five list rows with the longest stage and action names and a long reason."""
    return pd.DataFrame(
        {
            "rank": [1, 2, 3, 4, 5],
            "user_id": ["u0001587", "customer-000042", "u7", "u0000376", "u0001269"],
            "churn_probability": [0.61, 0.62, 0.35, 0.51, 0.82],
            "value_at_stake": [129.81, 11_117.84, 182.55, 121.5, 66.9],
            "lifecycle_stage": ["at_risk", "reactivated", "active", "at_risk", "dormant"],
            "value_tier": ["high", "high", "mid", "high", "low"],
            "action": ["retention_discount", "vip_care", "habit_nudge", "winback_offer", "none"],
            "expected_gain": [8.89, 120.5, 2.54, 6.35, 0.0],
            "reasons": [
                "no activity for 44 days; fewer purchases",
                "active on 1 of the last 30 days",
                "5.0 days between events on average, down from 2.1 days in the quarter before",
                "no activity for 32 days",
                "spent 0.00 in the last 90 days",
            ],
        }
    )


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_churn_list_fits_the_terminal_without_cutting_anything(listed, width):
    text = _render(list_table(listed, "churn list", width), width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text  # nothing truncated
    flat = " ".join(" ".join(lines).split())
    for row in listed.itertuples():
        assert row.user_id in text and row.action in text and row.lifecycle_stage in text
        first_reason = row.reasons.split("; ")[0]
        # A wrapped reason keeps its words in order: they all appear, each once per user.
        assert all(word in flat for word in first_reason.split())
    assert "fewer purchases" not in text  # the main reason only
