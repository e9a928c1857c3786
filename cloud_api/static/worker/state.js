// What the worker app knows: who is signed in, their tasks as last seen, the steps waiting on the
// phone, where the phone is. Kept on the phone too (localStorage, the outbox in IndexedDB), so the
// app opens and works without signal.
import { api } from "/ui/common/api.js";
import { here } from "/ui/common/geo.js";
import { t } from "/ui/common/i18n.js";
import { now } from "/ui/common/time.js";

export const app = {
  me: null,
  workerId: null,
  worker: null, // name, home grid, duty (GET /api/v1/workers: a worker sees only themselves)
  outbox: null,
  items: [], // the outbox's steps, oldest first
  position: null, // { lon, lat, accuracy_m, at }
  cards: [],
  cardsAt: null,
  live: "connecting",
  render: () => {},
};

const PREFIX = "gridwatch.worker.";

export function remember(name, value) {
  localStorage.setItem(PREFIX + name, JSON.stringify(value));
}

export function recall(name) {
  try {
    return JSON.parse(localStorage.getItem(PREFIX + name) || "null");
  } catch {
    return null;
  }
}

export function forgetAll() {
  for (const key of Object.keys(localStorage)) if (key.startsWith(PREFIX)) localStorage.removeItem(key);
}

export async function refreshTasks() {
  const data = await api.get(`/api/v1/workers/${encodeURIComponent(app.workerId)}/task-cards`);
  app.cards = data.items;
  app.cardsAt = new Date(now()).toISOString(); // the server's clock, like every time on screen
  remember("cards", { items: app.cards, at: app.cardsAt });
  return app.cards;
}

// The task's status once the steps waiting on the phone have gone through.
const AFTER = { accept: "accepted", decline: "declined", "check-in": "on_site", resolve: "resolved" };

export function waitingFor(taskId) {
  return app.items.filter((i) => i.ref === taskId && (i.state === "waiting" || i.state === "sending"));
}

export function refusedFor(taskId) {
  return app.items.filter((i) => i.ref === taskId && (i.state === "refused" || i.state === "failed"));
}

export function effectiveStatus(card) {
  let status = card.status;
  for (const item of waitingFor(card.id)) status = AFTER[item.kind] || status;
  return status;
}

// Why the server did not apply a step, in the worker's words (the 409's facts first).
export function explain(item) {
  const body = item.body || {};
  if (body.distance_m !== undefined) {
    return t("worker.too_far", { distance: body.distance_m, radius: Math.round(body.radius_m) });
  }
  if (item.state === "failed") return t("worker.refused.failed", { detail: item.detail });
  const status = body.task_status;
  if (status === "cancelled") {
    return (body.task_note || "").includes("reassigned") ? t("worker.refused.reassigned") : t("worker.refused.cancelled");
  }
  if (status === "expired") return t("worker.refused.expired");
  if (status === "declined") return t("worker.refused.declined");
  if (status === "resolved" || status === "verified") return t("worker.refused.done");
  return t("worker.refused.other", { detail: item.detail });
}

// Where the worker stands now: the phone's own latest reading if it is a few seconds old (the
// app follows the position while open), else a new one. Phone clock against phone clock.
export async function freshFix(fresh = 10_000) {
  const recent = () => (app.position && Date.now() - Date.parse(app.position.at) < fresh ? app.position : null);
  if (recent()) return recent();
  try {
    app.position = await here({ maximumAge: fresh });
    return app.position;
  } catch {
    return recent();
  }
}
