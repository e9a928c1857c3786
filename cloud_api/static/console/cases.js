// The case list: filters, sorting, true totals, paging and the CSV export of what is filtered, all
// from the server (GET /api/v1/cases, /api/v1/cases/export.csv, the same query). Live updates
// change the page at once: a case on the page is replaced, a new one that fits the filter is put
// in its place; changes the page cannot judge alone (a case leaving the page, another worker's
// old task) are settled by reading the page again a moment later.
import { api, query } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { dateTime } from "/ui/common/time.js";
import { DEFAULTS, OPEN, SEVERITIES, SORTS, STATUSES, apiParams, compare, fromHash, matches, toHash } from "./filter.js";
import { countdown } from "./sla.js";

const PAGE = 50;
const FRESH_MS = 15000;  // a case that just arrived stands out this long
const HAZARDS = ["fire_smoke", "smoke_alarm", "gas_leak", "occupied_factory_dorm", "illegal_workshop",
                 "camera_offline", "camera_blocked", "device_offline", "low_battery", "tamper", "device_fault"];

export class CaseList {
  constructor(ctx, { onOpen }) {
    this.ctx = ctx;
    this.onOpen = onOpen;
    this.filter = fromHash();
    this.offset = 0;
    this.items = [];
    this.count = 0;
    this.fresh = new Map();  // case id -> until when it is marked new
    this.selected = null;
    this.buildFilters();
    addEventListener("hashchange", () => {
      const next = fromHash();
      if (toHash(next) === toHash(this.filter)) return;
      this.filter = next;
      this.offset = 0;
      this.fillFilters();
      this.load();
    });
    $("#page-prev").addEventListener("click", () => { this.offset = Math.max(0, this.offset - PAGE); this.load(); });
    $("#page-next").addEventListener("click", () => { this.offset += PAGE; this.load(); });
    $("#export").addEventListener("click", (e) => this.export(e));
    document.addEventListener("langchange", () => { this.buildFilters(); this.render(); });
  }

  // --- filters ----------------------------------------------------------------------------
  buildFilters() {
    const { ctx } = this;
    const opt = (value, text) => el("option", { value, text });
    $("#f-status").replaceChildren(opt("open", t("console.filter.open")), opt("all", t("console.filter.all")),
      ...STATUSES.map((s) => opt(s, label("case_status", s))));
    $("#f-severity").replaceChildren(el("legend", { text: t("console.filter.severity") }),
      ...SEVERITIES.map((s) => el("label", { class: `chip ${s}` },
        el("input", { type: "checkbox", name: "severity", value: s }), el("span", { text: label("severity", s) }))));
    $("#f-hazard").replaceChildren(opt("", t("console.filter.all")), ...HAZARDS.map((h) => opt(h, label("hazard", h))));
    const areas = ctx.areas.filter((a) => ["street", "community", "grid"].includes(a.level));
    $("#f-area").replaceChildren(opt("", t("console.filter.everywhere")),
      ...areas.map((a) => opt(a.id, `${a.level === "grid" ? "　" : ""}${a.name}`)));
    $("#f-device").replaceChildren(opt("", t("console.filter.all")),
      ...[...ctx.devices.values()].map((d) => opt(d.id, `${d.name} (${d.id})`)));
    $("#f-worker").replaceChildren(opt("", t("console.filter.all")),
      ...[...ctx.workers.values()].map((w) => opt(w.id, `${w.name} (${w.id})`)));
    $("#f-sort").replaceChildren(...SORTS.map((s) => opt(s, t(`console.sort.${s.replace("-", "desc_")}`))));
    $("#f-device").closest("label").hidden = ctx.devices.size === 0;
    $("#f-worker").closest("label").hidden = ctx.workers.size === 0;
    this.fillFilters();
    const form = $("#filters");
    form.onchange = () => this.readFilters();
    form.onsubmit = (e) => { e.preventDefault(); this.readFilters(); };
    let typing = null;
    $("#f-text").oninput = () => { clearTimeout(typing); typing = setTimeout(() => this.readFilters(), 350); };
    $("#f-reset").onclick = () => { this.filter = { ...DEFAULTS, severity: [] }; this.fillFilters(); this.readFilters(); };
  }

  fillFilters() {
    const f = this.filter;
    $("#f-status").value = f.status || "all";
    for (const box of document.querySelectorAll("#f-severity input")) box.checked = (f.severity || []).includes(box.value);
    $("#f-hazard").value = f.hazard_type || "";
    $("#f-area").value = f.area || "";
    $("#f-device").value = f.device_id || "";
    $("#f-worker").value = f.worker_id || "";
    $("#f-from").value = f.from || "";
    $("#f-to").value = f.to || "";
    $("#f-text").value = f.q || "";
    $("#f-sort").value = f.sort || DEFAULTS.sort;
  }

  readFilters() {
    const form = $("#filters");
    this.filter = {
      status: form.status.value,
      severity: [...document.querySelectorAll("#f-severity input:checked")].map((b) => b.value),
      hazard_type: form.hazard_type.value,
      area: form.area.value,
      device_id: form.device_id.value,
      worker_id: form.worker_id.value,
      from: form.from.value,
      to: form.to.value,
      q: form.q.value.trim(),
      sort: form.sort.value,
    };
    this.offset = 0;
    history.replaceState(null, "", `#${toHash(this.filter)}`);
    this.load();
  }

  setFilter(changes) {
    this.filter = { ...DEFAULTS, severity: [], ...changes };
    this.offset = 0;
    this.fillFilters();
    history.replaceState(null, "", `#${toHash(this.filter)}`);
    this.load();
  }

  // --- server -----------------------------------------------------------------------------
  async load() {
    const wanted = toHash(this.filter) + `@${this.offset}`;
    this.loading = wanted;
    try {
      const page = await api.get("/api/v1/cases" + query({ ...apiParams(this.filter), limit: PAGE, offset: this.offset }));
      if (this.loading !== wanted) return;  // the filter moved on while this was on its way
      this.items = page.items;
      this.count = page.count;
      this.render();
    } catch (err) {
      toast(t("app.error", { message: err.message }), "error");
    }
  }

  async export(event) {
    event.preventDefault();
    await api.get("/api/v1/me");  // a fresh access cookie for the download (the link sends it)
    const link = el("a", { href: "/api/v1/cases/export.csv" + query(apiParams(this.filter)), download: "" });
    document.body.append(link);
    link.click();
    link.remove();
  }

  settleSoon() {
    clearTimeout(this.settling);
    this.settling = setTimeout(() => this.load(), 2500);
  }

  // --- live -------------------------------------------------------------------------------
  // One update of the live feed: the case as it is now (and what it waits for next).
  apply(body) {
    const c = { ...body.case, deadline: body.deadline };
    const fits = matches(this.filter, c, this.ctx);
    const at = this.items.findIndex((x) => x.id === c.id);
    const order = compare(this.filter.sort);
    if (at >= 0) {
      if (fits) this.items[at] = c;
      else { this.items.splice(at, 1); this.count -= 1; this.settleSoon(); }
      this.items.sort(order);
    } else if (fits) {
      let pos = this.items.findIndex((x) => order(c, x) < 0);
      if (pos === -1) pos = this.items.length;
      const onThisPage = (pos > 0 || this.offset === 0) && (pos < this.items.length || this.items.length < PAGE);
      if (onThisPage) {
        this.items.splice(pos, 0, c);
        if (this.items.length > PAGE) this.items.pop();
      }
      if (body.created) {
        this.count += 1;
        this.fresh.set(c.id, Date.now() + FRESH_MS);
      } else {
        this.settleSoon();  // it may have been counted on another page already
      }
    } else if (this.filter.worker_id && body.tasks?.some((task) => task.worker_id === this.filter.worker_id)) {
      this.settleSoon();
    }
    this.scheduleRender();
  }

  scheduleRender() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.render(); });
  }

  // --- drawing ----------------------------------------------------------------------------
  select(id) {
    this.selected = id;
    for (const row of document.querySelectorAll("#case-table tbody tr")) row.classList.toggle("selected", row.dataset.caseId === id);
  }

  row(c) {
    const { ctx } = this;
    const fresh = (this.fresh.get(c.id) || 0) > Date.now();
    const open = OPEN.includes(c.status) || c.status === "resolved";
    return el("tr", {
      class: `case sev-${c.severity}${fresh ? " fresh" : ""}${c.id === this.selected ? " selected" : ""}`,
      "data-case-id": c.id, "data-severity": c.severity, "data-status": c.status, tabindex: "0",
      onclick: () => this.onOpen(c.id),
      onkeydown: (e) => { if (e.key === "Enter") this.onOpen(c.id); },
    },
      el("td", {}, el("span", { class: `sev ${c.severity}`, text: label("severity", c.severity) })),
      el("td", { class: "title" },
        el("div", { class: "t", text: c.title }),
        el("div", { class: "sub" },
          el("span", { text: label("hazard", c.hazard_type) }),
          c.event_count > 1 ? el("span", { text: t("console.events", { n: c.event_count }) }) : null,
          el("span", { class: "id", text: `#${c.id.slice(-6)}` }))),
      el("td", { text: ctx.gridName(c.grid_id) }),
      el("td", {},
        el("span", { class: `badge ${c.status}`, text: label("case_status", c.status) }),
        c.confirmed_at ? el("span", { class: "confirmed", title: t("console.confirmed"), text: "✓" }) : null),
      el("td", { text: ctx.workerName(c.assigned_worker_id) }),
      el("td", {}, open && c.deadline ? countdown(c.deadline) : "—"),
      el("td", { class: "when", text: dateTime(c.opened_at) }));
  }

  render() {
    const body = $("#case-table tbody");
    body.replaceChildren(...this.items.map((c) => this.row(c)));
    $("#empty").hidden = this.items.length > 0;
    const first = this.items.length ? this.offset + 1 : 0;
    $("#page-info").textContent = t("console.page.info", { first, last: this.offset + this.items.length, count: this.count });
    $("#page-prev").disabled = this.offset === 0;
    $("#page-next").disabled = this.offset + this.items.length >= this.count;
    $("#cases-view").dataset.count = String(this.count);
  }
}
