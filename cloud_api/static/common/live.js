// The live feed (GET /api/v1/live, Server-Sent Events): each committed change of a case arrives
// once it commits. The browser's EventSource reconnects by itself and sends the id of the last
// update it got (Last-Event-ID), so nothing is missed across a dropped connection; when the
// server says "reset" (away too long), the page reloads its lists.
export function openLive({ onCase, onReset, onState }) {
  const source = new EventSource("/api/v1/live");
  source.addEventListener("open", () => onState?.("live"));
  source.addEventListener("error", () => onState?.(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting"));
  source.addEventListener("case", (e) => onCase(JSON.parse(e.data)));
  source.addEventListener("reset", () => onReset?.());
  return source;
}
