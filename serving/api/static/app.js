// Retain operator page. Plain JavaScript, no build step, no third-party code.
//
// Why it is this thin: every number on the page comes from the service's own API
// (/churn_list, /action_plan, their CSV twins, /segment_summary, /model_info), so the page
// cannot disagree with the API or the CLI. The API key (when the service needs one) lives in
// sessionStorage and goes out as the X-API-Key header; it never appears in a URL.
//
// Two lists share one filter form: the churn list (whom we are about to lose, ranked by value
// at risk unless "Rank by" says otherwise) and the action plan (whom we contact, always ranked
// by expected gain).
"use strict";

(() => {
  const KEY_STORE = "retain.apiKey";
  const KEY_HEADER = "X-API-Key";
  const WAITING_FOR_KEY = "Waiting for a valid API key (see above).";
  const SORT_NAMES = { gain: "expected gain", risk: "churn risk", value_at_risk: "value at risk" };
  const DECISION_WORDS = {
    best_gain: "its best action",
    capacity_reached: "best action full: next best",
    budget_exhausted: "budget earns more elsewhere: next best",
  };
  const $ = (selector) => document.querySelector(selector);
  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const whole = new Intl.NumberFormat();
  const percent = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  // the plan's share of the upper bound: 99.99% is not 100% (the bound may be unreachable)
  const share = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });

  // What "Download …" fetches: the query whose rows are on screen, per list.
  const shown = { churn: null, plan: null };
  const shownRows = { churn: [], plan: [] };
  let actionLabels = {}; // action id → catalogue label, once the summary has arrived
  const generation = { churn: 0, plan: 0 }; // newer requests win; late answers are dropped

  class AuthError extends Error {}

  // The API lives beside /ui/, wherever the service is mounted.
  const apiUrl = (name) => new URL(`../${name}`, document.baseURI).toString();

  async function call(name, body) {
    const headers = { "Content-Type": "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers[KEY_HEADER] = key;
    const response = await fetch(apiUrl(name), {
      method: "POST", headers, body: JSON.stringify(body ?? {}), cache: "no-store",
    });
    if (response.status === 401) {
      throw new AuthError(key
        ? "The API key was not accepted. Check it and press “Use key”."
        : "This service needs an API key. Enter it above and press “Use key”.");
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }

  function showAuth(message) {
    Object.assign($("#auth-message"), { textContent: message || "", hidden: !message });
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  const cell = (row, text, className) => row.appendChild(el("td", text, className));
  const rowHeader = (row, text) => row.appendChild(el("th", text)).setAttribute("scope", "row");
  const words = (id) => id.replaceAll("_", " ");
  const actionName = (id) => actionLabels[id] || words(id);

  // ---- filters -------------------------------------------------------------------------
  function checkboxes(fieldsetId, name, choices) {
    const fieldset = $(fieldsetId);
    const ticked = new Set([...fieldset.querySelectorAll("input:checked")].map((i) => i.value));
    fieldset.querySelectorAll("label").forEach((label) => label.remove());
    for (const choice of choices) {
      const label = el("label", null, "check");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.name = name;
      input.value = choice.id;
      input.checked = ticked.has(choice.id);
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
      stages: ticked("stages"),
      tiers: ticked("tiers"),
      actions: ticked("actions"),
      min_risk: Number.isFinite(minRisk) ? Math.min(Math.max(minRisk, 0), 1) : 0,
      top: Number.isFinite(top) ? Math.min(Math.max(top, 1), 10000) : 100,
    };
  }

  const currentQuery = () => ({ ...currentFilters(), sort_by: $("#sort-by").value });

  function reasonsCell(tr, reasons) {
    const why = tr.appendChild(el("td", reasons.length ? null : "—"));
    if (reasons.length) {
      why.appendChild(el("ul", null, "reasons")).append(...reasons.map((r) => el("li", r)));
    }
  }

  // ---- the churn list ------------------------------------------------------------------
  function renderChurnRows(rows) {
    const body = $("#churn-table tbody");
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.userId = row.user_id;
      cell(tr, String(row.rank), "num");
      rowHeader(tr, row.user_id);
      cell(tr, percent.format(row.churn_probability), "num");
      cell(tr, money.format(row.value_at_stake), "num");
      cell(tr, money.format(row.value_at_risk), "num");
      cell(tr, words(row.lifecycle_stage), `stage stage-${row.lifecycle_stage}`);
      cell(tr, row.value_tier);
      cell(tr, actionName(row.action));
      cell(tr, money.format(row.expected_gain), "num");
      cell(tr, money.format(row.action_cost), "num");
      reasonsCell(tr, row.reasons);
      body.appendChild(tr);
    }
  }

  function markSort(sortBy) {
    document.querySelectorAll("#churn-table th[data-sort]").forEach((th) => {
      th.setAttribute("aria-sort", th.dataset.sort === sortBy ? "descending" : "none");
    });
  }

  // Load one list: the shared bookkeeping of both (states, late answers, auth, errors).
  async function loadInto(list, { endpoint, query, table, status, what, render, done }) {
    const mine = ++generation[list];
    table.dataset.state = "loading";
    status.textContent = `Loading the ${what}…`;
    try {
      const body = await (await call(endpoint, query)).json();
      if (mine !== generation[list]) return;
      shownRows[list] = body.rows;
      render(body.rows);
      shown[list] = query;
      table.dataset.query = JSON.stringify(query);
      table.dataset.state = "ready";
      done(body);
    } catch (error) {
      if (mine !== generation[list]) return;
      table.querySelector("tbody").replaceChildren();
      shown[list] = null;
      shownRows[list] = [];
      table.dataset.state = error instanceof AuthError ? "auth" : "error";
      status.textContent = error instanceof AuthError ? WAITING_FOR_KEY
        : `The ${what} could not be loaded: ${error.message}`;
      if (error instanceof AuthError) showAuth(error.message);
      if (list === "plan") {
        $("#plan-totals").textContent = "";
        $("#plan-totals").dataset.state = table.dataset.state;
      }
    }
  }

  function loadList() {
    const query = currentQuery();
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

  // ---- the action plan -----------------------------------------------------------------
  function renderPlanRows(rows) {
    const body = $("#action-plan-table tbody");
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.userId = row.user_id;
      cell(tr, String(row.rank), "num");
      rowHeader(tr, row.user_id);
      cell(tr, actionName(row.action), "action");
      cell(tr, money.format(row.action_cost), "num");
      cell(tr, money.format(row.expected_gain), "num");
      cell(tr, percent.format(row.churn_probability), "num");
      cell(tr, money.format(row.value_at_stake), "num");
      cell(tr, words(row.lifecycle_stage), `stage stage-${row.lifecycle_stage}`);
      cell(tr, row.value_tier);
      cell(tr, DECISION_WORDS[row.decision_reason] || words(row.decision_reason));
      reasonsCell(tr, row.reasons);
      body.appendChild(tr);
    }
  }

  // The line with the whole plan's totals, against the best any plan could do (the LP bound).
  function planTotals(body) {
    const line = $("#plan-totals");
    const run = body.decisions;
    if (run) {
      line.textContent = `Whole plan: ${whole.format(run.contacted)} of ${whole.format(run.users)} `
        + `users contacted · cost ${money.format(run.cost)} · expected gain `
        + `${money.format(run.achieved_gain)} · ${share.format(run.share_of_bound)} of the `
        + `upper bound ${money.format(run.upper_bound)}`
        + (run.budget === null ? " · no budget" : ` · budget ${money.format(run.budget)}`);
    } else {
      line.textContent = "Whole plan: the served score file carries no decision summary, "
        + "so the upper bound is unknown.";
    }
    line.dataset.state = "ready";
  }

  function loadPlan() {
    const query = currentFilters();
    const status = $("#plan-status");
    return loadInto("plan", {
      endpoint: "action_plan", query, table: $("#action-plan-table"), status, what: "action plan",
      render: renderPlanRows,
      done: (body) => {
        planTotals(body);
        status.textContent = `Showing ${whole.format(body.rows.length)} of `
          + `${whole.format(body.matched)} contacted users matching the filters (cost `
          + `${money.format(body.cost)}, expected gain ${money.format(body.expected_gain)}), `
          + "ranked by expected gain.";
      },
    });
  }

  const loadLists = () => Promise.all([loadList(), loadPlan()]);

  async function downloadCsv(list, endpoint, statusSelector, name) {
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
      status.textContent = `The CSV could not be downloaded: ${error.message}`;
      if (error instanceof AuthError) showAuth(error.message);
    }
  }

  // ---- the summary ---------------------------------------------------------------------
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
    $("#headline").replaceChildren(...facts.map(([term, value]) => {
      const item = el("div");
      item.append(el("dt", term), el("dd", value));
      return item;
    }));
  }

  // one row per item: a row header, then numeric cells ([text, className?] pairs)
  function fillRows(selector, items, header, values) {
    $(selector).replaceChildren(...items.map((item, i) => {
      const tr = document.createElement("tr");
      rowHeader(tr, header(item));
      values(item, i).forEach(([text, className]) => cell(tr, text, className ?? "num"));
      return tr;
    }));
  }

  function renderSummary(summary) {
    headline(summary);
    const top = document.createElement("tr");
    for (const name of ["Stage / tier", ...summary.tiers, "all"]) {
      top.appendChild(el("th", name, name === "Stage / tier" ? null : "num")).setAttribute("scope", "col");
    }
    $("#stage-tier-table thead").replaceChildren(top);
    fillRows("#stage-tier-table tbody", summary.stages, words,
      (_, i) => [...summary.counts[i].map((n) => [whole.format(n)]),
        [whole.format(summary.counts[i].reduce((a, b) => a + b, 0)), "num total"]]);
    fillRows("#value-at-risk-table tbody", [...summary.tiers, "total"], (tier) => tier,
      (tier) => [[money.format(summary.value_at_risk[tier] ?? 0)]]);
    fillRows("#plan-table tbody", summary.plan, (row) => row.label, (row) => [
      [whole.format(row.users)], [money.format(row.cost)], [money.format(row.expected_gain)]]);
    const charts = $("#charts");
    charts.replaceChildren(...summary.charts.map((chart) => {
      const figure = el("figure", null, `chart chart-${chart.name}`);
      figure.append(Object.assign(document.createElement("img"), { src: chart.data_uri, alt: chart.title }),
        el("figcaption", chart.title));
      return figure;
    }));
    if (summary.charts_error) charts.appendChild(el("p", summary.charts_error, "alert"));
    // the filters offer what this snapshot and playbook actually contain
    const label = (s) => ({ id: s, label: words(s) });
    checkboxes("#stage-filter", "stages", summary.stages.map(label));
    checkboxes("#tier-filter", "tiers", summary.tiers.map(label));
    checkboxes("#action-filter", "actions", summary.actions);
    actionLabels = Object.fromEntries(summary.actions.map((a) => [a.id, a.label]));
    renderChurnRows(shownRows.churn);
    renderPlanRows(shownRows.plan);
  }

  async function loadSummary() {
    const box = $("#summary");
    const status = $("#summary-status");
    box.dataset.state = "loading";
    try {
      const summary = await (await call("segment_summary")).json();
      renderSummary(summary);
      box.dataset.state = "ready";
      status.textContent = `All ${whole.format(summary.users)} scored users, whatever the lists' filters.`;
    } catch (error) {
      box.dataset.state = error instanceof AuthError ? "auth" : "error";
      status.textContent = error instanceof AuthError ? WAITING_FOR_KEY
        : `The segment summary could not be loaded: ${error.message}`;
    }
  }

  async function loadSnapshot() {
    const line = $("#snapshot");
    try {
      const info = await (await call("model_info")).json();
      const asOf = info.snapshot.as_of ? info.snapshot.as_of.slice(0, 10) : "unknown";
      line.dataset.asOf = asOf;
      line.textContent = `${whole.format(info.snapshot.users)} users scored as of ${asOf} (UTC) `
        + `by churn model v${info.churn.version}, recall model v${info.recall.version} and `
        + `value model v${info.value.version}.`;
    } catch (error) {
      line.textContent = error instanceof AuthError ? "Snapshot details need the API key."
        : `Snapshot details unavailable: ${error.message}`;
    }
  }

  function loadAll() {
    showAuth("");
    return Promise.all([loadSnapshot(), loadSummary(), loadLists()]);
  }

  // ---- wiring --------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
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
    const filters = $("#filters");
    filters.addEventListener("submit", (event) => { event.preventDefault(); loadLists(); });
    filters.addEventListener("change", () => loadLists());
    filters.addEventListener("reset", () => setTimeout(loadLists, 0)); // after the form resets
    // "Rank by" belongs to the filter form (a reset clears it) but ranks the churn list only.
    $("#sort-by").addEventListener("change", () => loadList());
    $("#download-csv").addEventListener("click",
      () => downloadCsv("churn", "churn_list_csv", "#list-status", "churn-list"));
    $("#download-plan-csv").addEventListener("click",
      () => downloadCsv("plan", "action_plan_csv", "#plan-status", "action-plan"));
    document.querySelectorAll("#churn-table th[data-sort] button").forEach((button) => {
      button.addEventListener("click", () => {
        $("#sort-by").value = button.parentElement.dataset.sort;
        loadList();
      });
    });
    loadAll();
  });
})();
