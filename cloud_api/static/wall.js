// Command-centre alert wall: open cases, the grid map and one case's evidence and audit trail.
// Plain JS, no build step, no network beyond this API: it must work on an air-gapped site.
// Signed in: the shared API client keeps the session going (docs/api-access.md).
import { api } from "/ui/common/api.js";
import { signedIn, signOut } from "/ui/common/session.js";

const REFRESH_MS = 2000;
const SEVERITY_RANK = { critical: 3, major: 2, minor: 1, info: 0 };
const STATUS_LABEL = {
  new: "新建 new", dispatched: "已派单 dispatched", accepted: "已接单 accepted", on_site: "已到场 on site",
  resolved: "已处置 resolved", closed: "已结案 closed", dismissed: "误报 dismissed",
  escalated: "已上报 escalated", reopened: "重新打开 reopened",
};
const state = { cases: [], workers: [], grids: null, selected: null, project: null };

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = tag === "svg" || attrs.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  delete attrs.svg;
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

const getJSON = (url) => api.get(url);

function age(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function renderCases() {
  const tbody = $("#case-table tbody");
  tbody.replaceChildren();
  const cases = [...state.cases].sort((a, b) =>
    (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]) || (Date.parse(b.opened_at) - Date.parse(a.opened_at)));
  for (const c of cases) {
    const row = el("tr", { class: `case${c.id === state.selected ? " selected" : ""}`, "data-case-id": c.id,
                           onclick: () => select(c.id) },
      el("td", {}, el("span", { class: `sev ${c.severity}`, text: c.severity })),
      el("td", {}, el("div", { text: c.title }),
         c.warnings.length ? el("div", { class: "warn", text: "⚠ " + c.warnings.join("; ") }) : "",
         el("div", { class: "dimmed", text: `${c.event_count} event(s)${c.urgent ? " · urgent" : ""}` })),
      el("td", { text: c.grid_id || "—" }),
      el("td", {}, el("span", { class: `badge ${c.status}`, text: STATUS_LABEL[c.status] || c.status })),
      el("td", { text: c.assigned_worker_id || "—" }),
      el("td", { text: age(c.opened_at) }));
    tbody.append(row);
  }
  $("#case-count").textContent = String(cases.length);
  $("#empty").hidden = cases.length > 0;
}

function makeProjection(features) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const visit = (coords) => { for (const [x, y] of coords) { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); } };
  for (const f of features) for (const ring of rings(f.geometry)) visit(ring);
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const w = (maxX - minX) * k, h = maxY - minY, pad = 20;
  const scale = Math.min((1000 - 2 * pad) / w, (700 - 2 * pad) / h);
  return ([lon, lat]) => [pad + (lon - minX) * k * scale, 700 - pad - (lat - minY) * scale];
}

function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

function pathFor(geometry, project) {
  return rings(geometry).map((ring) => "M" + ring.map((p) => project(p).map((v) => v.toFixed(1)).join(",")).join("L") + "Z").join(" ");
}

function renderMap() {
  if (!state.grids) return;
  const svg = $("#map");
  const shown = state.grids.features.filter((f) => f.properties.level === "grid" || f.properties.level === "community");
  state.project = state.project || makeProjection(shown);
  const project = state.project;
  svg.replaceChildren();
  for (const f of shown.filter((f) => f.properties.level === "grid")) {
    svg.append(el("path", { svg: true, class: "grid", d: pathFor(f.geometry, project) },
      el("title", { svg: true, text: `${f.properties.name} (${f.properties.id})` })));
  }
  for (const f of shown.filter((f) => f.properties.level === "community")) {
    svg.append(el("path", { svg: true, class: "community", d: pathFor(f.geometry, project) }));
  }
  for (const f of shown.filter((f) => f.properties.level === "grid")) {
    const ring = rings(f.geometry)[0];
    const cx = ring.reduce((s, p) => s + p[0], 0) / ring.length, cy = ring.reduce((s, p) => s + p[1], 0) / ring.length;
    const [x, y] = project([cx, cy]);
    svg.append(el("text", { svg: true, class: "label", x: x.toFixed(1), y: y.toFixed(1), "text-anchor": "middle", text: f.properties.id.replace(/^g-/, "") }));
  }
  for (const w of state.workers.filter((w) => w.lon !== null)) {
    const [x, y] = project([w.lon, w.lat]);
    svg.append(el("circle", { svg: true, class: "worker", cx: x.toFixed(1), cy: y.toFixed(1), r: 5 },
      el("title", { svg: true, text: `${w.name} ${w.id}${w.on_duty ? " · on duty" : ""} · ${w.active_tasks} task(s)` })));
  }
  for (const c of state.cases.filter((c) => c.lon !== null)) {
    const [x, y] = project([c.lon, c.lat]);
    svg.append(el("circle", { svg: true, class: `case ${c.severity}`, "data-case-id": c.id, cx: x.toFixed(1), cy: y.toFixed(1),
                              r: c.id === state.selected ? 11 : 8, onclick: () => select(c.id) },
      el("title", { svg: true, text: c.title })));
  }
}

async function select(caseId) {
  state.selected = caseId;
  renderCases();
  renderMap();
  await renderDetail();
}

async function renderDetail() {
  const box = $("#detail");
  if (!state.selected) { box.hidden = true; return; }
  let c;
  try { c = await getJSON(`/api/v1/cases/${encodeURIComponent(state.selected)}`); }
  catch (e) { box.hidden = true; return; }
  const evidence = c.evidence_ids.length
    ? el("img", { src: `/api/v1/evidence/${encodeURIComponent(c.evidence_ids[c.evidence_ids.length - 1])}.jpg`, alt: "evidence snapshot" })
    : el("p", { class: "dimmed", text: "无图像证据 no snapshot (sensor alarm)" });
  const trail = el("ul", { class: "trail" }, ...c.transitions.map((t) =>
    el("li", {}, el("div", { class: "when", text: `${new Date(t.at).toLocaleString()} · ${t.actor}` }),
      el("div", { text: `${t.from_status || "—"} → ${t.to_status}` }),
      t.reason ? el("div", { class: "dimmed", text: t.reason }) : "")));
  const tasks = el("ul", { class: "trail" }, ...c.tasks.map((t) =>
    el("li", {}, el("div", { text: `${t.worker_id} · ${t.status}${t.result ? " · " + t.result : ""}` }),
      el("div", { class: "dimmed", text: t.reason }),
      el("div", { class: "when", text: `offered ${new Date(t.offered_at).toLocaleTimeString()}` +
        (t.on_site_by ? ` · on site by ${new Date(t.on_site_by).toLocaleTimeString()}` : "") }))));
  box.replaceChildren(
    el("h3", { text: c.title }),
    el("div", { class: "dimmed", text: `case ${c.id} · ${c.hazard_type} · device ${c.device_id || "—"} · grid ${c.grid_id || "—"}` }),
    el("div", { class: "cols" },
      el("div", {}, el("h2", { text: "证据 Evidence" }), evidence),
      el("div", {}, el("h2", { text: "处置记录 Audit trail" }), trail),
      el("div", {}, el("h2", { text: "派单 Tasks" }), c.tasks.length ? tasks : el("p", { class: "dimmed", text: "未派单 not dispatched" }))));
  box.hidden = false;
}

async function refresh() {
  try {
    const includeClosed = $("#show-closed").checked;
    const [cases, workers] = await Promise.all([
      getJSON(`/api/v1/cases?limit=500${includeClosed ? "" : "&open=true"}`),
      getJSON("/api/v1/workers"),
    ]);
    state.cases = cases.items;
    state.workers = workers;
    renderCases();
    renderMap();
    if (state.selected) await renderDetail();
    const status = $("#status");
    status.textContent = `更新于 updated ${new Date().toLocaleTimeString()}`;
    status.classList.remove("bad");
  } catch (e) {
    const status = $("#status");
    status.textContent = `连接中断 connection lost: ${e.message}`;
    status.classList.add("bad");
  }
}

async function main() {
  const who = await signedIn();
  $("#who-name").textContent = `${who.display_name} (${who.roles.join(", ")})`;
  $("#sign-out").addEventListener("click", signOut);
  state.grids = await getJSON("/api/v1/grids");
  $("#show-closed").addEventListener("change", refresh);
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

main();
