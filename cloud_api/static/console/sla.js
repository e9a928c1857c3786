// SLA countdowns (五分钟响应): each running deadline is on time (green), past its warning (amber)
// or breached (red). Times come from the server's clock (common/time.js learns it from every
// answer), so a browser with a wrong clock still counts right. One ticker updates every
// countdown on the page once a second.
import { label, t } from "/ui/common/i18n.js";
import { duration, now } from "/ui/common/time.js";

export function slaState(deadline, at = now()) {
  if (!deadline) return null;
  const due = Date.parse(deadline.due_at);
  if (deadline.breached_at || at >= due) return "breached";
  if (deadline.warn_at && at >= Date.parse(deadline.warn_at)) return "warning";
  return "on_time";
}

// A countdown element: data-due / data-warn (ISO times) and data-phase; filled in by tick().
export function countdown(deadline, { withPhase = true } = {}) {
  const node = document.createElement("span");
  node.className = "sla countdown";
  node.dataset.due = deadline.due_at;
  if (deadline.warn_at) node.dataset.warn = deadline.warn_at;
  if (deadline.breached_at) node.dataset.breached = deadline.breached_at;
  if (withPhase) node.dataset.phase = deadline.phase;
  render(node);
  return node;
}

function render(node, at = now()) {
  const deadline = { due_at: node.dataset.due, warn_at: node.dataset.warn, breached_at: node.dataset.breached };
  const state = slaState(deadline, at);
  node.classList.remove("on_time", "warning", "breached");
  node.classList.add(state);
  node.dataset.state = state;
  const left = (Date.parse(deadline.due_at) - at) / 1000;
  const phase = node.dataset.phase ? label("phase", node.dataset.phase) + " " : "";
  const clock = left >= 0 ? t("sla.left", { time: duration(left) }) : t("sla.over", { time: duration(-left) });
  node.textContent = `${phase}${clock}`;
  node.title = `${label("sla", state)} · ${clock}`;
}

export function tick(root = document) {
  const at = now();
  for (const node of root.querySelectorAll(".countdown[data-due]")) render(node, at);
}

let started = false;
export function startTicker(onTick) {
  if (started) return;
  started = true;
  setInterval(() => { tick(); onTick?.(); }, 1000);
}
