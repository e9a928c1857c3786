// A new critical case is heard and seen: a tone (made in the page: no sound file to fetch) and
// a desktop notification that opens the case when clicked. Both can be muted; the choice is
// kept in this browser. Every alert is also announced to screen readers.
import { $ } from "/ui/common/dom.js";
import { label, t } from "/ui/common/i18n.js";

const MUTED_KEY = "gridwatch.console.muted";
let audio = null;

export function muted() {
  return localStorage.getItem(MUTED_KEY) === "1";
}

function setMuted(value) {
  localStorage.setItem(MUTED_KEY, value ? "1" : "0");
  renderButtons();
}

function context() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  audio ??= new Ctx();
  return audio;
}

// Two rising tones, twice: unmistakable on a noisy night shift, short enough not to annoy.
function chime() {
  const ctx = context();
  if (!ctx) return;
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  const start = ctx.currentTime + 0.02;
  [0, 0.18, 0.5, 0.68].forEach((offset, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = i % 2 ? 1175 : 880;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.35, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.17);
  });
}

let lastChime = 0;

export function alertCritical(c, { onOpen } = {}) {
  const text = t("console.alert.critical", { title: c.title, hazard: label("hazard", c.hazard_type) });
  $("#announcer").textContent = text;
  if (muted()) return;
  // A burst (a reconnect's catch-up) chimes once, not fifty times; each case is still notified.
  if (Date.now() - lastChime > 3000) chime();
  lastChime = Date.now();
  if ("Notification" in window && Notification.permission === "granted") {
    const note = new Notification(t("console.alert.title"), { body: c.title, tag: c.id, requireInteraction: true });
    note.onclick = () => { window.focus(); onOpen?.(c.id); note.close(); };
  }
}

function renderButtons() {
  const sound = $("#sound-toggle");
  sound.textContent = muted() ? t("console.sound.off") : t("console.sound.on");
  sound.setAttribute("aria-pressed", String(!muted()));
  const notify = $("#notify-toggle");
  const supported = "Notification" in window;
  notify.hidden = !supported || Notification.permission === "granted";
  notify.textContent = supported && Notification.permission === "denied" ? t("console.notify.denied") : t("console.notify.enable");
  notify.disabled = supported && Notification.permission === "denied";
}

export function setupAlerts() {
  $("#sound-toggle").addEventListener("click", () => {
    setMuted(!muted());
    if (!muted()) context()?.resume().catch(() => {});  // a click lets the page make sound
  });
  $("#notify-toggle").addEventListener("click", async () => {
    if ("Notification" in window) await Notification.requestPermission();
    renderButtons();
  });
  // Browsers keep a page silent until someone touches it: the first click anywhere unlocks sound.
  document.addEventListener("pointerdown", () => { if (!muted()) context()?.resume().catch(() => {}); }, { once: true });
  document.addEventListener("langchange", renderButtons);
  renderButtons();
}
