// The worker app's service worker: the app opens with no signal at all.
// - the app shell (pages, modules, styles, icons) is kept on install and answered from the phone,
//   refreshed in the background when there is signal (stale-while-revalidate);
// - the app's page itself is asked of the server first (3 s), the kept copy otherwise;
// - evidence photos once seen stay viewable offline (this person's own, on their own phone);
// - everything else of the API goes to the network: the app keeps its own data (localStorage,
//   IndexedDB) and its steps wait in the outbox (common/offline-queue.js), never here.
const VERSION = "gw-worker-2";
const SHELL = `${VERSION}-shell`;
const PHOTOS = `${VERSION}-evidence`;
const MAX_PHOTOS = 200;
const APP = [
  "/ui/worker/", "/ui/worker/app.js", "/ui/worker/state.js", "/ui/worker/tasks.js", "/ui/worker/patrol.js",
  "/ui/worker/report.js", "/ui/worker/broadcasts.js", "/ui/worker/outbox.js", "/ui/worker/alert.js", "/ui/worker/worker.css",
  "/ui/worker/manifest.webmanifest", "/ui/worker/icon-192.png", "/ui/worker/icon-512.png",
  "/ui/common/api.js", "/ui/common/session.js", "/ui/common/live.js", "/ui/common/time.js", "/ui/common/dom.js",
  "/ui/common/i18n.js", "/ui/common/messages.js", "/ui/common/geo.js", "/ui/common/photo.js",
  "/ui/common/offline-queue.js", "/ui/common/base.css", "/ui/common/mobile.css",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(APP)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (!name.startsWith(VERSION)) await caches.delete(name);
    await self.clients.claim();
  })());
});

async function fresh(request, cacheName) {
  const response = await fetch(request);
  if (response.ok) (await caches.open(cacheName)).put(request, response.clone());
  return response;
}

async function pageFirst(request) {
  try {
    return await Promise.race([
      fresh(request, SHELL),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), 3000)),
    ]);
  } catch {
    const cache = await caches.open(SHELL);
    return (await cache.match(request, { ignoreSearch: true })) || (await cache.match("/ui/worker/")) || Response.error();
  }
}

async function keptFirst(request) {
  const kept = await caches.match(request, { ignoreSearch: true });
  const update = fresh(request, SHELL).catch(() => kept || Response.error());
  return kept || update;
}

async function photo(request) {
  const kept = await caches.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(PHOTOS);
    await cache.put(request, response.clone());
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_PHOTOS))) await cache.delete(old);
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/v1/evidence/")) event.respondWith(photo(request));
  else if (url.pathname.startsWith("/api/")) return;
  else if (request.mode === "navigate" && url.pathname.startsWith("/ui/worker/")) event.respondWith(pageFirst(request));
  else if (url.pathname.startsWith("/ui/")) event.respondWith(keptFirst(request));
});
