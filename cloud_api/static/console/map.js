// The site map, drawn by the page from the site's own grids (GET /api/v1/grids): no tile server is
// needed. Cases by severity, workers (fresh or stale position), cameras and sensors (online,
// offline, unknown); a click on a case opens it. Wheel or buttons zoom, dragging pans. A site with
// its own tile server may put its tiles underneath (site.yaml map.tile_url, Web Mercator XYZ;
// map.coordinates gcj02 for China's consumer maps, whose tiles are drawn in shifted coordinates).
import { el } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";
import { dateTime } from "/ui/common/time.js";

const Z = 20;  // world units are pixels at zoom 20: a town is thousands of units wide
const WORLD = 256 * 2 ** Z;
const SEV_R = { critical: 9, major: 8, minor: 6, info: 5 };

// --- coordinates -------------------------------------------------------------------------
function mercator([lon, lat]) {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [((lon + 180) / 360) * WORLD, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD];
}

// WGS-84 → GCJ-02 (the published transform), for tiles drawn in China's shifted coordinates.
const A = 6378245.0, EE = 0.00669342162296594323;
function shiftLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}
function shiftLon(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}
export function wgs84ToGcj02([lon, lat]) {
  if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [lon, lat];
  const rad = (lat / 180) * Math.PI;
  const magic = 1 - EE * Math.sin(rad) ** 2;
  const root = Math.sqrt(magic);
  const dLat = (shiftLat(lon - 105, lat - 35) * 180) / (((A * (1 - EE)) / (magic * root)) * Math.PI);
  const dLon = (shiftLon(lon - 105, lat - 35) * 180) / ((A / root) * Math.cos(rad) * Math.PI);
  return [lon + dLon, lat + dLat];
}

function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

// --- the map ------------------------------------------------------------------------------
// Grid names at this zoom, each only where it does not run into one already placed: on a phone's
// whole-site view ten names written over each other read as none. Widths are estimated (a CJK
// character is about one em, other characters about 0.6) rather than measured, to stay cheap.
function legible(labels, size) {
  const placed = [];
  return labels.filter((node) => {
    node.setAttribute("font-size", size.toFixed(1));
    const text = node.textContent || "";
    let w = 0;
    for (const ch of text) w += ch.codePointAt(0) >= 0x2e80 ? size : 0.6 * size;
    const x = Number(node.getAttribute("x")), y = Number(node.getAttribute("y"));
    const box = { l: x - w / 2 - size * 0.3, r: x + w / 2 + size * 0.3, t: y - size, b: y + size * 0.3 };
    if (placed.some((o) => box.l < o.r && o.l < box.r && box.t < o.b && o.t < box.b)) return false;
    placed.push(box);
    return true;
  });
}

export class SiteMap {
  constructor(svg, { grids, settings, onCase, onPick }) {
    this.svg = svg;
    this.onCase = onCase || (() => {});
    this.onPick = onPick;  // a tap on the map that is not a drag: (lon, lat) in WGS-84 (residents' page)
    this.pin = null;
    this.settings = settings || {};
    this.shift = this.settings.coordinates === "gcj02" ? wgs84ToGcj02 : (p) => p;
    this.grids = grids.features.filter((f) => ["grid", "community", "street"].includes(f.properties.level));
    // Coordinates relative to the site (SVG numbers are single precision: 2·10⁸ loses the detail).
    const first = rings(this.grids[0].geometry)[0][0];
    this.origin = mercator(this.shift(first));
    this.cases = new Map();
    this.workers = [];
    this.devices = [];
    this.selected = null;
    this.layers = Object.fromEntries(
      ["tiles", "areas", "labels", "devices", "workers", "cases"].map((name) => [name, el("g", { class: `layer ${name}` })]),
    );
    svg.replaceChildren(...Object.values(this.layers));
    this.fit();
    this.drawAreas();
    this.listen();
    new ResizeObserver(() => this.fit(false)).observe(svg);
  }

  project(lonlat) {
    const [x, y] = mercator(this.shift(lonlat));
    return [x - this.origin[0], y - this.origin[1]];
  }

  // World units back to WGS-84 (for a tap); tiles in GCJ-02 are undone by fixed-point steps.
  unproject([wx, wy]) {
    const x = wx + this.origin[0], y = wy + this.origin[1];
    const lon = (x / WORLD) * 360 - 180;
    const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / WORLD))) * 180) / Math.PI;
    let p = [lon, lat];
    for (let i = 0; i < 3 && this.settings.coordinates === "gcj02"; i++) {
      const g = this.shift(p);
      p = [p[0] - (g[0] - lon), p[1] - (g[1] - lat)];
    }
    return p;
  }

  bounds() {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const f of this.grids) for (const ring of rings(f.geometry)) for (const p of ring) {
      const [x, y] = this.project(p);
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    return { minX, minY, maxX, maxY };
  }

  fit(reset = true) {
    const rect = this.svg.getBoundingClientRect();
    const width = rect.width || 800, height = rect.height || 600;
    if (reset || !this.view) {
      const b = this.bounds();
      const pad = 0.06 * Math.max(b.maxX - b.minX, b.maxY - b.minY);
      let w = b.maxX - b.minX + 2 * pad, h = b.maxY - b.minY + 2 * pad;
      if (w / h > width / height) h = (w * height) / width; else w = (h * width) / height;
      const cx = (b.minX + b.maxX) / 2, cy = (b.minY + b.maxY) / 2;
      this.view = { x: cx - w / 2, y: cy - h / 2, w, h };
    } else {
      const cx = this.view.x + this.view.w / 2, cy = this.view.y + this.view.h / 2;
      const w = this.view.w, h = (w * height) / width;
      this.view = { x: cx - w / 2, y: cy - h / 2, w, h };
    }
    this.apply();
  }

  // Show one area (the grid a resident's QR code was scanned in) filling the view.
  fitTo(areaId) {
    const f = this.grids.find((g) => g.properties.id === areaId);
    if (!f) return false;
    const all = this.grids;
    this.grids = [f];
    this.view = null;
    this.fit(true);
    this.grids = all;
    this.zoom(0.6);  // and a little around it
    return true;
  }

  unitsPerPixel() {
    const width = this.svg.getBoundingClientRect().width || 800;
    return this.view.w / width;
  }

  apply() {
    const v = this.view;
    this.svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    this.drawTiles();
    this.drawMarkers();
  }

  zoom(factor, at) {
    const v = this.view;
    const cx = at ? at[0] : v.x + v.w / 2, cy = at ? at[1] : v.y + v.h / 2;
    const w = v.w / factor, h = v.h / factor;
    this.view = { x: cx - ((cx - v.x) / v.w) * w, y: cy - ((cy - v.y) / v.h) * h, w, h };
    this.apply();
  }

  toWorld(event) {
    const rect = this.svg.getBoundingClientRect();
    return [this.view.x + ((event.clientX - rect.left) / rect.width) * this.view.w,
            this.view.y + ((event.clientY - rect.top) / rect.height) * this.view.h];
  }

  listen() {
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1.25 : 0.8, this.toWorld(e));
    }, { passive: false });
    let drag = null;
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.target.closest("[data-case-id]")) return;
      drag = { x: e.clientX, y: e.clientY, view: { ...this.view }, moved: false };
      this.svg.setPointerCapture(e.pointerId);
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const k = this.unitsPerPixel();
      const dx = (e.clientX - drag.x) * k, dy = (e.clientY - drag.y) * k;
      if (Math.abs(dx) + Math.abs(dy) > 2 * k) drag.moved = true;
      this.view = { ...drag.view, x: drag.view.x - dx, y: drag.view.y - dy };
      this.svg.setAttribute("viewBox", `${this.view.x} ${this.view.y} ${this.view.w} ${this.view.h}`);
    });
    this.svg.addEventListener("pointerup", () => {
      this.dragged = Boolean(drag?.moved);
      if (drag?.moved) this.apply();
      drag = null;
    });
    this.svg.addEventListener("click", (e) => {
      const hit = e.target.closest("[data-case-id]");
      if (hit) this.onCase(hit.dataset.caseId);
      else if (this.onPick && !this.dragged) this.onPick(this.unproject(this.toWorld(e)));
    });
  }

  // --- layers ----------------------------------------------------------------------------
  path(geometry) {
    return rings(geometry).map((ring) => "M" + ring.map((p) => this.project(p).map((v) => v.toFixed(1)).join(",")).join("L") + "Z").join(" ");
  }

  drawAreas() {
    const areas = [], labels = [];
    const order = { street: 0, community: 1, grid: 2 };
    for (const f of [...this.grids].sort((a, b) => order[b.properties.level] - order[a.properties.level])) {
      const { id, name, level } = f.properties;
      areas.push(el("path", { class: `area ${level}`, d: this.path(f.geometry), "data-area-id": id },
        el("title", { text: `${name} (${id})` })));
      if (level === "grid") {
        const ring = rings(f.geometry)[0];
        const [x, y] = this.project([ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length]);
        labels.push(el("text", { class: "area-label", x: x.toFixed(1), y: y.toFixed(1), "text-anchor": "middle", text: name }));
      }
    }
    this.layers.areas.replaceChildren(...areas);
    this.labels = labels;
  }

  drawTiles() {
    const url = this.settings.tile_url;
    if (!url) return;
    const width = this.svg.getBoundingClientRect().width || 800;
    const z = Math.max(0, Math.min(this.settings.max_zoom ?? 19, Math.round(Z + Math.log2(width / this.view.w))));
    const size = 256 * 2 ** (Z - z);
    const n = 2 ** z;
    const [ox, oy] = this.origin;
    const left = this.view.x + ox, top = this.view.y + oy;
    const x0 = Math.max(0, Math.floor(left / size)), x1 = Math.min(n - 1, Math.floor((left + this.view.w) / size));
    const y0 = Math.max(0, Math.floor(top / size)), y1 = Math.min(n - 1, Math.floor((top + this.view.h) / size));
    const tiles = [];
    for (let x = x0; x <= x1 && tiles.length < 400; x++) for (let y = y0; y <= y1; y++) {
      const href = url.replace("{z}", z).replace("{x}", x).replace("{y}", y);
      tiles.push(el("image", { href, x: x * size - ox, y: y * size - oy, width: size, height: size, preserveAspectRatio: "none" }));
    }
    this.layers.tiles.replaceChildren(...tiles);
  }

  drawMarkers() {
    const k = this.unitsPerPixel();
    const fontPx = 12;
    this.layers.labels.replaceChildren(...legible(this.labels || [], fontPx * k));
    const devices = this.devices.filter((d) => d.lon !== null).map((d) => {
      const [x, y] = this.project([d.lon, d.lat]);
      const r = 5 * k;
      const shape = d.type === "camera"
        ? el("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r })
        : el("path", { d: `M${x},${y - r * 1.3}L${x + r * 1.3},${y}L${x},${y + r * 1.3}L${x - r * 1.3},${y}Z` });
      shape.setAttribute("class", `device ${d.type === "camera" ? "camera" : "sensor"} ${d.state}`);
      shape.dataset.deviceId = d.id;
      shape.append(el("title", { text: `${d.name} · ${label("device_state", d.state)}${d.troubles.length ? " · " + d.troubles.map((h) => label("hazard", h)).join("、") : ""}` }));
      return shape;
    });
    this.layers.devices.replaceChildren(...devices);
    const workers = this.workers.filter((w) => w.lon !== null).map((w) => {
      const [x, y] = this.project([w.lon, w.lat]);
      const state = w.fix_fresh ? "fresh" : "stale";
      return el("circle", { class: `worker ${state}`, cx: x, cy: y, r: 5 * k, "data-worker-id": w.id },
        el("title", { text: `${w.name} · ${t(`console.map.worker_${state}`)} ${dateTime(w.fixed_at, { seconds: true })}` }));
    });
    this.layers.workers.replaceChildren(...workers);
    const cases = [...this.cases.values()].filter((c) => c.lon !== null)
      .sort((a, b) => (SEV_R[a.severity] || 0) - (SEV_R[b.severity] || 0))
      .map((c) => {
        const [x, y] = this.project([c.lon, c.lat]);
        const r = (SEV_R[c.severity] || 6) * k * (c.id === this.selected ? 1.5 : 1);
        return el("circle", { class: `case ${c.severity}${c.id === this.selected ? " selected" : ""}`, cx: x, cy: y, r, "data-case-id": c.id },
          el("title", { text: `${label("severity", c.severity)} · ${c.title} · ${label("case_status", c.status)}` }));
      });
    if (this.pin) {
      const [x, y] = this.project(this.pin);
      cases.push(el("circle", { class: "pin", cx: x, cy: y, r: 9 * k, id: "map-pin" }));
    }
    this.layers.cases.replaceChildren(...cases);
  }

  setPin(lonlat) { this.pin = lonlat; this.scheduleDraw(); }

  // --- data ------------------------------------------------------------------------------
  setCases(list) {
    this.cases = new Map(list.map((c) => [c.id, c]));
    this.drawMarkers();
  }

  upsertCase(c, open) {
    if (open) this.cases.set(c.id, c); else this.cases.delete(c.id);
    this.scheduleDraw();
  }

  setWorkers(list) { this.workers = list; this.scheduleDraw(); }
  setDevices(list) { this.devices = list; this.scheduleDraw(); }
  select(id) { this.selected = id; this.scheduleDraw(); }

  scheduleDraw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.drawMarkers(); });
  }
}

export function legend(box, { workers, devices }) {
  const items = [
    ...["critical", "major", "minor"].map((s) => el("span", { class: "key" }, el("i", { class: `dot case ${s}` }), label("severity", s))),
    workers && el("span", { class: "key" }, el("i", { class: "dot worker fresh" }), t("console.map.worker_fresh")),
    workers && el("span", { class: "key" }, el("i", { class: "dot worker stale" }), t("console.map.worker_stale")),
    devices && el("span", { class: "key" }, el("i", { class: "sq online" }), t("console.map.camera"), " / ", el("i", { class: "dia online" }), t("console.map.sensor"), " ", label("device_state", "online")),
    devices && el("span", { class: "key" }, el("i", { class: "sq offline" }), label("device_state", "offline")),
    devices && el("span", { class: "key" }, el("i", { class: "sq unknown" }), label("device_state", "unknown")),
  ];
  box.replaceChildren(...items.filter(Boolean));
}
