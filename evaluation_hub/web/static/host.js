// The host site's page (主场): allocation and bookings, the host's own seats for host members,
// the session's lifecycle, fault clocks, check-in PINs, the committee's formation and the chair
// election's tally. Everything is decided by the API; this page only shows and asks.
"use strict";

let venues = {};
let live = null;
let sessionsById = {};

const sessionId = () => Number($("#session").value);

async function signedIn() {
  venues = Object.fromEntries((await api("GET", "/api/venues")).map((v) => [v.id, v.name]));
  const sessions = await api("GET", "/api/sessions");
  sessionsById = Object.fromEntries(sessions.map((s) => [s.id, s]));
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
  // What the previous user typed or saw of the committee goes with them.
  reasonDrafts.clear();
  ballotDrafts.clear();
  chairOutcomes.clear();
  clearCommittee();
  committeeMessage("");
  hostSeatDrafts.clear();
  hostSeatsShown = "";
  sessionsById = {};
  $("#host-seats tbody").replaceChildren();
  hostSeatsMessage("");
}

async function refresh() {
  if (!sessionId()) return;
  $("#console-link").href = `/console?session=${sessionId()}`;
  try {
    await Promise.all([renderLifecycle(), renderBookings(), renderCommittee(), renderHostSeats()]);
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

// The lifecycle is shown from the newest answer only: a refresh asked before an action could
// otherwise answer after it and show the state (and buttons) from before the action.
async function renderLifecycle() {
  const view = await newest("lifecycle", () => api("GET", `/api/sessions/${sessionId()}/lifecycle`));
  if (view) renderLifecycleView(view);
}

// An action's or fault's own answer; if a refresh was asked meanwhile, ask once more so that the
// last thing shown was read after the change.
async function showChanged(request) {
  let view;
  try {
    view = await newest("lifecycle", request);
  } catch (err) {
    await renderLifecycle().catch(() => {}); // a refresh it overtook must not be lost
    throw err;
  }
  if (view) renderLifecycleView(view);
  else await renderLifecycle();
}

async function act(action) {
  try {
    const body = { action: action.action };
    if ($("#reason").value.trim()) body.reason = $("#reason").value;
    await showChanged(() => api("POST", `/api/sessions/${sessionId()}/actions`, body));
    $("#reason").value = "";
    showMessage(`已${action.name}。`, true);
  } catch (err) { showMessage(err.message); }
}

async function fault(fixed) {
  try {
    const body = fixed ? { fixed: true } : { note: $("#fault-note").value };
    await showChanged(() => api("POST", `/api/sessions/${sessionId()}/fault`, body));
    showMessage(fixed ? "已登记故障排除。" : "已登记故障，开始计时。", true);
    if (!fixed) $("#fault-note").value = "";
  } catch (err) { showMessage(err.message); }
}

async function renderBookings() {
  const bookings = await newest("bookings", () => api("GET", `/api/bookings?session_id=${sessionId()}`));
  if (!bookings) return;
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

// 主场工位: the host venue's free seats for the session's window, each with the host member who
// will sit there. Booked like any seat: the host venue's admin confirms the request.
const hostSeatDrafts = new Map(); // `${session}:${seat}` → expert id chosen
let hostSeatsShown = "";

function hostSeatsMessage(text, ok = false) {
  const box = $("#host-seats-message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
}

async function renderHostSeats() {
  const sid = sessionId();
  const session = sessionsById[sid];
  if (!session) return;
  const window = `free_from=${encodeURIComponent(session.starts_at)}&free_to=${encodeURIComponent(session.ends_at)}`;
  const [seats, detail, committee] = await Promise.all([
    api("GET", `/api/seats?venue_id=${session.host_venue_id}&${window}`),
    api("GET", `/api/sessions/${sid}`),
    api("GET", `/api/sessions/${sid}/committee`),
  ]);
  if (sid !== sessionId()) return;
  const seated = new Set(committee.members.filter((m) => m.seat || m.decision === "recused").map((m) => m.code));
  const members = detail.experts.filter((e) => e.placement === "host" && !seated.has(e.code));
  const shown = JSON.stringify([sid, seats.map((s) => s.id), members.map((e) => e.id)]);
  if (shown === hostSeatsShown) return;
  hostSeatsShown = shown;
  $("#host-seats tbody").replaceChildren(...seats.map((seat) => {
    const draft = `${sid}:${seat.id}`;
    const select = el("select", { "data-seat": String(seat.id) },
      el("option", { value: "", textContent: "（不安排）" }),
      ...members.map((e) => el("option", { value: String(e.id), textContent: `${e.code} ${e.name}` })));
    if (members.some((e) => String(e.id) === hostSeatDrafts.get(draft))) select.value = hostSeatDrafts.get(draft);
    select.addEventListener("change", () => hostSeatDrafts.set(draft, select.value));
    return el("tr", { "data-seat": String(seat.id) },
      el("td", { textContent: seat.label }), el("td", { textContent: seat.room }), el("td", {}, select));
  }));
  const none = !seats.length ? "主场在本评标会时段没有空闲工位。"
    : !members.length ? "所有主场专家均已安排工位。" : "";
  $("#no-host-seats").textContent = none;
  $("#no-host-seats").hidden = !none;
  $("#book-host-seats").disabled = !seats.length || !members.length;
}

async function bookHostSeats() {
  const sid = sessionId();
  const chosen = [...$("#host-seats tbody").querySelectorAll("select")]
    .filter((s) => s.value)
    .map((s) => ({ seat_id: Number(s.dataset.seat), expert_id: Number(s.value) }));
  hostSeatsMessage("");
  if (!chosen.length) { hostSeatsMessage("请为至少一个工位选择主场专家。"); return; }
  try {
    const booking = await api("POST", `/api/sessions/${sid}/host-seats`, { seats: chosen });
    for (const key of [...hostSeatDrafts.keys()]) if (key.startsWith(`${sid}:`)) hostSeatDrafts.delete(key);
    hostSeatsMessage(`已申请主场工位（预约 #${booking.id}，${booking.seats.map((s) => s.label).join("、")}），待本场地管理员确认。`, true);
  } catch (err) { hostSeatsMessage(err.message); }
  hostSeatsShown = "";
  await refresh();
}

// 评标委员会组建: members' commitments and recusals, whether the confirmed members form a lawful
// committee, the chair election. The hub decides all of it (GET …/committee); the page shows
// its answer and posts what the host operator records, showing a refusal's detail in the panel.
const DECISION_NAMES = { pending: "待确认", confirmed: "已承诺", recused: "已回避" };
const reasonDrafts = new Map(); // `${session}:${expert}` → recusal reason being typed
const ballotDrafts = new Map(); // `${session}:${round}:${voter}` → candidate chosen
const chairOutcomes = new Map(); // `${session}:${round}` → the hub's answer to that round
let memberNames = {};
let committeeAsked = 0; // only the latest answer is shown, whatever order answers arrive in
let committeeShown = ""; // the answer on screen: an unchanged one is not redrawn (drafts stay)

const memberName = (code) => memberNames[code] || code;

function committeeMessage(text, ok = false) {
  const box = $("#committee-message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
}

function clearCommittee() {
  committeeShown = "";
  memberNames = {};
  for (const sel of ["#committee tbody", "#committee-problems", "#chair-rounds tbody", "#chair-ballots"]) {
    $(sel).replaceChildren();
  }
  for (const sel of ["#committee-lawful", "#chair-status", "#chair-form-title"]) $(sel).textContent = "";
  $("#committee-lawful").className = "";
  $("#chair-rounds").hidden = true;
  $("#chair-form").hidden = true;
}

async function renderCommittee() {
  const sid = sessionId();
  const asked = ++committeeAsked;
  let view;
  try {
    view = await api("GET", `/api/sessions/${sid}/committee`);
  } catch (err) {
    if (asked !== committeeAsked) return;
    clearCommittee();
    committeeMessage(err.message);
    return;
  }
  if (asked !== committeeAsked || sid !== sessionId()) return;
  const shown = JSON.stringify(view);
  if (shown === committeeShown) return;
  committeeShown = shown;
  showCommittee(view);
}

// A redraw keeps the field being typed in or chosen from focused (a member's reason, a ballot).
function focusedField() {
  const node = document.activeElement;
  if (!node || !["INPUT", "SELECT"].includes(node.tagName) || !$("#committee-panel").contains(node)) return null;
  const key = node.closest("[data-member]")?.dataset.member || node.dataset.voter;
  return key ? { tag: node.tagName, key, start: node.selectionStart, end: node.selectionEnd } : null;
}

function refocus(field) {
  if (!field) return;
  const node = field.tag === "SELECT"
    ? $(`#chair-ballots select[data-voter="${field.key}"]`)
    : $(`#committee tr[data-member="${field.key}"] input.recusal-reason`);
  if (!node) return;
  node.focus();
  if (field.tag === "INPUT" && field.start !== null) node.setSelectionRange(field.start, field.end);
}

function showCommittee(view) {
  const field = focusedField();
  drawCommittee(view);
  refocus(field);
}

function drawCommittee(view) {
  const sid = view.session_id;
  memberNames = Object.fromEntries(view.members.map((m) => [m.code, `${m.code} ${m.name}`]));

  const line = $("#committee-lawful");
  const counted = `已确认承诺 ${view.confirmed} 人，其中专家 ${view.experts} 人`;
  if (view.lawful) {
    line.textContent = `评标委员会组成合规：${counted}。`;
  } else {
    const more = view.experts_needed === null
      ? "增补专家也不能使组成合规"
      : `至少还需 ${view.experts_needed} 名专家确认承诺`;
    line.textContent = `评标委员会组成不合规：${counted}；${more}。`;
  }
  line.className = view.lawful ? "lawful" : "unlawful";
  $("#committee-problems").replaceChildren(...view.problems.map((p) => el("li", { textContent: p })));
  $("#committee tbody").replaceChildren(...view.members.map((m) => memberRow(sid, m)));

  const rounds = view.rounds;
  $("#chair-rounds").hidden = rounds.length === 0;
  $("#chair-rounds tbody").replaceChildren(...rounds.map((ballots, i) => roundRow(sid, view, i + 1, ballots)));
  const current = view.open_round;
  const next = current ? current.round : rounds.length + 1;
  const open = !view.chair && view.next_candidates.length > 0;
  if (view.chair) $("#chair-status").textContent = `主任委员：${memberName(view.chair)}`;
  else if (open) $("#chair-status").textContent = `第 ${next} 轮候选人：${view.next_candidates.map(memberName).join("、")}`;
  else $("#chair-status").textContent = "暂无主任委员候选人。";
  // Who has voted in the open round (not for whom: the tally shows once the round closes).
  $("#chair-progress").textContent = open && current
    ? `第 ${next} 轮已投票 ${current.voted.length} 人${current.voted.length ? "（" + current.voted.map(memberName).join("、") + "）" : ""}；` +
      `待投票 ${current.waiting.length} 人${current.waiting.length ? "（" + current.waiting.map(memberName).join("、") + "）" : ""}`
    : "";
  // The fallback: ballots typed in for confirmed members not at a seat who have not voted yet.
  const atSeat = (m) => m.seat && m.seat.checked_in;
  const voters = open && current
    ? view.members.filter((m) => m.decision === "confirmed" && !atSeat(m) && current.waiting.includes(m.code))
    : [];
  const form = $("#chair-form");
  form.hidden = voters.length === 0;
  form.dataset.round = String(next);
  $("#chair-form-title").textContent = voters.length ? `第 ${next} 轮代为登记（未在工位签到的成员，须说明原因）` : "";
  $("#chair-ballots").replaceChildren(...voters.map((v) => ballotField(sid, next, v, view.next_candidates)));
}

// Where a member sits: their side, the seat's venue and label, and whether they checked in.
function seatText(m) {
  const side = m.placement === "host" ? "主场" : "客场";
  if (!m.seat) return `${side}（未安排工位）`;
  return `${side} · ${m.seat.venue_name} ${m.seat.label}${m.seat.checked_in ? "（已签到）" : ""}`;
}

function memberRow(sid, m) {
  const decision = m.decision === "recused" ? `已回避（${m.reason}）` : DECISION_NAMES[m.decision];
  return el("tr", { "data-member": m.code, class: m.is_chair ? `${m.decision} is-chair` : m.decision },
    el("td", { textContent: `${m.code} ${m.name}` }),
    el("td", { class: "seat", textContent: seatText(m) }),
    el("td", { class: "decision", textContent: decision,
               title: m.decided_at ? `登记于 ${beijingText(m.decided_at)}` : "" }),
    el("td", { class: "chair", textContent: m.is_chair ? "主任委员" : "" }),
    el("td", {}, ...decisionControls(sid, m)));
}

function decisionControls(sid, m) {
  if (m.decision !== "pending") return [];
  if (m.placement !== "host" || (m.seat && m.seat.checked_in)) {
    return [el("span", { class: "hint", textContent: "由本人在工位确认承诺或声明回避" })];
  }
  const draft = `${sid}:${m.code}`;
  const reason = el("input", { class: "recusal-reason", placeholder: "回避事由（声明回避时必填）",
                               maxLength: 2000, value: reasonDrafts.get(draft) || "" });
  reason.addEventListener("input", () => reasonDrafts.set(draft, reason.value));
  const confirm = el("button", { type: "button", textContent: "确认承诺", "data-decide": "confirmed" });
  confirm.addEventListener("click", () => decide(sid, m.code, { decision: "confirmed" }));
  const recuse = el("button", { type: "button", textContent: "声明回避", "data-decide": "recused" });
  recuse.addEventListener("click", () => decide(sid, m.code, { decision: "recused", reason: reason.value }));
  return [el("div", { class: "buttons" }, confirm, reason, recuse)];
}

async function decide(sid, code, body) {
  committeeMessage("");
  try {
    const m = await api("POST",
      `/api/sessions/${sid}/committee/members/${encodeURIComponent(code)}/decision`, body);
    reasonDrafts.delete(`${sid}:${code}`);
    committeeMessage(m.decision === "recused"
      ? `已登记 ${m.code} ${m.name} 声明回避（${m.reason}）。`
      : `已登记 ${m.code} ${m.name} 确认评标纪律承诺。`, true);
  } catch (err) { committeeMessage(err.message); }
  await renderCommittee();
}

function outcomeText(outcome) {
  return outcome.chair
    ? `${memberName(outcome.chair)} 当选主任委员`
    : `${outcome.tied.map(memberName).join("、")} 票数相同，进入第 ${outcome.round + 1} 轮`;
}

function roundRow(sid, view, n, ballots) {
  // The tally is the hub's count of the round (the committee view's round_results), or its
  // answer when this page recorded the round.
  const outcome = (view.round_results || [])[n - 1] || chairOutcomes.get(`${sid}:${n}`);
  const last = n === view.rounds.length;
  let result = "—";
  if (outcome) result = outcomeText(outcome);
  else if (last && view.chair) result = `${memberName(view.chair)} 当选主任委员`;
  else if (last && view.next_candidates.length) {
    result = `${view.next_candidates.map(memberName).join("、")} 票数相同，进入第 ${n + 1} 轮`;
  } else if (!last) result = `未选出，进入第 ${n + 1} 轮`;
  return el("tr", { "data-round": String(n) },
    el("td", { textContent: `第 ${n} 轮` }),
    el("td", { class: "ballots", textContent: Object.entries(ballots).sort()
      .map(([v, c]) => `${v}→${c}${outcome && outcome.proxied && outcome.proxied[v] ? "（代录）" : ""}`).join("、") }),
    el("td", { class: "tally", textContent: outcome
      ? Object.entries(outcome.votes).map(([c, k]) => `${c} ${k} 票`).join("、") : "—" }),
    el("td", { class: "result", textContent: result }));
}

function ballotField(sid, round, voter, candidates) {
  const draft = `${sid}:${round}:${voter.code}`;
  const select = el("select", { "data-voter": voter.code },
    el("option", { value: "", textContent: "（未投票）" }),
    ...candidates.map((c) => el("option", { value: c, textContent: memberName(c) })));
  if (candidates.includes(ballotDrafts.get(draft))) select.value = ballotDrafts.get(draft);
  select.addEventListener("change", () => ballotDrafts.set(draft, select.value));
  return el("label", { class: "ballot" }, `${voter.code} ${voter.name} 投给 `, select);
}

async function submitChairRound(ev) {
  ev.preventDefault();
  const sid = sessionId();
  const round = $("#chair-form").dataset.round;
  const ballots = [...$("#chair-ballots").querySelectorAll("select")]
    .filter((s) => s.value)
    .map((s) => ({ voter: s.dataset.voter, candidate: s.value }));
  committeeMessage("");
  try {
    const outcome = await api("POST", `/api/sessions/${sid}/committee/chair-votes`,
      { ballots, reason: $("#chair-reason").value });
    for (const key of [...ballotDrafts.keys()]) {
      if (key.startsWith(`${sid}:${round}:`)) ballotDrafts.delete(key);
    }
    $("#chair-reason").value = "";
    if (outcome.closed) {
      chairOutcomes.set(`${sid}:${outcome.round}`, outcome);
      committeeMessage(`第 ${outcome.round} 轮：${outcomeText(outcome)}。`, true);
    } else {
      committeeMessage(`已代为登记第 ${outcome.round} 轮 ${ballots.length} 张选票；尚待 ${outcome.waiting.map(memberName).join("、")} 投票。`, true);
    }
  } catch (err) { committeeMessage(err.message); }
  await renderCommittee();
}

$("#refresh").addEventListener("click", refresh);
$("#session").addEventListener("change", () => { committeeMessage(""); refresh(); });
$("#chair-form").addEventListener("submit", submitChairRound);
$("#fault-report").addEventListener("click", () => fault(false));
$("#fault-fixed").addEventListener("click", () => fault(true));
$("#allocate-nearest").addEventListener("click", () => allocate("nearest"));
$("#allocate-random").addEventListener("click", () => allocate("random"));
$("#issue-pins").addEventListener("click", issuePins);
$("#book-host-seats").addEventListener("click", bookHostSeats);
setupSignIn("#host-panel", signedIn, signedOut);
