// The budget what-if: the same scores decided again under another budget (/what_if), shown
// beside the served plan. Nothing is saved; the lists above keep showing the served plan.

import { callJson, failure, stateOf, turns } from "./api.js";
import { $, actionLabel, fillBody, money, whole } from "./format.js";
import { fillPlanRows, planLine } from "./lists.js";

const ROWS = 20; // the new plan's first rows shown
let served = null; // the served plan's summary, from /action_plan
const whatIfTurn = turns(); // a newer what-if wins

// The served budget becomes the starting value of the field (until the operator types).
export function knowServedPlan(decisions) {
  served = decisions;
  const input = $("#what-if-budget");
  if (decisions && decisions.budget !== null && !input.dataset.touched) input.value = String(decisions.budget);
}

const beside = (now, before, format) => (before === undefined ? format(now) : `${format(now)} (${format(before)})`);

function renderActions(byAction) {
  fillBody($("#what-if-actions tbody"), byAction, (row) => [
    [actionLabel(row.action)],
    [beside(row.users, row.served_users, whole.format), "num"],
    [beside(row.cost, row.served_cost, money.format), "num"],
    [beside(row.expected_gain, row.served_expected_gain, money.format), "num"],
  ]);
}

function readBudget() {
  const text = $("#what-if-budget").value.trim();
  if (text === "") return { budget: null };
  const budget = Number(text);
  if (!Number.isFinite(budget) || budget < 0) return { problem: `“${text}” is not a budget: enter an amount of 0 or more, or leave it empty for no budget.` };
  return { budget };
}

export async function runWhatIf() {
  const status = $("#what-if-status");
  const result = $("#what-if-result");
  const { budget, problem } = readBudget();
  if (problem) {
    status.textContent = problem;
    return;
  }
  const current = whatIfTurn();
  result.dataset.state = "loading";
  status.textContent = "Deciding again…";
  try {
    const answer = await callJson("what_if", { budget, top: ROWS });
    if (!current()) return;
    const plan = answer.plan;
    $("#what-if-totals").textContent = `${budget === null ? "With no budget" : `With a budget of ${money.format(budget)}`}: `
      + planLine(plan);
    const before = answer.served || served;
    $("#what-if-served").textContent = before ? `Served plan: ${planLine(before)}` : "The served plan has no summary to compare with.";
    renderActions(answer.by_action);
    fillPlanRows($("#what-if-rows tbody"), answer.rows);
    $("#what-if-basis").textContent = `Decided with ${answer.basis}.`;
    result.hidden = false;
    result.dataset.budget = budget === null ? "none" : String(budget);
    result.dataset.state = "ready";
    status.textContent = `${whole.format(plan.contacted)} users would be contacted; the first `
      + `${whole.format(answer.rows.length)} by expected gain are listed below.`;
  } catch (error) {
    if (!current()) return;
    result.dataset.state = stateOf(error);
    status.textContent = failure(error, "what-if plan", "made");
  }
}

export function wireWhatIf() {
  $("#what-if-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runWhatIf();
  });
  $("#what-if-budget").addEventListener("input", (event) => { event.target.dataset.touched = "yes"; });
}
