// The analytics panel (分析): what the centre learns from its cases, over the signed-in person's
// grids — the week's hotspots on the map coloured by case density (cases per km²), week on week;
// the types; the devices raising most false alarms; the month's assessment (量化考核) ranked
// within each community with every figure behind a score; exports (XLSX) and the weekly reports.
// GET /api/v1/analytics/{density,hotspots,false-alarms,assessment}, /api/v1/weekly-reports.
import { api, query } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { dateTime, duration } from "/ui/common/time.js";
import { SiteMap } from "./map.js";

// Five classes, light to dark: a sequential scale reads as "more" without a legend lesson.
const SHADES = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];
const MEASURES = ["patrol_coverage", "on_time_arrival", "on_time_resolution", "verified_resolutions", "reports_raised"];

function pct(x) { return x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`; }
function change(h) {
  if (h.change_pct === null) return h.cases ? t("analytics.new") : "—";
  return `${h.change > 0 ? "▲" : h.change < 0 ? "▼" : ""}${h.change_pct > 0 ? "+" : ""}${h.change_pct}%`;
}
// Class breaks from the week's own densities (quantiles of the non-zero ones), so a quiet week
// still shows where it is hottest.
export function breaks(values) {
  const v = values.filter((x) => x > 0).sort((a, b) => a - b);
  if (!v.length) return [0, 0, 0, 0];
  return [0.2, 0.4, 0.6, 0.8].map((q) => v[Math.min(v.length - 1, Math.floor(q * v.length))]);
}
function shade(x, cuts) {
  if (!(x > 0)) return SHADES[0];
  let i = 1;
  while (i < SHADES.length - 1 && x > cuts[i]) i++;
  return SHADES[i];
}

export class Analytics {
  constructor(ctx, grids) {
    this.ctx = ctx;
    this.grids = grids;
    this.week = "";  // "" = the last full week (the server decides, in the site's calendar)
    this.month = "";
    this.kind = "worker";
    this.box = $("#analytics-view");
    document.addEventListener("langchange", () => this.draw());
  }

  async load() {
    // Changing the week or month twice quickly starts two loads: only the newest one draws, or
    // the slower, older answer would be shown under the newer choice. aria-busy while one runs.
    const n = (this.loads = (this.loads || 0) + 1);
    this.box.setAttribute("aria-busy", "true");
    const w = query({ week: this.week });
    try {
      const [density, spots, hazards, noisy, assessment, reports, response] = await Promise.all([
        api.get("/api/v1/analytics/density" + w),
        api.get("/api/v1/analytics/hotspots" + query({ week: this.week, by: "grid" })),
        api.get("/api/v1/analytics/hotspots" + query({ week: this.week, by: "hazard_type" })),
        api.get("/api/v1/analytics/false-alarms" + query({ limit: 8 })),
        api.get("/api/v1/analytics/assessment" + query({ month: this.month, kind: this.kind })),
        api.get("/api/v1/weekly-reports"),
        api.get("/api/v1/analytics/response" + query({ week: this.week, by: "community" })),
      ]);
      if (n !== this.loads) return;
      this.data = { density, spots, hazards, noisy, assessment, reports, response };
      this.week = this.week || spots.period.label;
      this.month = this.month || assessment.period.label;
      this.draw();
    } catch (err) {
      if (n === this.loads) toast(t("app.error", { message: err.message }), "error");
    } finally {
      if (n === this.loads) this.box.removeAttribute("aria-busy");
    }
  }

  draw() {
    const d = this.data;
    if (!d) return;
    const cases = d.spots.items.reduce((s, h) => s + h.cases, 0);
    const before = d.spots.items.reduce((s, h) => s + h.previous, 0);
    const dismissed = d.spots.items.reduce((s, h) => s + h.dismissed, 0);
    const svg = el("svg", { id: "hotspot-map", role: "img", "aria-label": t("analytics.map") });
    this.box.replaceChildren(
      el("header", { class: "analytics-head" },
        el("h2", { text: t("analytics.title") }),
        el("label", {}, el("span", { text: t("analytics.week") }),
          el("input", { type: "week", id: "a-week", value: this.week, onchange: (e) => { this.week = e.target.value; this.load(); } })),
        el("span", { class: "span", text: `${dateTime(d.spots.period.since)} — ${dateTime(d.spots.period.until)}` }),
        el("a", { class: "button", download: "", text: t("analytics.export_tasks"),
          href: "/api/v1/analytics/export/tasks.xlsx" + query({ week: this.week }) }),
        el("button", { type: "button", id: "a-make-report", text: t("analytics.make_report"), onclick: () => this.makeReport() })),
      el("dl", { class: "figures" },
        el("dt", { text: t("analytics.cases") }), el("dd", { "data-figure": "cases", text: String(cases) }),
        el("dt", { text: t("analytics.previous") }), el("dd", { "data-figure": "previous", text: String(before) }),
        el("dt", { text: t("analytics.dismissed") }), el("dd", { "data-figure": "dismissed", text: String(dismissed) })),
      el("div", { class: "analytics-grid" },
        el("section", { class: "hotspot-map" }, el("h3", { text: t("analytics.map") }), svg, this.legend(d.density.items)),
        el("section", {},
          el("h3", { text: t("analytics.hot_grids") }), this.spotTable(d.spots.items.filter((h) => h.cases || h.previous).slice(0, 10), "grid"),
          el("h3", { text: t("analytics.by_type") }), this.spotTable(d.hazards.items.filter((h) => h.cases || h.previous), "hazard"),
          el("h3", { text: t("analytics.noisy") }), this.noisyTable(d.noisy.items))),
      el("section", { class: "response" }, el("h3", { text: t("analytics.response") }), this.responseTable(d.response.items)),
      el("section", { class: "assessment", "data-month": d.assessment.period.label },
        el("header", { class: "analytics-head" },
          el("h3", { text: t("analytics.assessment") }),
          el("label", {}, el("span", { text: t("analytics.month") }),
            el("input", { type: "month", id: "a-month", value: this.month, onchange: (e) => { this.month = e.target.value; this.load(); } })),
          el("select", { id: "a-kind", onchange: (e) => { this.kind = e.target.value; this.load(); } },
            ...["worker", "grid"].map((k) => el("option", { value: k, text: t(`analytics.kind.${k}`), selected: k === this.kind }))),
          el("a", { class: "button", download: "", text: t("analytics.export_assessment"),
            href: `/api/v1/analytics/export/assessment.xlsx` + query({ month: this.month, kind: this.kind }) })),
        this.assessmentTable(d.assessment)),
      el("section", { class: "reports" }, el("h3", { text: t("analytics.reports") }), this.reportList(d.reports.items)));
    this.paint(svg, d.density.items);
  }

  paint(svg, items) {
    const map = new SiteMap(svg, { grids: this.grids, settings: this.ctx.site.map });
    const cuts = breaks(items.map((g) => g.per_km2));
    const byId = new Map(items.map((g) => [g.grid_id, g]));
    for (const path of svg.querySelectorAll("path.area.grid")) {
      const g = byId.get(path.dataset.areaId);
      if (!g) { path.classList.add("outside"); continue; }  // not the caller's grid
      path.style.fill = shade(g.per_km2, cuts);
      path.style.fillOpacity = "0.85";
      path.dataset.cases = String(g.cases);
      path.dataset.perKm2 = String(g.per_km2);
      path.querySelector("title").textContent = t("analytics.grid_tip", { name: g.name, n: g.cases, d: g.per_km2 });
    }
    this.map = map;
  }

  legend(items) {
    const cuts = breaks(items.map((g) => g.per_km2));
    const edges = [0, ...cuts];
    return el("div", { class: "density-legend" },
      el("span", { text: t("analytics.per_km2") }),
      ...SHADES.map((c, i) => el("span", { class: "swatch-row" },
        el("i", { class: "swatch", style: `background:${c}` }),
        i === 0 ? "0" : i === SHADES.length - 1 ? `> ${edges[i - 1]}` : `≤ ${edges[i]}`)));
  }

  spotTable(items, kind) {
    return el("table", { class: `mini spots ${kind}` },
      el("thead", {}, el("tr", {}, ...["name", "cases", "previous", "change", "dismissed"].map((k) => el("th", { text: t(`analytics.col.${k}`) })))),
      el("tbody", {}, ...items.map((h) => el("tr", { "data-key": h.key || "" },
        el("td", { text: kind === "hazard" ? label("hazard", h.key) : h.name }),
        el("td", { class: "num", text: String(h.cases) }),
        el("td", { class: "num", text: String(h.previous) }),
        el("td", { class: `num ${h.change > 0 ? "up" : h.change < 0 ? "down" : ""}`, text: change(h) }),
        el("td", { class: "num", text: String(h.dismissed) })))));
  }

  // Per community: how fast tasks were taken up, reached and resolved (p50/p90), and on time.
  responseTable(items) {
    const time = (s) => (s === null || s === undefined ? "—" : duration(s));
    const cols = ["name", "tasks", "accept_p50", "arrive_p50", "arrive_p90", "resolve_p50", "on_time", "sent_back", "escalations"];
    return el("table", { class: "mini response-table" },
      el("thead", {}, el("tr", {}, ...cols.map((k) => el("th", { text: t(`analytics.col.${k}`) })))),
      el("tbody", {}, ...items.filter((r) => r.key).map((r) => el("tr", { "data-key": r.key },
        el("td", { text: r.name }),
        el("td", { class: "num", text: String(r.offered) }),
        el("td", { class: "num", text: time(r.accept.p50_s) }),
        el("td", { class: "num", text: time(r.arrival.p50_s) }),
        el("td", { class: "num", text: time(r.arrival.p90_s) }),
        el("td", { class: "num", text: time(r.resolve.p50_s) }),
        el("td", { class: "num on-time", text: pct(r.on_time_rate) }),
        el("td", { class: "num", text: String(r.sent_back) }),
        el("td", { class: "num", text: String(r.escalations) })))));
  }

  noisyTable(items) {
    if (!items.length) return el("p", { class: "empty", text: t("analytics.no_false_alarms") });
    return el("table", { class: "mini noisy" },
      el("thead", {}, el("tr", {}, ...["device", "grid", "false_alarms", "cases"].map((k) => el("th", { text: t(`analytics.col.${k}`) })))),
      el("tbody", {}, ...items.map((n) => el("tr", { "data-device-id": n.device_id },
        el("td", { text: n.name }), el("td", { text: n.grid_name || "—" }),
        el("td", { class: "num", text: String(n.false_alarms) }), el("td", { class: "num", text: String(n.cases) })))));
  }

  assessmentTable(a) {
    const shown = MEASURES.filter((m) => a.scheme.measures[m]);
    const cell = (m, line) => {
      const s = line.measures.find((x) => x.measure === m);
      if (!s || s.actual === null) return el("td", { class: "num dim", text: "—" });
      const value = m === "reports_raised" ? String(s.numerator) : pct(s.actual);
      const of = s.denominator !== null ? ` (${s.numerator}/${s.denominator})` : "";
      return el("td", { class: "num", title: t("analytics.points", { p: s.points, w: s.weight, target: s.target }) },
        value, el("small", { text: of }));
    };
    let community = null;
    const rows = [];
    for (const line of a.items) {
      if (line.community !== community) {
        community = line.community;
        rows.push(el("tr", { class: "group" }, el("th", { colspan: String(4 + shown.length), text: line.community_name || "—" })));
      }
      rows.push(el("tr", { "data-key": line.key },
        el("td", { class: "num rank", text: line.rank ? `${line.rank}/${line.ranked}` : "—" }),
        el("td", { text: line.name }),
        el("td", { class: "num score", text: line.score === null ? "—" : line.score.toFixed(1) }),
        ...shown.map((m) => cell(m, line)),
        el("td", { class: "num", text: String(line.response.offered) })));
    }
    return el("table", { class: "mini assessment-table" },
      el("thead", {}, el("tr", {},
        el("th", { text: t("analytics.col.rank") }), el("th", { text: t(`analytics.kind.${a.kind}`) }),
        el("th", { text: t("analytics.col.score") }),
        ...shown.map((m) => el("th", { text: `${t(`measure.${m}`)} ·${a.scheme.measures[m].weight}` })),
        el("th", { text: t("analytics.col.tasks") }))),
      el("tbody", {}, ...rows));
  }

  reportList(items) {
    if (!items.length) return el("p", { class: "empty", text: t("analytics.no_reports") });
    return el("ul", { class: "report-list" }, ...items.slice(0, 12).map((r) => el("li", {},
      el("a", { href: r.html, target: "_blank", text: r.title }), " · ",
      el("a", { href: r.pdf, target: "_blank", text: "PDF" }),
      el("span", { class: "dim", text: ` · ${dateTime(r.created_at)}` }))));
  }

  async makeReport() {
    const areas = this.ctx.me.areas || [];
    const area = areas.length === 1 ? areas[0] : "*";
    try {
      const made = await api.post("/api/v1/weekly-reports", { area, week: this.week || null });
      toast(t("analytics.report_made", { title: made.title }));
      this.load();
    } catch (err) {
      if (n === this.loads) toast(t("app.error", { message: err.message }), "error");
    } finally {
      if (n === this.loads) this.box.removeAttribute("aria-busy");
    }
  }
}
