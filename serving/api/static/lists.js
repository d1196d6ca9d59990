// The operator's two lists and their shared filters: the churn list (whom we are about to lose,
// /churn_list, ranked by value at risk unless "Rank by" says otherwise) and the action plan
// (whom we contact, /action_plan, always by expected gain), each downloadable as the API's CSV.

import { call, callJson, failure, stateOf, turns } from "./api.js";
import {
  $, actionLabel, decisionWords, el, fillBody, money, percent, share, stageLabel, tierLabel,
  userButton, whole,
} from "./format.js";

const SORT_NAMES = { gain: "expected gain", risk: "churn risk", value_at_risk: "value at risk" };
const shown = { churn: null, plan: null }; // the query whose rows are on screen, per list
const shownRows = { churn: [], plan: [] };
const turn = { churn: turns(), plan: turns() }; // newer requests win; late answers are dropped

// ---- filters ---------------------------------------------------------------------------
// The filter choices this snapshot and playbook contain, ticks kept across a refill.
export function fillChoices(fieldsetId, name, choices) {
  const fieldset = $(fieldsetId);
  const ticked = new Set([...fieldset.querySelectorAll("input:checked")].map((i) => i.value));
  fieldset.querySelectorAll("label").forEach((label) => label.remove());
  for (const choice of choices) {
    const label = el("label", null, "check");
    const input = document.createElement("input");
    Object.assign(input, { type: "checkbox", name, value: choice.id, checked: ticked.has(choice.id) });
    label.append(input, ` ${choice.label}`);
    fieldset.appendChild(label);
  }
}

const ticked = (name) =>
  [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);

// The filters both lists share (the action plan takes no sort: it is ranked by gain).
function currentFilters() {
  const minRisk = Number.parseFloat($("#min-risk").value);
  const top = Number.parseInt($("#top").value, 10);
  return {
    stage: ticked("stages"),  // the CLI's names (--stage, --tier, --action)
    tier: ticked("tiers"),
    action: ticked("actions"),
    min_risk: Number.isFinite(minRisk) ? Math.min(Math.max(minRisk, 0), 1) : 0,
    top: Number.isFinite(top) ? Math.min(Math.max(top, 1), 10000) : 100,
  };
}

// ---- rendering ---------------------------------------------------------------------------
const stageCell = (stage) => [stageLabel(stage), `stage stage-${stage}`];

function renderChurnRows(rows) {
  fillBody($("#churn-table tbody"), rows, (row) => [
    [String(row.rank), "num"],
    userButton(row.user_id),
    [percent.format(row.churn_probability), "num"],
    [money.format(row.value_at_stake), "num"],
    [money.format(row.value_at_risk), "num"],
    stageCell(row.lifecycle_stage),
    [tierLabel(row.value_tier)],
    [actionLabel(row.action), row.action === "no_action" ? "muted" : "action"],
    [money.format(row.expected_gain), "num"],
    [money.format(row.action_cost), "num"],
    [row.reasons],
  ]);
}

// Plan rows, in the action plan and in the what-if's new plan alike.
export function fillPlanRows(body, rows) {
  fillBody(body, rows, (row) => [
    [String(row.rank), "num"],
    userButton(row.user_id),
    [actionLabel(row.action), "action"],
    [money.format(row.action_cost), "num"],
    [money.format(row.expected_gain), "num"],
    [percent.format(row.churn_probability), "num"],
    [money.format(row.value_at_stake), "num"],
    stageCell(row.lifecycle_stage),
    [tierLabel(row.value_tier)],
    [decisionWords(row.decision_reason, row.action)],
    [row.reasons],
  ]);
}

// Labels arrive with the summary; rows already on screen are drawn again with them.
const renderPlanRows = (rows) => fillPlanRows($("#action-plan-table tbody"), rows);

export function relabelLists() {
  renderChurnRows(shownRows.churn);
  renderPlanRows(shownRows.plan);
}

function markSort(sortBy) {
  document.querySelectorAll("#churn-table th[data-sort]").forEach((th) => {
    th.setAttribute("aria-sort", th.dataset.sort === sortBy ? "descending" : "none");
  });
}

// ---- loading -----------------------------------------------------------------------------
// Load one list: the shared bookkeeping of both (states, late answers, auth, errors).
async function loadInto(list, { endpoint, query, table, status, what, render, done }) {
  const current = turn[list]();
  table.dataset.state = "loading";
  status.textContent = `Loading the ${what}…`;
  try {
    const body = await callJson(endpoint, query);
    if (!current()) return;
    shownRows[list] = body.rows;
    render(body.rows);
    shown[list] = query;
    table.dataset.query = JSON.stringify(query);
    table.dataset.state = "ready";
    done(body);
  } catch (error) {
    if (!current()) return;
    table.querySelector("tbody").replaceChildren();
    shown[list] = null;
    shownRows[list] = [];
    table.dataset.state = stateOf(error);
    status.textContent = failure(error, what);
    if (list === "plan") Object.assign($("#plan-totals"), { textContent: "" }).dataset.state = stateOf(error);
  }
}

export function loadChurnList() {
  const query = { ...currentFilters(), sort_by: $("#sort-by").value };
  const status = $("#list-status");
  return loadInto("churn", {
    endpoint: "churn_list", query, table: $("#churn-table"), status, what: "churn list",
    render: renderChurnRows,
    done: (body) => {
      markSort(query.sort_by);
      status.textContent = `Showing ${whole.format(body.rows.length)} of `
        + `${whole.format(body.matched)} matching users, ranked by ${SORT_NAMES[query.sort_by]}.`;
    },
  });
}

// The whole plan's totals, against the best any plan could do (the LP upper bound).
export function planLine(run) {
  return `${whole.format(run.contacted)} of ${whole.format(run.users)} users contacted · cost `
    + `${money.format(run.cost)} · expected gain ${money.format(run.achieved_gain)} · `
    + `${share.format(run.share_of_bound)} of the upper bound ${money.format(run.upper_bound)}`
    + (run.budget === null ? " · no budget" : ` · budget ${money.format(run.budget)}`);
}

let onPlan = () => {}; // told the served plan's summary (the what-if compares with it)
export const whenPlanLoaded = (listener) => { onPlan = listener; };

function loadPlan() {
  const status = $("#plan-status");
  return loadInto("plan", {
    endpoint: "action_plan", query: currentFilters(), table: $("#action-plan-table"), status,
    what: "action plan",
    render: renderPlanRows,
    done: (body) => {
      const line = $("#plan-totals");
      line.textContent = body.decisions ? `Whole plan: ${planLine(body.decisions)}`
        : "Whole plan: the served score file carries no decision summary, so the upper bound is unknown.";
      line.dataset.state = "ready";
      status.textContent = `Showing ${whole.format(body.rows.length)} of `
        + `${whole.format(body.matched)} contacted users matching the filters (cost `
        + `${money.format(body.cost)}, expected gain ${money.format(body.expected_gain)}), `
        + "ranked by expected gain.";
      onPlan(body.decisions);
    },
  });
}

export const loadLists = () => Promise.all([loadChurnList(), loadPlan()]);

export async function downloadCsv(list) {
  const [endpoint, statusSelector, name] = list === "churn"
    ? ["churn_list_csv", "#list-status", "churn-list"]
    : ["action_plan_csv", "#plan-status", "action-plan"];
  const status = $(statusSelector);
  if (!shown[list]) {
    status.textContent = "Nothing to download yet: load the list first.";
    return;
  }
  try {
    const blob = await (await call(endpoint, shown[list])).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([blob], { type: "text/csv" }));
    link.download = `retain-${name}-${$("#snapshot").dataset.asOf || "latest"}.csv`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } catch (error) {
    status.textContent = failure(error, "CSV", "downloaded");
  }
}
