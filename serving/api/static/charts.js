// The summary's charts, drawn in the browser with Chart.js from the numbers the API answers.
//
// Why Chart.js and not the report's PNGs: an operator hovers a bar to read its value, and the
// labels are the page's ("At risk", the playbook's action names). Chart.js is vendored
// (static/vendor/, see its README: version, licence, checksum), so the page works offline and
// under its Content-Security-Policy (no CDN). Animation is off: numbers appear at once.

import { actionLabel, money, stageLabel, tierLabel, whole } from "./format.js";

const TIER_COLOURS = { high: "#1f5fa8", mid: "#4f9bd9", low: "#a7c8ec", none: "#c9ccd3" };
const STAGE_COLOURS = {
  new: "#7b61ff", active: "#2e7d32", at_risk: "#b3261e", dormant: "#e08e0b",
  churned: "#5b6475", reactivated: "#0097a7",
};
const COST_COLOUR = "#e08e0b";
const GAIN_COLOUR = "#2e7d32";
const binEdge = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });
const drawn = new Map(); // canvas id → its Chart, replaced on each redraw

function draw(canvasId, config, description) {
  drawn.get(canvasId)?.destroy();
  const canvas = document.getElementById(canvasId);
  canvas.setAttribute("aria-label", description);
  canvas.textContent = description; // what a browser without canvas shows instead
  const chart = new window.Chart(canvas, config);
  drawn.set(canvasId, chart);
  canvas.closest("figure").dataset.state = "ready";
  return chart;
}

function options({ stacked = false, format = (v) => whole.format(v), footer, yTitle }) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "nearest", intersect: true },
    plugins: {
      legend: { position: "bottom" },
      tooltip: {
        callbacks: {
          label: (item) => `${item.dataset.label}: ${format(item.parsed.y)}`,
          ...(footer ? { footer } : {}),
        },
      },
    },
    scales: {
      x: { stacked, grid: { display: false } },
      y: { stacked, beginAtZero: true, title: { display: Boolean(yTitle), text: yTitle } },
    },
  };
}

function stageTierChart(summary) {
  const datasets = summary.tiers.map((tier, j) => ({
    label: tierLabel(tier),
    data: summary.stages.map((_, i) => summary.counts[i][j]),
    backgroundColor: TIER_COLOURS[tier] || "#888",
  }));
  const totals = summary.counts.map((row) => row.reduce((a, b) => a + b, 0));
  draw("chart-stage-tier", {
    type: "bar",
    data: { labels: summary.stages.map(stageLabel), datasets },
    options: options({
      stacked: true,
      yTitle: "users",
      format: (v) => `${whole.format(v)} users`,
      footer: (items) => `${whole.format(totals[items[0].dataIndex])} users in this stage`,
    }),
  }, `Users by lifecycle stage and value tier: ${summary.stages.map((s, i) => `${stageLabel(s)} ${whole.format(totals[i])}`).join(", ")}.`);
}

function valueAtRiskChart(summary) {
  const values = summary.tiers.map((tier) => summary.value_at_risk[tier] ?? 0);
  draw("chart-value-at-risk", {
    type: "bar",
    data: {
      labels: summary.tiers.map(tierLabel),
      datasets: [{
        label: "Value at risk",
        data: values,
        backgroundColor: summary.tiers.map((tier) => TIER_COLOURS[tier] || "#888"),
      }],
    },
    options: { ...options({ format: (v) => money.format(v), yTitle: "value at risk" }),
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => `Value at risk: ${money.format(item.parsed.y)}` } } } },
  }, `Value at risk by value tier, ${money.format(summary.value_at_risk.total)} in all.`);
}

function planChart(summary) {
  const contacted = summary.plan.filter((row) => row.action !== "no_action");
  draw("chart-plan", {
    type: "bar",
    data: {
      labels: contacted.map((row) => actionLabel(row.action)),
      datasets: [
        { label: "Cost", data: contacted.map((row) => row.cost), backgroundColor: COST_COLOUR },
        { label: "Expected gain", data: contacted.map((row) => row.expected_gain), backgroundColor: GAIN_COLOUR },
      ],
    },
    options: options({
      format: (v) => money.format(v),
      yTitle: "money",
      footer: (items) => `${whole.format(contacted[items[0].dataIndex].users)} users contacted`,
    }),
  }, `The plan by action: ${contacted.map((row) => `${actionLabel(row.action)} ${whole.format(row.users)} users`).join(", ") || "nobody contacted"}.`);
}

export function drawSummaryCharts(summary) {
  stageTierChart(summary);
  valueAtRiskChart(summary);
  planChart(summary);
}

// Churn risk now, stacked by stage, with the previous run's distribution as a line when the
// service kept one (/risk_change).
export function drawRiskChart(change) {
  const labels = change.bins.slice(0, -1).map((low, i) => `${binEdge.format(low)}–${binEdge.format(change.bins[i + 1])}`);
  const datasets = change.by_stage.filter((stage) => stage.users > 0).map((stage) => ({
    label: stageLabel(stage.stage),
    data: stage.counts,
    backgroundColor: STAGE_COLOURS[stage.stage] || "#888",
    stack: "now",
    order: 2,
  }));
  if (change.previous_counts) {
    datasets.push({
      type: "line", label: "Previous run (all users)", data: change.previous_counts,
      borderColor: "#1d2330", backgroundColor: "#1d2330", stack: "previous", order: 1,
      borderDash: [6, 4], pointRadius: 2,
    });
  }
  draw("chart-risk", {
    type: "bar",
    data: { labels, datasets },
    options: options({
      stacked: true,
      yTitle: "users",
      format: (v) => `${whole.format(v)} users`,
    }),
  }, `Churn-risk distribution of ${whole.format(change.users)} users by lifecycle stage`
    + (change.previous_counts ? ", with the previous run's for comparison." : "."));
}
