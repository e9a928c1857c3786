// Times as people on site read them: the site's time zone (never UTC on screen), 24-hour clock,
// 2026-12-01 22:01. The zone comes from the site (GET /api/v1/site); Asia/Shanghai until known.
let zone = "Asia/Shanghai";

export function setZone(timeZone) {
  if (timeZone) zone = timeZone;
}

function parts(date) {
  const fmt = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  return Object.fromEntries(fmt.formatToParts(date).map((p) => [p.type, p.value]));
}

export function dateTime(iso, { seconds = false } = {}) {
  if (!iso) return "—";
  const p = parts(new Date(iso));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? ":" + p.second : ""}`;
}

export function clock(iso) {
  if (!iso) return "—";
  const p = parts(new Date(iso));
  return `${p.hour}:${p.minute}`;
}

// The site-local calendar day of an instant, as YYYY-MM-DD (for date filters).
export function localDay(date = new Date()) {
  const p = parts(date);
  return `${p.year}-${p.month}-${p.day}`;
}

// 75 → "1:15", 3725 → "1:02:05"; negative → "-1:15" (overdue).
export function duration(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let s = Math.floor(Math.abs(seconds));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${sign}${h}:${pad(m)}:${pad(s)}` : `${sign}${m}:${pad(s)}`;
}

// The server's clock may differ from the browser's: countdowns use the server's time, which
// every API answer carries (X-Server-Time, RFC 3339 from the product's own clock).
let skewMs = 0;
export function learnServerTime(header) {
  const server = Date.parse(header || "");
  if (!Number.isNaN(server)) skewMs = server - Date.now();
}
export function now() {
  return Date.now() + skewMs;
}
