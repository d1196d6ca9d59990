// One user's explanation in a side panel: why their churn risk is what it is (both ways), what
// we decided for them and why, how their risk moved, and the inputs behind it.
//
// Why three calls: /explain has the contributions (TreeSHAP, in churn log-odds) and the feature
// values they come from; /recommend the decision and its reason; /risk_change the user's risk
// in the previous run, when the service kept one. The API offers no per-user event history, so
// the activity shown is the feature values the explanation lists (recency, counts, spend at
// the cutoff), which is what the model saw.

import { callJson, failure, turns } from "./api.js";
import {
  $, actionLabel, decisionWords, el, featureName, featureValue, money, percent, points,
  stageLabel, tierLabel,
} from "./format.js";

const TOP_K = 12; // contributions asked for: enough for both directions
let opener = null; // the button that opened the panel gets the focus back
const explainTurn = turns(); // a newer click (or closing the panel) wins; late answers are dropped

function fact(list, term, value) {
  const item = el("div");
  item.append(el("dt", term), el("dd", value));
  list.appendChild(item);
}

function renderFacts(scored, explained, change) {
  const list = $("#explain-facts");
  list.replaceChildren();
  const risk = scored?.churn_probability ?? explained?.churn_probability;
  fact(list, "Churn risk", risk === null || risk === undefined ? "—" : percent.format(risk));
  if (explained?.model === "recall") {
    fact(list, "Scored by", `the recall model (lapsed user): return probability ${percent.format(explained.return_probability)}`);
  }
  if (scored) {
    fact(list, "Stage · tier", `${stageLabel(scored.lifecycle_stage)} · ${tierLabel(scored.value_tier)}`);
    fact(list, "Value at stake", money.format(scored.value_at_stake));
  }
  fact(list, "Since the previous run", change);
}

function renderDecision(scored, problem) {
  const line = $("#explain-decision");
  line.replaceChildren();
  if (!scored) {
    line.textContent = problem;
    return;
  }
  line.dataset.action = scored.action;
  if (scored.action === "no_action") {
    line.append(el("strong", "No action"), `: ${decisionWords(scored.decision_reason, scored.action)}.`);
  } else {
    line.append(el("strong", actionLabel(scored.action)),
      ` · cost ${money.format(scored.action_cost)} · expected gain `
      + `${money.format(scored.expected_gain)}: ${decisionWords(scored.decision_reason, scored.action)}.`);
  }
}

// One line per influence, with a bar as long as its push (the largest is 70 px).
function influenceItem(item, largest) {
  const li = el("li");
  const bar = el("span", null, `bar ${item.contribution > 0 ? "up" : "down"}`);
  bar.style.width = `${Math.max(4, (70 * Math.abs(item.contribution)) / largest)}px`;
  li.append(bar, el("span", item.text));
  li.title = item.label ? `${item.label}: ${item.contribution.toFixed(3)} log-odds`
    : `${featureName(item.feature)}: ${item.contribution.toFixed(3)} log-odds`;
  if (item.family) li.dataset.family = item.family;
  else li.dataset.feature = item.feature;
  return li;
}

// Both ways by signal family (one line per family, so one behaviour is said once) when the
// service groups them, else by feature; the inputs table lists every feature explained.
function renderContributions(explained, problem) {
  const raises = $("#explain-raises");
  const lowers = $("#explain-lowers");
  const inputs = $("#explain-values tbody");
  for (const node of [raises, lowers, inputs]) node.replaceChildren();
  if (!explained) {
    raises.appendChild(el("li", problem, "muted"));
    return;
  }
  const influences = explained.families?.length ? explained.families : explained.contributions;
  const largest = Math.max(...influences.map((c) => Math.abs(c.contribution)), 1e-9);
  for (const item of influences) {
    (item.effect === "raises risk" ? raises : lowers).appendChild(influenceItem(item, largest));
  }
  for (const item of explained.contributions) {
    const tr = document.createElement("tr");
    tr.append(el("th", featureName(item.feature)), el("td", featureValue(item.feature, item.value), "num"),
      el("td", `${item.contribution > 0 ? "+" : "−"}${Math.abs(item.contribution).toFixed(3)}`, "num"));
    tr.firstChild.setAttribute("scope", "row");
    inputs.appendChild(tr);
  }
  if (!raises.children.length) raises.appendChild(el("li", "nothing among the largest influences", "muted"));
  if (!lowers.children.length) lowers.appendChild(el("li", "nothing among the largest influences", "muted"));
}

function changeText(change) {
  if (change.status !== "fulfilled") return failure(change.reason, "risk change");
  const answer = change.value;
  const mine = answer.items[0];
  if (!answer.previous) return "no previous scoring run to compare with";
  if (!mine || mine.change === null) return "not scored in the previous run";
  return `${points(mine.change)} (was ${percent.format(mine.previous_churn_probability)})`;
}

export async function openExplanation(userId, from) {
  opener = from || null;
  const current = explainTurn();
  const panel = $("#explain");
  const body = $("#explain-body");
  panel.hidden = false;
  panel.dataset.userId = userId;
  body.dataset.state = "loading";
  $("#explain-heading").textContent = `User ${userId}`;
  $("#explain-status").textContent = "Loading the explanation…";
  panel.focus();
  const [explained, recommended, change] = await Promise.allSettled([
    callJson("explain", { user_id: userId, top_k: TOP_K }),
    callJson("recommend", { user_ids: [userId] }),
    callJson("risk_change", { user_ids: [userId], top: 0 }),
  ]);
  if (!current()) return;
  const scored = recommended.status === "fulfilled" ? recommended.value.items[0] : null;
  if (scored?.status === "unknown_user") {
    body.dataset.state = "error";
    $("#explain-status").textContent = `${userId} is not in the served snapshot.`;
    return;
  }
  const explanation = explained.status === "fulfilled" ? explained.value : null;
  renderFacts(scored, explanation, changeText(change));
  renderDecision(scored, recommended.status === "rejected" ? failure(recommended.reason, "decision") : "");
  renderContributions(explanation,
    explained.status === "rejected" ? failure(explained.reason, "explanation") : "");
  $("#explain-status").textContent = explanation
    ? `The largest influences on this user's churn risk (${explanation.model} model), by `
      + `${explanation.families?.length ? "signal family" : "feature"}; TreeSHAP, in churn log-odds.`
    : "";
  body.dataset.state = "ready";
}

export function closeExplanation() {
  const panel = $("#explain");
  if (panel.hidden) return;
  explainTurn(); // an answer still on its way is for a closed panel
  panel.hidden = true;
  if (opener && opener.isConnected) opener.focus();
  opener = null;
}
