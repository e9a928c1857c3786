// 待同步: what waits on the phone for a signal, and the steps the server did not apply, each with
// why (the task was reassigned meanwhile ...). Also the account: language, signing out.
import { el } from "/ui/common/dom.js";
import { languageToggle, t } from "/ui/common/i18n.js";
import { dateTime } from "/ui/common/time.js";
import { app, explain } from "./state.js";

const STATE_WORDS = { waiting: "worker.state.waiting", sending: "worker.state.sending", refused: "worker.state.refused",
                      failed: "worker.state.failed" };

export function renderOutbox(view, onSignOut) {
  const waiting = app.items.filter((i) => i.state === "waiting" || i.state === "sending");
  const stuck = app.items.filter((i) => i.state === "refused" || i.state === "failed");
  const fixes = waiting.filter((i) => i.kind === "location");
  const steps = waiting.filter((i) => i.kind !== "location");
  const list = el("ul", { class: "m-list", id: "outbox-list" });
  for (const item of [...steps, ...stuck]) {
    list.append(el("li", { class: `outbox-item ${item.state}`, dataset: { kind: item.kind, state: item.state } },
      el("div", { class: "m-row" },
        el("strong", { class: "m-grow", text: item.label }),
        el("span", { class: `m-pill ${item.state === "refused" || item.state === "failed" ? "bad" : "warn"}`, text: t(STATE_WORDS[item.state]) })),
      el("div", { class: "m-muted", text: t("worker.taken_at", { at: dateTime(item.takenAt, { seconds: true }) }) }),
      item.state === "refused" || item.state === "failed"
        ? el("div", {}, el("p", { class: "m-msg error", text: explain(item) }),
            el("button", { class: "m-btn block", type: "button", text: t("worker.understood"), onclick: () => app.outbox.dismiss(item.seq) }))
        : null));
  }
  if (fixes.length) list.append(el("li", { class: "outbox-item fixes", text: t("worker.fixes_waiting", { n: fixes.length }) }));
  view.replaceChildren(
    el("div", { class: "m-card", id: "outbox" },
      el("h2", { text: t("worker.outbox_title") }),
      el("p", { class: "m-big", id: "outbox-count", text: waiting.length ? t("worker.outbox_waiting", { n: waiting.length }) : t("worker.outbox_empty") }),
      navigator.onLine ? null : el("p", { class: "m-msg wait", text: t("app.offline") }),
      list,
      waiting.length ? el("button", { class: "m-btn block", id: "sync-now", type: "button", text: t("worker.sync_now"), onclick: () => app.outbox.flush() }) : null),
    el("div", { class: "m-card", id: "account" },
      el("h3", { text: app.me ? app.me.display_name : "" }),
      el("p", { class: "m-muted", text: app.worker ? t("worker.home_grid", { grid: app.worker.home_grid_name || app.worker.home_grid }) : "" }),
      el("div", { class: "m-row" }, languageToggle()),
      el("button", { class: "m-btn danger block", id: "sign-out", type: "button", text: t("app.sign_out"), onclick: onSignOut })));
}
