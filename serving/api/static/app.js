// Retain operator page: the wiring. Plain JavaScript modules, no build step; Chart.js is the
// one third-party file (vendored in static/vendor/).
//
// What loads from where: the snapshot line from /model_info, the two lists from /churn_list
// and /action_plan (lists.js), the summary and the change in risk below them (summary.js),
// the budget what-if on demand (whatif.js), one user's explanation when their id is clicked
// (explain.js). Every call carries the API key when the service needs one (api.js).

import { AuthError, KEY_STORE, callJson, showAuth, turns } from "./api.js";
import { closeExplanation, openExplanation } from "./explain.js";
import { $, whole } from "./format.js";
import { downloadCsv, loadChurnList, loadLists, whenPlanLoaded } from "./lists.js";
import { loadRiskChange, loadSummary } from "./summary.js";
import { knowServedPlan, wireWhatIf } from "./whatif.js";

const snapshotTurn = turns();

async function loadSnapshot() {
  const current = snapshotTurn();
  const line = $("#snapshot");
  try {
    const info = await callJson("model_info");
    if (!current()) return;
    const asOf = info.snapshot.as_of ? info.snapshot.as_of.slice(0, 10) : "unknown";
    line.dataset.asOf = asOf;
    const version = (facts) => (facts ? `v${facts.version}` : "none");
    line.textContent = `${whole.format(info.snapshot.users)} users scored as of ${asOf} (UTC) `
      + `by churn model ${version(info.churn)}, recall model ${version(info.recall)} and `
      + `value model ${version(info.value)}.`;
  } catch (error) {
    if (!current()) return;
    line.textContent = error instanceof AuthError ? "Snapshot details need the API key."
      : `Snapshot details unavailable: ${error.message}`;
  }
}

function loadAll() {
  showAuth("");
  return Promise.all([loadSnapshot(), loadLists(), loadSummary(), loadRiskChange()]);
}

function wireKey() {
  const keyInput = $("#api-key");
  keyInput.value = sessionStorage.getItem(KEY_STORE) || "";
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    loadAll();
  });
  $("#forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    keyInput.value = "";
    loadAll();
  });
}

function wireLists() {
  const filters = $("#filters");
  filters.addEventListener("submit", (event) => { event.preventDefault(); loadLists(); });
  filters.addEventListener("change", () => loadLists());
  filters.addEventListener("reset", () => setTimeout(loadLists, 0)); // after the form resets
  // "Rank by" belongs to the filter form (a reset clears it) but ranks the churn list only.
  $("#sort-by").addEventListener("change", () => loadChurnList());
  $("#download-csv").addEventListener("click", () => downloadCsv("churn"));
  $("#download-plan-csv").addEventListener("click", () => downloadCsv("plan"));
  document.querySelectorAll("#churn-table th[data-sort] button").forEach((button) => {
    button.addEventListener("click", () => {
      $("#sort-by").value = button.parentElement.dataset.sort;
      loadChurnList();
    });
  });
}

function wireExplanations() {
  // any user id on the page (both lists, the what-if, the risk table) opens the panel
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.user-link");
    if (button) openExplanation(button.dataset.userId, button);
  });
  $("#explain-close").addEventListener("click", closeExplanation);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeExplanation();
  });
}

// Module scripts run once the document is parsed (and after the deferred Chart.js).
wireKey();
wireLists();
wireExplanations();
wireWhatIf();
whenPlanLoaded(knowServedPlan);
loadAll();
