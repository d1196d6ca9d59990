"""Charts of the weekly KPIs and of the funnel, by lifecycle stage and by value tier.

Why two panels per chart (stages left, tiers right) with the overall line on both: an operator
compares a segment with the whole base, and stages and tiers are two different cuts of the same
users (each user is in one of each), so one panel mixing them would double-count. Colours are
the segment charts' (`STAGE_COLOURS`, `TIER_COLOURS`), so "At risk" is the same red everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from serving.decisions import STAGES, TIERS
from serving.reporting.charts import STAGE_COLOURS, TIER_COLOURS, WIDE
from serving.reporting.funnel import Funnel
from serving.reporting.kpis import KPIS, OVERALL, KpiTable
from serving.reporting.labels import Wording, humanise, stage_label, tier_label

PANELS = (("stage", STAGES, STAGE_COLOURS, stage_label), ("tier", TIERS, TIER_COLOURS, tier_label))
OVERALL_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.6}


def _ordered(table: pd.DataFrame, dimension: str, order: tuple[str, ...]) -> list[str]:
    shown = set(table.loc[table["dimension"] == dimension, "segment"])
    return [segment for segment in order if segment in shown]


def kpi_figure(kpis: KpiTable, kpi: str, wording: Wording | None = None) -> Figure:
    """One KPI week by week: by stage (left) and by value tier (right), overall dashed."""
    wording = wording or Wording()
    table = kpis.table
    figure = Figure(figsize=(WIDE, 3.3), layout="constrained")
    figure.suptitle(f"{KPIS[kpi]}, week by week", fontsize=11)
    panels = figure.subplots(1, 2, sharey=True)
    overall = table[table["dimension"] == "overall"]
    for axes, (dimension, order, colours, label) in zip(panels, PANELS, strict=True):
        for segment in _ordered(table, dimension, order):
            rows = table[(table["dimension"] == dimension) & (table["segment"] == segment)]
            axes.plot(rows["week_start"], rows[kpi], marker="o", ms=3, color=colours[segment],
                      label=label(segment))  # fmt: skip
        axes.plot(overall["week_start"], overall[kpi], label="All users", **OVERALL_STYLE)
        axes.set_xlabel("week starting")
        axes.tick_params(axis="x", labelrotation=30, labelsize=8)
        cut = "lifecycle stage" if dimension == "stage" else "value tier"
        axes.legend(fontsize=7, title=f"by {cut}", title_fontsize=8, loc="upper left",
                    bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    if kpi == "aov":
        panels[0].set_ylabel(wording.unit("revenue per purchase"))
    else:
        panels[0].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        panels[0].set_ylabel("share")
    return figure


def funnel_figure(result: Funnel) -> Figure:
    """Share of each segment's users reaching each step: by stage (left) and tier (right)."""
    table = result.table
    steps = result.steps
    figure = Figure(figsize=(WIDE, 3.6), layout="constrained")
    figure.suptitle(
        "Funnel: " + " → ".join(humanise(step) for step in steps)
        + " (share of the segment's users reaching each step)",
        fontsize=11,
    )  # fmt: skip
    panels = figure.subplots(1, 2, sharex=True)
    shades = np.linspace(0.35, 1.0, len(steps))
    for axes, (dimension, order, colours, label) in zip(panels, PANELS, strict=True):
        segments = [OVERALL, *_ordered(table, dimension, order)]
        names = ["All users", *(label(s) for s in segments[1:])]
        height = 0.8 / len(steps)
        for position, step in enumerate(steps):
            share = [_reach_share(table, dimension, segment, step) for segment in segments]
            y = np.arange(len(segments)) + (position - (len(steps) - 1) / 2) * height
            colour = ["black" if s == OVERALL else colours[s] for s in segments]
            bars = axes.barh(y, share, height=height, color=colour, alpha=float(shades[position]),
                             label=humanise(step))  # fmt: skip
            axes.bar_label(bars, labels=[f"{v:.0%}" for v in share], fontsize=7, padding=2)
        axes.set_yticks(range(len(segments)), names)
        axes.invert_yaxis()
        axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_xlim(0, 1.12)
        axes.set_xlabel("users reaching the step, share of the segment")
    panels[1].legend(fontsize=7, title="step (lighter: earlier)", title_fontsize=8,
                     loc="lower right")  # fmt: skip
    return figure


def _reach_share(table: pd.DataFrame, dimension: str, segment: str, step: str) -> float:
    kind = "overall" if segment == OVERALL else dimension
    row = table[
        (table["dimension"] == kind) & (table["segment"] == segment) & (table["step"] == step)
    ]
    users = int(row["users"].iloc[0])
    return float(row["reached"].iloc[0]) / users if users else 0.0
