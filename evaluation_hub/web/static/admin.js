// The admin page only calls the hub's API; every rule (who may confirm what) is enforced there.
"use strict";

const AXIS_START = 7;   // 07:00 Beijing time
const AXIS_END = 22;    // 22:00: evaluations past this are split across days (开评分离)
const CAPABILITY_NAMES = { camera: "摄像头", microphone: "麦克风", dual_screen: "双屏", speaker: "扬声器", id_reader: "身份证读卡器" };
const STATUS_NAMES = { available: "可用", maintenance: "维护中", retired: "已停用" };

const $ = (sel) => document.querySelector(sel);
let me = null;
let live = null;  // the server-sent event stream: booking changes trigger a refresh

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

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
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

// Beijing wall-clock parts of an ISO instant.
function beijing(iso) {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false,
  }).formatToParts(d);
  const get = (t) => parts.find((p) => p.type === t).value;
  return { date: `${get("year")}-${get("month")}-${get("day")}`, time: `${get("hour")}:${get("minute")}`,
           hours: Number(get("hour")) + Number(get("minute")) / 60 };
}

function windowText(b) {
  const s = beijing(b.starts_at), e = beijing(b.ends_at);
  return `${s.date} ${s.time}–${e.time}`;
}

async function showLogin() {
  if (live) { live.close(); live = null; }
  // Nothing of the previous user's venue may stay in the page for the next one.
  $("#pending tbody").replaceChildren();
  $("#timeline tbody").replaceChildren();
  $("#venue").replaceChildren();
  $("#day").value = "";
  $("#login-panel").hidden = false;
  $("#admin-panel").hidden = true;
  $("#who").hidden = true;
}

async function start() {
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    if (err.status === 401) return showLogin();
    return showMessage(err.message);
  }
  $("#login-panel").hidden = true;
  $("#who").hidden = false;
  $("#who-name").textContent = `${me.display_name || me.username}（${me.role_name}）`;
  const venues = await api("GET", "/api/venues");
  const select = $("#venue");
  select.replaceChildren();
  const mine = me.venue_id ? venues.filter((v) => v.id === me.venue_id) : venues;
  for (const v of mine) select.append(el("option", { value: v.id, textContent: v.name }));
  if (!$("#day").value) {
    const pending = await api("GET", `/api/bookings?state=requested`);
    $("#day").value = pending.length ? beijing(pending[0].starts_at).date : beijing(new Date().toISOString()).date;
  }
  $("#admin-panel").hidden = false;
  await refresh();
  if (live) live.close();
  live = new EventSource("/api/events");
  live.onmessage = () => refresh();
}

async function refresh() {
  const venueId = Number($("#venue").value);
  if (!venueId) return;
  try {
    await Promise.all([renderPending(venueId), renderTimeline(venueId)]);
  } catch (err) {
    showMessage(err.message);
  }
}

async function renderPending(venueId) {
  const pending = await api("GET", `/api/bookings?venue_id=${venueId}&state=requested`);
  const body = $("#pending tbody");
  body.replaceChildren();
  $("#no-pending").hidden = pending.length > 0;
  for (const b of pending) {
    const free = await api("GET", `/api/seats?venue_id=${venueId}&free_from=${encodeURIComponent(b.starts_at)}&free_to=${encodeURIComponent(b.ends_at)}`);
    const held = b.seats.filter((s) => s.live);
    const choices = [...held.map((s) => ({ id: s.seat_id, label: s.label, checked: true })),
                     ...free.map((s) => ({ id: s.id, label: s.label, checked: false }))];
    const seatCell = el("td", { class: "seat-choices" });
    for (const c of choices) {
      seatCell.append(el("label", { class: "seat-choice" },
        el("input", { type: "checkbox", value: c.id, checked: c.checked, "data-booking": b.id }), ` ${c.label}`));
    }
    if (!choices.length) seatCell.textContent = "该时段无空闲工位";
    const reason = el("input", { placeholder: "拒绝原因（可选）", class: "reject-reason" });
    const confirmBtn = el("button", { type: "button", textContent: "确认", class: "confirm" });
    const rejectBtn = el("button", { type: "button", textContent: "拒绝", class: "reject" });
    confirmBtn.addEventListener("click", async () => {
      const ids = [...seatCell.querySelectorAll("input:checked")].map((i) => Number(i.value));
      try {
        await api("POST", `/api/bookings/${b.id}/confirm`, { seat_ids: ids });
        showMessage(`预约 #${b.id} 已确认，分配工位 ${ids.length} 个。`, true);
        await refresh();
      } catch (err) { showMessage(err.message); }
    });
    rejectBtn.addEventListener("click", async () => {
      try {
        await api("POST", `/api/bookings/${b.id}/reject`, { reason: reason.value });
        showMessage(`预约 #${b.id} 已拒绝。`, true);
        await refresh();
      } catch (err) { showMessage(err.message); }
    });
    body.append(el("tr", { "data-booking": b.id },
      el("td", { textContent: `#${b.id}` }),
      el("td", { textContent: `评标会 #${b.session_id}（${b.requested_by}）` }),
      el("td", { textContent: windowText(b) }),
      el("td", { textContent: `${b.seat_count} 个` }),
      seatCell,
      el("td", { textContent: `${beijing(b.expires_at).date} ${beijing(b.expires_at).time}` }),
      el("td", {}, confirmBtn, " ", rejectBtn, " ", reason)));
  }
}

function axisHtml() {
  const axis = el("div", { class: "axis" });
  for (let h = AXIS_START; h <= AXIS_END; h += 1) {
    axis.append(el("span", { textContent: `${h}:00`, style: `left:${((h - AXIS_START) / (AXIS_END - AXIS_START)) * 100}%` }));
  }
  return axis;
}

async function renderTimeline(venueId) {
  const day = $("#day").value;
  const data = await api("GET", `/api/venues/${venueId}/timeline?date=${day}`);
  $("#timeline-day").textContent = `${data.venue.name} · ${data.date}`;
  $("#timeline thead .axis-head").replaceChildren(axisHtml());
  const body = $("#timeline tbody");
  body.replaceChildren();
  for (const seat of data.seats) {
    const track = el("div", { class: "track" });
    for (const h of seat.holds) {
      const s = beijing(h.starts_at), e = beijing(h.ends_at);
      const from = Math.max(s.date < data.date ? AXIS_START : s.hours, AXIS_START);
      const to = Math.min(e.date > data.date ? AXIS_END : e.hours, AXIS_END);
      const span = AXIS_END - AXIS_START;
      track.append(el("span", {
        class: `hold ${h.state}`,
        title: `预约 #${h.booking_id} · 评标会 #${h.session_id} · ${h.state_name} · ${s.time}–${e.time}`,
        textContent: `#${h.booking_id} ${h.state_name}`,
        style: `left:${((from - AXIS_START) / span) * 100}%;width:${((to - from) / span) * 100}%`,
      }));
    }
    body.append(el("tr", { "data-seat": seat.id },
      el("td", { textContent: seat.label }),
      el("td", { textContent: seat.room }),
      el("td", { textContent: seat.capabilities.map((c) => CAPABILITY_NAMES[c] || c).join("、") }),
      el("td", { textContent: (STATUS_NAMES[seat.status] || seat.status) + (seat.shared ? "" : "（未共享）"), class: `status-${seat.status}` }),
      el("td", {}, track)));
  }
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
  me = null;
  showMessage("");
  await showLogin();
});
$("#refresh").addEventListener("click", refresh);
$("#venue").addEventListener("change", refresh);
$("#day").addEventListener("change", refresh);
start();
