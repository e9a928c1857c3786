// Steps taken on a phone without signal, kept and sent in order when it returns (the grid worker's
// and the installer's apps). Every step goes through here, with or without signal:
//
//   const outbox = await OfflineQueue.open("gridwatch-worker", { onChange: render });
//   const sent = await outbox.submit({ kind: "accept", method: "POST", path: `/api/v1/tasks/${id}/accept`,
//                                      body: {}, label: "接单", ref: id });
//   sent.state: "done" (with sent.result), "refused" (the server's reason: sent.detail, sent.body),
//               "failed" (the request itself was wrong), or "waiting" (no signal: kept, sent later).
//
// Each step gets an id made on the phone when it is taken; it travels as the Idempotency-Key, so the
// server applies it once however often it has to be sent (an answer lost on the way, a reload
// mid-send). Steps are kept in IndexedDB (photos as Blobs) and sent strictly one after the other, in
// the order they were taken: a check-in never overtakes its accept. A step the server refuses (409:
// the task was reassigned meanwhile) is kept with the reason until the person has read it.
import { request, ApiError } from "./api.js";
import { now } from "./time.js";

const STORE = "steps";
const RETRY_MS = [2000, 5000, 15000, 30000, 60000];

// A UUIDv7 (time-ordered, as the contracts recommend) from crypto.getRandomValues, which a phone has
// even on a plain-http intranet page (crypto.randomUUID needs https).
export function newId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function promised(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb(name) {
  const req = indexedDB.open(name, 1);
  req.onupgradeneeded = () => {
    const store = req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
    store.createIndex("id", "id", { unique: true });
  };
  return promised(req);
}

// What to make of an answer: kept (done), refused by the state (409: explained to the person),
// failed (the request itself is wrong: retrying will not help), or try again later.
function verdict(err) {
  if (!(err instanceof ApiError)) return "retry";  // no signal, the server unreachable
  if (err.status === 409) return "refused";
  if (err.status === 401 || err.status === 429 || err.status >= 500) return "retry";
  return "failed";
}

export class OfflineQueue {
  static async open(name, { onChange } = {}) {
    const queue = new OfflineQueue(await openDb(name), onChange);
    // Something sending when the page was closed was answered or not: sending again is safe.
    for (const item of await queue.list()) {
      if (item.state === "sending") await queue._put({ ...item, state: "waiting" });
    }
    addEventListener("online", () => queue.flush());
    return queue;
  }

  constructor(db, onChange) {
    this.db = db;
    this.onChange = onChange || (() => {});
    this.flushing = null;
    this.timer = null;
    this.failures = 0;
    this.waiters = new Map();  // step id -> resolve, for submit()
  }

  _tx(mode) {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  async _put(item) {
    await promised(this._tx("readwrite").put(item));
  }

  // Every step kept on the phone, oldest first.
  async list() {
    return promised(this._tx("readonly").getAll());
  }

  async pending() {
    return (await this.list()).filter((i) => i.state === "waiting" || i.state === "sending");
  }

  // Keep a step and send it (with everything before it). Resolves once it was answered, or at
  // once as "waiting" when there is no signal.
  async submit(step) {
    const item = {
      id: step.id || newId(), kind: step.kind, method: step.method || "POST", path: step.path,
      body: step.body, blob: step.blob, headers: step.headers || {}, label: step.label || step.kind,
      ref: step.ref || null, takenAt: new Date(now()).toISOString(), state: "waiting", attempts: 0,
      detail: "", result: null,
    };
    const seq = await promised(this._tx("readwrite").add(item));
    item.seq = seq;
    const answered = new Promise((resolve) => this.waiters.set(item.id, resolve));
    this.onChange();
    const flushed = this.flush();
    const outcome = await Promise.race([answered, flushed.then(() => "flushed")]);
    if (outcome !== "flushed") return outcome;
    const kept = (await this.list()).find((i) => i.id === item.id);
    if (!kept || kept.state === "waiting" || kept.state === "sending") {
      this.waiters.delete(item.id);
      return { ...item, state: "waiting" };
    }
    return answered;
  }

  // Send what waits, one at a time, in order; stop at the first step that cannot get through.
  flush() {
    this.flushing ??= this._flush().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  async _flush() {
    clearTimeout(this.timer);
    for (;;) {
      const next = (await this.list()).find((i) => i.state === "waiting");
      if (!next) { this.failures = 0; return; }
      await this._put({ ...next, state: "sending", attempts: next.attempts + 1 });
      this.onChange();
      let done;
      try {
        const result = await request(next.method, next.path, {
          body: next.blob ? undefined : next.body,
          raw: next.blob || undefined,
          headers: { "Idempotency-Key": next.id, ...next.headers },
        });
        done = { ...next, state: "done", result, sentAt: new Date(now()).toISOString() };
      } catch (err) {
        const how = verdict(err);
        if (how === "retry") {
          await this._put({ ...next, state: "waiting", detail: err.message || String(err) });
          this.onChange();
          const wait = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)];
          this.timer = setTimeout(() => this.flush(), wait);
          return;
        }
        done = { ...next, state: how, detail: err.message, body: err.body, status: err.status };
      }
      this.failures = 0;
      // Done steps leave the phone (the server has them); refused and failed ones stay to be read.
      if (done.state === "done") await promised(this._tx("readwrite").delete(next.seq));
      else await this._put({ ...done, blob: undefined });
      this.waiters.get(next.id)?.(done);
      this.waiters.delete(next.id);
      this.onChange(done);
    }
  }

  // The person has read why a step was refused: it may go.
  async dismiss(seq) {
    await promised(this._tx("readwrite").delete(seq));
    this.onChange();
  }

  // Signing out: nothing of this person's stays on the phone.
  async clear() {
    await promised(this._tx("readwrite").clear());
    this.onChange();
  }
}
