// Talking to the GridWatch API from a page: the session cookies from sign-in, the CSRF header on
// every write, one refresh when the short-lived access cookie has expired, errors as Error objects
// with the server's own words. See docs/api-access.md.
import { learnServerTime } from "./time.js";

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.body = body;
  }
}

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

let refreshing = null;
async function refresh() {
  // Several requests may find the access cookie expired at once: one refresh serves them all.
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": cookie("gw_csrf"), Accept: "application/json" },
  }).then((r) => r.ok).finally(() => { refreshing = null; });
  return refreshing;
}

export function signInPage() {
  const next = location.pathname + location.search + location.hash;
  location.assign(`/ui/signin.html?next=${encodeURIComponent(next)}`);
}

// `headers`: more request headers (an Idempotency-Key, a photo's Content-Type, If-None-Match); `raw`:
// a Blob or bytes sent as they are (a photo), its Content-Type given in `headers`; `meta`: an object
// given the answer's status and ETag (a 304 Not Modified answers null).
export async function request(method, path, { body, form, raw, headers: extra, signal, meta, retry = true } = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("gw_csrf");
  let payload;
  if (form) payload = form;  // FormData: the browser sets the multipart boundary
  else if (raw !== undefined) payload = raw;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin", signal });
  learnServerTime(resp.headers.get("X-Server-Time"));
  if (resp.status === 401 && retry && !path.startsWith("/api/v1/auth/")) {
    if (await refresh()) return request(method, path, { body, form, raw, headers: extra, signal, meta, retry: false });
    signInPage();
    throw new ApiError(401, "signed out");
  }
  if (meta) Object.assign(meta, { status: resp.status, etag: resp.headers.get("ETag") });
  if (resp.status === 304) return null;
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, data?.detail ?? data, data);
  return data;
}

export const api = {
  get: (path, opts) => request("GET", path, opts),
  post: (path, body, opts = {}) => request("POST", path, { ...opts, body }),
  put: (path, body, opts = {}) => request("PUT", path, { ...opts, body }),
  del: (path, opts) => request("DELETE", path, opts),
  upload: (path, form, opts = {}) => request("POST", path, { ...opts, form }),
};

// Query strings from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
