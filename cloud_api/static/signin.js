// Sign-in for every GridWatch page: then on to where the person was going, or to their app.
import { api, ApiError } from "/ui/common/api.js";
import { $ } from "/ui/common/dom.js";
import { applyI18n, languageToggle, t } from "/ui/common/i18n.js";

const HOME_BY_ROLE = [
  ["operator", "/ui/console/"], ["admin", "/ui/console/"], ["department", "/ui/console/"],
  ["installer", "/ui/installer/"], ["worker", "/ui/worker/"],
];

function destination(me) {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only a path on this site: an open redirect would hand the session page to anyone.
  if (next.startsWith("/") && !next.startsWith("//")) return next;
  const home = HOME_BY_ROLE.find(([role]) => me.roles.includes(role));
  return home ? home[1] : "/ui/console/";
}

// The phone apps (and any touch screen) ask for a session that lasts: the server grants it to
// workers and installers only (docs/api-access.md).
function onAPhone() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/ui\/(worker|installer)\//.test(next) || matchMedia("(pointer: coarse)").matches;
}

function showError(box, err) {
  box.hidden = false;
  if (err instanceof ApiError && err.status === 429) {
    const seconds = err.body?.retry_after ?? "60";
    box.textContent = t("signin.slow_down", { seconds });
  } else if (err instanceof ApiError && err.status === 401) {
    box.textContent = t("signin.failed");
  } else {
    box.textContent = t("app.error", { message: err.message });
  }
}

let signedIn = null;

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("#signin-submit");
  button.disabled = true;
  $("#signin-error").hidden = true;
  try {
    signedIn = await api.post("/api/v1/auth/sign-in", {
      username: $("#username").value.trim(), password: $("#password").value, phone: onAPhone(),
    });
    if (signedIn.me.must_change_password) {
      $("#signin-form").hidden = true;
      $("#password-form").hidden = false;
      $("#new-password").focus();
    } else {
      location.assign(destination(signedIn.me));
    }
  } catch (err) {
    showError($("#signin-error"), err);
  } finally {
    button.disabled = false;
  }
});

$("#password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api.post("/api/v1/auth/password", { current_password: $("#password").value, new_password: $("#new-password").value });
    location.assign(destination(signedIn.me));
  } catch (err) {
    showError($("#password-error"), err);
  }
});

$("#lang").append(languageToggle());
applyI18n(document);
$("#username").focus();
