// The venue admin's page: seat directory timeline, booking requests to confirm or reject, and
// seat terminal enrolments (工位终端登记) to approve by the code the terminal printed.
//
// A refresh (button, venue/day change, an action, or a live event from the server) loads
// everything first and then swaps all tables in at once; only the newest refresh may render,
// and signing out cancels the ones in flight. So a slow, older refresh can never overwrite a
// newer page nor bring a signed-out user's data back, and what the admin has typed or ticked
// in a row survives the row being re-rendered.
"use strict";

const AXIS_START = 7;   // 07:00 Beijing time
const AXIS_END = 22;    // 22:00: evaluations past this are split across days (开评分离)
const CAPABILITY_NAMES = { camera: "摄像头", microphone: "麦克风", dual_screen: "双屏", speaker: "扬声器", id_reader: "身份证读卡器" };
const STATUS_NAMES = { available: "可用", maintenance: "维护中", retired: "已停用" };

let live = null;  // the server-sent event stream: booking and enrolment changes trigger a refresh
let generation = 0;  // bumped by each refresh and by signing out; only the newest renders

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
  const stream = new EventSource("/api/events");
  live = stream;
  // Whatever changed before the stream was (re)opened sent no event to this page: re-read once
  // it is open, then say so (tests wait for data-live="open" before changing things).
  stream.onopen = async () => {
    await refresh();
    if (live === stream) $("#admin-panel").dataset.live = "open";
  };
  stream.onerror = () => { if (live === stream) delete $("#admin-panel").dataset.live; };
  stream.onmessage = () => refresh();
}

function signedOut() {
  // Nothing of the previous user's venue may stay in the page for the next one.
  if (live) { live.close(); live = null; }
  delete $("#admin-panel").dataset.live;
  generation += 1;  // a refresh still loading must not render after this
  $("#pending tbody").replaceChildren();
  $("#timeline tbody").replaceChildren();
  $("#enrolments tbody").replaceChildren();
  $("#venue").replaceChildren();
  $("#day").value = "";
}

async function refresh() {
  const venueId = Number($("#venue").value);
  if (!venueId) return;
  const mine = ++generation;
  let loaded;
  try {
    loaded = await Promise.all([loadPending(venueId), loadTimeline(venueId), loadEnrolments(venueId)]);
  } catch (err) {
    if (mine === generation) showMessage(err.message);
    return;
  }
  if (mine !== generation) return;  // a newer refresh, or a sign-out, started meanwhile
  const [pending, timeline, enrolments] = loaded;
  renderPending(pending);
  renderTimeline(timeline);
  renderEnrolments(enrolments);
}

// Carry what the admin typed or ticked in a row (inputs with data-field) over to the row that
// replaces it, and keep the focus in it.
function carryInputs(tbody, rows, key) {
  const before = new Map([...tbody.children].map((tr) => [tr.getAttribute(key), tr]));
  const focused = document.activeElement;
  for (const tr of rows) {
    const old = before.get(tr.getAttribute(key));
    if (!old) continue;
    for (const input of tr.querySelectorAll("input[data-field]")) {
      const prev = old.querySelector(`input[data-field="${input.getAttribute("data-field")}"]`);
      if (!prev) continue;
      if (input.type === "checkbox") input.checked = prev.checked;
      else input.value = prev.value;
      if (prev === focused) queueMicrotask(() => input.focus());
    }
  }
}

async function loadPending(venueId) {
  const pending = await api("GET", `/api/bookings?venue_id=${venueId}&state=requested`);
  const free = await Promise.all(pending.map((b) => api("GET",
    `/api/seats?venue_id=${venueId}&free_from=${encodeURIComponent(b.starts_at)}&free_to=${encodeURIComponent(b.ends_at)}`)));
  return pending.map((b, i) => ({ booking: b, free: free[i] }));
}

async function loadTimeline(venueId) {
  return api("GET", `/api/venues/${venueId}/timeline?date=${$("#day").value}`);
}

async function loadEnrolments(venueId) {
  try {
    return await api("GET", `/api/venues/${venueId}/seat-enrolments`);
  } catch (err) {
    if (err.status === 403) return null;  // not this user's to decide: the section is hidden
    throw err;
  }
}

function renderPending(pending) {
  const rows = [];
  for (const { booking: b, free } of pending) {
    const held = b.seats.filter((s) => s.live);
    const choices = [...held.map((s) => ({ id: s.seat_id, label: s.label, checked: true })),
                     ...free.map((s) => ({ id: s.id, label: s.label, checked: false }))];
    const seatCell = el("td", { class: "seat-choices" });
    for (const c of choices) {
      seatCell.append(el("label", { class: "seat-choice" },
        el("input", { type: "checkbox", value: c.id, checked: c.checked, "data-booking": b.id, "data-field": `seat-${c.id}` }), ` ${c.label}`));
    }
    if (!choices.length) seatCell.textContent = "该时段无空闲工位";
    const reason = el("input", { placeholder: "拒绝原因（可选）", class: "reject-reason", "data-field": "reason" });
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
  carryInputs($("#pending tbody"), rows, "data-booking");
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

function renderTimeline(data) {
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

// The enrolment code as the terminal shows it: 25 digits in five groups of five. Whatever the
// admin types (spaces, dashes, full-width digits) is shown in that form, with a count, so each
// group can be compared with the terminal's screen in turn. The hub checks the code itself.
const CODE_DIGITS = 25;

function codeDigits(text) {
  return [...text.normalize("NFKC")].filter((ch) => ch >= "0" && ch <= "9").join("").slice(0, CODE_DIGITS);
}

function groupCode(input, progress) {
  const digits = codeDigits(input.value);
  const grouped = digits.replace(/(\d{5})(?=\d)/g, "$1 ");
  if (input.value !== grouped) input.value = grouped;
  progress.textContent = `${digits.length}/${CODE_DIGITS} 位`;
  progress.classList.toggle("complete", digits.length === CODE_DIGITS);
}

function renderEnrolments(list) {
  $("#enrolment-section").hidden = list === null;
  const shown = (list || []).filter((r) => r.status !== "revoked");
  const rows = [];
  for (const r of shown) {
    const cells = [
      el("td", { textContent: r.seat_label }),
      el("td", { textContent: beijingText(r.requested_at) }),
      el("td", { textContent: r.status_name, class: `enrolment-${r.status}` }),
    ];
    const revokeBtn = el("button", { type: "button", class: "revoke",
      textContent: r.status === "pending" ? "驳回" : "吊销" });
    revokeBtn.addEventListener("click", async () => {
      try {
        await api("POST", `/api/seat-enrolments/${r.id}/revoke`);
        showMessage(r.status === "pending" ? `工位 ${r.seat_label} 的终端登记申请已驳回。`
          : `工位 ${r.seat_label} 的终端登记已吊销，该终端须重新登记。`, true);
        await refresh();
      } catch (err) { showMessage(err.message); }
    });
    if (r.status === "pending") {
      const code = el("input", { class: "enrolment-code", placeholder: "终端屏幕上的 25 位登记码",
        title: "25 位数字，每 5 位一组：请逐组与评标终端屏幕核对",
        maxLength: 40, inputMode: "numeric", autocomplete: "off", spellcheck: false, "data-field": "code" });
      const progress = el("span", { class: "code-progress", textContent: `0/${CODE_DIGITS} 位` });
      code.addEventListener("input", () => groupCode(code, progress));
      const approveBtn = el("button", { type: "button", textContent: "批准", class: "approve" });
      approveBtn.addEventListener("click", async () => {
        try {
          await api("POST", `/api/seat-enrolments/${r.id}/approve`, { enrolment_code: code.value });
          showMessage(`工位 ${r.seat_label} 的终端登记已批准，该终端现在可以连接评标系统。`, true);
          await refresh();
        } catch (err) { showMessage(err.message); }
      });
      cells.push(el("td", {}, code, " ", progress), el("td", {}, approveBtn, " ", revokeBtn));
    } else {
      cells.push(el("td", { textContent: "—" }), el("td", {}, revokeBtn));
    }
    rows.push(el("tr", { "data-enrolment": r.id, "data-seat-key": r.seat_key }, ...cells));
  }
  carryInputs($("#enrolments tbody"), rows, "data-enrolment");
  for (const tr of rows) {
    const input = tr.querySelector("input.enrolment-code");
    if (input) groupCode(input, tr.querySelector(".code-progress"));
  }
  $("#enrolments tbody").replaceChildren(...rows);
  $("#no-enrolments").hidden = list === null || shown.length > 0;
}

$("#refresh").addEventListener("click", refresh);
$("#venue").addEventListener("change", refresh);
$("#day").addEventListener("change", refresh);
setupSignIn("#admin-panel", signedIn, signedOut);
