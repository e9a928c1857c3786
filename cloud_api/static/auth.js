// Signing in for every page: the session lives in HttpOnly cookies set by /api/v1/auth/sign-in.
// gw.fetch() adds the CSRF header on writes, refreshes the access token when it runs out, and sends
// the browser to the sign-in page when the session has ended. docs/api-access.md explains the model.
"use strict";

const gw = (() => {
  const SIGN_IN = "/ui/sign-in.html";
  const cookie = (name) => {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  };
  const csrfHeaders = () => ({ "X-CSRF-Token": cookie("gw_csrf") });
  let refreshing = null;

  function toSignIn() {
    const here = location.pathname + location.search + location.hash;
    location.assign(`${SIGN_IN}?next=${encodeURIComponent(here)}`);
    return new Promise(() => {});  // the page is leaving
  }

  async function refresh() {
    // One refresh at a time, however many requests found the token expired.
    refreshing = refreshing || fetch("/api/v1/auth/refresh", { method: "POST", headers: csrfHeaders(), credentials: "same-origin" })
      .then((r) => r.ok)
      .finally(() => { setTimeout(() => { refreshing = null; }, 0); });
    return refreshing;
  }

  async function gwFetch(url, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) Object.assign(headers, csrfHeaders());
    const send = () => fetch(url, { ...options, method, headers, credentials: "same-origin" });
    let resp = await send();
    if (resp.status === 401) {
      if (!(await refresh())) return toSignIn();
      resp = await send();
      if (resp.status === 401) return toSignIn();
    }
    return resp;
  }

  async function getJSON(url) {
    const resp = await gwFetch(url);
    if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
    return resp.json();
  }

  async function me() {
    const who = await getJSON("/api/v1/me");
    if (who.must_change_password) return toSignIn();
    return who;
  }

  async function signOut() {
    await fetch("/api/v1/auth/sign-out", { method: "POST", headers: csrfHeaders(), credentials: "same-origin" });
    location.assign(SIGN_IN);
  }

  return { fetch: gwFetch, getJSON, me, signOut, refresh };
})();
