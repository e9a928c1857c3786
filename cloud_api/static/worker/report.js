// 随手拍 — report what I see: what kind of hazard, a photo, where, a note. It opens a case like a
// device's alarm and is dispatched the same way; without signal it waits on the phone.
import { el, toast } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { newId } from "/ui/common/offline-queue.js";
import { shrinkPhoto } from "/ui/common/photo.js";
import { now } from "/ui/common/time.js";
import { app, freshFix } from "./state.js";

const HAZARDS = ["fire_smoke", "gas_leak", "illegal_workshop", "occupied_factory_dorm", "smoke_alarm"];
const MAX_PHOTOS = 6;
let draft = fresh();
let said = null; // the answer to the last report, shown until the next one

function fresh() {
  return { hazard: null, severe: false, note: "", photos: [], fix: null };
}

export function renderReport(view) {
  const thumbs = el("div", { class: "m-thumbs", id: "report-photos" });
  const count = el("div", { class: "m-field", id: "report-photo-count" });
  const input = el("input", { type: "file", id: "report-photo-input", accept: "image/*", capture: "environment", multiple: true, hidden: true });
  const where = el("p", { class: "m-muted", id: "report-where" });
  const error = el("div", { id: "report-message" });
  if (said) error.append(el("div", { class: `m-msg ${said.kind}`, id: "report-result", role: "alert", text: said.text }));
  const drawThumbs = () => {
    count.textContent = t("worker.photos", { n: draft.photos.length, max: MAX_PHOTOS });
    thumbs.replaceChildren(...draft.photos.map((p) => el("img", { src: p.url, alt: t("worker.photo") })));
    if (draft.photos.length < MAX_PHOTOS) {
      thumbs.append(el("button", { class: "add", type: "button", id: "report-add-photo", text: t("worker.take_photo"), onclick: () => input.click() }));
    }
  };
  const drawWhere = () => {
    where.textContent = draft.fix
      ? t("worker.report_where", { lon: draft.fix.lon.toFixed(5), lat: draft.fix.lat.toFixed(5), acc: Math.round(draft.fix.accuracy_m || 0) })
      : t("worker.locating");
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
    drawThumbs();
  });
  const choices = el("div", { class: "m-choices", id: "report-hazards" }, ...HAZARDS.map((h) => el("button", {
    class: "m-choice", type: "button", "aria-pressed": String(draft.hazard === h), dataset: { hazard: h }, text: label("hazard", h),
    onclick: (e) => {
      draft.hazard = h;
      for (const b of choices.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
    } })));
  const severe = el("input", { type: "checkbox", id: "report-severe" });
  severe.checked = draft.severe;
  severe.addEventListener("change", () => { draft.severe = severe.checked; });
  const note = el("textarea", { id: "report-note", rows: "3", placeholder: t("worker.report_note_placeholder") });
  note.value = draft.note;
  note.addEventListener("input", () => { draft.note = note.value; });
  view.replaceChildren(el("div", { class: "m-card", id: "report-form" },
    el("h2", { text: t("worker.report_title") }),
    el("p", { class: "m-muted", text: t("worker.report_hint") }),
    choices,
    el("label", { class: "m-check" }, severe, t("worker.report_severe")),
    count, thumbs, input,
    el("div", { class: "m-row" }, where, el("button", { class: "m-btn", type: "button", id: "report-relocate", text: t("worker.relocate"), onclick: locate })),
    el("label", { class: "m-field" }, t("worker.notes"), note),
    error,
    el("button", { class: "m-btn go block", id: "report-send", type: "button", text: t("worker.report_send"), onclick: send })));
  drawThumbs();
  drawWhere();
  if (!draft.fix) locate();

  async function locate() {
    draft.fix = (await freshFix(5000)) || app.position;
    if (draft.fix) drawWhere();
    else where.textContent = t("worker.no_location");
  }

  function say(kind, text) {
    said = { kind, text };
    error.replaceChildren(el("div", { class: `m-msg ${kind}`, id: "report-result", role: "alert", text }));
  }

  async function send() {
    if (!draft.hazard) return say("error", t("worker.report_need_hazard"));
    if (!draft.fix) return say("error", t("worker.no_location"));
    const sent = draft;
    draft = fresh();
    said = null;
    const reportId = newId();
    for (const photo of sent.photos) {
      app.outbox.submit({
        id: photo.id, kind: "photo", method: "PUT", ref: reportId, label: t("worker.photo"), blob: photo.blob,
        path: `/api/v1/photos/${photo.id}?taken_at=${encodeURIComponent(photo.takenAt)}&lon=${sent.fix.lon}&lat=${sent.fix.lat}`,
        headers: { "Content-Type": "image/jpeg" },
      });
    }
    const item = await app.outbox.submit({
      id: reportId, kind: "report", method: "POST", path: "/api/v1/reports", ref: reportId, label: t("worker.report_title"),
      body: { id: reportId, hazard_type: sent.hazard, severity: sent.severe ? "critical" : null,
              location: { lon: sent.fix.lon, lat: sent.fix.lat }, accuracy_m: Math.min(10000, sent.fix.accuracy_m || 0),
              note: sent.note.trim(), photos: sent.photos.map((p) => p.id), taken_at: new Date(now()).toISOString() },
    });
    if (item.state === "done") {
      const r = item.result;
      const who = r.assigned_worker_id === app.workerId ? t("worker.you") : r.assigned_worker_id || "—";
      said = { kind: "ok", text: r.opened ? t("worker.report_opened", { who }) : t("worker.report_joined") };
    } else if (item.state === "waiting") {
      said = { kind: "wait", text: t("worker.report_kept") };
    } else {
      said = { kind: "error", text: item.detail };
      app.outbox.dismiss(item.seq);
    }
    if (location.hash === "#report") renderReport(view);
  }
}
