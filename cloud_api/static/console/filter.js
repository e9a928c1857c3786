// The case list's filter: kept in the address (#status=open&severity=critical, so a reload or a
// shared link shows the same list), turned into the API's query string — the same for the list
// and its CSV export — and matched in the page against live updates, so a new case that fits
// appears at once without asking the server again.
export const SEVERITIES = ["critical", "major", "minor", "info"];
const RANK = { critical: 3, major: 2, minor: 1, info: 0 };
export const OPEN = ["new", "dispatched", "accepted", "on_site", "escalated", "reopened"];
export const STATUSES = [...OPEN, "resolved", "closed", "dismissed", "merged"];
export const SORTS = ["-opened_at", "opened_at", "-severity", "-updated_at", "status", "grid_id"];
export const DEFAULTS = { status: "open", sort: "-opened_at" };
const KEYS = ["status", "severity", "hazard_type", "area", "device_id", "worker_id", "from", "to", "q", "sort"];

export function fromHash(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const filter = { ...DEFAULTS, severity: [] };
  for (const key of KEYS) {
    if (!params.has(key)) continue;
    filter[key] = key === "severity" ? params.getAll(key).filter((s) => SEVERITIES.includes(s)) : params.get(key);
  }
  if (!SORTS.includes(filter.sort)) filter.sort = DEFAULTS.sort;
  return filter;
}

export function toHash(filter) {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const value = filter[key];
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else if (value) params.set(key, value);
  }
  return params.toString();
}

// The API's parameters (GET /api/v1/cases and /api/v1/cases/export.csv take the same).
export function apiParams(filter) {
  const out = {};
  if (filter.status === "open") out.open = "true";
  else if (filter.status && filter.status !== "all") out.status = filter.status;
  if (filter.severity?.length) out.severity = filter.severity;
  for (const key of ["hazard_type", "area", "device_id", "worker_id", "q", "sort"]) if (filter[key]) out[key] = filter[key];
  // datetime-local values have no offset: the API takes them as the site's local time
  if (filter.from) out.from = filter.from;
  if (filter.to) out.to = filter.to;
  return out;
}

// Does a case (as the live feed sends it) belong in the list? ``gridsOf(area)`` gives the grids
// under an area; ``siteMs(local)`` turns a datetime-local value into an instant (site time).
export function matches(filter, c, { gridsOf, siteMs }) {
  if (filter.status === "open" && !OPEN.includes(c.status)) return false;
  if (filter.status && !["open", "all"].includes(filter.status) && c.status !== filter.status) return false;
  if (filter.severity?.length && !filter.severity.includes(c.severity)) return false;
  if (filter.hazard_type && c.hazard_type !== filter.hazard_type) return false;
  if (filter.area) {
    const grids = gridsOf(filter.area);
    if (grids && !grids.has(c.grid_id)) return false;
  }
  if (filter.device_id && c.device_id !== filter.device_id) return false;
  // a worker who held an earlier task is only known to the server: the list's refresh brings those
  if (filter.worker_id && c.assigned_worker_id !== filter.worker_id) return false;
  const opened = Date.parse(c.opened_at);
  if (filter.from && opened < siteMs(filter.from)) return false;
  if (filter.to && opened >= siteMs(filter.to)) return false;
  const q = (filter.q || "").trim().toLowerCase();
  if (q) {
    const inText = [c.title, c.device_id, c.grid_id].some((v) => (v || "").toLowerCase().includes(q));
    if (!inText && !c.id.startsWith(q) && !c.id.endsWith(q)) return false;
  }
  return true;
}

function key(c, field) {
  if (field === "severity") return RANK[c.severity] ?? -1;
  if (field.endsWith("_at")) return Date.parse(c[field]);
  return c[field] ?? "";
}

// The server's order: the sort key, then the newest first, then the id (descending).
export function compare(sort) {
  const field = sort.replace(/^-/, "");
  const dir = sort.startsWith("-") ? -1 : 1;
  return (a, b) => {
    const ka = key(a, field), kb = key(b, field);
    if (ka < kb) return -dir;
    if (ka > kb) return dir;
    const ta = Date.parse(a.opened_at), tb = Date.parse(b.opened_at);
    if (ta !== tb) return tb - ta;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  };
}
