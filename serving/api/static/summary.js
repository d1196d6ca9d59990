// Below the lists: the whole snapshot at a glance (/segment_summary: key figures and charts)
// and how churn risk moved since the previous scoring run (/risk_change).
//
// Why below: operators open the page for the lists; the summary answers "how does the base
// look", whatever the lists' filters. Each number appears once: key figures as figures,
// distributions as charts (hover for values), the largest rises in risk as a short table.

import { callJson, failure, stateOf, turns } from "./api.js";
import { drawRiskChart, drawSummaryCharts } from "./charts.js";
import {
  $, el, fillBody, learnActionLabels, money, percent, points, stageLabel, tierLabel, userButton,
  whole,
} from "./format.js";
import { fillChoices, relabelLists } from "./lists.js";

// Key figures as a definition list: [term, value] pairs.
function figures(selector, facts) {
  $(selector).replaceChildren(...facts.map(([term, value]) => {
    const item = el("div");
    item.append(el("dt", term), el("dd", value));
    return item;
  }));
}

function headline(summary) {
  const contacted = summary.plan.filter((p) => p.action !== "no_action");
  const facts = [
    ["Users scored", whole.format(summary.users)],
    ["Value at risk", money.format(summary.value_at_risk.total)],
    ["Users with an action", whole.format(contacted.reduce((n, p) => n + p.users, 0))],
    ["Planned cost", money.format(contacted.reduce((n, p) => n + p.cost, 0))],
    ["Expected gain", money.format(contacted.reduce((n, p) => n + p.expected_gain, 0))],
    ["At risk from", `${percent.format(summary.at_risk_threshold)} churn risk`],
  ];
  figures("#headline", facts);
}

const summaryTurn = turns();
const riskTurn = turns();

export async function loadSummary() {
  const current = summaryTurn();
  const box = $("#summary");
  const status = $("#summary-status");
  box.dataset.state = "loading";
  try {
    const summary = await callJson("segment_summary");
    if (!current()) return;
    learnActionLabels(summary.actions);
    headline(summary);
    drawSummaryCharts(summary);
    // the filters offer what this snapshot and playbook actually contain
    fillChoices("#stage-filter", "stages", summary.stages.map((s) => ({ id: s, label: stageLabel(s) })));
    fillChoices("#tier-filter", "tiers", summary.tiers.map((t) => ({ id: t, label: tierLabel(t) })));
    fillChoices("#action-filter", "actions", summary.actions);
    relabelLists();
    box.dataset.state = "ready";
    status.textContent = `All ${whole.format(summary.users)} scored users, whatever the lists' filters. Hover a bar for its value.`;
  } catch (error) {
    if (!current()) return;
    box.dataset.state = stateOf(error);
    status.textContent = failure(error, "segment summary");
  }
}

function changeFigures(change) {
  const facts = [
    ["Users in both runs", whole.format(change.compared)],
    [`Risk up ≥ ${points(change.notable_change).slice(1)}`, whole.format(change.risen)],
    [`Risk down ≥ ${points(change.notable_change).slice(1)}`, whole.format(change.fallen)],
    ["Mean change", points(change.mean_change)],
    ["New users", whole.format(change.new_users)],
    ["Users gone", whole.format(change.gone_users)],
  ];
  figures("#risk-figures", facts);
}

export async function loadRiskChange() {
  const current = riskTurn();
  const section = $("#risk-change");
  const message = $("#risk-message");
  section.dataset.state = "loading";
  try {
    const change = await callJson("risk_change", { top: 10 });
    if (!current()) return;
    drawRiskChart(change);
    message.textContent = change.message
      + (change.unscored ? ` ${whole.format(change.unscored)} users have no churn risk and are not in the chart.` : "");
    const compared = change.previous !== null;
    $("#risk-details").hidden = !compared;
    if (compared) {
      changeFigures(change);
      fillBody($("#risk-table tbody"), change.largest_increases, (row) => [
        userButton(row.user_id),
        [stageLabel(row.lifecycle_stage), `stage stage-${row.lifecycle_stage}`],
        [percent.format(row.previous_churn_probability), "num"],
        [percent.format(row.churn_probability), "num"],
        [points(row.change), "num"],
      ]);
    }
    section.dataset.previous = compared ? "yes" : "none";
    section.dataset.state = "ready";
  } catch (error) {
    if (!current()) return;
    section.dataset.state = stateOf(error);
    message.textContent = failure(error, "change in risk");
  }
}
