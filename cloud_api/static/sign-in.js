// The sign-in page: username and password, then (after a one-time password) one's own password.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const wanted = new URLSearchParams(location.search).get("next") || "/";
  // Only a path of this site: never send someone elsewhere after signing in.
  const next = wanted.startsWith("/") && !wanted.startsWith("//") ? wanted : "/";
  let current = "";

  const say = (text) => { $("#message").textContent = text; };
  const detail = async (resp) => { try { return (await resp.json()).detail; } catch (e) { return `HTTP ${resp.status}`; } };

  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    current = $("#password").value;
    const resp = await fetch("/api/v1/auth/sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: $("#username").value.trim(), password: current }),
      credentials: "same-origin",
    });
    if (!resp.ok) { say(resp.status === 401 ? "用户名或密码错误 · wrong username or password" : await detail(resp)); return; }
    const session = await resp.json();
    if (session.me.must_change_password) {
      $("#sign-in").hidden = true;
      $("#new-password").hidden = false;
      $("#new1").focus();
      return;
    }
    location.assign(next);
  });

  $("#new-password").addEventListener("submit", async (event) => {
    event.preventDefault();
    if ($("#new1").value !== $("#new2").value) { say("两次输入不一致 · the two passwords differ"); return; }
    const resp = await gw.fetch("/api/v1/auth/password", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ current_password: current, new_password: $("#new1").value }),
    });
    if (!resp.ok) { say(await detail(resp)); return; }
    location.assign(next);
  });
})();
