// The talk-back panel (喊话与通知) of the host console and the supervision wall: send a text
// announcement to one seat or to every seat of the session chosen in the page's #session, or
// hold 按住讲话 to speak to them: the microphone goes to the hub over WebRTC while the button is
// held (the hub forwards it to the seats and records the turn); releasing it ends the turn.
// It holds no rules: the hub lists the seats the caller may address (an away supervisor only
// their venue's) and refuses anything else in its own words.
"use strict";

const talkback = { sessionId: "", data: null };

// The panel's controls, the same on every page that has a #talkback-panel (written once, here).
$("#talkback-panel").replaceChildren(
  el("h2", { textContent: "喊话与通知" }),
  el("p", { class: "hint", id: "talkback-scope" }),
  el("div", { class: "talkback-form" },
    el("label", {}, "发送给 ", el("select", { id: "talkback-target", "data-testid": "talkback-target" })),
    el("textarea", { id: "talkback-text", "data-testid": "talkback-text", maxLength: 500, rows: 2,
      placeholder: "通知内容（最多 500 字），专家页面将显示发送人身份和时间" }),
    el("button", { type: "button", id: "talkback-send", textContent: "发送通知" }),
    el("button", { type: "button", id: "talkback-talk", title: "按住按钮向所选工位讲话，松开结束",
      textContent: "按住讲话" })),
  el("p", { id: "talkback-message", "data-testid": "talkback-message" }),
  el("ul", { id: "talkback-history", "data-testid": "talkback-history" }));
$("#talkback-message").setAttribute("role", "status");

function talkbackSay(text, ok) {
  const box = $("#talkback-message");
  box.textContent = text;
  box.className = ok ? "ok" : "problem";
}

function talkbackTime(iso) {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(iso));
}

function talkbackHistory(entries) {
  $("#talkback-history").replaceChildren(...entries.map((e) => {
    const what = e.kind === "text" ? `：${e.text}` : `（${e.duration_s === null ? "进行中" : e.duration_s + " 秒"}）`;
    return el("li", { "data-id": String(e.id), textContent:
      `${talkbackTime(e.sent_at)} ${e.role_name} ${e.sender} → ${e.to_name} ${e.kind_name}${what}` });
  }));
}

function talkbackHide() {
  talkback.data = null;
  $("#talkback-panel").hidden = true;
  $("#talkback-target").replaceChildren();
  $("#talkback-history").replaceChildren();
  $("#talkback-message").textContent = "";
}

// A page may offer the panel to some roles only (data-roles): the host console is the host
// operator's, read-only for everyone else; supervisors speak from the wall.
async function talkbackForMe() {
  const roles = $("#talkback-panel").dataset.roles;
  if (!roles) return true;
  try {
    const me = await api("GET", "/api/me");
    return roles.split(" ").includes(me.role);
  } catch (err) { return false; }
}

async function talkbackLoad() {
  const id = $("#session").value;
  if (id && !(await talkbackForMe())) return talkbackHide();
  if (id !== talkback.sessionId) $("#talkback-message").textContent = "";
  talkback.sessionId = id;
  if (!id) return talkbackHide();
  let data;
  try {
    data = await api("GET", `/api/sessions/${id}/talkback`);
  } catch (err) {
    // Not one who may speak to this session's seats (a venue admin, a system administrator).
    if (err.status === 403 || err.status === 404) return talkbackHide();
    $("#talkback-panel").hidden = false;
    return talkbackSay(err.message, false);
  }
  if (id !== $("#session").value) return;  // another session was chosen meanwhile
  talkback.data = data;
  $("#talkback-panel").hidden = false;
  const target = $("#talkback-target");
  const chosen = target.value;
  const options = [];
  if (data.everyone) options.push(el("option", { value: "", textContent: "全部工位" }));
  for (const seat of data.seats) {
    const expert = seat.expert_code ? `（专家 ${seat.expert_code}）` : "";
    options.push(el("option", { value: String(seat.seat_id),
      textContent: `${seat.venue_name} ${seat.label}${expert}` }));
  }
  target.replaceChildren(...options);
  if ([...target.options].some((o) => o.value === chosen)) target.value = chosen;
  $("#talkback-scope").textContent = !data.on
    ? `评标会当前状态为「${data.state_name}」，工位只在签到开始至评审结束期间接收通知和喊话。`
    : data.everyone ? "可向本评标会任一工位或全部工位发送通知。" : "客场监督：仅可向本场地的工位发送通知。";
  const usable = data.on && options.length > 0;
  $("#talkback-send").disabled = !usable;
  $("#talkback-talk").disabled = !usable;
  talkbackHistory(data.history);
}

async function talkbackSend() {
  const id = talkback.sessionId;
  const raw = $("#talkback-target").value;
  const body = { text: $("#talkback-text").value };
  if (raw) body.seat_id = Number(raw);
  $("#talkback-send").disabled = true;
  try {
    const sent = await api("POST", `/api/sessions/${id}/announcements`, body);
    $("#talkback-text").value = "";
    talkbackSay(`已发送通知（${sent.to_name}）`, true);
  } catch (err) {
    talkbackSay(err.message, false);
  }
  await talkbackLoad();
}

// --- push to talk ----------------------------------------------------------------------------

let talking = null;  // the turn while the button is held: {pc, stream, talkId, released}

function talkGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);  // whatever was gathered by then
  });
}

function talkRelease(turn) {
  if (turn.pc) turn.pc.close();
  if (turn.stream) for (const t of turn.stream.getTracks()) t.stop();
  $("#talkback-talk").classList.remove("talking");
  $("#talkback-talk").textContent = "按住讲话";
}

async function talkStart(ev) {
  if (talking || $("#talkback-talk").disabled) return;
  ev.preventDefault();
  const turn = { pc: null, stream: null, talkId: null, released: false };
  talking = turn;
  $("#talkback-talk").classList.add("talking");
  $("#talkback-talk").textContent = "正在讲话（松开结束）";
  talkbackSay("正在连接……", true);
  const body = { type: "offer" };
  const raw = $("#talkback-target").value;
  if (raw) body.seat_id = Number(raw);
  try {
    turn.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    turn.pc = new RTCPeerConnection();
    for (const track of turn.stream.getAudioTracks()) turn.pc.addTrack(track, turn.stream);
    await turn.pc.setLocalDescription(await turn.pc.createOffer());
    await talkGathered(turn.pc);
    body.sdp = turn.pc.localDescription.sdp;
    const answer = await api("POST", `/api/sessions/${talkback.sessionId}/talkback/voice`, body);
    turn.talkId = answer.talk_id;
    await turn.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    talkbackSay(`正在向 ${answer.listening.join("、")} 喊话，松开按钮结束`, true);
  } catch (err) {
    talking = null;
    talkRelease(turn);
    if (turn.talkId !== null) api("DELETE", `/api/talkback/voice/${turn.talkId}`).catch(() => {});
    talkbackSay(err.name === "NotAllowedError" ? "浏览器未允许使用麦克风，无法喊话" : err.message, false);
    return;
  }
  if (turn.released) await talkStop();  // released while connecting
}

async function talkStop() {
  const turn = talking;
  if (!turn) return;
  turn.released = true;
  if (turn.talkId === null) return;  // still connecting: talkStart ends it once connected
  talking = null;
  talkRelease(turn);
  try {
    const ended = await api("DELETE", `/api/talkback/voice/${turn.talkId}`);
    talkbackSay(`喊话结束（${ended.duration_s} 秒）`, true);
  } catch (err) { talkbackSay(err.message, false); }
  await talkbackLoad();
}

$("#talkback-talk").addEventListener("pointerdown", talkStart);
for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
  $("#talkback-talk").addEventListener(name, talkStop);
}
// Leaving the page ends a turn still held.
window.addEventListener("pagehide", () => {
  if (talking && talking.talkId !== null) {
    fetch(`/api/talkback/voice/${talking.talkId}`, {
      method: "DELETE", keepalive: true, credentials: "same-origin", headers: { ...PAGE_HEADERS },
    }).catch(() => {});
  }
});

$("#talkback-send").addEventListener("click", talkbackSend);
$("#session").addEventListener("change", talkbackLoad);
// The pages fill (or empty, on sign-out) the session list after signing in: follow it.
new MutationObserver(talkbackLoad).observe($("#session"), { childList: true });
