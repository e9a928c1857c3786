// One message catalogue for every page (messages.js), zh-CN first, English switchable.
// A page marks text with a data-i18n attribute naming a key (textContent), data-i18n-placeholder,
// data-i18n-title, data-i18n-aria-label; code calls t(key, {name: value}).
import { MESSAGES } from "./messages.js";

const STORE_KEY = "gridwatch.lang";
export const LANGS = ["zh-CN", "en"];

let current = (() => {
  const saved = localStorage.getItem(STORE_KEY);
  return LANGS.includes(saved) ? saved : "zh-CN";  // Chinese first, whatever the browser says
})();

export function lang() {
  return current;
}

export function setLang(next) {
  if (!LANGS.includes(next)) return;
  current = next;
  localStorage.setItem(STORE_KEY, next);
  document.documentElement.lang = next;
  applyI18n(document);
  document.dispatchEvent(new CustomEvent("langchange", { detail: next }));
}

// Missing in the chosen language: the other language, then the key itself (tests catch both).
export function t(key, params = {}) {
  const text = MESSAGES[current][key] ?? MESSAGES["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// Enumerations on the wire (status, severity, hazard type ...) shown in the user's words.
export function label(kind, value) {
  if (value === null || value === undefined || value === "") return "—";
  const key = `${kind}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

const ATTRS = [["data-i18n-placeholder", "placeholder"], ["data-i18n-title", "title"],
               ["data-i18n-aria-label", "aria-label"]];

export function applyI18n(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [attr, target] of ATTRS) {
    for (const node of root.querySelectorAll(`[${attr}]`)) node.setAttribute(target, t(node.getAttribute(attr)));
  }
}

// A button that flips between the two languages (its own label is the other language's name).
export function languageToggle() {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "lang-toggle";
  const render = () => { button.textContent = current === "zh-CN" ? "English" : "中文"; };
  button.addEventListener("click", () => setLang(current === "zh-CN" ? "en" : "zh-CN"));
  document.addEventListener("langchange", render);
  render();
  return button;
}

document.documentElement.lang = current;
