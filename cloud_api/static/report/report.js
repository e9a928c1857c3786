// 群众吹哨 — the residents' page: no account. What they saw, a photo, where (the phone's position or
// a tap on the map), a note and a phone number if they like. The phone does a proof of work instead of
// a CAPTCHA (proof-worker.js; it needs no server, so a report written without signal waits in the
// offline queue and goes when the signal returns). The status link (?r=<report id>) shows how the case
// moves on, with no names and no numbers.
import { api, ApiError } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { here } from "/ui/common/geo.js";
import { applyI18n, label, languageToggle, t } from "/ui/common/i18n.js";
import { newId, OfflineQueue } from "/ui/common/offline-queue.js";
import { shrinkPhoto } from "/ui/common/photo.js";
import { dateTime, now, setZone } from "/ui/common/time.js";
import { SiteMap } from "/ui/console/map.js";

const MINE = "gridwatch.resident.reports";
const view = $("#view");
let site = null;
let outbox = null;
let draft = fresh();

function fresh() {
  return { hazard: null, photo: null, fix: null, picked: false, note: "", phone: "" };
}

function mine() {
  try { return JSON.parse(localStorage.getItem(MINE) || "[]"); } catch { return []; }
}

function remember(report) {
  const list = [report, ...mine().filter((r) => r.id !== report.id)].slice(0, 20);
  localStorage.setItem(MINE, JSON.stringify(list));
}

function net() {
  const pill = $("#net");
  pill.textContent = navigator.onLine ? "" : t("app.offline");
  pill.hidden = navigator.onLine;
  pill.className = "m-pill warn";
}

async function start() {
  $("header").append(languageToggle());
  applyI18n(document);
  net();
  addEventListener("online", net);
  addEventListener("offline", net);
  document.addEventListener("langchange", () => route());
  try {
    site = await api.get("/api/v1/public/site");
    localStorage.setItem("gridwatch.resident.site", JSON.stringify(site));
  } catch {
    site = JSON.parse(localStorage.getItem("gridwatch.resident.site") || "null");  // offline: the last one
  }
  if (site) {
    setZone(site.timezone);
    $("#title").textContent = `${t("report.title")} · ${site.name}`;
  }
  outbox = await OfflineQueue.open("gridwatch-resident", { onChange: queued });
  route();
}

// A report kept offline got its answer later: keep its link.
function queued(done) {
  if (done?.state === "done" && done.result?.report_id) {
    remember({ id: done.result.report_id, hazard: done.body.hazard_type, at: done.takenAt });
    toast(t("report.sent", { grid: done.result.grid_name || "" }), "ok");
  }
}

function route() {
  const id = new URLSearchParams(location.search).get("r");
  if (id) renderStatus(id);
  else renderForm();
}

// --- the form ---------------------------------------------------------------------------------
function renderForm(result = null) {
  if (!site) {
    view.replaceChildren(el("p", { class: "m-empty", text: t("report.no_site") }));
    return;
  }
  const message = el("div", { id: "report-message" });
  if (result) message.append(result);
  const choices = el("div", { class: "m-choices", id: "report-hazards" }, ...site.hazards.map((h) => el("button", {
    class: "m-choice", type: "button", "aria-pressed": String(draft.hazard === h), dataset: { hazard: h }, text: label("hazard", h),
    onclick: (e) => {
      draft.hazard = h;
      for (const b of choices.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
    } })));
  const input = el("input", { type: "file", id: "report-photo-input", accept: "image/*", capture: "environment", hidden: true });
  const thumbs = el("div", { class: "m-thumbs", id: "report-photo" });
  const drawPhoto = () => {
    thumbs.replaceChildren(draft.photo
      ? el("img", { src: draft.photo.url, alt: t("report.photo") })
      : el("button", { class: "add", type: "button", id: "report-add-photo", text: t("report.take_photo"), onclick: () => input.click() }));
  };
  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    try {
      const shot = await shrinkPhoto(file);
      draft.photo = { ...shot, url: URL.createObjectURL(shot.blob) };
    } catch {
      toast(t("report.photo_unreadable"), "error");
    }
    drawPhoto();
  });
  const where = el("p", { class: "m-muted", id: "report-where" });
  const svg = el("svg", { class: "r-map", id: "report-map", role: "img", "aria-label": t("report.map_hint") });
  const drawWhere = () => {
    if (!draft.fix) where.textContent = t("report.where_none");
    else if (draft.picked) where.textContent = t("report.where_map");
    else where.textContent = t("report.where_phone", { acc: Math.round(draft.fix.accuracy_m || 0) });
    map?.setPin(draft.fix ? [draft.fix.lon, draft.fix.lat] : null);
  };
  const note = el("textarea", { id: "report-note", rows: "3", maxlength: "1000", placeholder: t("report.note_placeholder") });
  note.value = draft.note;
  note.addEventListener("input", () => { draft.note = note.value; });
  const phone = el("input", { id: "report-phone", type: "tel", inputmode: "tel", maxlength: "24", autocomplete: "tel" });
  phone.value = draft.phone;
  phone.addEventListener("input", () => { draft.phone = phone.value; });
  const send = el("button", { class: "m-btn go block", id: "report-send", type: "button", text: t("report.send"), onclick: submit });
  const list = mine();
  view.replaceChildren(
    el("div", { class: "m-card", id: "report-form" },
      el("p", { class: "m-muted", text: t("report.intro") }),
      el("h2", { text: t("report.what") }), choices,
      el("h2", { text: t("report.photo") }), thumbs, input,
      el("h2", { text: t("report.where") }), where,
      el("div", { class: "m-row" },
        el("button", { class: "m-btn", type: "button", id: "report-locate", text: t("report.use_phone"), onclick: locate }),
        el("span", { class: "m-muted m-grow", text: t("report.map_hint") })),
      svg,
      el("label", { class: "m-field" }, t("report.note"), note),
      el("label", { class: "m-field" }, t("report.phone"), phone, el("span", { class: "m-muted", text: t("report.phone_hint") })),
      message, send),
    ...(list.length ? [el("div", { class: "m-card r-mine", id: "report-mine" }, el("h2", { text: t("report.mine") }),
      el("ul", { class: "m-list" }, ...list.map((r) => el("li", {},
        el("a", { href: `/ui/report/?r=${encodeURIComponent(r.id)}`, text: `${label("hazard", r.hazard)} · ${dateTime(r.at)}` })))))] : []),
  );
  let map = null;
  try {
    map = new SiteMap(svg, { grids: site.grids, settings: site.map, onPick: ([lon, lat]) => {
      draft.fix = { lon, lat, accuracy_m: 0 };
      draft.picked = true;
      drawWhere();
    } });
  } catch (err) {
    svg.hidden = true;  // a site without grids to draw: the phone's position only
  }
  const grid = new URLSearchParams(location.search).get("grid");
  const scanned = site.grids.features.find((f) => f.properties.id === grid && f.properties.level === "grid");
  if (scanned && map?.fitTo(grid)) {
    svg.before(el("p", { class: "m-muted", id: "report-grid-hint", text: t("report.grid_hint", { grid: scanned.properties.name }) }));
  }
  drawPhoto();
  drawWhere();
  if (!draft.fix) locate();

  async function locate() {
    where.textContent = t("report.locating");
    try {
      draft.fix = await here({ timeout: 10000 });
      draft.picked = false;
    } catch {
      /* no permission or no fix: the map remains */
    }
    drawWhere();
  }

  function say(kind, text) {
    message.replaceChildren(el("div", { class: `m-msg ${kind}`, id: "report-result", role: "alert", text }));
  }

  async function submit() {
    if (!draft.hazard) return say("error", t("report.need_hazard"));
    if (!draft.fix) return say("error", t("report.need_where"));
    send.disabled = true;
    send.textContent = t("report.working");
    try {
      const id = newId();
      const stamp = await prove(id);
      const body = {
        id, hazard_type: draft.hazard, location: { lon: draft.fix.lon, lat: draft.fix.lat },
        picked_on_map: draft.picked, note: draft.note.trim(), phone: draft.phone.trim(), proof: stamp,
      };
      if (draft.photo) body.photo = { content_type: draft.photo.blob.type || "image/jpeg", name: draft.photo.name, data: await base64(draft.photo.blob) };
      const item = await outbox.submit({ id, kind: "report", method: "POST", path: "/api/v1/public/reports", body, label: t("report.title") });
      if (item.state === "done") {
        draft = fresh();
        remember({ id, hazard: body.hazard_type, at: new Date(now()).toISOString() });
        renderForm(el("div", { class: "m-msg ok", id: "report-result", role: "alert" },
          t("report.sent", { grid: item.result.grid_name || "" }), " ",
          el("a", { href: item.result.status_url, id: "report-status-link", text: t("report.sent_link") })));
        return;
      }
      if (item.state === "waiting") {
        draft = fresh();
        remember({ id, hazard: body.hazard_type, at: new Date(now()).toISOString() });
        renderForm(el("div", { class: "m-msg wait", id: "report-result", role: "alert", text: t("report.kept") }));
        return;
      }
      outbox.dismiss(item.seq);
      say("error", t("report.failed", { message: item.detail }));
    } catch (err) {
      say("error", t("report.failed", { message: err.message || String(err) }));
    } finally {
      send.disabled = false;
      send.textContent = t("report.send");
    }
  }
}

function prove(id) {
  return new Promise((resolve, reject) => {
    const worker = new Worker("/ui/report/proof-worker.js");
    worker.onmessage = (e) => { worker.terminate(); resolve(e.data.stamp); };
    worker.onerror = (e) => { worker.terminate(); reject(new Error(e.message || "proof of work failed")); };
    worker.postMessage({ bits: site.pow_bits, site: site.id, id, madeAt: Math.floor(now() / 1000) });
  });
}

function base64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// --- the status link --------------------------------------------------------------------------
let timer = null;

async function renderStatus(id) {
  clearTimeout(timer);
  let s;
  try {
    s = await api.get(`/api/v1/public/reports/${encodeURIComponent(id)}`);
  } catch (err) {
    const missing = err instanceof ApiError && (err.status === 404 || err.status === 422);
    view.replaceChildren(el("div", { class: "m-card" },
      el("p", { class: "m-msg error", text: missing ? t("report.status_missing") : t("report.failed", { message: err.message }) }),
      el("a", { class: "m-btn block", href: "/ui/report/", text: t("report.new_report") })));
    if (!missing) timer = setTimeout(() => renderStatus(id), 20000);
    return;
  }
  view.replaceChildren(el("div", { class: "m-card", id: "report-status" },
    el("h2", { text: t("report.status_title") }),
    el("p", { class: "r-status", id: "report-status-now", text: label("case_status", s.status) }),
    el("p", { class: "m-muted" }, `${t("report.status_hazard")}：${label("hazard", s.hazard_type)}`),
    el("p", { class: "m-muted", id: "report-status-grid" }, `${t("report.status_grid")}：${s.grid_name || "—"}`),
    el("ol", { class: "r-steps", id: "report-steps" }, ...s.steps.map((step) => el("li", { dataset: { step: step.step } },
      el("span", { text: t(`report.step.${step.step}`) }), el("span", { class: "when", text: dateTime(step.at) })))),
    el("p", { class: "m-muted", text: t("report.privacy") }),
    el("button", { class: "m-btn block", type: "button", id: "report-refresh", text: t("report.status_refresh"), onclick: () => renderStatus(id) }),
    el("a", { class: "m-btn block", href: "/ui/report/", text: t("report.new_report") })));
  timer = setTimeout(() => renderStatus(id), 20000);
}

start();
