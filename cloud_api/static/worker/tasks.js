// My tasks: the list (urgent first, deadline counting down, how far), one task's detail with its
// evidence and the way there, and the steps: accept or decline, check in on site, resolve with photos.
// Every step goes through the outbox: sent at once with signal, kept and sent later without.
import { el, toast } from "/ui/common/dom.js";
import { distanceM } from "/ui/common/geo.js";
import { label, t } from "/ui/common/i18n.js";
import { shrinkPhoto } from "/ui/common/photo.js";
import { newId } from "/ui/common/offline-queue.js";
import { dateTime, duration, now } from "/ui/common/time.js";
import { app, effectiveStatus, explain, freshFix, refusedFor, waitingFor } from "./state.js";

const MAX_PHOTOS = 6;
const ACTIVE = new Set(["offered", "accepted", "on_site"]);
const RESULTS = ["handled", "hazard_confirmed", "false_alarm"];
const DECLINE_REASONS = ["busy", "away", "not_mine", "unwell"];
// A step being written (the resolve form) survives a re-render: the list refreshes under it;
// and so does the last thing said about a task's step (the server's answer).
const drafts = new Map();
const notes = new Map();

function hazardName(type) {
  return label("hazard", type);
}

export function distanceText(card) {
  if (!app.position || card.case.lon == null) return "";
  const m = distanceM(app.position.lon, app.position.lat, card.case.lon, card.case.lat);
  return m < 1000 ? t("worker.distance_m", { m: Math.round(m) }) : t("worker.distance_km", { km: (m / 1000).toFixed(1) });
}

// The deadline as a countdown on the server's clock; refreshed every second by app.js (data-due).
export function countdown(due) {
  if (!due) return null;
  return el("span", { class: "sla countdown", dataset: { due } });
}

export function tickCountdowns(root = document) {
  for (const node of root.querySelectorAll(".countdown[data-due]")) {
    const left = (Date.parse(node.dataset.due) - now()) / 1000;
    node.textContent = left >= 0 ? t("worker.due_in", { left: duration(left) }) : t("worker.overdue", { late: duration(-left) });
    node.className = `sla countdown ${left < 0 ? "breached" : left < 120 ? "warning" : "on_time"}`;
  }
}

function statusLine(card) {
  const status = effectiveStatus(card);
  const pending = waitingFor(card.id).length;
  return el("div", { class: "m-row" },
    el("span", { class: `m-pill status-${status}`, text: label("task_status", status) }),
    pending ? el("span", { class: "m-pill warn", text: t("worker.pending_steps", { n: pending }) }) : null,
    card.urgent ? el("span", { class: "m-pill bad", text: t("worker.urgent") }) : null);
}

// ------------------------------------------------------------------------------------- the list
export function renderList(view) {
  const active = app.cards.filter((c) => ACTIVE.has(c.status));
  const done = app.cards.filter((c) => !ACTIVE.has(c.status));
  view.replaceChildren();
  if (app.cardsAt) {
    view.append(el("p", { class: "m-muted", id: "tasks-updated", text: t("worker.updated_at", { at: dateTime(app.cardsAt) }) }));
  }
  if (!active.length) view.append(el("div", { class: "m-empty", id: "no-tasks", text: t("worker.no_tasks") }));
  const list = el("div", { id: "task-list" });
  for (const card of active) list.append(taskCard(card));
  view.append(list);
  if (done.length) {
    view.append(el("h3", { class: "m-muted", text: t("worker.finished") }));
    const old = el("div", { id: "finished-list" });
    for (const card of done.slice(0, 20)) old.append(taskCard(card, true));
    view.append(old);
  }
  tickCountdowns(view);
}

function taskCard(card, finished = false) {
  const refused = refusedFor(card.id);
  const node = el("a", { class: `m-card task-card${card.urgent && !finished ? " urgent" : ""}`, href: `#task/${card.id}`,
                         dataset: { taskId: card.id }, style: "display:block;color:inherit;text-decoration:none" },
    el("div", { class: "m-row" },
      el("span", { class: `sev ${card.case.severity}`, text: label("severity", card.case.severity) }),
      el("strong", { class: "m-grow hazard", text: hazardName(card.case.hazard_type) }),
      finished ? null : countdown(card.due)),
    el("div", { class: "address", text: card.case.address || card.case.title }),
    el("div", { class: "m-row m-muted" },
      el("span", { class: "distance", text: distanceText(card) }),
      el("span", { class: "m-grow" }),
      el("span", { text: dateTime(card.offered_at) })),
    statusLine(card),
    refused.length ? el("div", { class: "m-msg error refused", text: explain(refused[refused.length - 1]) }) : null);
  if (app.fresh?.has(card.id)) node.classList.add("m-flash");
  return node;
}

// ----------------------------------------------------------------------------------- the detail
export function renderDetail(view, taskId) {
  const card = app.cards.find((c) => c.id === taskId);
  view.replaceChildren();
  if (!card) {
    view.append(el("div", { class: "m-empty", text: t("worker.task_unknown") }), el("a", { class: "m-btn block", href: "#tasks", text: t("worker.back") }));
    return;
  }
  const c = card.case;
  const status = effectiveStatus(card);
  const evidence = c.evidence_ids || [];
  const geo = c.lat != null ? `geo:${c.lat},${c.lon}?q=${c.lat},${c.lon}(${encodeURIComponent(hazardName(c.hazard_type))})` : null;
  view.append(
    el("a", { class: "m-muted", href: "#tasks", text: "‹ " + t("worker.back") }),
    el("div", { class: `m-card${card.urgent ? " urgent" : ""}`, id: "task-detail", dataset: { taskId: card.id } },
      el("div", { class: "m-row" },
        el("span", { class: `sev ${c.severity}`, text: label("severity", c.severity) }),
        el("h2", { class: "m-grow", text: hazardName(c.hazard_type) })),
      el("div", { class: "address m-big", style: "font-size:18px", text: c.address || c.title }),
      el("div", { class: "m-row m-muted" }, el("span", { class: "distance", text: distanceText(card) }),
        el("span", { text: t("worker.offered_at", { at: dateTime(card.offered_at) }) })),
      ACTIVE.has(card.status) && card.due ? el("div", { class: "m-big" }, countdown(card.due)) : null,
      statusLine(card),
      card.reason_code ? el("p", { class: "m-muted", id: "why-me", text: t("worker.why_me", { reason: whyMe(card) }) }) : null,
      evidence.length
        ? el("img", { class: "m-photo evidence", src: `/api/v1/evidence/${encodeURIComponent(evidence[0])}.jpg`, alt: t("worker.snapshot") })
        : el("p", { class: "m-muted", text: t("worker.no_snapshot") }),
      evidence.length > 1
        ? el("div", { class: "m-thumbs" }, ...evidence.slice(1).map((id) => el("img", { src: `/api/v1/evidence/${encodeURIComponent(id)}.jpg`, alt: "" })))
        : null,
      geo ? el("a", { class: "m-btn block", id: "navigate", href: geo, text: t("worker.navigate") }) : null),
    el("div", { id: "step-messages" }, ...refusedFor(card.id).map((item) => refusedNote(item)), note(card.id)),
    steps(card, status));
  tickCountdowns(view);
}

// Why this worker was asked, in their words (the dispatcher's own sentence is for the centre).
function whyMe(card) {
  const known = { own_grid: "worker.why.own_grid", neighbour_grid: "worker.why.neighbour_grid",
                  centre_assigned: "worker.why.centre_assigned" };
  return known[card.reason_code] ? t(known[card.reason_code]) : card.reason;
}

function refusedNote(item) {
  return el("div", { class: "m-msg error refused" },
    el("div", { text: `${item.label}: ${explain(item)}` }),
    el("button", { class: "m-btn block", type: "button", text: t("worker.understood"), onclick: () => app.outbox.dismiss(item.seq) }));
}

function note(taskId) {
  const said = notes.get(taskId);
  return said ? el("div", { class: `m-msg ${said.kind}`, id: "step-message", role: "alert", text: said.text }) : null;
}

function message(taskId, kind, text) {
  notes.set(taskId, { kind, text });
  const box = document.getElementById("step-messages");
  if (box && document.querySelector(`#task-detail[data-task-id="${taskId}"]`)) box.replaceChildren(note(taskId));
}

function steps(card, status) {
  const box = el("div", { class: "m-card", id: "steps" });
  if (status === "offered") {
    box.append(el("div", { class: "m-actions" },
      el("button", { class: "m-btn go", id: "accept", type: "button", text: t("worker.accept"), onclick: () => accept(card) }),
      el("button", { class: "m-btn danger", id: "decline", type: "button", text: t("worker.decline"), onclick: () => declineSheet(card) })));
  } else if (status === "accepted") {
    box.append(el("div", { class: "m-actions" },
      el("button", { class: "m-btn go wide", id: "check-in", type: "button", text: t("worker.check_in"), onclick: () => checkIn(card) }),
      el("button", { class: "m-btn danger wide", id: "cannot-handle", type: "button", text: t("worker.cannot_handle"), onclick: () => cannotHandleSheet(card) })));
  } else if (status === "on_site") {
    box.append(resolveForm(card));
  } else if (status === "resolved") {
    box.append(el("p", { class: "m-msg ok", text: t("worker.resolved_waiting") }));
  } else {
    box.append(el("p", { class: "m-muted", text: label("task_status", status) }));
  }
  return box;
}

// The answer to a step, said where the worker is looking.
function said(item, done) {
  if (item.state === "done") {
    message(item.ref, "ok", done);
  } else if (item.state === "waiting") {
    message(item.ref, "wait", t("worker.kept_offline"));
  } else {
    message(item.ref, "error", explain(item));
    app.outbox.dismiss(item.seq);  // read right here: it need not wait in the outbox
  }
  return item;
}

function step(card, kind, body, labelText) {
  return app.outbox.submit({
    kind, method: "POST", path: `/api/v1/tasks/${encodeURIComponent(card.id)}/${kind}`,
    body: { ...body, taken_at: new Date(now()).toISOString() }, label: labelText, ref: card.id,
  });
}

async function accept(card) {
  said(await step(card, "accept", {}, t("worker.accept")), t("worker.accepted"));
}

async function checkIn(card) {
  message(card.id, "wait", t("worker.locating"));
  const fix = await freshFix();
  if (!fix) {
    message(card.id, "error", t("worker.no_location"));
    return;
  }
  app.position = fix;
  const location = { lon: fix.lon, lat: fix.lat };
  said(await step(card, "check-in", { location }, t("worker.check_in")), t("worker.checked_in"));
}

function sheet(title, content) {
  const box = el("div", { class: "m-sheet", role: "dialog", "aria-label": title },
    el("div", {}, el("h3", { text: title }), content));
  box.addEventListener("click", (e) => { if (e.target === box) box.remove(); });
  document.body.append(box);
  return box;
}

function reasonSheet(title, reasons, onSend) {
  let chosen = "";
  const note = el("textarea", { id: "reason-note", rows: "3", placeholder: t("worker.reason_placeholder") });
  const choices = el("div", { class: "m-choices" }, ...reasons.map((r) => el("button", {
    class: "m-choice", type: "button", "aria-pressed": "false", dataset: { reason: r }, text: t(`worker.reason.${r}`),
    onclick: (e) => {
      chosen = t(`worker.reason.${r}`);
      for (const b of choices.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
    } })));
  const error = el("p", { class: "m-msg error", hidden: true, text: t("worker.reason_needed") });
  const box = sheet(title, el("div", {}, choices, el("label", { class: "m-field" }, t("worker.notes"), note), error,
    el("div", { class: "m-actions" },
      el("button", { class: "m-btn", type: "button", text: t("app.cancel"), onclick: () => box.remove() }),
      el("button", { class: "m-btn primary", id: "send-reason", type: "button", text: t("app.confirm"), onclick: () => {
        const text = [chosen, note.value.trim()].filter(Boolean).join("：");
        if (!text) { error.hidden = false; return; }
        box.remove();
        onSend(text);
      } }))));
}

function declineSheet(card) {
  reasonSheet(t("worker.decline_title"), DECLINE_REASONS, async (note) =>
    said(await step(card, "decline", { note }, t("worker.decline")), t("worker.declined")));
}

function cannotHandleSheet(card) {
  reasonSheet(t("worker.cannot_handle_title"), ["need_department", "dangerous", "no_access"], async (note) =>
    said(await step(card, "cannot-handle", { note }, t("worker.cannot_handle")), t("worker.escalated")));
}

// Photos and the result, then one tap: the photos go first, the result names them.
function resolveForm(card) {
  const draft = drafts.get(card.id) || { result: "handled", note: "", photos: [] };
  drafts.set(card.id, draft);
  const thumbs = el("div", { class: "m-thumbs", id: "photos" });
  const count = el("div", { class: "m-field", id: "photo-count" });
  const input = el("input", { type: "file", id: "photo-input", accept: "image/*", capture: "environment", multiple: true, hidden: true });
  const renderThumbs = () => {
    count.textContent = t("worker.photos", { n: draft.photos.length, max: MAX_PHOTOS });
    thumbs.replaceChildren(...draft.photos.map((p) => el("img", { src: p.url, alt: t("worker.photo") })));
    if (draft.photos.length < MAX_PHOTOS) {
      thumbs.append(el("button", { class: "add", type: "button", id: "add-photo", text: t("worker.take_photo"), onclick: () => input.click() }));
    }
  };
  input.addEventListener("change", async () => {
    for (const file of [...input.files].slice(0, MAX_PHOTOS - draft.photos.length)) {
      try {
        const shot = await shrinkPhoto(file);
        draft.photos.push({ ...shot, id: newId(), url: URL.createObjectURL(shot.blob) });
      } catch {
        toast(t("worker.photo_unreadable"), "error");
      }
    }
    input.value = "";
    renderThumbs();
  });
  renderThumbs();
  const choices = el("div", { class: "m-choices" }, ...RESULTS.map((r) => el("button", {
    class: "m-choice", type: "button", "aria-pressed": String(draft.result === r), dataset: { result: r }, text: t(`worker.result.${r}`),
    onclick: (e) => {
      draft.result = r;
      for (const b of choices.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
    } })));
  const note = el("textarea", { id: "resolve-note", rows: "3", placeholder: t("worker.notes_placeholder") });
  note.value = draft.note;
  note.addEventListener("input", () => { draft.note = note.value; });
  return el("div", { id: "resolve-form" },
    el("h3", { text: t("worker.resolve_title") }), choices,
    el("label", { class: "m-field" }, t("worker.notes"), note),
    count, thumbs, input,
    el("button", { class: "m-btn go block", id: "resolve", type: "button", text: t("worker.resolve"), onclick: () => resolve(card, draft) }));
}

async function resolve(card, draft) {
  drafts.delete(card.id);
  const where = app.position ? `&lon=${app.position.lon}&lat=${app.position.lat}` : "";
  for (const photo of draft.photos) {
    const name = encodeURIComponent(photo.name).replace(/'/g, "%27");
    app.outbox.submit({
      id: photo.id, kind: "photo", method: "PUT", ref: card.id, label: t("worker.photo"), blob: photo.blob,
      path: `/api/v1/photos/${photo.id}?task_id=${encodeURIComponent(card.id)}&taken_at=${encodeURIComponent(photo.takenAt)}${where}`,
      headers: { "Content-Type": "image/jpeg", "Content-Disposition": `attachment; filename*=UTF-8''${name}` },
    });
  }
  const item = await step(card, "resolve", { result: draft.result, note: draft.note.trim(), photos: draft.photos.map((p) => p.id) },
    t("worker.resolve"));
  said(item, t("worker.resolved"));
}
