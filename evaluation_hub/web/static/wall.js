// The supervisors' video wall (音视频监督): every seat the caller may watch, grouped by venue,
// live video from the hub, conduct alerts, per-tile media statistics. It holds no rules: the
// hub lists only the seats the caller may watch and refuses a viewer for any other seat.
"use strict";

const STATE_NAMES = { live: "在线", lost: "中断", connecting: "连接中", offline: "未推流" };
const STATS_INTERVAL_MS = 2000;
const RETRY_MS = 3000;

let me = null;
let events = null;        // EventSource of the selected session
let statsTimer = null;
const tiles = new Map();  // seat_id -> tile state
// For tests and diagnostics: the viewer peer connections by seat id.
window.wall = { viewers: new Map() };

const sessionId = () => $("#session").value;

function fmtTime(epochSeconds) {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(epochSeconds * 1000));
}

// --- tiles --------------------------------------------------------------------------------

function makeTile(seat) {
  const video = el("video", { autoplay: true, muted: true, playsInline: true });
  const node = el("div", { class: "tile", "data-seat-id": String(seat.seat_id), "data-seat-key": seat.seat_key },
    video,
    el("div", { class: "bar" },
      el("span", { class: "label", textContent: seat.label }),
      el("span", { class: "expert", textContent: seat.expert_code ? `专家 ${seat.expert_code}` : "未安排专家" }),
      el("span", { class: "state" }),
      el("span", { class: "badges" }),
      el("span", { class: "sound", textContent: "静音" })),
    el("div", { class: "stats", textContent: "—" }));
  const tile = { seat, node, video, pc: null, viewerId: null, alerts: new Map(), previous: null, retry: null };
  node.addEventListener("click", () => toggleEnlarged(tile));
  for (const alert of seat.alerts) tile.alerts.set(alert.kind, alert);
  setState(tile, seat.state);
  renderBadges(tile);
  return tile;
}

function setState(tile, state) {
  tile.state = state;
  tile.node.classList.remove("live", "lost", "connecting", "offline");
  tile.node.classList.add(state);
  tile.node.querySelector(".state").textContent = STATE_NAMES[state] || state;
  if ((state === "live" || state === "connecting") && !tile.pc) watch(tile);
}

function renderBadges(tile) {
  const box = tile.node.querySelector(".badges");
  box.replaceChildren(...[...tile.alerts.values()].map(
    (a) => el("span", { class: "badge", "data-kind": a.kind, textContent: a.label })));
}

function toggleEnlarged(tile) {
  const enlarge = !tile.node.classList.contains("enlarged");
  for (const other of tiles.values()) {
    other.node.classList.remove("enlarged");
    other.video.muted = true;
    other.node.querySelector(".sound").textContent = "静音";
  }
  if (enlarge) {
    tile.node.classList.add("enlarged");
    tile.video.muted = false;
    tile.node.querySelector(".sound").textContent = "正在收听";
    tile.video.play().catch(() => {});
  }
}

// --- viewer connections ---------------------------------------------------------------------

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 3000);  // send what was gathered; host candidates come first
  });
}

async function watch(tile) {
  const pc = new RTCPeerConnection();
  tile.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.addEventListener("track", (ev) => {
    stream.addTrack(ev.track);
    tile.video.srcObject = stream;
    tile.video.play().catch(() => {});
  });
  pc.addEventListener("connectionstatechange", () => {
    if (tile.pc === pc && (pc.connectionState === "failed" || pc.connectionState === "closed")) {
      stopViewer(tile);
      tile.retry = setTimeout(() => { tile.retry = null; if (!tile.pc && tile.state !== "offline") watch(tile); }, RETRY_MS);
    }
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await api("POST", `/api/sessions/${tile.seat.session_id}/live/seats/${tile.seat.seat_id}/viewers`,
      { type: "offer", sdp: pc.localDescription.sdp });
    if (tile.pc !== pc) { pc.close(); return; }
    tile.viewerId = answer.viewer_id;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    window.wall.viewers.set(tile.seat.seat_id, pc);
  } catch (err) {
    if (tile.pc === pc) {
      stopViewer(tile);
      if (err.status !== 403 && err.status !== 404) {
        tile.retry = setTimeout(() => { tile.retry = null; if (!tile.pc) watch(tile); }, RETRY_MS);
      } else {
        showMessage(err.message);
      }
    }
  }
}

function stopViewer(tile) {
  if (tile.retry) { clearTimeout(tile.retry); tile.retry = null; }
  if (tile.pc) tile.pc.close();
  if (tile.viewerId) api("DELETE", `/api/live/viewers/${tile.viewerId}`).catch(() => {});
  window.wall.viewers.delete(tile.seat.seat_id);
  tile.pc = null;
  tile.viewerId = null;
  tile.previous = null;
}

// --- statistics (from the browser's own receiving side) ---------------------------------------

async function updateStats(tile) {
  if (!tile.pc) return;
  const report = await tile.pc.getStats();
  let video = null;
  let pair = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") video = s;
    if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) pair = s;
  });
  if (!video) return;
  const now = { at: video.timestamp, bytes: video.bytesReceived, frames: video.framesDecoded || 0,
                lost: video.packetsLost || 0, received: video.packetsReceived || 0 };
  const prev = tile.previous;
  tile.previous = now;
  tile.node.dataset.framesDecoded = String(now.frames);
  if (!prev || now.at <= prev.at) return;
  const span = (now.at - prev.at) / 1000;
  const fps = (now.frames - prev.frames) / span;
  const kbps = ((now.bytes - prev.bytes) * 8) / span / 1000;
  const lost = now.lost - prev.lost;
  const got = now.received - prev.received;
  const loss = lost + got > 0 ? (100 * lost) / (lost + got) : 0;
  const rtt = pair && pair.currentRoundTripTime !== undefined ? `${Math.round(pair.currentRoundTripTime * 1000)} ms` : "—";
  tile.node.querySelector(".stats").textContent =
    `${fps.toFixed(1)} 帧/秒 · ${Math.round(kbps)} kbps · 丢包 ${loss.toFixed(1)}% · 往返 ${rtt}`;
}

async function updateAllStats() {
  for (const tile of tiles.values()) {
    try { await updateStats(tile); } catch (err) { /* a closing connection has no stats */ }
  }
}

// --- alerts and live events -------------------------------------------------------------------

function addFeed(event, tile) {
  const where = tile ? `${tile.seat.venue_name} ${tile.seat.label}` : event.seat_key;
  const cleared = event.cleared_at !== null && event.cleared_at !== undefined;
  const text = cleared
    ? `${fmtTime(event.cleared_at)} ${where} 解除：${event.label}`
    : `${fmtTime(event.started_at)} ${where} 告警：${event.label}`;
  const item = el("li", { class: cleared ? "cleared" : "raised", textContent: text });
  $("#feed").prepend(item);
  while ($("#feed").children.length > 200) $("#feed").lastElementChild.remove();
  $("#feed-empty").hidden = true;
}

function onEvent(message) {
  const event = JSON.parse(message.data);
  const tile = tiles.get(event.seat_id);
  if (event.type === "live.seat" && tile) {
    setState(tile, event.state);
  } else if (event.type === "live.alert") {
    // The stream opens with a snapshot of active alerts; one the wall already shows is not news.
    const known = tile && tile.alerts.get(event.kind);
    const repeated = known && known.started_at === event.started_at && event.cleared_at === null;
    if (tile) {
      if (event.cleared_at === null) tile.alerts.set(event.kind, event);
      else tile.alerts.delete(event.kind);
      renderBadges(tile);
    }
    if (!repeated) addFeed(event, tile);
  }
}

// --- session and sign-in ----------------------------------------------------------------------

function clearWall() {
  if (events) { events.close(); events = null; }
  for (const tile of tiles.values()) stopViewer(tile);
  tiles.clear();
  $("#wall").replaceChildren();
  $("#feed").replaceChildren();
  $("#feed-empty").hidden = false;
  $("#scope").textContent = "";
}

async function refresh() {
  clearWall();
  const id = sessionId();
  if (!id) return;
  let data;
  try {
    data = await api("GET", `/api/sessions/${id}/live/seats`);
  } catch (err) { showMessage(err.message); return; }
  $("#scope").textContent = data.scope === "all" ? "主场监督：本评标会全部工位" : "客场监督：仅本场地工位";
  const venues = new Map();
  for (const seat of data.seats) {
    seat.session_id = data.session_id;
    if (!venues.has(seat.venue_id)) {
      const grid = el("div", { class: "grid" });
      const section = el("section", { class: "venue", "data-venue-id": String(seat.venue_id) },
        el("h2", { textContent: seat.venue_name }), grid);
      venues.set(seat.venue_id, grid);
      $("#wall").append(section);
    }
    const tile = makeTile(seat);
    tiles.set(seat.seat_id, tile);
    venues.get(seat.venue_id).append(tile.node);
    // Alerts already active when the wall opens start the feed.
    for (const alert of seat.alerts) addFeed(alert, tile);
  }
  if (!data.seats.length) $("#wall").append(el("p", { class: "hint", textContent: "本评标会暂无您可观看的工位。" }));
  events = new EventSource(`/api/sessions/${id}/live/events`);
  events.addEventListener("message", onEvent);
}

async function signedIn(who) {
  me = who;
  let sessions;
  try {
    sessions = await api("GET", "/api/supervision/sessions");
  } catch (err) { showMessage(err.message); return; }
  const select = $("#session");
  select.replaceChildren();
  for (const s of sessions) {
    const role = s.role === "host" ? "主场" : "客场";
    select.append(el("option", { value: s.id, textContent: `#${s.id} ${s.project_name} ${s.section}（${role}）` }));
  }
  $("#no-sessions").hidden = sessions.length > 0;
  await refresh();
}

function signedOut() {
  // Nothing the previous supervisor saw may stay in the page for the next one.
  me = null;
  clearWall();
  $("#session").replaceChildren();
}

$("#session").addEventListener("change", refresh);
$("#refresh").addEventListener("click", refresh);
statsTimer = setInterval(updateAllStats, STATS_INTERVAL_MS);
window.addEventListener("beforeunload", clearWall);
setupSignIn("#wall-panel", signedIn, signedOut);
