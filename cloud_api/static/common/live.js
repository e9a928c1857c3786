// The live feed (GET /api/v1/live, Server-Sent Events): each committed change of a case arrives
// once it commits. The browser's EventSource reconnects by itself and sends the id of the last
// update it got (Last-Event-ID), so nothing is missed across a dropped connection. When the
// browser gives up instead (an error answer: a proxy's 502, a session that ran out), this module
// renews the session and comes back with ?since=<that id>. When the server says "reset" (away
// longer than it remembers), the page reloads its lists.
import { api } from "./api.js";

export function openLive({ onCase, onBroadcast, onReset, onState }) {
  let source = null;
  let last = null;  // the id of the last update (or hello) received
  let wait = 1000;
  let stopped = false;
  const remember = (event) => { if (event.lastEventId) last = event.lastEventId; };

  function connect() {
    source = new EventSource(last ? `/api/v1/live?since=${encodeURIComponent(last)}` : "/api/v1/live");
    source.addEventListener("open", () => { wait = 1000; onState?.("live"); });
    source.addEventListener("hello", remember);
    source.addEventListener("case", (e) => { remember(e); onCase(JSON.parse(e.data)); });
    // 协查通报: sent, read by a worker, closed (the broadcast's id, read count and state)
    source.addEventListener("broadcast", (e) => { remember(e); onBroadcast?.(JSON.parse(e.data)); });
    source.addEventListener("reset", (e) => { remember(e); onReset?.(); });
    source.addEventListener("error", async () => {
      onState?.("reconnecting");
      if (source.readyState !== EventSource.CLOSED || stopped) return;  // the browser retries
      try {
        await api.get("/api/v1/me");  // renews an expired access cookie (or goes to sign-in)
      } catch {
        /* the network is down: try again below */
      }
      setTimeout(() => { if (!stopped) connect(); }, wait);
      wait = Math.min(wait * 2, 30000);
    });
  }

  connect();
  return { close() { stopped = true; source.close(); onState?.("closed"); } };
}
