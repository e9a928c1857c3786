// One case, everything the operator needs to decide on it: the evidence big (camera snapshots and
// the worker's photos, each with its time), the sensor readings of its reports, who was asked and
// why (the dispatch shortlist with distances and reason codes), the task's steps, a countdown for
// each running deadline, escalations and acknowledgements, the trail, and the other cases at the
// same place. The action buttons are those the signed-in person may use on it.
import { api } from "/ui/common/api.js";
import { $, el } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { dateTime, duration } from "/ui/common/time.js";
import { actionsFor, runAction } from "./actions.js";
import { countdown } from "./sla.js";

const ACTIVE_TASK = ["offered", "accepted", "on_site"];

function section(key, ...children) {
  return el("section", { class: "block", "data-section": key }, el("h3", { text: t(`console.detail.${key}`) }), ...children);
}

function when(iso) {
  return dateTime(iso, { seconds: true });
}

export class CaseDetail {
  constructor(ctx, { onOpen, onClose, onChanged }) {
    this.ctx = ctx;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.onChanged = onChanged;
    this.box = $("#detail");
    this.caseId = null;
    this.shown = 0;  // which snapshot is big
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#action-dialog").open) this.close(); });
    document.addEventListener("langchange", () => this.draw());
  }

  async open(caseId) {
    if (caseId !== this.caseId) this.shown = -1;
    this.caseId = caseId;
    this.box.hidden = false;
    this.box.dataset.caseId = caseId;
    if (!this.data || this.data.c.id !== caseId) this.box.replaceChildren(el("p", { class: "loading", text: t("app.loading") }));
    await this.load();
  }

  close() {
    if (this.box.hidden) return;
    this.box.hidden = true;
    this.caseId = null;
    this.data = null;
    this.onClose?.();
  }

  // Something about the open case changed (the live feed): read it again, at most every 300 ms.
  changed(caseId) {
    if (caseId !== this.caseId) return;
    clearTimeout(this.reloading);
    this.reloading = setTimeout(() => this.load(), 300);
  }

  async load() {
    const id = this.caseId;
    const base = `/api/v1/cases/${encodeURIComponent(id)}`;
    try {
      const [c, supervision, evidence, events, related] = await Promise.all([
        api.get(base), api.get(`${base}/supervision`), api.get(`${base}/evidence`),
        api.get(`${base}/events`), api.get(`${base}/related`),
      ]);
      if (id !== this.caseId) return;
      this.data = { c, supervision, evidence, events, related };
      this.draw();
    } catch (err) {
      if (id !== this.caseId) return;
      this.box.replaceChildren(el("p", { class: "error", text: t("app.error", { message: err.message }) }),
        el("button", { type: "button", text: t("app.close"), onclick: () => this.close() }));
    }
  }

  draw() {
    if (!this.data || this.box.hidden) return;
    const { c } = this.data;
    const task = c.tasks.at(-1);
    this.box.replaceChildren(
      this.header(c),
      this.actions(c, task),
      el("div", { class: "detail-body" },
        el("div", { class: "col wide" }, this.evidence(), this.dispatch(c, task), this.trail(c)),
        el("div", { class: "col" }, this.deadlines(), this.tasks(c), this.escalations(c), this.readings(), this.related())));
  }

  header(c) {
    const { ctx } = this;
    const facts = [
      [t("console.detail.hazard"), label("hazard", c.hazard_type)],
      [t("console.detail.grid"), ctx.gridName(c.grid_id)],
      [t("console.detail.device"), ctx.deviceName(c.device_id) + (c.zone_id ? ` / ${c.zone_id}` : "")],
      [t("console.detail.opened"), when(c.opened_at)],
      [t("console.detail.events"), String(c.event_count)],
      [t("console.detail.worker"), ctx.workerName(c.assigned_worker_id)],
    ];
    // A resident's call-back number (群众吹哨): the API gives it to the centre only, never on the trail.
    if (c.call_back?.length) facts.push([t("console.detail.call_back"), c.call_back.join(" · ")]);
    return el("header", { class: "detail-head" },
      el("div", { class: "line" },
        el("span", { class: `sev ${c.severity}`, text: label("severity", c.severity) }),
        el("h2", { text: c.title }),
        el("span", { class: `badge ${c.status}`, "data-status": c.status, text: label("case_status", c.status) }),
        c.confirmed_at ? el("span", { class: "confirmed", text: t("console.confirmed_by", { name: this.confirmer(c) }) }) : null,
        el("button", { type: "button", class: "close", "aria-label": t("app.close"), text: "×", onclick: () => this.close() })),
      el("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
      el("div", { class: "case-id" }, el("span", { text: t("console.detail.case_id") }), el("code", { text: c.id })),
      c.merged_into ? el("p", { class: "merged" }, t("console.detail.merged_into"), " ",
        el("a", { href: "#", text: `#${c.merged_into.slice(-6)}`, onclick: (e) => { e.preventDefault(); this.onOpen(c.merged_into); } })) : null,
      c.warnings.length ? el("ul", { class: "warnings" }, ...c.warnings.map((w) => el("li", { text: w }))) : null);
  }

  confirmer(c) {
    const step = c.transitions.findLast((s) => s.change === "confirmed");
    return step?.actor_name || (c.confirmed_by || "").replace(/^operator:/, "");
  }

  acknowledgedByMe(c) {
    const dept = this.ctx.me.department;
    return c.transitions.some((s) => s.change === "acknowledged" && s.actor.startsWith(`department:${dept}/`));
  }

  actions(c, task) {
    const kinds = actionsFor(this.ctx.me, c, { task, acknowledged: this.acknowledgedByMe(c) });
    const extra = { task, site: this.ctx.site, related: this.data.related };
    if (task?.shortlist) {
      for (const s of task.shortlist) s.worker_name = this.ctx.workerName(s.worker_id);
    }
    return el("div", { class: "actions", role: "toolbar" }, ...kinds.map((kind) => el("button", {
      type: "button", class: `action ${kind}`, "data-action": kind, text: t(`console.action.${kind}`),
      onclick: async () => {
        const answer = await runAction(kind, c, extra);
        if (!answer) return;
        this.onChanged?.(c.id);
        if (kind === "merge") this.onOpen(answer.id); else this.load();
      },
    })));
  }

  evidence() {
    const shots = this.data.evidence;
    if (!shots.length) return section("evidence", el("p", { class: "dimmed", text: t("console.detail.no_evidence") }));
    if (this.shown < 0 || this.shown >= shots.length) this.shown = shots.length - 1;
    const big = shots[this.shown];
    const caption = (s) => `${t(`console.evidence.${s.kind}`)} · ${s.device_name} · ${when(s.taken_at)}`;
    return section("evidence",
      el("figure", { class: "shot" },
        el("a", { href: big.url, target: "_blank", rel: "noopener" }, el("img", { src: big.url, alt: caption(big), "data-evidence-id": big.id })),
        el("figcaption", { text: caption(big) })),
      shots.length > 1 ? el("div", { class: "thumbs" }, ...shots.map((s, i) => el("button", {
        type: "button", class: `thumb${i === this.shown ? " on" : ""}`, title: caption(s),
        onclick: () => { this.shown = i; this.draw(); },
      }, el("img", { src: s.url, alt: caption(s), loading: "lazy" }), el("span", { text: `${t(`console.evidence.${s.kind}`)} ${dateTime(s.taken_at, { seconds: true }).slice(11)}` })))) : null);
  }

  readings() {
    const events = this.data.events;
    if (!events.length) return null;
    const series = new Map();
    for (const e of events) for (const r of e.readings) {
      if (!series.has(r.quantity)) series.set(r.quantity, { unit: r.unit, points: [] });
      series.get(r.quantity).points.push([Date.parse(e.at), r.value]);
    }
    const sparks = [...series].filter(([, s]) => s.points.length > 1).map(([q, s]) => spark(q, s));
    return section("readings", ...sparks,
      el("table", { class: "mini readings" },
        el("thead", {}, el("tr", {}, ...["time", "state", "severity", "values", "seen"].map((k) => el("th", { text: t(`console.readings.${k}`) })))),
        el("tbody", {}, ...events.map((e) => el("tr", {},
          el("td", { text: when(e.at) }),
          el("td", { text: label("event_state", e.state) }),
          el("td", {}, el("span", { class: `sev ${e.severity}`, text: label("severity", e.severity) })),
          el("td", { text: e.readings.map((r) => `${label("quantity", r.quantity)} ${r.value} ${r.unit}`.trim()).join("，") || "—" }),
          el("td", { text: [e.detections.join("，"), e.confidence != null ? t("console.readings.confidence", { p: Math.round(e.confidence * 100) }) : ""].filter(Boolean).join(" · ") || "—" }))))));
  }

  deadlines() {
    const timers = this.data.supervision.timers;
    if (!timers.length) return null;
    const running = timers.filter((x) => !x.stopped_at);
    const ended = timers.filter((x) => x.stopped_at);
    return section("sla",
      el("ul", { class: "timers" },
        ...running.map((x) => el("li", { class: "running", "data-phase": x.phase },
          el("span", { class: "phase", text: label("phase", x.phase) + (x.worker_id ? ` · ${this.ctx.workerName(x.worker_id)}` : "") + (x.phase === "acknowledge" ? ` · ${this.departmentName(x.detail)}` : "") }),
          countdown(x, { withPhase: false }),
          el("span", { class: "limit", text: t("console.sla.limit", { time: duration(x.limit_s) }) }))),
        ...ended.map((x) => el("li", { class: `ended ${x.outcome}`, "data-phase": x.phase },
          el("span", { class: "phase", text: label("phase", x.phase) }),
          el("span", { class: `outcome ${x.outcome}`, text: label("outcome", x.outcome) }),
          el("span", { class: "limit", text: when(x.stopped_at) })))));
  }

  departmentName(id) {
    return this.ctx.site.departments.find((d) => d.id === id)?.name || id;
  }

  dispatch(c, task) {
    if (!task) return section("dispatch", el("p", { class: "dimmed", text: t("console.dispatch.none") }));
    const rows = (task.shortlist || []).map((s, i) => el("tr", { class: s.worker_id === task.worker_id ? "chosen" : "" },
      el("td", { text: String(i + 1) }),
      el("td", { text: this.ctx.workerName(s.worker_id) }),
      el("td", { text: `${this.ctx.gridName(s.grid_id)}${s.ring ? ` (+${s.ring})` : ""}` }),
      el("td", { text: label("worker_role", s.role) }),
      el("td", { class: "num", text: `${Math.round(s.distance_m)} m` }),
      el("td", { text: s.position === "fix" ? t("console.dispatch.gps", { age: duration(s.fix_age_s || 0) }) : t("console.dispatch.home") }),
      el("td", { class: "num", text: String(s.workload) }),
      el("td", { class: "num", text: s.eta_s != null ? duration(s.eta_s) : "—" })));
    return section("dispatch",
      el("p", { class: "decision" },
        el("strong", { text: this.ctx.workerName(task.worker_id) }), " · ",
        el("span", { class: "code", text: label("reason_code", task.reason_code) }),
        el("span", { class: "dimmed", text: ` — ${task.reason}` })),
      rows.length ? el("table", { class: "mini shortlist" },
        el("thead", {}, el("tr", {}, ...["rank", "worker", "grid", "role", "distance", "position", "load", "eta"].map((k) => el("th", { text: t(`console.dispatch.${k}`) })))),
        el("tbody", {}, ...rows)) : null);
  }

  tasks(c) {
    if (!c.tasks.length) return null;
    const steps = (x) => [
      ["offered", x.offered_at], ["accepted", x.accepted_at], ["on_site", x.on_site_at],
      ["resolved", x.resolved_at], ["verified", x.verified_at], [x.status, ACTIVE_TASK.includes(x.status) ? null : x.ended_at],
    ].filter(([, at]) => at);
    return section("tasks", el("ol", { class: "tasks" }, ...[...c.tasks].reverse().map((x) => el("li", { class: `task ${x.status}` },
      el("div", {}, el("strong", { text: this.ctx.workerName(x.worker_id) }), " ",
        el("span", { class: `badge ${x.status}`, text: label("task_status", x.status) }),
        x.result ? el("span", { class: "result", text: ` ${label("task_result", x.result)}` }) : null),
      el("ul", { class: "steps" }, ...steps(x).map(([k, at]) => el("li", { text: `${label("task_status", k)} ${when(at)}` }))),
      x.note ? el("p", { class: "note", text: x.note }) : null))));
  }

  escalations(c) {
    const list = this.data.supervision.escalations;
    if (!list.length) return null;
    const acks = c.transitions.filter((s) => s.change === "acknowledged");
    return section("escalations", el("ul", { class: "escalations" }, ...list.map((e) => {
      const ack = acks.find((a) => a.reason.startsWith(`${e.target}:`) || a.reason === e.target);
      return el("li", { class: e.skipped ? "skipped" : "" },
        el("div", {}, el("strong", { text: label("tier", e.tier) }), ` · ${e.target || t("console.escalation.nobody")}`),
        el("div", { class: "dimmed", text: `${when(e.at)} · ${label("trigger", e.trigger.split(":")[0])} · ${e.reason}` }),
        e.tier === "department" ? el("div", { class: ack ? "ack yes" : "ack no", text: ack ? t("console.escalation.acknowledged", { at: when(ack.at), who: ack.actor_name || ack.actor }) : t("console.escalation.waiting") }) : null);
    })));
  }

  trail(c) {
    return section("trail", el("ol", { class: "trail" }, ...[...c.transitions].reverse().map((s) => el("li", { "data-change": s.change },
      el("div", { class: "when" }, el("time", { text: when(s.at) }), " · ", el("span", { class: "actor", text: s.actor_name || s.actor })),
      el("div", { class: "what", text: s.change === "status"
        ? `${label("case_status", s.from_status)} → ${label("case_status", s.to_status)}`
        : label("change", s.change) }),
      s.reason ? el("div", { class: "reason", text: s.reason }) : null))));
  }

  related() {
    const list = this.data.related;
    if (!list.length) return null;
    return section("related", el("ul", { class: "related" }, ...list.map((r) => el("li", {},
      el("a", { href: "#", "data-case-id": r.id, onclick: (e) => { e.preventDefault(); this.onOpen(r.id); } },
        el("span", { class: `sev ${r.severity}`, text: label("severity", r.severity) }), ` ${r.title} `,
        el("span", { class: `badge ${r.status}`, text: label("case_status", r.status) }),
        el("span", { class: "dimmed", text: ` ${dateTime(r.opened_at)}` }))))));
  }
}

// A small line of one reading across the case's reports (gas %LEL rising, then falling ...).
function spark(quantity, { unit, points }) {
  const w = 240, h = 48, pad = 4;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const sy = (y) => h - pad - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  const line = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  return el("figure", { class: "spark" },
    el("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": quantity },
      el("polyline", { points: line, fill: "none", stroke: "currentColor", "stroke-width": "2" })),
    el("figcaption", { text: `${label("quantity", quantity)}: ${y0}–${y1} ${unit}` }));
}
