// The operator's decisions on a case, each one click and a short form, each on the case's trail
// with the signed-in operator: confirm (确认), false alarm with a reason (误报), reassign to a worker
// from the shortlist (改派), blow the whistle to a department (吹哨), close (结案), reopen (重开),
// verify or send back a result (核查), merge a duplicate (合并); a department acknowledges (报到).
import { api } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { can } from "/ui/common/session.js";
import { OPEN } from "./filter.js";

// gateway/cases/feedback.py FalseAlarmReason (tests/web/test_console_vocabulary.py keeps them equal)
export const FALSE_ALARM_REASONS = ["steam_cooking", "light", "people_at_work", "animal", "object", "test", "device_fault", "other"];
const ACTIVE_TASK = ["offered", "accepted", "on_site"];

// Which buttons this person sees for this case (only those that will work).
export function actionsFor(me, c, { task, acknowledged }) {
  const out = [];
  const open = OPEN.includes(c.status);
  if (can(me, "cases:decide")) {
    if (open && !c.confirmed_at) out.push("confirm");
    if (open) out.push("dismiss");
  }
  if (can(me, "tasks:decide") && task && ACTIVE_TASK.includes(task.status) && open) out.push("reassign");
  if (can(me, "cases:decide") && open) out.push("escalate");
  if (can(me, "tasks:decide") && task?.status === "resolved") out.push("verify");
  if (can(me, "cases:decide")) {
    if (["new", "resolved"].includes(c.status)) out.push("close");
    if (["resolved", "closed", "dismissed"].includes(c.status)) out.push("reopen");
    if (c.status !== "merged" && !["closed", "dismissed"].includes(c.status)) out.push("merge");
  }
  if (can(me, "cases:acknowledge") && !acknowledged && c.status !== "merged") out.push("acknowledge");
  return out;
}

function field(labelKey, control) {
  return el("label", { class: "field" }, el("span", { text: t(labelKey) }), control);
}

function note(name = "note", required = false) {
  return el("textarea", { name, rows: "3", maxlength: "2000", required });
}

// Builds the form of one action: [fields, (form data) -> [path, body]].
function formOf(kind, c, { task, site, related }) {
  switch (kind) {
    case "confirm":
      return [[field("console.form.note", note("reason"))], (f) => [`/api/v1/cases/${c.id}/confirm`, { reason: f.reason }]];
    case "dismiss": {
      const reasons = el("div", { class: "choices", role: "radiogroup" },
        ...FALSE_ALARM_REASONS.map((r, i) => el("label", { class: "choice" },
          el("input", { type: "radio", name: "reason_code", value: r, required: i === 0 }), el("span", { text: label("false_alarm", r) }))));
      return [[el("fieldset", {}, el("legend", { text: t("console.form.false_alarm_reason") }), reasons), field("console.form.note", note("reason"))],
        (f) => [`/api/v1/cases/${c.id}/dismiss`, { reason_code: f.reason_code, reason: f.reason }]];
    }
    case "reassign": {
      const options = (task.shortlist || []).filter((s) => s.worker_id !== task.worker_id);
      const choices = el("div", { class: "choices", role: "radiogroup" },
        ...options.map((s, i) => el("label", { class: "choice" },
          el("input", { type: "radio", name: "worker_id", value: s.worker_id, required: true, checked: i === 0 }),
          el("span", { text: `${s.worker_name || s.worker_id} · ${Math.round(s.distance_m)} m · ${label("worker_role", s.role)} · ${t("console.dispatch.workload", { n: s.workload })}` }))),
        el("label", { class: "choice" }, el("input", { type: "radio", name: "worker_id", value: "", checked: options.length === 0 }),
          el("span", { text: t("console.form.next_candidate") })));
      return [[el("fieldset", {}, el("legend", { text: t("console.form.pick_worker") }), choices), field("console.form.note", note())],
        (f) => [`/api/v1/tasks/${task.id}/reassign`, { worker_id: f.worker_id || null, note: f.note }]];
    }
    case "escalate": {
      const select = el("select", { name: "department", required: true },
        ...site.departments.map((d) => el("option", { value: d.id, text: `${d.name}${d.phone ? " · " + d.phone : ""}` })));
      return [[field("console.form.department", select), field("console.form.message", note("message", true))],
        (f) => [`/api/v1/cases/${c.id}/escalate`, { department: f.department, message: f.message }]];
    }
    case "close":
      return [[field("console.form.note", note("reason"))], (f) => [`/api/v1/cases/${c.id}/close`, { reason: f.reason }]];
    case "reopen":
      return [[field("console.form.reason_required", note("reason", true))], (f) => [`/api/v1/cases/${c.id}/reopen`, { reason: f.reason }]];
    case "verify": {
      const verdict = el("div", { class: "choices", role: "radiogroup" },
        el("label", { class: "choice" }, el("input", { type: "radio", name: "approved", value: "yes", checked: true }), el("span", { text: t("console.form.verify_ok") })),
        el("label", { class: "choice" }, el("input", { type: "radio", name: "approved", value: "no" }), el("span", { text: t("console.form.verify_back") })));
      return [[verdict, field("console.form.note", note())],
        (f) => [`/api/v1/tasks/${task.id}/verify`, { approved: f.approved === "yes", note: f.note }]];
    }
    case "merge": {
      const input = el("input", { name: "into", required: true, maxlength: "36", list: "merge-targets", autocomplete: "off" });
      const targets = el("datalist", { id: "merge-targets" },
        ...related.filter((r) => r.status !== "merged").map((r) => el("option", { value: r.id, text: `${r.title} · ${label("case_status", r.status)}` })));
      return [[field("console.form.merge_into", input), targets, field("console.form.note", note("reason"))],
        (f) => [`/api/v1/cases/${c.id}/merge`, { into: f.into.trim(), reason: f.reason }]];
    }
    case "acknowledge":
      return [[field("console.form.ack_note", note()),
               field("console.form.responsible", el("input", { name: "responsible", maxlength: "200", required: true }))],
        (f) => [`/api/v1/cases/${c.id}/acknowledge`, { note: f.note, responsible: f.responsible }]];
    default:
      throw new Error(`unknown action ${kind}`);
  }
}

// Opens the form; resolves with the API's answer once done (null when cancelled).
export function runAction(kind, c, extra) {
  const dialog = $("#action-dialog");
  const [fields, request] = formOf(kind, c, extra);
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const submit = el("button", { type: "submit", class: `primary action-${kind}`, text: t(`console.action.${kind}`) });
  const form = el("form", { method: "dialog", class: `action-form ${kind}` },
    el("h2", { text: `${t(`console.action.${kind}`)} · ${c.title}` }),
    ...fields, error,
    el("div", { class: "buttons" },
      el("button", { type: "button", class: "cancel", text: t("app.cancel"), onclick: () => dialog.close() }), submit));
  dialog.replaceChildren(form);
  return new Promise((resolve) => {
    dialog.onclose = () => resolve(null);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form).entries());
      const [path, body] = request(data);
      submit.disabled = true;
      try {
        const answer = await api.post(path, body);
        dialog.onclose = null;
        dialog.close();
        toast(t(`console.done.${kind}`), "ok");
        resolve(answer);
      } catch (err) {
        error.hidden = false;
        error.textContent = err.status === 403 ? t("app.forbidden") : err.message;
        submit.disabled = false;
      }
    });
    dialog.showModal();
    form.querySelector("input, select, textarea")?.focus();
  });
}
