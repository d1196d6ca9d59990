"""The report in Chromium: every chart spans the page's text column, none is stretched.

Why a browser: "charts use the page width" is a fact about layout (CSS, image sizes, the
viewport), which only a rendering engine can measure. The report is built from hand-made
scores and a tiny log (tests/serving/report_data.py), with two stand-in model plots, and opened
from a file, as operators open it.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from features import from_frame
from serving.reporting.charts import figure_data_uri
from serving.reporting.model_section import ModelSection
from serving.reporting.report import build_report
from serving.reporting.report_config import ReportConfig
from tests.serving import report_data as data
from tests.serving.operator_browser import (
    browser_fixture,  # noqa: F401  (the `browser` fixture)
    needs_chromium,
    open_tab,
)

MEASURE = """() => {
  const column = document.querySelector('h2').getBoundingClientRect().width;
  const charts = [...document.querySelectorAll('img.chart')].map(img => ({
    alt: img.alt, width: img.getBoundingClientRect().width, natural: img.naturalWidth }));
  const plots = [...document.querySelectorAll('.plots')].map(row =>
    row.getBoundingClientRect().width);
  return { column, charts, plots, page: document.documentElement.clientWidth };
}"""


def _plot(width: float) -> str:
    figure = Figure(figsize=(width, 4))
    figure.add_subplot().plot([0, 1], [0, 1])
    return figure_data_uri(figure)


@needs_chromium
def test_charts_fill_the_page_width(browser, tmp_path) -> None:
    scores = data.scores(
        [("a", "active", "high"), ("b", "at_risk", "low"), ("c", "new", "mid")],
        actions={"a": "habit_nudge"},
    )
    log = from_frame(data.events(data.FUNNEL_EVENTS))
    model = ModelSection("churn", "1", None, {"calibration": _plot(6.4), "gain_lift": _plot(11)})
    page = build_report(scores, events=log, config=ReportConfig(weeks=2), models=[model])
    path = tmp_path / "report.html"
    path.write_text(page)
    context, tab, problems = open_tab(browser, "file://")
    try:
        tab.goto(path.as_uri())
        tab.wait_for_function("[...document.images].every(img => img.complete)")
        layout = tab.evaluate(MEASURE)
    finally:
        context.close()
    assert not problems, problems
    # segment charts (4), KPIs (5), funnel (1), cohort retention (1)
    assert len(layout["charts"]) == 11, [c["alt"] for c in layout["charts"]]
    column = layout["column"]
    assert column > 0.75 * layout["page"]  # the text column itself is most of a 1400-px window
    for chart in layout["charts"]:
        assert chart["width"] >= 0.9 * column, chart
        assert chart["natural"] >= 0.9 * chart["width"], chart  # drawn that wide, not stretched
    assert layout["plots"] and all(width >= 0.9 * column for width in layout["plots"])
