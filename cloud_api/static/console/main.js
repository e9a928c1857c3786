// The command centre's console (值班员): every case live, a decision in one click, the five-minute
// response supervised. Plain ES modules, no build step, nothing fetched from outside the product.
//
//   cases.js    the list (filters, sorting, totals, paging, CSV)   detail.js  one case
//   actions.js  the decisions and their forms                      map.js     the site map
//   handover.js the shift handover (交班)                            alerts.js  sound + notification
//   sla.js      countdowns                                         filter.js  the list's filter
//   fleet.js    every device: status, last seen, configuration, health, maintenance case (设备)
//   analytics.js hotspots, the assessment, exports and weekly reports (分析)
import { api, query } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { applyI18n, languageToggle, t } from "/ui/common/i18n.js";
import { openLive } from "/ui/common/live.js";
import { can, signedIn, signOut } from "/ui/common/session.js";
import { dateTime, now, siteInstant } from "/ui/common/time.js";
import { alertCritical, setupAlerts } from "./alerts.js";
import { Analytics } from "./analytics.js";
import { CaseList } from "./cases.js";
import { CaseDetail } from "./detail.js";
import { OPEN } from "./filter.js";
import { Broadcasts } from "./broadcasts.js";
import { Fleet } from "./fleet.js";
import { Handover } from "./handover.js";
import { SiteMap, legend } from "./map.js";
import { startTicker } from "./sla.js";

const REFRESH_PEOPLE_MS = 20000;  // workers' positions and devices' states (not on the live feed)
const BOARD = [
  ["open", { status: "open" }], ["new", { status: "new" }], ["critical", { status: "open", severity: ["critical"] }],
  ["sla_warning", null], ["sla_breached", null], ["awaiting_acknowledgement", null],
];

// --- what every part shares: who is signed in, the site, names of places, workers, devices -----
function context(me, grids, workers, devices) {
  const areas = grids.features.map((f) => f.properties);
  const byId = new Map(areas.map((a) => [a.id, a]));
  const children = new Map();
  for (const a of areas) if (a.parent) children.set(a.parent, [...(children.get(a.parent) || []), a.id]);
  const gridCache = new Map();
  const gridsOf = (area) => {
    if (!gridCache.has(area)) {
      const out = new Set();
      const todo = [area];
      while (todo.length) {
        const id = todo.pop();
        if (byId.get(id)?.level === "grid") out.add(id);
        todo.push(...(children.get(id) || []));
      }
      gridCache.set(area, out);
    }
    return gridCache.get(area);
  };
  const order = (a) => [a.level === "grid" ? byId.get(a.parent)?.name || "" : a.name, a.level === "grid" ? 1 : 0, a.name];
  return {
    me,
    site: me.site,
    areas: [...areas].sort((a, b) => (order(a).join("\u0001") < order(b).join("\u0001") ? -1 : 1)),
    gridsOf,
    siteMs: siteInstant,
    workers: new Map(workers.map((w) => [w.id, w])),
    devices: new Map(devices.map((d) => [d.id, d])),
    gridName: (id) => (id ? byId.get(id)?.name || id : "—"),
    parentOf: (id) => (id ? byId.get(id)?.parent || null : null),
    workerName(id) { return id ? this.workers.get(id)?.name || id : "—"; },
    // Residents report as one source, "resident" (gateway/flows/resident_reports.py).
    deviceName(id) { return id === "resident" ? t("console.resident") : id ? this.devices.get(id)?.name || id : "—"; },
  };
}

class Console {
  constructor(ctx, grids) {
    this.ctx = ctx;
    this.severity = new Map();  // what the page knew of each case's severity
    this.list = new CaseList(ctx, { onOpen: (id) => this.open(id) });
    this.detail = new CaseDetail(ctx, {
      onOpen: (id) => this.open(id),
      onClose: () => { this.list.select(null); this.map.select(null); this.setCaseInAddress(null); },
      onChanged: () => this.refreshBoard(),
    });
    this.map = new SiteMap($("#map"), { grids, settings: ctx.site.map, onCase: (id) => this.open(id) });
    this.handover = new Handover(ctx, { onOpen: (id) => this.open(id) });
    this.analytics = can(ctx.me, "performance:read") ? new Analytics(ctx, grids) : null;
    $("#analytics-tab").hidden = !this.analytics;
    this.broadcasts = new Broadcasts(ctx, { onOpen: (id) => this.open(id) });
    $("#tab-broadcasts").hidden = !can(ctx.me, "broadcasts:send");
    this.fleet = can(ctx.me, "devices:read") ? new Fleet(ctx, { onOpen: (id) => this.open(id) }) : null;
    $("#tab-fleet").hidden = !this.fleet;
    legend($("#map-legend"), { workers: can(ctx.me, "workers:read"), devices: can(ctx.me, "devices:read") });
    if (ctx.site.map?.attribution) Object.assign($("#map-attribution"), { hidden: false, textContent: ctx.site.map.attribution });
    $("#map-in").addEventListener("click", () => this.map.zoom(1.5));
    $("#map-out").addEventListener("click", () => this.map.zoom(1 / 1.5));
    $("#map-fit").addEventListener("click", () => this.map.fit());
    for (const tab of document.querySelectorAll(".view-tab")) tab.addEventListener("click", () => this.view(tab.dataset.view));
  }

  async start() {
    // The feed first: what commits while the lists load is kept and applied after them.
    let ready = false;
    const early = [];
    this.live = openLive({
      onCase: (body) => (ready ? this.update(body) : early.push(body)),
      onBroadcast: () => { if ($("#main").dataset.view === "broadcasts") this.broadcasts.changed(); },
      onReset: () => this.reload(),
      onState: (state) => this.liveState(state),
    });
    await Promise.all([this.list.load(), this.loadMapCases(), this.refreshBoard()]);
    ready = true;
    for (const body of early.splice(0)) this.update(body);
    startTicker(() => this.clock());
    this.clock();
    setInterval(() => this.refreshPeople(), REFRESH_PEOPLE_MS);
    setInterval(() => this.refreshBoard(), 30000);
    const wanted = new URLSearchParams(location.hash.slice(1)).get("case");
    if (wanted) this.open(wanted);
  }

  // One committed change of a case, from the live feed.
  update(body) {
    const c = { ...body.case, deadline: body.deadline };
    this.list.apply(body);
    this.map.upsertCase(c, OPEN.includes(c.status) || c.status === "resolved");
    this.detail.changed(c.id);
    this.fleet?.caseChanged(c);
    const before = this.severity.get(c.id);
    this.severity.set(c.id, c.severity);
    const becameCritical = body.created || (before !== undefined && before !== "critical");
    if (c.severity === "critical" && becameCritical && OPEN.includes(c.status)) this.alert(c);
    clearTimeout(this.boardSoon);
    this.boardSoon = setTimeout(() => this.refreshBoard(), 1500);
  }

  alert(c) {
    alertCritical(c, { onOpen: (id) => this.open(id) });
    document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
  }

  async reload() {
    await Promise.all([this.list.load(), this.loadMapCases(), this.refreshBoard()]);
  }

  async loadMapCases() {
    try {
      const page = await api.get("/api/v1/cases" + query({ open: "true", limit: 1000 }));
      this.map.setCases(page.items);
      for (const c of page.items) this.severity.set(c.id, c.severity);
    } catch (err) {
      toast(t("app.error", { message: err.message }), "error");
    }
    await this.refreshPeople();
  }

  async refreshPeople() {
    const { me } = this.ctx;
    try {
      if (can(me, "workers:read")) {
        const workers = await api.get("/api/v1/workers");
        this.ctx.workers = new Map(workers.map((w) => [w.id, w]));
        this.map.setWorkers(workers);
      }
      if (can(me, "devices:read")) {
        const devices = await api.get("/api/v1/devices");
        this.ctx.devices = new Map(devices.map((d) => [d.id, d]));
        this.map.setDevices(devices);
      }
    } catch {
      /* the live state says when the connection is down; the next round tries again */
    }
  }

  async refreshBoard() {
    try {
      const board = await api.get("/api/v1/console/board");
      $("#board").replaceChildren(...BOARD.map(([key, filter]) => el("button", {
        type: "button", class: `counter ${key}${board[key] ? " lit" : ""}`, "data-counter": key,
        disabled: !filter, onclick: filter ? () => { this.view("cases"); this.list.setFilter(filter); } : null,
      }, el("span", { class: "n", text: String(board[key]) }), el("span", { class: "k", text: t(`console.board.${key}`) }))));
    } catch {
      /* shown again on the next change */
    }
  }

  open(id) {
    this.list.select(id);
    this.map.select(id);
    this.setCaseInAddress(id);
    this.detail.open(id);
  }

  setCaseInAddress(id) {
    const params = new URLSearchParams(location.hash.slice(1));
    if (id) params.set("case", id); else params.delete("case");
    history.replaceState(null, "", `#${params.toString()}`);
  }

  view(name) {
    $("#main").dataset.view = name;
    for (const tab of document.querySelectorAll(".view-tab")) tab.setAttribute("aria-pressed", String(tab.dataset.view === name));
    if (name === "handover") this.handover.load();
    if (name === "analytics") this.analytics?.load();
    if (name === "broadcasts") this.broadcasts.load();
    if (name === "fleet") this.fleet?.show(); else this.fleet?.hide();
    if (name === "map") requestAnimationFrame(() => this.map.fit(false));
  }

  liveState(state) {
    const box = $("#live-state");
    box.dataset.state = state;
    $("#live-label").textContent = state === "live" ? t("app.live") : state === "closed" ? t("console.disconnected") : t("app.reconnecting");
  }

  clock() {
    $("#site-clock").textContent = dateTime(new Date(now()).toISOString(), { seconds: true });
  }
}

async function main() {
  const me = await signedIn();
  applyI18n(document);
  $("#lang").append(languageToggle());
  $("#sign-out").addEventListener("click", signOut);
  $("#me").textContent = me.display_name + (me.department ? ` · ${me.site?.departments?.find((d) => d.id === me.department)?.name || me.department}` : "");
  $("#site-name").textContent = me.site?.name || "";
  document.body.dataset.roles = me.roles.join(" ");
  if (!can(me, "cases:read")) {
    $("#main").replaceChildren(el("p", { class: "empty", text: t("console.no_cases_role") }));
    return;
  }
  const [grids, workers, devices] = await Promise.all([
    api.get("/api/v1/grids"),
    can(me, "workers:read") ? api.get("/api/v1/workers") : [],
    can(me, "devices:read") ? api.get("/api/v1/devices") : [],
  ]);
  setupAlerts();
  const app = new Console(context(me, grids, workers, devices), grids);
  document.addEventListener("langchange", () => { app.refreshBoard(); app.liveState($("#live-state").dataset.state); app.clock(); });
  await app.start();
  document.body.dataset.ready = "true";  // for people reading the page with tools (and the tests)
}

main().catch((err) => {
  if (err?.status === 401) return;  // on the way to the sign-in page
  toast(t("app.error", { message: err.message }), "error");
  console.error(err);
});

