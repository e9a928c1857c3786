// Patrol (巡查): on duty / off duty, start and stop a patrol, today's route with the inspections the
// dispatcher folded into it, and the phone's position sent every so often while the app is open on
// patrol (轨迹留痕) — kept on the phone without signal like every other step.
import { api } from "/ui/common/api.js";
import { el, toast } from "/ui/common/dom.js";
import { distanceM } from "/ui/common/geo.js";
import { t } from "/ui/common/i18n.js";
import { clock, dateTime, duration, now } from "/ui/common/time.js";
import { app, freshFix, recall, remember } from "./state.js";

export const FIX_EVERY_MS = 30_000;

let day = recall("patrol-day"); // GET …/patrol as last seen
let availability = recall("availability");
let timer = null;

export function onPatrol() {
  return recall("on-patrol");
}

// "Mon-Fri 08:30-17:30", "daily 20:00-08:00", "always" (workers.yaml) in the worker's words.
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
export function rosterText(spec) {
  const text = spec.trim();
  if (text.toLowerCase() === "always") return t("worker.roster_always");
  const match = text.match(/^(?:(.+?)\s+)?(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/);
  if (!match) return text;
  const [, days = "daily", from, to] = match;
  const dayWords = days.toLowerCase().split(",").map((part) => {
    if (["daily", "everyday", "weekdays", "weekends"].includes(part)) return t(`worker.days.${part === "everyday" ? "daily" : part}`);
    return part.split("-").map((d) => (DAYS.includes(d.slice(0, 3)) ? t(`worker.day.${d.slice(0, 3)}`) : d)).join(t("worker.day_to"));
  }).join("、");
  const overnight = to < from && to !== "24:00";
  return `${dayWords} ${from}–${overnight ? t("worker.next_day") : ""}${to}`;
}

async function load() {
  const id = encodeURIComponent(app.workerId);
  try {
    [day, availability] = await Promise.all([api.get(`/api/v1/workers/${id}/patrol`), api.get(`/api/v1/workers/${id}/availability`)]);
    remember("patrol-day", day);
    remember("availability", availability);
  } catch {
    /* no signal: what was seen last */
  }
}

export async function renderPatrol(view) {
  draw(view);
  await load();
  if (location.hash.startsWith("#patrol")) draw(view);
}

function draw(view) {
  const patrol = onPatrol();
  const available = availability ? availability.available : true;
  const worker = app.worker;
  view.replaceChildren(
    el("div", { class: "m-card", id: "duty-card" },
      el("h3", { text: t("worker.duty_title") }),
      worker ? el("p", { class: "m-muted", id: "roster", text: t("worker.roster", { duty: worker.duty.map(rosterText).join("；") || "—" }) }) : null,
      el("div", { class: "m-row" },
        el("span", { class: `m-pill ${available ? "ok" : "bad"}`, id: "duty-state", text: available ? t("worker.on_duty") : t("worker.off_duty") }),
        worker && !worker.on_duty ? el("span", { class: "m-muted", text: t("worker.outside_roster") }) : null),
      el("button", { class: `m-btn block ${available ? "danger" : "go"}`, id: "duty-toggle", type: "button",
                     text: available ? t("worker.clock_out") : t("worker.clock_in"), onclick: () => setDuty(!available, view) })),
    el("div", { class: "m-card", id: "patrol-card" },
      el("h3", { text: t("worker.patrol_title") }),
      patrol
        ? el("p", { class: "m-big", id: "patrol-state", text: t("worker.patrolling_since", { at: clock(patrol.since) }) })
        : el("p", { class: "m-muted", id: "patrol-state", text: t("worker.not_patrolling") }),
      patrol ? el("p", { class: "m-muted", id: "patrol-fixes", text: t("worker.fixes_sent", { n: patrol.fixes || 0 }) }) : null,
      el("button", { class: `m-btn block ${patrol ? "danger" : "go"}`, id: "patrol-toggle", type: "button",
                     text: patrol ? t("worker.patrol_stop") : t("worker.patrol_start"), onclick: () => (patrol ? stop(view) : start(view)) }),
      el("button", { class: "m-btn block", id: "patrol-check-in", type: "button", text: t("worker.checkpoint_check_in"),
                     onclick: () => checkpoint(view) })),
    route());
}

function route() {
  const box = el("div", { class: "m-card", id: "route" }, el("h3", { text: t("worker.route_title") }));
  if (!day) {
    box.append(el("p", { class: "m-muted", text: t("worker.route_unknown") }));
    return box;
  }
  const coverage = day.coverage == null ? "—" : `${Math.round(day.coverage * 100)}%`;
  box.append(el("p", { class: "m-row" },
    el("span", { class: "m-big", id: "coverage", text: coverage }),
    el("span", { class: "m-muted", text: t("worker.coverage", { visited: day.visited_checkpoints, planned: day.planned_checkpoints }) })));
  if (day.track) {
    box.append(el("p", { class: "m-muted", id: "track", text: t("worker.track", {
      km: (day.track.distance_m / 1000).toFixed(2), time: duration(day.track.duration_s) }) }));
  }
  if (!day.stops.length) box.append(el("p", { class: "m-muted", text: t("worker.route_empty") }));
  const list = el("ol", { class: "m-list", id: "stops" });
  for (const stop of day.stops) {
    const gone = stop.cancelled_at != null;
    const done = stop.visited_at != null;
    const far = app.position ? Math.round(distanceM(app.position.lon, app.position.lat, stop.lon, stop.lat)) : null;
    list.append(el("li", { class: `stop ${stop.kind}${done ? " visited" : ""}${gone ? " cancelled" : ""}` },
      el("div", { class: "m-row" },
        el("strong", { class: "m-grow", text: `${done ? "✓ " : ""}${stop.name}` }),
        el("span", { class: "m-pill", text: stop.kind === "checkpoint" ? t("worker.stop.checkpoint") : t("worker.stop.task") })),
      el("div", { class: "m-muted", text: done ? t("worker.visited_at", { at: clock(stop.visited_at) })
        : gone ? t("worker.stop_cancelled") : far != null ? t("worker.distance_m", { m: far }) : "" })));
  }
  box.append(list);
  return box;
}

async function position() {
  return (await freshFix()) || app.position;
}

function fixBody(fix, onPatrolNow) {
  return { lon: fix.lon, lat: fix.lat, accuracy_m: Math.min(10000, fix.accuracy_m || 10), at: fix.at || new Date(now()).toISOString(),
           ...(onPatrolNow === undefined ? {} : { on_patrol: onPatrolNow }) };
}

async function setDuty(available, view) {
  const body = available ? { available: true, reason: "" } : { available: false, reason: t("worker.off_duty_reason") };
  availability = { ...(availability || {}), available, worker_id: app.workerId };
  remember("availability", availability);
  draw(view);
  const item = await app.outbox.submit({ kind: "duty", method: "PUT", path: `/api/v1/workers/${encodeURIComponent(app.workerId)}/availability`,
    body, label: available ? t("worker.clock_in") : t("worker.clock_out") });
  if (item.state === "done") { availability = item.result; remember("availability", availability); draw(view); }
}

async function start(view) {
  const fix = await position();
  if (!fix) { toast(t("worker.no_location"), "error"); return; }
  remember("on-patrol", { since: new Date(now()).toISOString(), fixes: 1 });
  draw(view);
  const item = await app.outbox.submit({ kind: "patrol-start", method: "POST",
    path: `/api/v1/workers/${encodeURIComponent(app.workerId)}/patrol/start`, body: fixBody(fix), label: t("worker.patrol_start") });
  if (item.state === "done") { day = item.result; remember("patrol-day", day); }
  keepSending();
  draw(view);
}

async function stop(view) {
  const fix = (await position()) || app.position;
  remember("on-patrol", null);
  clearInterval(timer);
  timer = null;
  draw(view);
  if (!fix) return;
  const item = await app.outbox.submit({ kind: "patrol-stop", method: "POST",
    path: `/api/v1/workers/${encodeURIComponent(app.workerId)}/patrol/stop`, body: fixBody(fix), label: t("worker.patrol_stop") });
  if (item.state === "done") { day = item.result; remember("patrol-day", day); draw(view); }
}

async function checkpoint(view) {
  const fix = await position();
  if (!fix) { toast(t("worker.no_location"), "error"); return; }
  const item = await app.outbox.submit({ kind: "checkpoint", method: "POST",
    path: `/api/v1/workers/${encodeURIComponent(app.workerId)}/patrol/check-in`, body: { lon: fix.lon, lat: fix.lat },
    label: t("worker.checkpoint_check_in") });
  if (item.state === "done") toast(checkedInText(item.result), "ok");
  else if (item.state === "waiting") toast(t("worker.kept_offline"));
  else {
    const body = item.body || {};
    toast(body.nearest ? t("worker.checkpoint_too_far", { name: body.nearest, distance: body.distance_m, radius: Math.round(body.radius_m) })
      : body.radius_m ? t("worker.checkpoint_none") : item.detail, "error");
    app.outbox.dismiss(item.seq);
  }
  await load();
  if (location.hash.startsWith("#patrol")) draw(view);
}

// What a check-in did: points visited now, a task's site reached, or a point visited already today
// (a fix on the way in checks the worker in before the tap; the tap is then no error).
function checkedInText(result) {
  if (result.checkpoints.length) return t("worker.checkpoint_done", { n: result.checkpoints.length });
  const already = result.already || [];
  if (!result.tasks.length && already.length) {
    return t("worker.checkpoint_already", { name: already[0].name, at: clock(already[0].visited_at) });
  }
  return t("worker.checked_in");
}

// While the app is open on patrol: a fix every FIX_EVERY_MS, kept on the phone without signal.
export function keepSending() {
  if (timer || !onPatrol()) return;
  timer = setInterval(async () => {
    const patrol = onPatrol();
    if (!patrol) { clearInterval(timer); timer = null; return; }
    const fix = app.position;
    if (!fix) return;
    remember("on-patrol", { ...patrol, fixes: (patrol.fixes || 0) + 1 });
    await app.outbox.submit({ kind: "location", method: "POST", path: `/api/v1/workers/${encodeURIComponent(app.workerId)}/location`,
      body: fixBody({ ...fix, at: new Date(now()).toISOString() }, true), label: t("worker.location") });
    const fixes = document.getElementById("patrol-fixes");
    if (fixes) fixes.textContent = t("worker.fixes_sent", { n: (patrol.fixes || 0) + 1 });
  }, FIX_EVERY_MS);
}

export function patrolSummary() {
  const patrol = onPatrol();
  return patrol ? t("worker.patrolling_since", { at: dateTime(patrol.since) }) : "";
}
