"""The report reads well: labels instead of ids, one header row per table, the currency named,
empty segments explained, stale scores flagged, one colour per cohort; and `retain report`'s
new flags (--currency, --funnel, --weeks, --report-date, --report-config) do what they say or
are refused with a message.

Score files and logs are hand-made (tests/serving/report_data.py): no model is trained here.
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import from_frame
from retain.cli import app
from serving.reporting.charts import cohort_figure
from serving.reporting.freshness import freshness, freshness_banner
from serving.reporting.model_section import ModelSection, metric_table, model_quality_html
from serving.reporting.report import build_report
from serving.reporting.report_config import ReportConfig, load_report_config
from tests.serving import report_data as data

runner = CliRunner()
SEGMENTS = [
    ("a", "active", "high"),
    ("b", "active", "low"),
    ("c", "at_risk", "high"),
    ("d", "dormant", "low"),
]
ACTIONS = {"a": "habit_nudge", "c": "retention_discount"}


class _Tables(HTMLParser):
    """Each table's header rows (their cell texts) and every header and cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.header_rows: list[list[list[str]]] = []
        self.headers: list[str] = []
        self.cells: list[str] = []
        self._in_head = False
        self._text: list[str] | None = None
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.header_rows.append([])
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._in_head:
            self.header_rows[-1].append([])
        elif tag in ("th", "td"):
            self._text, self._tag = [], tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._text is not None:
            text = "".join(self._text).strip()
            (self.headers if tag == "th" else self.cells).append(text)
            if self._in_head:
                self.header_rows[-1][-1].append(text)
            self._text = None

    def handle_data(self, text: str) -> None:
        if self._text is not None:
            self._text.append(text)


@pytest.fixture(scope="module")
def kpi_log():
    return from_frame(data.events(data.KPI_EVENTS))


@pytest.fixture(scope="module")
def page(kpi_log) -> str:
    scores = data.scores(SEGMENTS, actions=ACTIONS)
    models = [ModelSection("value", "3", metric_table(_LOGGED), {}, "")]
    return build_report(
        scores, events=kpi_log, config=ReportConfig(currency="EUR", weeks=2), models=models
    )


_LOGGED = {
    "oot_roc_auc": 0.81,
    "recency_rule_oot_roc_auc": 0.74,
    "oot_retained_rows": 490.0,
    "oot_rows": 900.0,
    "rfm_logreg_oot_roc_auc": 0.79,
}


def test_tables_have_one_header_row_of_words(page: str) -> None:
    tables = _Tables()
    tables.feed(page)
    assert len(tables.header_rows) >= 5  # by action, plan, KPIs, funnel, model metrics
    for rows in tables.header_rows:
        assert len(rows) == 1, rows  # no second, empty header row (pandas' index name row)
        assert all(rows[0]), rows  # no empty header cell
    assert not [h for h in tables.headers if "_" in h], tables.headers
    snake = [c for c in tables.cells if re.fullmatch(r"[a-z]+(_[a-z]+)+", c)]
    assert snake == [], snake  # at_risk, habit_nudge, best_gain … shown as words
    assert {"At risk", "Habit nudge", "Retention discount", "No action"} <= set(tables.cells)
    assert "Expected gain (EUR)" in tables.headers and "Cost (EUR)" in tables.headers


def test_the_stacks_fit_half_metrics_are_named_like_the_report_halfs() -> None:
    from serving.reporting.labels import metric_label

    assert metric_label("fit_pr_auc") == "Fit half: PR-AUC"  # was "Fit pr AUC"
    assert metric_label("fit_roc_auc") == "Fit half: ROC-AUC"
    assert metric_label("fit_pr_auc").endswith(metric_label("pr_auc"))


def test_model_columns_are_named_as_their_authors_spell_them() -> None:
    from serving.reporting.labels import humanise

    assert humanise("lightgbm") == "LightGBM"  # was "Lightgbm"
    assert humanise("bgnbd") == "BG/NBD"  # was "Bgnbd"
    assert humanise("rfm_logreg") == "RFM logistic regression"


def test_metric_tables_say_metrics_in_words_and_counts_as_integers() -> None:
    html = model_quality_html([ModelSection("value", "3", metric_table(_LOGGED), {}, "")])
    for words in ("ROC-AUC", "Recency rule", "RFM logistic regression", "Retained: Rows"):
        assert words in html
    assert ">490<" in html and "490.0" not in html
    assert "roc_auc" not in html and "Rows<" not in html.replace("Retained: Rows<", "")


def test_the_currency_is_named_in_cards_tables_and_chart_axes(page: str, kpi_log) -> None:
    assert "planned cost<b>4.00 EUR</b>" in page  # a and c: cost 2 each
    assert "expected gain<b>10.00 EUR</b>" in page
    assert "Average order value (EUR)" in page
    assert "amounts in EUR" in page
    plain = build_report(data.scores(SEGMENTS, actions=ACTIONS), events=kpi_log,
                         config=ReportConfig(weeks=2))  # fmt: skip
    words = re.sub(r"data:image/png;base64,[^'\"]+", "", plain)  # the text, not the pictures
    assert "EUR" not in words and "planned cost<b>4.00</b>" in plain
    from serving.reporting.charts import segment_figures
    from serving.reporting.labels import Wording

    figures = segment_figures(data.scores(SEGMENTS, actions=ACTIONS), 0.5, Wording("EUR"))
    axis = figures["value_at_risk"].axes[0].get_xlabel()
    assert axis.endswith("(EUR)"), axis
    assert [a.get_xlabel() for a in figures["action_plan"].axes][1:] == [
        "total cost (EUR)", "expected gain (EUR)",
    ]  # fmt: skip


def test_empty_stages_and_tiers_are_left_out_and_named(page: str) -> None:
    from serving.reporting.charts import stage_tier_figure

    expected = "No users in stages “New”, “Churned”, “Reactivated”; tiers “Mid”, “None (no value)”"
    assert expected in page
    from serving.decisions import STAGES, TIERS
    from serving.reporting.kpi_section import empty_segments_note

    stages = [s for s in STAGES if s != "new"]  # five stages, three tiers: one of each missing
    tiers = [t for t in TIERS if t != "none"]
    users = pd.DataFrame({"lifecycle_stage": stages, "value_tier": (tiers * 2)[: len(stages)]})
    note = empty_segments_note(users)
    assert note.startswith("No users in stage “New”; tier “None (no value)”: left out")
    figure = stage_tier_figure(data.scores(SEGMENTS))
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["Active", "At risk", "Dormant"]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["High value", "Low value"]


def test_stale_scores_are_flagged_and_current_ones_are_not(kpi_log) -> None:
    """KPI_EVENTS end with c's purchase at 2024-01-15 00:00, so the report date is the midnight
    after it, 2024-01-16. Scores as of 2024-01-08 missed 7 events of 4 users: a's purchase and
    refund, b's two purchases, c's view and purchase, e's purchase."""
    old = data.scores(SEGMENTS, as_of=datetime(2024, 1, 8))
    state = freshness(datetime(2024, 1, 8), events=kpi_log)
    assert state.stale and state.report_date == datetime(2024, 1, 16)
    assert (state.late_events, state.late_users) == (7, 4)
    page = build_report(old, events=kpi_log, config=ReportConfig(weeks=2))
    assert "Stale scores:" in page and "8 days older than the report" in page
    assert "7 events of 4 users came after the scores' cutoff" in page
    current = freshness(datetime(2024, 1, 16), events=kpi_log)
    assert not current.stale and "Up to date: scores as of 2024-01-16" in freshness_banner(current)
    # without a log the report date is today, or the date asked for
    today = freshness(datetime(2024, 1, 16), now=datetime(2024, 1, 20, 9))
    assert today.stale and today.basis == "today (UTC)"
    assert "4 days older" in freshness_banner(today)
    asked = freshness(datetime(2024, 1, 16), report_date=datetime(2024, 1, 16))
    assert not asked.stale and asked.basis == "the date asked for"
    late = freshness(datetime(2024, 1, 16), report_date=datetime(2024, 1, 16, 12))
    assert late.stale and "12 hours older" in freshness_banner(late)


def test_each_cohort_has_its_own_colour() -> None:
    months = pd.date_range("2023-01-01", periods=12, freq="MS")
    retention = pd.DataFrame(
        [(m, k, 0.9**k, 100) for m in months for k in range(3)],
        columns=["cohort", "months_since", "retention", "cohort_users"],
    )
    lines = cohort_figure(retention).axes[0].get_lines()
    assert len(lines) == 12
    assert len({line.get_color() for line in lines}) == 12


def _write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    scores = tmp_path / "scores.parquet"
    data.scores(SEGMENTS, actions=ACTIONS).to_parquet(scores, index=False)
    events = tmp_path / "events.parquet"
    data.events(data.FUNNEL_EVENTS).to_parquet(events, index=False)
    return scores, events


def _report(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out = tmp_path / "r.html"
    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    result = runner.invoke(app, ["report", "--out", str(out), "--tracking-uri", missing, *args])
    return result.exit_code, result.output, out.read_text() if out.exists() else ""


def test_report_command_names_the_currency_and_draws_the_funnel(tmp_path) -> None:
    scores, events = _write_inputs(tmp_path)
    config = tmp_path / "report.yaml"
    config.write_text("currency: USD\nfunnel: [view, add_to_cart]\nweeks: 3\n")
    assert load_report_config(config).funnel == ("view", "add_to_cart")
    code, output, page = _report(
        tmp_path, "--scores", str(scores), "--events", str(events),
        "--report-config", str(config), "--currency", "EUR", "--weeks", "2",
    )  # fmt: skip
    assert code == 0, output
    assert "planned cost<b>4.00 EUR</b>" in page  # the flag wins over the file's USD
    assert "Funnel: View → Add to cart</h2>" in page  # the file's steps
    assert "2 weeks from 2024-01-02 to 2024-01-16" in page  # the flag's weeks, to the log's end


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--funnel", "view,checkout"], "funnel step checkout not in the event log"),
        (["--funnel", "view"], "a funnel needs at least two steps"),
        (["--currency", "1 EUR"], "currency"),
        (["--weeks", "0"], "weeks"),
        (["--report-date", "yesterday"], "is not a date"),
    ],
)
def test_bad_report_settings_are_one_line(tmp_path, args, message) -> None:
    scores, events = _write_inputs(tmp_path)
    code, output, _ = _report(tmp_path, "--scores", str(scores), "--events", str(events), *args)
    assert code != 0 and message in output, output
    assert "Traceback" not in output


@pytest.mark.parametrize("flag", [["--funnel", "view,purchase"], ["--weeks", "4"]])
def test_event_flags_without_events_are_refused(tmp_path, flag) -> None:
    scores, _ = _write_inputs(tmp_path)
    code, output, _ = _report(tmp_path, "--scores", str(scores), *flag)
    assert code == 2 and f"{flag[0]} cannot apply without --events" in output, output
