// The shift handover (交班): what is open as the shift ends — most severe first, with what each
// waits for — and what the shift opened, ended, escalated and let slip; printable, and the open
// cases as CSV for the next shift's spreadsheet.
import { api, query } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { dateTime } from "/ui/common/time.js";
import { countdown } from "./sla.js";

const SHIFTS = [8, 12, 24];

export class Handover {
  constructor(ctx, { onOpen }) {
    this.ctx = ctx;
    this.onOpen = onOpen;
    this.hours = 12;
    this.box = $("#handover-view");
    document.addEventListener("langchange", () => this.draw());
  }

  async load() {
    try {
      this.data = await api.get("/api/v1/console/handover" + query({ hours: this.hours }));
      this.draw();
    } catch (err) {
      toast(t("app.error", { message: err.message }), "error");
    }
  }

  draw() {
    const d = this.data;
    if (!d) return;
    const { ctx } = this;
    const pick = el("select", { id: "handover-hours", onchange: (e) => { this.hours = Number(e.target.value); this.load(); } },
      ...SHIFTS.map((h) => el("option", { value: h, text: t("console.handover.hours", { h }), selected: h === this.hours })));
    const figures = [["open", d.open_count], ["opened", d.opened], ["closed", d.closed], ["dismissed", d.dismissed],
                     ["merged", d.merged], ["escalated", d.escalated], ["breaches", d.breaches.length],
                     ["awaiting", d.awaiting_acknowledgement.length]];
    const open = (id) => (e) => { e.preventDefault(); this.onOpen(id); };
    this.box.replaceChildren(
      el("header", { class: "handover-head" },
        el("h2", { text: t("console.handover.title") }),
        el("span", { class: "span", text: `${dateTime(d.since)} — ${dateTime(d.until)}` }),
        el("label", {}, el("span", { text: t("console.handover.shift") }), pick),
        el("button", { type: "button", class: "print", text: t("console.handover.print"), onclick: () => print() }),
        el("a", { class: "button", href: "/api/v1/cases/export.csv?open=true&sort=-severity", download: "", text: t("console.handover.export") })),
      el("dl", { class: "figures" }, ...figures.flatMap(([k, n]) => [el("dt", { text: t(`console.handover.${k}`) }), el("dd", { "data-figure": k, text: String(n) })])),
      el("h3", { text: t("console.handover.open_cases", { n: d.open_count }) }),
      el("table", { class: "mini handover-open" },
        el("thead", {}, el("tr", {}, ...["severity", "case", "grid", "status", "worker", "sla", "opened"].map((k) => el("th", { text: t(`console.col.${k}`) })))),
        el("tbody", {}, ...d.open.map((c) => el("tr", { "data-case-id": c.id },
          el("td", {}, el("span", { class: `sev ${c.severity}`, text: label("severity", c.severity) })),
          el("td", {}, el("a", { href: "#", text: c.title, onclick: open(c.id) })),
          el("td", { text: ctx.gridName(c.grid_id) }),
          el("td", {}, el("span", { class: `badge ${c.status}`, text: label("case_status", c.status) })),
          el("td", { text: ctx.workerName(c.assigned_worker_id) }),
          el("td", {}, c.deadline ? countdown(c.deadline) : "—"),
          el("td", { text: dateTime(c.opened_at) }))))),
      d.awaiting_acknowledgement.length ? el("section", {},
        el("h3", { text: t("console.handover.awaiting") }),
        el("ul", {}, ...d.awaiting_acknowledgement.map((a) => el("li", {},
          el("a", { href: "#", text: a.title, onclick: open(a.case_id) }),
          ` · ${a.department} · ${t("console.handover.told_at", { at: dateTime(a.told_at) })}`)))) : null,
      d.breaches.length ? el("section", {},
        el("h3", { text: t("console.handover.breaches") }),
        el("ul", {}, ...d.breaches.map((b) => el("li", {},
          el("time", { text: dateTime(b.at) }), " ",
          el("a", { href: "#", text: b.title, onclick: open(b.case_id) }), ` — ${b.what}`)))) : null);
  }
}
