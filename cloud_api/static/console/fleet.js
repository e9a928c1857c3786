// The fleet (设备): every edge node, camera and sensor the operator's areas hold — status, last
// seen, configuration pushed vs applied, health problems and the open maintenance case — counted
// per status at the top, filtered and searched on the server, fifty to a page (a site has 10,000
// devices; the page never holds more than one page of rows).
//
// GET /api/v1/fleet (docs/devices.md). Devices going offline or coming back are not on the live
// feed (only their maintenance cases are): while this view is shown the page asks again every
// POLL_MS with the ETag it has (an unchanged page is a 304: nothing drawn again), and soon after a
// maintenance case changes on the live feed.
import { api, query } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { dateTime, now } from "/ui/common/time.js";

const PAGE = 50;
const POLL_MS = 5000;
export const STATUSES = ["online", "offline", "commissioned", "provisioned", "planned", "retired"];
const KINDS = ["node", "camera", "sensor"];
export const MAINTENANCE = new Set(["camera_offline", "camera_blocked", "device_offline", "low_battery", "tamper", "device_fault"]);
const DOWN = new Set(["offline", "error", "reconnecting", "silent"]);

// "3 分钟前" from an instant, on the server's clock (time.js now()); the exact time is its title.
export function ago(iso) {
  if (!iso) return t("fleet.never");
  const s = Math.max(0, Math.round((now() - Date.parse(iso)) / 1000));
  if (s < 45) return t("fleet.ago.now");
  if (s < 3600) return t("fleet.ago.minutes", { n: Math.max(1, Math.round(s / 60)) });
  if (s < 86400) return t("fleet.ago.hours", { n: Math.floor(s / 3600) });
  return t("fleet.ago.days", { n: Math.floor(s / 86400) });
}

// What is wrong with a device, in the operator's words (empty: nothing).
export function problems(d) {
  const out = [];
  if (d.status === "offline") out.push(t("fleet.problem.offline", { reason: d.status_reason || "—" }));
  const h = d.health || {};
  if (h.state && DOWN.has(h.state) && d.status !== "offline") out.push(`${label("fleet.state", h.state)}${h.error ? "：" + h.error : ""}`);
  else if (h.error && d.status === "offline" && h.error !== d.status_reason) out.push(h.error);
  for (const w of h.warnings || []) out.push(w);
  if (h.config_error) out.push(t("fleet.problem.config", { error: h.config_error }));
  return out;
}

export class Fleet {
  constructor(ctx, { onOpen }) {
    this.ctx = ctx;
    this.onOpen = onOpen;
    this.filter = { area: "", kind: "", status: "", problems: false, q: "" };
    this.offset = 0;
    this.page = null;
    this.etag = null;
    this.shown = false;
    this.built = false;
    document.addEventListener("langchange", () => { if (this.built) { this.build(); this.render(); } });
    document.addEventListener("visibilitychange", () => { if (this.shown && !document.hidden) this.load(); });
  }

  // --- the view comes and goes ------------------------------------------------------------
  show() {
    if (!this.built) this.build();
    this.shown = true;
    this.load();
    clearInterval(this.timer);
    this.timer = setInterval(() => { if (!document.hidden) this.load(); }, POLL_MS);
  }

  hide() {
    this.shown = false;
    clearInterval(this.timer);
  }

  // A case changed on the live feed: a maintenance case opens or closes with a device's trouble.
  caseChanged(c) {
    if (!this.shown || !MAINTENANCE.has(c.hazard_type)) return;
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.load(), 800);
  }

  // --- filters ----------------------------------------------------------------------------
  build() {
    this.built = true;
    const opt = (value, text) => el("option", { value, text });
    const areas = this.ctx.areas.filter((a) => ["street", "community", "grid"].includes(a.level));
    const pane = $("#fleet-view");
    pane.replaceChildren(
      el("div", { class: "fleet-counts", id: "fleet-counts", role: "group", "aria-label": t("fleet.counts") }),
      el("form", { id: "fleet-filters", class: "filters", autocomplete: "off" },
        el("label", {}, el("span", { text: t("fleet.filter.area") }),
          el("select", { name: "area", id: "fl-area" }, opt("", t("console.filter.everywhere")),
            ...areas.map((a) => opt(a.id, `${a.level === "grid" ? "　" : ""}${a.name}`)))),
        el("label", {}, el("span", { text: t("fleet.filter.kind") }),
          el("select", { name: "kind", id: "fl-kind" }, opt("", t("console.filter.all")),
            ...KINDS.map((k) => opt(k, label("device_kind", k))))),
        el("label", {}, el("span", { text: t("fleet.filter.status") }),
          el("select", { name: "status", id: "fl-status" }, opt("", t("console.filter.all")),
            ...STATUSES.map((s) => opt(s, label("device_status", s))))),
        el("label", { class: "chip fleet-problems" },
          el("input", { type: "checkbox", name: "problems", id: "fl-problems" }), el("span", { text: t("fleet.filter.problems") })),
        el("label", { class: "grow" }, el("span", { text: t("fleet.filter.search") }),
          el("input", { type: "search", name: "q", id: "fl-q", maxlength: "64", placeholder: t("fleet.filter.search_hint") })),
        el("div", { class: "filter-actions" }, el("button", { type: "button", id: "fl-reset", text: t("console.filter.reset") }))),
      el("div", { class: "table-wrap" },
        el("table", { id: "fleet-table", class: "case-table fleet-table" },
          el("thead", {}, el("tr", {}, ...["status", "device", "serial", "grid", "last_seen", "config", "health", "case"]
            .map((c) => el("th", { text: t(`fleet.col.${c}`) })))),
          el("tbody")),
        el("p", { id: "fleet-empty", class: "empty", hidden: true, text: t("fleet.empty") })),
      el("footer", { class: "pager" },
        el("span", { id: "fleet-page-info", "aria-live": "polite" }),
        el("button", { type: "button", id: "fleet-prev", text: t("console.page.prev"), onclick: () => this.turn(-PAGE) }),
        el("button", { type: "button", id: "fleet-next", text: t("console.page.next"), onclick: () => this.turn(PAGE) })));
    const form = $("#fleet-filters");
    form.area.value = this.filter.area;
    form.kind.value = this.filter.kind;
    form.status.value = this.filter.status;
    form.problems.checked = this.filter.problems;
    form.q.value = this.filter.q;
    form.onchange = () => this.readFilters();
    form.onsubmit = (e) => { e.preventDefault(); this.readFilters(); };
    let typing = null;
    form.q.oninput = () => { clearTimeout(typing); typing = setTimeout(() => this.readFilters(), 350); };
    $("#fl-reset").onclick = () => this.setFilter({ area: "", kind: "", status: "", problems: false, q: "" });
  }

  readFilters() {
    const form = $("#fleet-filters");
    this.setFilter({
      area: form.area.value, kind: form.kind.value, status: form.status.value,
      problems: form.problems.checked, q: form.q.value.trim(),
    }, false);
  }

  setFilter(filter, fill = true) {
    this.filter = filter;
    this.offset = 0;
    if (fill && this.built) {
      const form = $("#fleet-filters");
      form.area.value = filter.area; form.kind.value = filter.kind; form.status.value = filter.status;
      form.problems.checked = filter.problems; form.q.value = filter.q;
    }
    this.load();
  }

  turn(by) {
    this.offset = Math.max(0, this.offset + by);
    this.load();
  }

  // --- server -----------------------------------------------------------------------------
  async load() {
    const f = this.filter;
    const path = "/api/v1/fleet" + query({
      area: f.area, kind: f.kind, status: f.status, problems: f.problems ? "true" : "", q: f.q,
      limit: PAGE, offset: this.offset,
    });
    const asked = path;
    this.asking = asked;
    const meta = {};
    try {
      const same = this.path === path && this.etag;
      const page = await api.get(path, { headers: same ? { "If-None-Match": this.etag } : {}, meta });
      if (this.asking !== asked) return;  // the filter moved on while this was on its way
      if (page === null) { this.renderAges(); return; }  // 304: nothing changed but the clock
      if (page.items.length === 0 && this.offset > 0 && page.total > 0) {  // the last page emptied
        this.offset = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE);
        return this.load();
      }
      this.page = page;
      this.path = path;
      this.etag = meta.etag;
      this.render();
    } catch (err) {
      toast(t("app.error", { message: err.message }), "error");
    }
  }

  // --- drawing ----------------------------------------------------------------------------
  counts() {
    const { counts, problems: bad, total } = this.page;
    const all = STATUSES.reduce((n, s) => n + (counts[s] || 0), 0);
    const chip = (key, n, text, on, onclick) => el("button", {
      type: "button", class: `counter fleet-count ${key}${n ? " lit" : ""}`, "data-fleet-count": key,
      "aria-pressed": String(on), onclick,
    }, el("span", { class: "n", text: String(n) }), el("span", { class: "k", text }));
    $("#fleet-counts").replaceChildren(
      chip("all", all, t("fleet.count.all"), !this.filter.status && !this.filter.problems,
        () => this.setFilter({ ...this.filter, status: "", problems: false })),
      ...STATUSES.map((s) => chip(s, counts[s] || 0, label("device_status", s), this.filter.status === s,
        () => this.setFilter({ ...this.filter, status: this.filter.status === s ? "" : s }))),
      chip("problems", bad, t("fleet.count.problems"), this.filter.problems,
        () => this.setFilter({ ...this.filter, problems: !this.filter.problems })));
    $("#fleet-view").dataset.total = String(total);
  }

  row(d) {
    const { ctx } = this;
    const issues = problems(d);
    const grid = d.installed_grid_id && d.installed_grid_id !== d.grid_id
      ? `${ctx.gridName(d.grid_id)} → ${ctx.gridName(d.installed_grid_id)}` : ctx.gridName(d.grid_id);
    const community = ctx.gridName(ctx.parentOf?.(d.installed_grid_id || d.grid_id));
    return el("tr", {
      class: `device status-${d.status}${issues.length || d.troubles.length ? " trouble" : ""}`,
      "data-device-id": d.id, "data-status": d.status,
    },
      el("td", {}, el("span", { class: `badge dev ${d.status}`, text: label("device_status", d.status) })),
      el("td", { class: "title" },
        el("div", { class: "t", text: d.name || d.id }),
        el("div", { class: "sub" },
          el("span", { text: label("device_kind", d.kind) }),
          d.type && d.kind === "sensor" ? el("span", { text: label("sensor_type", d.type) }) : null,
          el("span", { class: "id", text: d.id }),
          d.node_id ? el("span", { text: t("fleet.via", { node: d.node_id }) }) : null)),
      el("td", { class: "serial", text: d.serial || "—" }),
      el("td", {}, el("div", { text: grid }), community !== "—" ? el("div", { class: "sub", text: community }) : null),
      el("td", { class: "when" },
        el("span", { class: "ago", "data-at": d.last_seen_at || "", title: dateTime(d.last_seen_at, { seconds: true }), text: ago(d.last_seen_at) }),
        el("div", { class: "sub", text: t("fleet.since", { status: label("device_status", d.status), at: dateTime(d.status_since) }) })),
      el("td", { class: "config" }, ...this.config(d)),
      el("td", { class: "health" }, issues.length
        ? el("ul", { class: "problems" }, issues.map((p) => el("li", { text: p })))
        : el("span", { class: "dimmed", text: d.status === "online" || d.status === "commissioned" ? t("fleet.healthy") : "—" })),
      el("td", { class: "maintenance" }, d.troubles.length
        ? d.troubles.map((c) => el("a", {
            href: `#case=${encodeURIComponent(c.case_id)}`, class: `case-link sev-${c.severity}`, "data-case-id": c.case_id,
            onclick: (e) => { e.preventDefault(); this.onOpen(c.case_id); },
          }, `${label("hazard", c.hazard_type)} · ${label("case_status", c.status)} · ${ago(c.opened_at)}`))
        : "—"));
  }

  config(d) {
    const h = d.health || {};
    if (d.kind !== "node") return [el("span", { class: "dimmed", text: "—" })];
    const applied = d.config_version || t("fleet.config.own_file");
    const out = [el("div", { class: "applied", title: t("fleet.config.applied"), text: applied })];
    if (d.config_desired && d.config_desired !== d.config_version) {
      out.push(el("div", { class: h.config_error ? "pushed failed" : "pushed pending",
        text: t(h.config_error ? "fleet.config.refused" : "fleet.config.pending", { version: d.config_desired }) }));
    }
    return out;
  }

  render() {
    if (!this.page) return;
    this.counts();
    const { items, total } = this.page;
    $("#fleet-table tbody").replaceChildren(...items.map((d) => this.row(d)));
    $("#fleet-empty").hidden = items.length > 0;
    const first = items.length ? this.offset + 1 : 0;
    $("#fleet-page-info").textContent = t("console.page.info", { first, last: this.offset + items.length, count: total });
    $("#fleet-prev").disabled = this.offset === 0;
    $("#fleet-next").disabled = this.offset + items.length >= total;
  }

  // Only the clock moved: the "… ago" texts follow it.
  renderAges() {
    for (const span of document.querySelectorAll("#fleet-table .ago")) span.textContent = ago(span.dataset.at || null);
  }
}
