// The venue admin's page: seat directory timeline and booking requests to confirm or reject.
"use strict";

const AXIS_START = 7;   // 07:00 Beijing time
const AXIS_END = 22;    // 22:00: evaluations past this are split across days (开评分离)
const CAPABILITY_NAMES = { camera: "摄像头", microphone: "麦克风", dual_screen: "双屏", speaker: "扬声器", id_reader: "身份证读卡器" };
const STATUS_NAMES = { available: "可用", maintenance: "维护中", retired: "已停用" };

let live = null;  // the server-sent event stream: booking changes trigger a refresh

function windowText(b) {
  const s = beijing(b.starts_at), e = beijing(b.ends_at);
  return `${s.date} ${s.time}–${e.time}`;
}

async function signedIn(me) {
  const venues = await api("GET", "/api/venues");
  const select = $("#venue");
  select.replaceChildren();
  const mine = me.venue_id ? venues.filter((v) => v.id === me.venue_id) : venues;
  for (const v of mine) select.append(el("option", { value: v.id, textContent: v.name }));
  if (!$("#day").value) {
    const pending = await api("GET", `/api/bookings?state=requested`);
    $("#day").value = pending.length ? beijing(pending[0].starts_at).date : beijing(new Date().toISOString()).date;
  }
  await refresh();
  if (live) live.close();
  live = new EventSource("/api/events");
  live.onmessage = () => refresh();
}

function signedOut() {
  // Nothing of the previous user's venue may stay in the page for the next one.
  if (live) { live.close(); live = null; }
  $("#pending tbody").replaceChildren();
  $("#timeline tbody").replaceChildren();
  $("#venue").replaceChildren();
  $("#day").value = "";
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
  const rows = [];
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
    rows.push(el("tr", { "data-booking": b.id },
      el("td", { textContent: `#${b.id}` }),
      el("td", { textContent: `评标会 #${b.session_id}（${b.requested_by}）` }),
      el("td", { textContent: windowText(b) }),
      el("td", { textContent: `${b.seat_count} 个` }),
      seatCell,
      el("td", { textContent: beijingText(b.expires_at) }),
      el("td", {}, confirmBtn, " ", rejectBtn, " ", reason)));
  }
  // Swap the rows in at once, so a reader never sees a half-built table.
  $("#pending tbody").replaceChildren(...rows);
  $("#no-pending").hidden = pending.length > 0;
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
  const rows = [];
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
    rows.push(el("tr", { "data-seat": seat.id },
      el("td", { textContent: seat.label }),
      el("td", { textContent: seat.room }),
      el("td", { textContent: seat.capabilities.map((c) => CAPABILITY_NAMES[c] || c).join("、") }),
      el("td", { textContent: (STATUS_NAMES[seat.status] || seat.status) + (seat.shared ? "" : "（未共享）"), class: `status-${seat.status}` }),
      el("td", {}, track)));
  }
  $("#timeline tbody").replaceChildren(...rows);
}

$("#refresh").addEventListener("click", refresh);
$("#venue").addEventListener("change", refresh);
$("#day").addEventListener("change", refresh);
setupSignIn("#admin-panel", signedIn, signedOut);
