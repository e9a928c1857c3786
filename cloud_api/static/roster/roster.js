// The grid roster card (一长三员) to print: the grid's outline, its leader, guides, full-time and
// part-time workers with the phones the site marks public, and the QR code of the residents' page.
// The same card as a PDF: GET /api/v1/grids/{grid}/roster.pdf (drawn on the server).
import { api } from "/ui/common/api.js";
import { $, el } from "/ui/common/dom.js";
import { applyI18n, languageToggle, lang, t } from "/ui/common/i18n.js";
import { signedIn } from "/ui/common/session.js";
import { dateTime, now } from "/ui/common/time.js";

function rings(geometry) {
  if (geometry.type === "Polygon") return [geometry.coordinates[0]];
  if (geometry.type === "MultiPolygon") return geometry.coordinates.map((p) => p[0]);
  return [];
}

function outline(card) {
  const all = [card.outline, ...card.neighbours].flatMap(rings).flat();
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  const kx = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);  // a degree east is shorter than one north
  const w = (maxX - minX) * kx, h = maxY - minY;
  const project = ([x, y]) => `${((x - minX) * kx).toFixed(6)},${(maxY - y).toFixed(6)}`;
  const path = (g) => rings(g).map((r) => "M" + r.map(project).join("L") + "Z").join(" ");
  const pad = 0.04 * Math.max(w, h);
  return el("svg", { class: "outline", viewBox: `${-pad} ${-pad} ${w + 2 * pad} ${h + 2 * pad}`, preserveAspectRatio: "xMidYMid meet", role: "img", "aria-label": card.grid_name },
    ...card.neighbours.map((g) => el("path", { class: "neighbour", d: path(g) })),
    el("path", { class: "grid", d: path(card.outline) }));
}

function qr(rows) {
  const n = rows.length;
  const runs = [];
  rows.forEach((row, y) => {
    for (const m of row.matchAll(/1+/g)) runs.push(el("rect", { x: m.index, y, width: m[0].length, height: 1 }));
  });
  return el("svg", { viewBox: `0 0 ${n} ${n}`, "shape-rendering": "crispEdges", role: "img", "aria-label": t("roster.qr") },
    el("rect", { x: 0, y: 0, width: n, height: n, fill: "#fff" }), el("g", { fill: "#000" }, ...runs));
}

async function draw(gridId, me) {
  const card = await api.get(`/api/v1/grids/${encodeURIComponent(gridId)}/roster`);
  $("#pdf").href = card.pdf_url;
  const en = lang() === "en";
  const where = [card.street, card.community].filter(Boolean).join(" · ") + (card.households ? ` · ${t("roster.households", { n: card.households })}` : "");
  $("#card").replaceChildren(
    el("h1", { id: "roster-title", text: t("roster.title", { grid: card.grid_name }) }),
    el("p", { class: "where", text: where }),
    outline(card),
    el("table", { class: "members", id: "roster-members" },
      el("thead", {}, el("tr", {}, el("th", { text: t("roster.role") }), el("th", { text: t("roster.name") }), el("th", { text: t("roster.phone") }))),
      el("tbody", {}, ...card.members.map((m) => el("tr", { dataset: { role: m.role } },
        el("td", { class: "role", text: en ? m.role_en : m.role_zh }),
        el("td", { class: "name", text: m.name + (m.title ? `（${m.title}）` : "") }),
        el("td", { class: "phone", text: m.phone || "—" }))))),
    el("div", { class: "report" }, qr(card.qr),
      el("div", {}, el("p", { text: t("roster.report") }), el("p", { class: "url", text: card.report_url }))),
    el("p", { class: "footer", text: `${me.site?.name || ""} · ${dateTime(new Date(now()).toISOString()).slice(0, 10)}` }));
  document.title = `${t("roster.title", { grid: card.grid_name })} · GridWatch`;
}

async function start() {
  applyI18n(document);
  $("#lang").append(languageToggle());
  const me = await signedIn();
  const grids = (await api.get("/api/v1/grids")).features.filter((f) => f.properties.level === "grid");
  const params = new URLSearchParams(location.search);
  let gridId = params.get("grid") || grids[0]?.properties.id;
  const pick = $("#grid-pick");
  pick.replaceChildren(...grids.map((f) => el("option", { value: f.properties.id, text: f.properties.name, selected: f.properties.id === gridId })));
  pick.addEventListener("change", () => {
    gridId = pick.value;
    history.replaceState(null, "", `?grid=${encodeURIComponent(gridId)}`);
    draw(gridId, me);
  });
  $("#print").addEventListener("click", () => print());
  document.addEventListener("langchange", () => draw(gridId, me));
  await draw(gridId, me);
  document.body.dataset.ready = "true";
}

start();
