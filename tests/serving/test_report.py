"""`retain report`: one self-contained HTML file whose numbers come from the scores."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from serving.reporting.charts import action_plan, segment_figures
from serving.reporting.model_section import model_sections
from serving.reporting.report import build_report

runner = CliRunner()


class _Images(HTMLParser):
    """Collects every <img src> and whether anything is loaded from outside the file."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.sources.append(values.get("src") or "")
        for name in ("href", "src"):
            if (values.get(name) or "").startswith(("http:", "https:", "//")):
                self.external.append(values[name] or "")


@pytest.fixture(scope="module")
def score_file(scored, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scores as `retain score` writes them (the run's decision summary in the metadata)."""
    from serving.decisions.policy import DECISIONS_ATTR

    path = tmp_path_factory.mktemp("report") / "scores.parquet"
    assert scored.scores.attrs[DECISIONS_ATTR] == scored.decisions.as_dict()
    scored.scores.to_parquet(path, index=False)
    return path


def test_action_plan_adds_up_to_the_scores(scored) -> None:
    plan = action_plan(scored.scores)
    assert plan["users"].sum() == len(scored.scores)
    assert plan["cost"].sum() == pytest.approx(scored.scores["action_cost"].sum())
    expected = scored.scores.groupby("action")["expected_gain"].sum()
    assert plan["expected_gain"].sort_index().to_numpy() == pytest.approx(expected.to_numpy())


def test_segment_figures_are_titled_charts(scored) -> None:
    figures = segment_figures(scored.scores)
    assert set(figures) == {"stage_tier_grid", "risk_distribution", "value_at_risk", "action_plan"}
    for figure in figures.values():
        titles = [figure.get_suptitle()] + [axes.get_title() for axes in figure.axes]
        assert any(titles)


def test_report_is_self_contained_with_every_section(scored, serving_store) -> None:
    page = build_report(
        scored.scores.copy(),
        models=model_sections(serving_store.tracking_uri),
        budget=1000.0,
        source="test",
    )
    parser = _Images()
    parser.feed(page)
    assert parser.external == []
    assert len(parser.sources) >= 4 + 4  # segment charts + two plots per model
    assert all(src.startswith("data:image/png;base64,") for src in parser.sources)
    for heading in ("Who is at risk", "Action plan", "Cohort retention", "Model quality"):
        assert heading in page
    users = re.search(r"users scored<b>([\d,]+)</b>", page)
    assert users and int(users.group(1).replace(",", "")) == len(scored.scores)
    assert "churn model v1" in page and "ROC-AUC" in page and "Recency rule" in page
    assert "Churn model v1</h3>" in page and ">roc_auc<" not in page  # (warnings quote ids)
    assert "recall model v" in page
    spent = scored.scores["action_cost"].sum() / 1000.0
    assert f"{spent:.0%} of 1,000" in page
    scores = scored.scores
    at_risk = (scores["churn_probability"] * scores["value_at_stake"]).sum()
    assert f"revenue at risk<b>{at_risk:,.0f}</b>" in page
    assert "upper bound" in page
    bare = scored.scores.copy()
    bare.attrs.clear()  # a CSV score file, say: no decision summary travels with it
    assert "carries no decision summary" in build_report(bare, source="test")


def test_report_shows_the_decisions_and_the_action_plan(score_file, scored) -> None:
    """From a score file `retain score` wrote: achieved gain against the upper bound, and the
    first users of the action plan (serving.decisions.churn_list.action_plan), as the API lists
    them."""
    from serving.decisions.churn_list import ChurnListQuery, action_plan
    from serving.scoring.score_files import read_scores

    scores = read_scores(score_file)
    page = build_report(scores, source="test")
    summary = scored.decisions
    assert "Decisions: expected gain against the upper bound" in page
    assert f"upper bound<b>{summary.upper_bound:,.2f}</b>" in page
    assert f"expected gain<b>{summary.achieved_gain:,.2f}</b>" in page
    assert f"share of the bound<b>{summary.share_of_bound:.1%}</b>" in page
    assert f"{summary.contacted:,} of {summary.users:,}" in page
    plan = action_plan(scores, ChurnListQuery(top=50))
    assert "Whom we contact first" in page
    positions = [page.index(f">{user_id}</td>") for user_id in plan["user_id"].head(10)]
    assert positions == sorted(positions)  # in the plan's order: highest expected gain first
    assert "budget used" in page and ("no budget" in page) == (summary.budget is None)


def test_report_command_writes_html_with_cohorts(score_file: Path, serving_store, tmp_path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["report", "--scores", str(score_file), "--events", str(serving_store.events),
         "--out", str(out), "--tracking-uri", serving_store.tracking_uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "cohort retention" in page and "No event log given" not in page
    # the simulator's sessions give the default funnel; scored at the log's end: not stale
    assert "Weekly KPIs by segment" in page and "Funnel: View → Add to cart → Purchase" in page
    assert "Up to date: scores as of" in page and "Stale scores" not in page
    assert not list(tmp_path.glob(".report.html.*"))  # atomic write left no temporary file


def test_report_without_a_model_store_still_explains_the_scores(score_file, tmp_path) -> None:
    out = tmp_path / "report.html"
    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    result = runner.invoke(
        app, ["report", "--scores", str(score_file), "--out", str(out), "--tracking-uri", missing]
    )
    assert result.exit_code == 0, result.output
    assert "no MLflow store" in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scores", "/nonexistent/scores.parquet"], "no such score file"),
        (["--out", "report.pdf"], "should end in .html"),
    ],
)
def test_bad_report_input_is_one_line(score_file, args, message) -> None:
    base = {"--scores": str(score_file), "--out": "r.html"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = runner.invoke(app, ["report", *[x for kv in base.items() for x in kv]])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_scores_without_the_columns_are_refused(tmp_path) -> None:
    path = tmp_path / "other.parquet"
    pd.DataFrame({"user_id": ["a"]}).to_parquet(path)
    result = runner.invoke(
        app, ["report", "--scores", str(path), "--out", str(tmp_path / "r.html")]
    )
    assert result.exit_code != 0 and "not a `retain score` output" in result.output
