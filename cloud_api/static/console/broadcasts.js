// 协查通报 in the console: send a notice (text, photos, expiry) to the grid workers of chosen areas;
// watch each worker's read receipt arrive live; open the cases their sightings opened; close it,
// which every phone shows at once.
import { api, request } from "/ui/common/api.js";
import { $, el, toast } from "/ui/common/dom.js";
import { t } from "/ui/common/i18n.js";
import { newId } from "/ui/common/offline-queue.js";
import { shrinkPhoto } from "/ui/common/photo.js";
import { dateTime, now, siteInstant } from "/ui/common/time.js";

const DAY_MS = 86400000;

function localInput(ms) {
  // <input type=datetime-local> in the site's zone: the site's wall clock for an instant
  const d = new Date(ms);
  const text = dateTime(d.toISOString()).replace(" ", "T");
  return text;
}

export class Broadcasts {
  constructor(ctx, { onOpen }) {
    this.ctx = ctx;
    this.onOpen = onOpen;
    this.box = $("#broadcasts-view");
    this.items = [];
    this.pending = null;
    document.addEventListener("langchange", () => this.draw());
  }

  async load() {
    try {
      this.items = (await api.get("/api/v1/broadcasts")).items;
      this.draw();
    } catch (err) {
      toast(t("app.error", { message: err.message }), "error");
    }
  }

  // A broadcast changed (live): read it again, once per burst of receipts.
  changed() {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.load(); }, 150);
  }

  draw() {
    if (!this.form) this.form = this.makeForm();
    const list = el("div", { class: "bc-list", id: "bc-list" },
      ...(this.items.length ? this.items.map((b) => this.card(b)) : [el("p", { class: "empty", text: t("console.bc.none") })]));
    this.box.replaceChildren(this.form, list);
  }

  makeForm() {
    const areas = this.ctx.areas.filter((a) => a.level === "community" || a.level === "grid");
    const form = el("form", { class: "bc-form", id: "bc-form", autocomplete: "off" },
      el("h2", { text: t("console.bc.new") }),
      el("label", {}, el("span", { text: t("console.bc.title") }), el("input", { name: "title", id: "bc-title", required: true, maxlength: "200" })),
      el("label", {}, el("span", { text: t("console.bc.body") }), el("textarea", { name: "body", id: "bc-body", rows: "5", maxlength: "5000" })),
      el("label", {}, el("span", { text: t("console.bc.areas") }),
        el("select", { name: "areas", id: "bc-areas", multiple: true, size: "8", required: true },
          ...areas.map((a) => el("option", { value: a.id, text: a.level === "grid" ? `　${a.name}` : a.name })))),
      el("label", {}, el("span", { text: t("console.bc.expires") }),
        el("input", { type: "datetime-local", name: "expires", id: "bc-expires", value: localInput(now() + DAY_MS), required: true })),
      el("label", {}, el("span", { text: t("console.bc.photos") }), el("input", { type: "file", name: "photos", id: "bc-photos", accept: "image/*", multiple: true })),
      el("button", { type: "submit", id: "bc-send", class: "primary", text: t("console.bc.send") }));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.send(form); });
    return form;
  }

  async send(form) {
    const button = $("#bc-send", form);
    button.disabled = true;
    try {
      const photoIds = [];
      for (const file of [...form.photos.files].slice(0, 6)) {
        const shot = await shrinkPhoto(file);
        const id = newId();
        await request("PUT", `/api/v1/broadcasts/photos/${id}`, { raw: shot.blob, headers: { "Content-Type": shot.blob.type || "image/jpeg" } });
        photoIds.push(id);
      }
      const body = {
        id: newId(), title: form.title.value.trim(), body: form.body.value.trim(),
        areas: [...form.areas.selectedOptions].map((o) => o.value), photo_ids: photoIds,
        expires_at: new Date(siteInstant(form.expires.value)).toISOString(),
      };
      const sent = await api.post("/api/v1/broadcasts", body);
      toast(t("console.bc.sent", { n: sent.recipients }), "ok");
      this.form = null;
      await this.load();
    } catch (err) {
      toast(t("app.error", { message: err.message }), "error");
    } finally {
      button.disabled = false;
    }
  }

  card(b) {
    const { ctx } = this;
    const node = el("article", { class: `bc-card ${b.state}`, dataset: { broadcastId: b.id } },
      el("header", {},
        el("h3", { text: b.title }),
        el("span", { class: `bc-state ${b.state}`, text: t(`console.bc.state_${b.state}`) }),
        el("span", { class: "bc-read-count", text: t("console.bc.read_count", { read: b.read, n: b.recipients }) })),
      el("p", { class: "bc-meta", text: t("console.bc.meta", { who: b.sender_name || b.sender, at: dateTime(b.created_at), until: dateTime(b.expires_at), areas: b.areas.map((a) => ctx.gridName(a)).join("、") }) }),
      el("p", { class: "bc-text", text: b.body }),
      el("div", { class: "bc-photos" }, ...b.photos.map((url) => el("img", { src: url, alt: b.title }))));
    node.append(el("table", { class: "bc-receipts" },
      el("thead", {}, el("tr", {}, el("th", { text: t("console.col.worker") }), el("th", { text: t("console.col.grid") }), el("th", { text: t("console.bc.read_at") }))),
      el("tbody", {}, ...b.receipts.map((r) => el("tr", { class: r.read_at ? "read" : "unread", dataset: { workerId: r.worker_id } },
        el("td", { text: r.worker_name }), el("td", { text: ctx.gridName(r.grid_id) }),
        el("td", { class: "when", text: r.read_at ? dateTime(r.read_at, { seconds: true }) : t("console.bc.unread") }))))));
    if (b.sightings.length) {
      node.append(el("h4", { text: t("console.bc.sightings") }), el("ul", { class: "bc-sightings" },
        ...b.sightings.map((s) => el("li", { dataset: { caseId: s.case_id } },
          el("a", { href: `#case=${s.case_id}`, text: `${dateTime(s.at)} · ${ctx.workerName(s.worker_id)}`, onclick: (e) => { e.preventDefault(); this.onOpen(s.case_id); } }),
          s.note ? ` — ${s.note}` : ""))));
    }
    if (b.state === "closed") node.append(el("p", { class: "bc-closed", text: t("console.bc.closed", { note: b.close_note || "—", at: dateTime(b.closed_at) }) }));
    else {
      const note = el("input", { class: "bc-close-note", maxlength: "1000", placeholder: t("console.bc.close_note") });
      node.append(el("div", { class: "bc-close" }, note, el("button", { type: "button", class: "bc-close-button", text: t("console.bc.close"), onclick: async () => {
        try {
          await api.post(`/api/v1/broadcasts/${b.id}/close`, { note: note.value.trim() });
          this.load();
        } catch (err) {
          toast(t("app.error", { message: err.message }), "error");
        }
      } })));
    }
    return node;
  }
}
