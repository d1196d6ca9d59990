// Words and numbers as operators read them: labels instead of ids, money, shares, DOM helpers.
//
// Why: the API speaks in ids (`at_risk`, `habit_nudge`, `budget_exhausted`); the page shows
// "At risk", the playbook's own name for an action ("Habit nudge") and a sentence for a
// decision reason, everywhere the same way (tables, charts, the user panel).

export const $ = (selector) => document.querySelector(selector);

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export const cell = (row, text, className) => row.appendChild(el("td", text, className));

export function rowHeader(row, content) {
  const th = el("th", typeof content === "string" ? content : null);
  if (typeof content !== "string") th.appendChild(content);
  th.setAttribute("scope", "row");
  return row.appendChild(th);
}

// A list of reason texts in a cell ("—" when there are none).
export function reasonsCell(row, reasons) {
  const why = row.appendChild(el("td", reasons.length ? null : "—"));
  if (reasons.length) why.appendChild(el("ul", null, "reasons")).append(...reasons.map((r) => el("li", r)));
}

export const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const whole = new Intl.NumberFormat();
export const percent = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
// the plan's share of the upper bound: 99.99% is not 100% (the bound may be unreachable)
export const share = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });

// A change of churn probability in percentage points, signed: "+4.2 pts", "−0.3 pts".
export function points(change) {
  if (change === null || change === undefined) return "—";
  const sign = change > 0 ? "+" : change < 0 ? "−" : "±";
  return `${sign}${Math.abs(change * 100).toFixed(1)} pts`;
}

// `at_risk` → "At risk", `high` → "High": any id the page has no better name for.
export function humanise(id) {
  const text = String(id ?? "").replaceAll("_", " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const stageLabel = humanise;
export const tierLabel = (tier) => (tier === "none" ? "None (no value)" : humanise(tier));

const actionNames = new Map(); // action id → the playbook's label, once the summary arrived
export function learnActionLabels(actions) {
  actionNames.clear();
  for (const action of actions) actionNames.set(action.id, action.label);
}
export const actionLabel = (id) => actionNames.get(id) || humanise(id);

// Why a user got their action (serving/decisions/policy.py DECISION_REASONS), in words.
const CONTACTED = {
  best_gain: "its best action",
  capacity_reached: "its best action was full: the next best",
  budget_exhausted: "the budget earns more elsewhere: the next best",
};
const NOT_CONTACTED = {
  best_gain: "no action is worth it",
  capacity_reached: "its best action was full and no other fitted",
  budget_exhausted: "the budget earns more on other users",
  no_action_not_worth_cost: "no eligible action is expected to gain more than it costs",
  frequency_capped: "already contacted as often as the frequency cap allows",
  in_cooldown: "every eligible action was used on this user too recently (cooldown)",
  no_eligible_action: "no action in the playbook targets this stage, tier and risk",
  missing_scores: "the churn risk or the value at stake is missing",
};
export function decisionWords(reason, action) {
  const words = action === "no_action" ? NOT_CONTACTED : CONTACTED;
  return words[reason] || NOT_CONTACTED[reason] || humanise(reason);
}

// Feature names in words: `events_30d` → "Events in the last 30 days".
export function featureName(name) {
  const text = String(name)
    .replace(/_prev_(\d+)d$/, " in the previous $1 days")
    .replace(/_(\d+)d$/, " in the last $1 days")
    .replace(/^avg_/, "average_");
  return humanise(text);
}

// A feature's value in the unit its name says: money, a share, days or a count.
export function featureValue(name, value) {
  if (value === null || value === undefined) return "missing";
  if (/(share|rate|change)/.test(name)) return percent.format(value);
  if (/(revenue|amount|value)/.test(name)) return money.format(value);
  if (/(days_since|gap_days)/.test(name)) return `${value.toFixed(1)} days`;
  return Number.isInteger(value) ? whole.format(value) : value.toFixed(2);
}

// The user id as a button that opens the user's explanation (see explain.js).
export function userButton(userId) {
  const button = el("button", userId, "user-link");
  button.type = "button";
  button.dataset.userId = userId;
  button.title = "Show why: reasons, decision, inputs";
  return button;
}

// A table body, one row per item: `cells(item)` lists its cells. A [text, className?] pair is a
// cell, [list] a bulleted cell (reasons), a node (the user's button) the row header.
export function fillBody(body, items, cells) {
  body.replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    if (item.user_id !== undefined) tr.dataset.userId = item.user_id;
    for (const entry of cells(item)) {
      if (entry instanceof Node) rowHeader(tr, entry);
      else if (Array.isArray(entry[0])) reasonsCell(tr, entry[0]);
      else cell(tr, entry[0], entry[1]);
    }
    return tr;
  }));
}
