// The grid worker's phone app (网格员): my tasks, patrol, 随手拍, and what waits for a signal.
// Plain ES modules, no build step, nothing from outside the product. Opens without signal (the
// service worker keeps the app, localStorage the last tasks, IndexedDB the steps) and catches up
// when the signal returns. docs/worker-app.md.
import { api, ApiError } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { follow } from "/ui/common/geo.js";
import { applyI18n, label, t } from "/ui/common/i18n.js";
import { openLive } from "/ui/common/live.js";
import { OfflineQueue } from "/ui/common/offline-queue.js";
import { signedIn, signOut } from "/ui/common/session.js";
import { setZone } from "/ui/common/time.js";
import { newTaskAlert, readySound } from "./alert.js";
import { announce, recallBroadcasts, refreshBroadcasts, renderBroadcasts, unread } from "./broadcasts.js";
import { renderOutbox } from "./outbox.js";
import { keepSending, renderPatrol } from "./patrol.js";
import { renderReport } from "./report.js";
import { app, forgetAll, recall, refreshTasks, remember } from "./state.js";
import { distanceText, renderDetail, renderList, tickCountdowns } from "./tasks.js";

const view = $("#view");
const REFRESH_MS = 60_000;
let loadedOnce = false;
let refreshing = null;
let detailShown = "";

// ------------------------------------------------------------------------------- who is here
async function whoAmI() {
  try {
    const me = await signedIn(); // GET /me and /site; the sign-in page when the session is over
    remember("me", me);
    return me;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const cached = recall("me"); // no signal: the person who signed in on this phone
    if (!cached) throw err;
    if (cached.site) setZone(cached.site.timezone);
    return cached;
  }
}

async function loadWorker() {
  try {
    const [worker] = await api.get("/api/v1/workers");
    if (worker) {
      const grids = await api.get("/api/v1/grids");
      const home = grids.features.find((f) => f.properties.id === worker.home_grid);
      worker.home_grid_name = home ? home.properties.name : worker.home_grid;
    }
    app.worker = worker || null;
    remember("worker", app.worker);
  } catch {
    app.worker = recall("worker");
  }
}

// ------------------------------------------------------------------------------- tasks
function reload() {
  refreshing ??= (async () => {
    try {
      const seen = new Set(recall("seen") || []);
      await refreshTasks();
      const fresh = app.cards.filter((c) => c.status === "offered" && !seen.has(c.id));
      app.fresh = new Set(fresh.map((c) => c.id));
      if (loadedOnce && fresh.length) {
        newTaskAlert(fresh.some((c) => c.urgent));
        const first = fresh[0];
        toast(t("worker.new_task", { hazard: label("hazard", first.case.hazard_type), where: first.case.address }), "info");
      }
      remember("seen", [...new Set([...seen, ...app.cards.map((c) => c.id)])].slice(-1000));
      loadedOnce = true;
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) toast(t("app.error", { message: err.message }), "error");
    } finally {
      refreshing = null;
    }
    refresh();
  })();
  return refreshing;
}

// ------------------------------------------------------------------------------- drawing
function route() {
  const [name, arg] = (location.hash.slice(1) || "tasks").split("/");
  return { name, arg };
}

function drawHeader() {
  const waiting = app.items.filter((i) => i.state === "waiting" || i.state === "sending").length;
  const refused = app.items.filter((i) => i.state === "refused" || i.state === "failed").length;
  $("#who").textContent = app.me ? `${app.me.display_name} · ${t("worker.app_name")}` : t("worker.app_name");
  const net = $("#net");
  const online = navigator.onLine;
  net.textContent = !online ? t("worker.net.offline") : app.live === "live" ? t("worker.net.live") : t("worker.net.online");
  net.className = `m-pill ${!online ? "bad" : app.live === "live" ? "ok" : "warn"}`;
  const badge = $("#badge-outbox");
  badge.hidden = !(waiting + refused);
  badge.textContent = String(waiting + refused);
  const offered = app.cards.filter((c) => c.status === "offered").length;
  const taskBadge = $("#badge-tasks");
  taskBadge.hidden = !offered;
  taskBadge.textContent = String(offered);
  const news = unread();
  const bcBadge = $("#badge-broadcasts");
  bcBadge.hidden = !news;
  bcBadge.textContent = String(news);
  const { name } = route();
  for (const a of document.querySelectorAll(".m-tabs a")) {
    const current = a.dataset.tab === name || (name === "task" && a.dataset.tab === "tasks");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function detailSignature(id) {
  const card = app.cards.find((c) => c.id === id);
  const mine = app.items.filter((i) => i.ref === id).map((i) => `${i.seq}:${i.state}`);
  return JSON.stringify([card?.status, card?.case.evidence_ids, card?.due, mine]);
}

// The whole view, after moving to another screen.
function render() {
  const { name, arg } = route();
  detailShown = "";
  if (name === "task") {
    renderDetail(view, arg);
    detailShown = detailSignature(arg);
  } else if (name === "patrol") renderPatrol(view);
  else if (name === "report") renderReport(view);
  else if (name === "broadcasts") renderBroadcasts(view, render);
  else if (name === "outbox") renderOutbox(view, leave);
  else renderList(view);
  drawHeader();
  window.scrollTo(0, 0);
}

// After new data: redraw what shows it, but never a form being filled in.
function refresh() {
  const { name, arg } = route();
  if (name === "tasks" || name === "") renderList(view);
  else if (name === "task" && detailSignature(arg) !== detailShown) {
    renderDetail(view, arg);
    detailShown = detailSignature(arg);
  } else if (name === "outbox") renderOutbox(view, leave);
  else if (name === "broadcasts" && !document.querySelector(".bc-sighting")) renderBroadcasts(view, render);
  drawHeader();
}

// 协查通报: read them again (live, or after a step); a new one rings like a new task.
async function reloadBroadcasts() {
  const known = new Set((app.broadcasts || []).map((b) => b.id));
  try {
    await refreshBroadcasts();
  } catch {
    return; // no signal: the last ones stay
  }
  const fresh = app.broadcasts.filter((b) => !known.has(b.id) && b.state === "open");
  if (loadedOnce && fresh.length) {
    newTaskAlert(true);
    announce(fresh[0]);
  }
  refresh();
}

function redrawDistances() {
  for (const node of document.querySelectorAll("[data-task-id] .distance")) {
    const card = app.cards.find((c) => c.id === node.closest("[data-task-id]").dataset.taskId);
    if (card) node.textContent = distanceText(card);
  }
}

// ------------------------------------------------------------------------------- leaving
async function leave() {
  const waiting = (await app.outbox.pending()).length;
  if (waiting && !confirm(t("worker.sign_out_waiting", { n: waiting }))) return;
  await app.outbox.clear();
  forgetAll();
  if ("caches" in window) for (const name of await caches.keys()) await caches.delete(name);
  await signOut();
}

// ------------------------------------------------------------------------------- start
async function start() {
  applyI18n(document);
  readySound();
  app.outbox = await OfflineQueue.open("gridwatch-worker", {
    onChange: async (answered) => {
      app.items = await app.outbox.list();
      if (answered && answered.state === "done") {
        reload(); // the server moved: show it
        if (answered.kind === "bc-read" || answered.kind === "sighting") reloadBroadcasts();
      } else refresh();
    },
  });
  app.items = await app.outbox.list();
  recallBroadcasts();
  const cached = recall("cards");
  if (cached) {
    app.cards = cached.items;
    app.cardsAt = cached.at;
  }
  try {
    app.me = await whoAmI();
  } catch {
    view.replaceChildren(el("div", { class: "m-empty", text: t("worker.need_signal_to_sign_in") }));
    return;
  }
  if (!app.me.worker_id) {
    view.replaceChildren(el("div", { class: "m-empty", id: "not-a-worker", text: t("worker.not_a_worker") }),
      el("button", { class: "m-btn block", type: "button", text: t("app.sign_out"), onclick: () => signOut() }));
    return;
  }
  app.workerId = app.me.worker_id;
  addEventListener("hashchange", render);
  addEventListener("online", () => { drawHeader(); reload(); app.outbox.flush(); });
  addEventListener("offline", drawHeader);
  document.addEventListener("langchange", render);
  render();
  await loadWorker();
  await reload();
  await reloadBroadcasts();
  app.outbox.flush();
  openLive({
    onCase: (update) => { if (update.tasks.some((task) => task.worker_id === app.workerId)) reload(); },
    onBroadcast: () => reloadBroadcasts(),
    onReset: () => { reload(); reloadBroadcasts(); },
    onState: (state) => { app.live = state; drawHeader(); },
  });
  follow((fix) => { app.position = fix; redrawDistances(); });
  keepSending();
  setInterval(() => tickCountdowns(), 1000);
  setInterval(() => { if (navigator.onLine) reload(); }, REFRESH_MS);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/ui/worker/sw.js", { scope: "/ui/worker/" }).catch(() => {});
  }
}

start();
