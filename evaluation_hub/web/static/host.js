// The host site's page (主场): allocation and bookings, the session's lifecycle, fault clocks,
// check-in PINs. Everything is decided by the API; this page only shows and asks.
"use strict";

let venues = {};
let live = null;

const sessionId = () => Number($("#session").value);

async function signedIn() {
  venues = Object.fromEntries((await api("GET", "/api/venues")).map((v) => [v.id, v.name]));
  const sessions = await api("GET", "/api/sessions");
  $("#session").replaceChildren(...sessions.map((s) =>
    el("option", { value: s.id, textContent: `${s.project_name} ${s.section}（${beijingText(s.starts_at)}）` })));
  await refresh();
  if (live) live.close();
  live = new EventSource("/api/events");
  live.onmessage = () => refresh();
}

function signedOut() {
  if (live) { live.close(); live = null; }
  for (const sel of ["#session", "#actions", "#due", "#bookings tbody", "#pins tbody", "#history tbody"]) {
    $(sel).replaceChildren();
  }
  $("#pins").hidden = true;
  $("#state").textContent = "";
  $("#draw").textContent = "";
}

async function refresh() {
  if (!sessionId()) return;
  try {
    await Promise.all([renderLifecycle(), renderBookings()]);
  } catch (err) { showMessage(err.message); }
}

function renderLifecycleView(view) {
  $("#state").textContent = `当前状态：${view.state_name}`;
  $("#actions").replaceChildren(...view.allowed_actions.map((a) => {
    const button = el("button", { type: "button", textContent: a.name, "data-action": a.action });
    button.addEventListener("click", () => act(a));
    return button;
  }));
  $("#due").replaceChildren(...view.due.map((d) =>
    el("li", { class: d.due_now ? "due-now" : "", textContent: `${d.due_now ? "【已到期】" : "【待到期】"}${beijingText(d.due_at)} ${d.message}` })));
  $("#no-due").hidden = view.due.length > 0 || Boolean(view.fault_started_at);
  $("#history tbody").replaceChildren(...view.transitions.map((t) =>
    el("tr", {}, el("td", { textContent: beijingText(t.at) }), el("td", { textContent: t.action_name }),
       el("td", { textContent: t.actor }), el("td", { textContent: t.reason }))));
}

async function renderLifecycle() {
  renderLifecycleView(await api("GET", `/api/sessions/${sessionId()}/lifecycle`));
}

async function act(action) {
  try {
    const body = { action: action.action };
    if ($("#reason").value.trim()) body.reason = $("#reason").value;
    renderLifecycleView(await api("POST", `/api/sessions/${sessionId()}/actions`, body));
    $("#reason").value = "";
    showMessage(`已${action.name}。`, true);
  } catch (err) { showMessage(err.message); }
}

async function fault(fixed) {
  try {
    const body = fixed ? { fixed: true } : { note: $("#fault-note").value };
    renderLifecycleView(await api("POST", `/api/sessions/${sessionId()}/fault`, body));
    showMessage(fixed ? "已登记故障排除。" : "已登记故障，开始计时。", true);
    if (!fixed) $("#fault-note").value = "";
  } catch (err) { showMessage(err.message); }
}

async function renderBookings() {
  const bookings = await api("GET", `/api/bookings?session_id=${sessionId()}`);
  $("#bookings tbody").replaceChildren(...bookings.map((b) => el("tr", { "data-booking": b.id },
    el("td", { textContent: `#${b.id}` }),
    // A drawn venue stays hidden from the host until the session starts (四不知).
    el("td", { textContent: b.venue_id === null ? "（抽取结果保密至评标开始）" : venues[b.venue_id] }),
    el("td", { textContent: b.seats.filter((s) => s.live).map((s) => s.label).join("、") }),
    el("td", { textContent: `${b.seat_count}` }),
    el("td", { textContent: b.state_name }),
    el("td", { textContent: b.state === "requested" ? beijingText(b.expires_at) : "" }))));
}

async function allocate(policy) {
  try {
    const result = await api("POST", `/api/sessions/${sessionId()}/allocation`,
      policy === "nearest" ? { policy, book: true } : { policy });
    if (policy === "random") {
      $("#draw").textContent = `随机抽取承诺值（开始后公开种子供复核）：${result.commitment}`;
      showMessage(`已随机抽取并向 ${result.booking_count} 个场地申请预约。`, true);
    } else {
      showMessage(`已就近分配 ${result.assignments.length} 名专家，总距离 ${result.total_distance_km} 公里，并申请预约。`, true);
    }
    await refresh();
  } catch (err) { showMessage(err.message); }
}

async function issuePins() {
  try {
    const result = await api("POST", `/api/sessions/${sessionId()}/checkin-pins`);
    $("#pins tbody").replaceChildren(...result.pins.map((p) => el("tr", {},
      el("td", { textContent: `${p.expert_code} ${p.expert_name}` }), el("td", { textContent: p.venue_name }),
      el("td", { textContent: p.seat_label }), el("td", { class: "pin", textContent: p.pin }))));
    $("#pins").hidden = false;
    showMessage(result.note, true);
  } catch (err) { showMessage(err.message); }
}

$("#refresh").addEventListener("click", refresh);
$("#session").addEventListener("change", refresh);
$("#fault-report").addEventListener("click", () => fault(false));
$("#fault-fixed").addEventListener("click", () => fault(true));
$("#allocate-nearest").addEventListener("click", () => allocate("nearest"));
$("#allocate-random").addEventListener("click", () => allocate("random"));
$("#issue-pins").addEventListener("click", issuePins);
setupSignIn("#host-panel", signedIn, signedOut);
