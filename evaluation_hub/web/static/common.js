// Helpers shared by the hub's pages. Pages hold no rules: the API decides what each user may do.
"use strict";

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

function showMessage(text, ok = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
}

// Every call says it comes from the hub's own pages: the hub refuses a write authenticated by
// the sign-in cookie without this header (a cross-site form cannot send it).
const PAGE_HEADERS = { "X-Evaluation-Hub": "page" };

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? { ...PAGE_HEADERS } : { ...PAGE_HEADERS, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (res.status === 204) return null;
  const data = await res.json();
  if (!res.ok) {
    const err = new Error(data.detail || data.title || `请求失败（${res.status}）`);
    err.status = res.status;
    throw err;
  }
  return data;
}

// Answers can arrive out of order (a refresh asked before a change may answer after the page
// showed the change's own answer): newest(key, request) runs request() and returns its answer only
// if no later ask for the same key has started since, else undefined (the newer one will show).
const newestAsked = new Map();
async function newest(key, request) {
  const n = (newestAsked.get(key) || 0) + 1;
  newestAsked.set(key, n);
  const answer = await request();
  return newestAsked.get(key) === n ? answer : undefined;
}

// Beijing wall-clock parts of an ISO instant.
function beijing(iso) {
  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false,
  }).formatToParts(new Date(iso));
  const get = (t) => parts.find((p) => p.type === t).value;
  return { date: `${get("year")}-${get("month")}-${get("day")}`, time: `${get("hour")}:${get("minute")}`,
           hours: Number(get("hour")) + Number(get("minute")) / 60 };
}

function beijingText(iso) {
  const t = beijing(iso);
  return `${t.date} ${t.time}`;
}

// Sign-in for a page: `onSignedIn(me)` after a sign-in (or an existing session), `onSignedOut()`
// must clear everything the previous user saw.
function setupSignIn(panel, onSignedIn, onSignedOut) {
  async function signedOut() {
    onSignedOut();
    $("#login-panel").hidden = false;
    $(panel).hidden = true;
    $("#who").hidden = true;
  }
  async function start() {
    let me;
    try {
      me = await api("GET", "/api/me");
    } catch (err) {
      if (err.status === 401) return signedOut();
      return showMessage(err.message);
    }
    $("#login-panel").hidden = true;
    $("#who").hidden = false;
    $("#who-name").textContent = `${me.display_name || me.username}（${me.role_name}）`;
    $(panel).hidden = false;
    await onSignedIn(me);
  }
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    try {
      await api("POST", "/api/auth/token", { username: form.get("username"), password: form.get("password") });
      showMessage("");
      await start();
    } catch (err) { showMessage(err.message); }
  });
  $("#logout").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout");
    showMessage("");
    await signedOut();
  });
  start();
}
