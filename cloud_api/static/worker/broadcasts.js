// 协查通报 — notices from the centre or a department: who or what to look out for, with photos and an
// expiry. The worker confirms having read it (the sender sees each receipt) and answers with a
// sighting — photo, position, note — which opens a case linked to the notice. Closed notices say so.
// Everything goes through the outbox: it works without signal and catches up.
import { api } from "/ui/common/api.js";
import { el, toast } from "/ui/common/dom.js";
import { t } from "/ui/common/i18n.js";
import { newId } from "/ui/common/offline-queue.js";
import { shrinkPhoto } from "/ui/common/photo.js";
import { dateTime } from "/ui/common/time.js";
import { app, freshFix, recall, remember } from "./state.js";

const MAX_PHOTOS = 3;
let sighting = null;  // { broadcastId, photos: [], note, fix } while the sighting form is open

export async function refreshBroadcasts() {
  const data = await api.get("/api/v1/broadcasts");
  app.broadcasts = data.items;
  remember("broadcasts", app.broadcasts);
  return app.broadcasts;
}

export function recallBroadcasts() {
  app.broadcasts = recall("broadcasts") || [];
}

function readPending(id) {
  return app.items.some((i) => i.kind === "bc-read" && i.ref === id && i.state !== "failed" && i.state !== "refused");
}

export function unread() {
  return (app.broadcasts || []).filter((b) => b.state === "open" && !b.read_at && !readPending(b.id)).length;
}

export function renderBroadcasts(view, redraw) {
  const list = app.broadcasts || [];
  if (!list.length) {
    view.replaceChildren(el("p", { class: "m-empty", id: "broadcasts-empty", text: t("worker.bc.none") }));
    return;
  }
  view.replaceChildren(...list.map((b) => card(b, redraw)));
}

function card(b, redraw) {
  const read = Boolean(b.read_at) || readPending(b.id);
  const state = el("span", { class: `m-pill ${b.state === "open" ? "warn" : ""}`, text: t(`worker.bc.state_${b.state}`) });
  const node = el("div", { class: `m-card ${b.state === "open" && !read ? "urgent" : ""}`, dataset: { broadcastId: b.id } },
    el("div", { class: "m-row" }, el("h2", { class: "m-grow", text: b.title }), state),
    el("p", { class: "m-muted", text: t("worker.bc.from", { who: b.sender_name || b.sender, at: dateTime(b.created_at), until: dateTime(b.expires_at) }) }),
    el("p", { class: "bc-body", text: b.body }),
    ...b.photos.map((url) => el("img", { class: "m-photo", src: url, alt: b.title })),
  );
  if (b.state === "closed") {
    node.append(el("div", { class: "m-msg ok bc-closed", role: "status", text: t("worker.bc.closed", { note: b.close_note || "—" }) }));
    return node;
  }
  if (b.state !== "open") return node;
  const actions = el("div", { class: "m-actions" });
  if (!read) {
    actions.append(el("button", { class: "m-btn primary bc-read", type: "button", text: t("worker.bc.read"), onclick: async () => {
      await app.outbox.submit({ kind: "bc-read", method: "POST", path: `/api/v1/broadcasts/${b.id}/read`, body: {}, ref: b.id, label: t("worker.bc.read") });
      redraw();
    } }));
  } else {
    actions.append(el("span", { class: "m-muted bc-was-read", text: t("worker.bc.was_read") }));
  }
  actions.append(el("button", { class: "m-btn go bc-seen", type: "button", text: t("worker.bc.seen"), onclick: () => {
    sighting = { broadcastId: b.id, photos: [], note: "", fix: null };
    redraw();
  } }));
  node.append(actions);
  if (sighting?.broadcastId === b.id) node.append(sightingForm(b, redraw));
  return node;
}

function sightingForm(b, redraw) {
  const form = el("div", { class: "bc-sighting" });
  const thumbs = el("div", { class: "m-thumbs" });
  const input = el("input", { type: "file", class: "bc-photo-input", accept: "image/*", capture: "environment", hidden: true });
  const where = el("p", { class: "m-muted bc-where", text: t("worker.locating") });
  const note = el("textarea", { class: "bc-note", rows: "3", placeholder: t("worker.bc.note_placeholder") });
  note.value = sighting.note;
  note.addEventListener("input", () => { sighting.note = note.value; });
  const draw = () => {
    thumbs.replaceChildren(...sighting.photos.map((p) => el("img", { src: p.url, alt: t("worker.photo") })));
    if (sighting.photos.length < MAX_PHOTOS) {
      thumbs.append(el("button", { class: "add bc-add-photo", type: "button", text: t("worker.take_photo"), onclick: () => input.click() }));
    }
  };
  input.addEventListener("change", async () => {
    for (const file of [...input.files].slice(0, MAX_PHOTOS - sighting.photos.length)) {
      try {
        const shot = await shrinkPhoto(file);
        sighting.photos.push({ ...shot, id: newId(), url: URL.createObjectURL(shot.blob) });
      } catch {
        toast(t("worker.photo_unreadable"), "error");
      }
    }
    input.value = "";
    draw();
  });
  (async () => {
    sighting.fix = (await freshFix(5000)) || app.position;
    where.textContent = sighting.fix
      ? t("worker.report_where", { lon: sighting.fix.lon.toFixed(5), lat: sighting.fix.lat.toFixed(5), acc: Math.round(sighting.fix.accuracy_m || 0) })
      : t("worker.no_location");
  })();
  draw();
  form.append(el("h3", { text: t("worker.bc.seen_title") }), thumbs, input, where,
    el("label", { class: "m-field" }, t("worker.notes"), note),
    el("div", { class: "m-actions" },
      el("button", { class: "m-btn", type: "button", text: t("app.cancel"), onclick: () => { sighting = null; redraw(); } }),
      el("button", { class: "m-btn go bc-send", type: "button", text: t("worker.bc.send"), onclick: send })));
  return form;

  async function send() {
    if (!sighting.fix) return toast(t("worker.no_location"), "error");
    const sent = sighting;
    sighting = null;
    const id = newId();
    for (const photo of sent.photos) {
      app.outbox.submit({
        id: photo.id, kind: "photo", method: "PUT", ref: id, label: t("worker.photo"), blob: photo.blob,
        path: `/api/v1/photos/${photo.id}?taken_at=${encodeURIComponent(photo.takenAt)}&lon=${sent.fix.lon}&lat=${sent.fix.lat}`,
        headers: { "Content-Type": "image/jpeg" },
      });
    }
    const item = await app.outbox.submit({
      id, kind: "sighting", method: "POST", path: `/api/v1/broadcasts/${b.id}/sightings`, ref: b.id, label: t("worker.bc.seen"),
      body: { id, location: { lon: sent.fix.lon, lat: sent.fix.lat }, note: sent.note.trim(), photos: sent.photos.map((p) => p.id) },
    });
    if (item.state === "done") toast(t("worker.bc.sent"), "ok");
    else if (item.state === "waiting") toast(t("worker.report_kept"), "info");
    else toast(item.detail, "error");
    redraw();
  }
}

export function announce(b) {
  toast(t("worker.bc.new", { title: b.title }), "info");
}


