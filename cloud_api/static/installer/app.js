// The installer's phone app (安装调试): find a device by its serial, say where it was put (the
// phone's position, or typed from the map), download its configuration, and run the commissioning
// check that says within a minute whether it reports — or exactly why not. Same shell as the grid
// worker's app (common/mobile.css). docs/devices.md.
import { api, ApiError, query } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { here } from "/ui/common/geo.js";
import { applyI18n, label, languageToggle, t } from "/ui/common/i18n.js";
import { signedIn } from "/ui/common/session.js";
import { dateTime as formatTime } from "/ui/common/time.js";
// The site's own grid outlines drawn in SVG (GET /api/v1/grids): no tile server, nothing downloaded.
import { SiteMap } from "/ui/console/map.js";

const view = $("#view");
const POLL_MS = 2000;
const state = { me: null, device: null, check: null, position: null, polling: null, unbound: [], grids: null, pick: null };

function route() {
  return (location.hash.slice(1) || "install").split("/")[0];
}

function tabs() {
  for (const a of document.querySelectorAll(".m-tabs a")) {
    if (a.dataset.tab === route()) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) return;
  toast(t("app.error", { message: err.message }), "error");
}

// ------------------------------------------------------------------------------- the map
function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

// Even-odd ray casting over every ring (holes included): is [lon, lat] inside the area?
function inside([x, y], geometry) {
  let hit = false;
  for (const ring of rings(geometry)) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
  }
  return hit;
}

function gridAt(lonlat) {
  return (state.grids?.features || []).find((f) => f.properties.level === "grid" && inside(lonlat, f.geometry)) || null;
}

function gridName(id) {
  const f = (state.grids?.features || []).find((g) => g.properties.id === id);
  return f ? f.properties.name : id;
}

async function loadGrids() {
  if (!state.grids) state.grids = await api.get("/api/v1/grids");
  return state.grids;
}

// The map card's behaviour, once it is in the page (the map measures its box): a tap inside a
// grid sets the position and names the grid; outside every grid it is refused, nothing set.
function mountMap(d) {
  const svg = $("#place-map");
  if (!svg || !state.grids) return;
  let map;
  try {
    map = new SiteMap(svg, { grids: state.grids, settings: {}, onPick: (lonlat) => pick(lonlat) });
  } catch {
    svg.hidden = true;  // a site without grids to draw: the phone's position or typing only
    return;
  }
  if (d.grid_id) map.fitTo(d.grid_id);
  const mark = () => {
    for (const path of svg.querySelectorAll(".area.grid")) path.classList.toggle("picked", path.dataset.areaId === state.pick?.grid);
    map.setPin(state.pick && state.pick.grid ? state.pick.lonlat : null);
  };
  const pick = (lonlat) => {
    const [lon, lat] = lonlat.map((v) => Number(v.toFixed(6)));
    svg.dataset.lastPick = `${lon},${lat}`;
    const grid = gridAt([lon, lat]);
    state.pick = { lonlat: [lon, lat], grid: grid?.properties.id || null };
    if (grid) {
      state.position = { lon, lat };
      $("#lon").value = lon.toFixed(6);
      $("#lat").value = lat.toFixed(6);
    }
    showPick(d);
    mark();
  };
  $("#map-all")?.addEventListener("click", () => map.fit(true));
  showPick(d);
  mark();
}

function showPick(d) {
  const box = $("#map-grid");
  if (!box) return;
  const p = state.pick;
  if (!p) { box.replaceChildren(); return; }
  if (!p.grid) {
    box.replaceChildren(el("div", { class: "m-msg error", dataset: { outside: "1" }, text: t("installer.map_outside") }));
    return;
  }
  const lines = [el("div", { id: "map-grid-name", text: t("installer.map_grid", { grid: gridName(p.grid) }) })];
  if (d.grid_id && d.grid_id !== p.grid) lines.push(el("div", { class: "check-detail", text: t("installer.map_other_grid", { grid: gridName(d.grid_id) }) }));
  box.replaceChildren(el("div", { class: `m-msg ${d.grid_id && d.grid_id !== p.grid ? "wait" : "ok"}`, dataset: { grid: p.grid } }, ...lines));
}

// ------------------------------------------------------------------------------- install
async function findSerial(serial) {
  state.device = null;
  state.check = null;
  state.position = null;  // a new device: the last one's position is not its
  state.pick = null;
  state.login = null;
  stopPolling();
  const [found] = await api.get(`/api/v1/registry${query({ serial })}`);
  if (found) {
    state.device = found;
  } else {
    // Not known yet: which devices of my area still wait for a serial?
    const rows = await api.get(`/api/v1/registry${query({ status: ["provisioned", "commissioned", "online", "offline"] })}`);
    state.unbound = rows.filter((d) => !d.serial);
  }
  state.serial = serial;
  draw();
}

function deviceCard(d) {
  const where = d.installed_lon != null ? `${d.installed_lon.toFixed(6)}, ${d.installed_lat.toFixed(6)}` : "—";
  return el("section", { class: "m-card", id: "device" },
    el("div", { class: "m-row" },
      el("h2", { class: "m-grow", text: d.name || d.id }),
      el("span", { class: `m-pill status-${d.status}`, id: "device-status", text: label("device_status", d.status) })),
    el("dl", { class: "kv" },
      el("dt", { text: t("installer.device_id") }), el("dd", { class: "dev-id", text: d.id }),
      el("dt", { text: t("installer.kind") }), el("dd", { text: label("device_kind", d.kind) }),
      el("dt", { text: t("installer.node") }), el("dd", { text: d.node_id || "—" }),
      el("dt", { text: t("installer.serial") }), el("dd", { text: d.serial || state.serial || "—" }),
      el("dt", { text: t("installer.grid") }), el("dd", { text: d.grid_id || "—" }),
      el("dt", { text: t("installer.installed_at") }), el("dd", { id: "installed-where", text: where })));
}

function positionCard(d) {
  const lon = el("input", { id: "lon", inputmode: "decimal", value: state.position?.lon ?? d.installed_lon ?? "" });
  const lat = el("input", { id: "lat", inputmode: "decimal", value: state.position?.lat ?? d.installed_lat ?? "" });
  const useHere = async () => {
    try {
      const fix = await here();
      state.position = fix;
      state.pick = null;
      lon.value = fix.lon.toFixed(6);
      lat.value = fix.lat.toFixed(6);
      toast(t("installer.position_taken", { accuracy: fix.accuracy_m }), "info");
    } catch (err) {
      toast(t("installer.no_position"), "error");
    }
  };
  const save = async () => {
    const body = { serial: d.serial || state.serial, lon: Number(lon.value), lat: Number(lat.value) };
    if (!body.serial || !Number.isFinite(body.lon) || !Number.isFinite(body.lat) || !lon.value || !lat.value) {
      toast(t("installer.need_position"), "error");
      return;
    }
    try {
      state.device = await api.post(`/api/v1/registry/${encodeURIComponent(d.id)}/install`, body);
      state.position = { lon: body.lon, lat: body.lat };
      toast(t("installer.installed"), "info");
      draw();
    } catch (err) { fail(err); }
  };
  return el("section", { class: "m-card" },
    el("h3", { text: t("installer.where") }),
    el("button", { class: "m-btn block", id: "use-here", type: "button", onclick: useHere, text: t("installer.use_phone") }),
    el("div", { class: "m-row" },
      el("span", { class: "m-muted m-grow", text: t("installer.map_hint") }),
      el("button", { class: "m-btn", id: "map-all", type: "button", text: t("installer.map_all") })),
    el("svg", { class: "i-map", id: "place-map", role: "img", "aria-label": t("installer.map_aria") }),
    el("div", { id: "map-grid", "aria-live": "polite" }),
    el("div", { class: "coords" },
      el("label", { class: "m-field" }, t("installer.lon"), lon),
      el("label", { class: "m-field" }, t("installer.lat"), lat)),
    el("button", { class: "m-btn primary block", id: "install", type: "button", onclick: save, text: t("installer.save") }));
}

function checkCard(d) {
  const box = el("div", { id: "check-result" });
  const c = state.check;
  if (c) {
    const kind = c.state === "ok" ? "ok" : c.state === "failed" ? "error" : "wait";
    const head = c.state === "failed" ? t(`installer.reason.${c.reason}`) : t(`installer.check.${c.state}`);
    const msg = el("div", { class: `m-msg ${kind}`, role: "status", dataset: { state: c.state, reason: c.reason || "" } },
      el("div", { id: "check-head", text: head }));
    if (c.dead_letter_reason) {
      msg.append(el("div", { class: "check-detail", id: "check-letter", text: t("installer.letter", { reason: c.dead_letter_reason, topic: c.topic || "" }) }));
    }
    if (c.detail) msg.append(el("div", { class: "check-detail", id: "check-detail", text: c.detail }));
    if (c.state === "ok" && c.heard_at) msg.append(el("div", { class: "check-detail", text: t("installer.heard_at", { at: formatTime(c.heard_at) }) }));
    if (c.evidence_id) msg.append(el("div", { class: "check-detail", text: t("installer.snapshot_in") }));
    box.append(msg);
  }
  const run = async () => {
    try {
      state.check = await api.post(`/api/v1/registry/${encodeURIComponent(d.id)}/check`, {});
      draw();
      startPolling(d.id);
    } catch (err) { fail(err); }
  };
  const login = el("div", { id: "login-box" });
  const showLogin = (given) => {
    if (!given || given.device !== d.id) return;
    login.replaceChildren(el("div", { class: "m-msg ok", role: "status" },
        el("div", { text: t("installer.credentials_once") }),
        el("dl", { class: "kv" },
          el("dt", { text: t("installer.credentials_login") }), el("dd", { class: "dev-id", id: "login-name", text: given.login }),
          el("dt", { text: t("installer.credentials_password") }), el("dd", { class: "dev-id", id: "login-password", text: given.password }),
          el("dt", { text: t("installer.credentials_broker") }), el("dd", { class: "dev-id", text: `${given.broker_host}:${given.broker_port}` }))));
  };
  showLogin(state.login);
  const issue = async () => {
    try {
      const given = await api.post(`/api/v1/registry/${encodeURIComponent(d.id)}/credentials`, { action: "issue" });
      // The broker keeps only a hash: the password lives in this page's memory while this device
      // is open (the check redraws this card), never stored.
      state.login = { ...given, device: d.id };
      showLogin(state.login);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) login.replaceChildren(el("div", { class: "m-msg wait", text: err.message }));
      else fail(err);
    }
  };
  return el("section", { class: "m-card" },
    el("h3", { text: t("installer.commission") }),
    el("p", { class: "m-muted", text: t("installer.commission_hint") }),
    el("button", { class: "m-btn block", id: "credentials", type: "button", onclick: issue, text: t("installer.credentials") }),
    login,
    el("a", { class: "m-btn block", id: "download", href: `/api/v1/registry/${encodeURIComponent(d.id)}/config`, download: `${d.node_id || d.id}.yaml`, text: t("installer.download") }),
    el("button", { class: "m-btn go block", id: "check", type: "button", onclick: run, text: t("installer.check_start") }),
    box);
}

function stopPolling() {
  if (state.polling) clearInterval(state.polling);
  state.polling = null;
}

function startPolling(id) {
  stopPolling();
  state.polling = setInterval(async () => {
    try {
      state.check = await api.get(`/api/v1/registry/${encodeURIComponent(id)}/check`);
      if (state.check.state !== "waiting") {
        stopPolling();
        state.device = await api.get(`/api/v1/registry/${encodeURIComponent(id)}`);
      }
      if (route() === "install") refreshCheck();
    } catch (err) { stopPolling(); fail(err); }
  }, POLL_MS);
}

// Scanning the label's barcode with the phone's camera, where the browser reads barcodes itself
// (the Shape Detection API: Chrome on Android); elsewhere nothing is shown and the serial is typed.
// Nothing is downloaded: no decoder library.
function scanner(serial) {
  if (!("BarcodeDetector" in window)) return [];
  const file = el("input", { type: "file", accept: "image/*", capture: "environment", id: "scan-file", hidden: true });
  file.addEventListener("change", async () => {
    const photo = file.files?.[0];
    file.value = "";
    if (!photo) return;
    try {
      const codes = await new window.BarcodeDetector().detect(await createImageBitmap(photo));
      const value = (codes[0]?.rawValue || "").trim();
      if (!value) throw new Error("no code");
      serial.value = value;
      await findSerial(value);
    } catch {
      toast(t("installer.scan_none"), "error");
    }
  });
  return [file, el("button", { class: "m-btn block", id: "scan", type: "button", onclick: () => file.click(), text: t("installer.scan") })];
}

// The check's answer and the device's status, in place: the rest of the page (the map's view,
// what is being typed) stays as it is while the check polls.
function refreshCheck() {
  const d = state.device;
  const device = $("#device"), check = $("#check-result")?.closest("section");
  if (!d || !device || !check) { draw(); return; }
  device.replaceWith(deviceCard(d));
  check.replaceWith(checkCard(d));
}

function drawInstall() {
  const serial = el("input", { id: "serial", autocomplete: "off", autocapitalize: "characters", value: state.serial || "",
                               placeholder: t("installer.serial_placeholder") });
  const find = async (event) => {
    event.preventDefault();
    const value = serial.value.trim();
    if (value) await findSerial(value).catch(fail);
  };
  view.replaceChildren(
    el("form", { class: "m-card", id: "find", onsubmit: find },
      el("label", { class: "m-field" }, t("installer.serial"), serial),
      ...scanner(serial),
      el("button", { class: "m-btn primary block", type: "submit", text: t("installer.find") })));
  const d = state.device;
  if (d) {
    // Once it is up, the check is what the installer is waiting for: it comes first.
    if (d.installed_lon != null) view.append(deviceCard(d), checkCard(d), positionCard(d));
    else view.append(deviceCard(d), positionCard(d));
    loadGrids().then(() => mountMap(d)).catch(fail);
  } else if (state.serial) {
    const pick = el("select", { id: "bind" },
      el("option", { value: "", text: t("installer.pick_device") }),
      state.unbound.map((u) => el("option", { value: u.id, text: `${u.id} · ${u.name || label("device_kind", u.kind)}` })));
    const choose = () => {
      const chosen = state.unbound.find((u) => u.id === pick.value);
      if (chosen) { state.device = { ...chosen }; draw(); }
    };
    pick.addEventListener("change", choose);
    view.append(el("section", { class: "m-card" },
      el("p", { class: "m-msg wait", text: t("installer.serial_unknown", { serial: state.serial }) }),
      el("label", { class: "m-field" }, t("installer.bind_to"), pick)));
  }
}

// ------------------------------------------------------------------------------- maintenance
async function drawFleet() {
  view.replaceChildren(el("p", { class: "m-empty", text: t("app.loading") }));
  try {
    // only the devices with an open maintenance case; the counts are of every device of the area
    const fleet = await api.get("/api/v1/fleet?troubled=true");
    const troubled = fleet.items;
    const badge = $("#badge-fleet");
    badge.hidden = !troubled.length;
    badge.textContent = String(troubled.length);
    const counts = Object.entries(fleet.counts).map(([s, n]) => el("span", { class: `m-pill status-${s}`, text: `${label("device_status", s)} ${n}` }));
    view.replaceChildren(
      el("section", { class: "m-card" }, el("h2", { text: t("installer.fleet_title") }), el("div", { class: "m-row" }, counts)),
      troubled.length
        ? el("ul", { class: "m-list m-card", id: "troubles" }, troubled.map((i) =>
            el("li", { dataset: { device: i.id } },
              el("div", { class: "m-row" }, el("strong", { class: "m-grow", text: i.name || i.id }),
                 el("span", { class: `m-pill status-${i.status}`, text: label("device_status", i.status) })),
              i.troubles.map((tr) => el("div", { class: "m-muted", text: `${label("hazard", tr.hazard_type)} · ${formatTime(tr.opened_at)}` })),
              el("div", { class: "m-muted dev-id", text: `${i.id}${i.last_seen_at ? " · " + t("installer.last_seen", { at: formatTime(i.last_seen_at) }) : ""}` }))))
        : el("p", { class: "m-empty", text: t("installer.no_troubles") }));
  } catch (err) { fail(err); }
}

function draw() {
  tabs();
  if (route() === "fleet") drawFleet();
  else drawInstall();
}

// ------------------------------------------------------------------------------- start
async function main() {
  applyI18n(document);
  $("#lang").append(languageToggle());
  document.addEventListener("langchange", draw);
  state.me = await signedIn();
  $("#who").textContent = `${state.me.display_name} · ${t("installer.app_name")}`;
  window.addEventListener("hashchange", draw);
  draw();
}

main().catch(fail);
