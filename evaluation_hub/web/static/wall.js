// The supervisors' video wall (音视频监督): every seat the caller may watch, grouped by venue,
// live video from the hub, conduct alerts, per-tile media statistics. It holds no rules: the
// hub lists only the seats the caller may watch and refuses a viewer for any other seat.
"use strict";

// control_lost: the picture still comes, but the seat's control link (scores, signatures) is
// down: the seat cannot take part until it is back.
const STATE_NAMES = {
  live: "在线", lost: "中断", connecting: "连接中", offline: "未推流", control_lost: "控制连接中断",
};
// States in which the seat's picture comes and a viewer is worth opening.
const WATCHABLE = new Set(["live", "connecting", "control_lost"]);
const STATS_INTERVAL_MS = 2000;
// A tile without a viewer tries again after a delay doubling from RETRY_MIN_MS up to RETRY_MAX_MS
// (each delay drawn within ±25% so walls do not retry in step); see "viewer connections".
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 30000;
// A connection "disconnected" this long is treated as failed (Chromium itself only gives up on
// it much later).
const DISCONNECTED_GRACE_MS = 5000;
// With Janus, a connected viewer of a live seat that decodes no frame this long is subscribed
// to a feed that is gone (see janusPublication) and is renewed.
const STALLED_MS = 4000;

let me = null;
let events = null;        // EventSource of the selected session
let statsTimer = null;
const tiles = new Map();  // seat_id -> tile state
// For tests and diagnostics: the viewer peer connections by seat id; how many viewers were
// reopened at once because their seat's media had moved to another hub process, and how many
// Janus subscriptions were renewed because their seat published anew.
window.wall = { viewers: new Map(), moved: 0, resubscribed: 0 };

const sessionId = () => $("#session").value;

// --- viewer connections ---------------------------------------------------------------------
//
// Each tile holds at most one viewer (one RTCPeerConnection to the hub) and at most one pending
// retry; an attempt starts only when the tile has neither, so a tile never has two requests in
// flight. A tile loses or never gets its viewer when:
// - the hub refuses it: 409 (the seat's viewer cap is reached, or the seat is not publishing
//   yet) or any other error. The hub's reason is shown on the tile instead of a silent black
//   picture. 401/403/404 are final (signed out, not allowed, no such seat): no retry, the reason
//   stays. Anything else is retried.
// - its connection fails: "failed" or "closed" (the hub closed this viewer, or the network
//   dropped), or "disconnected" for DISCONNECTED_GRACE_MS. The old viewer is closed on both
//   sides (DELETE; the hub may already have dropped it) and a new one is opened.
// Retries wait RETRY_MIN_MS, then twice as long each time up to RETRY_MAX_MS. The count goes
// back to zero only once a connection has stayed up RETRY_MAX_MS, so a viewer that connects
// and drops at once does not retry faster. The notice's 立即重试 button retries at once (the
// supervisor closed another window, say). Retrying stops when the tile is closed: another
// session or 刷新, sign-out, leaving the page; and while the seat is offline, until its next
// live event. Leaving the page releases every viewer at once (see releaseViewers).

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 3000);  // send what was gathered; host candidates come first
  });
}

function scheduleRetry(tile) {
  cancelRetry(tile);
  if (tile.closed) return;
  const delay = Math.min(RETRY_MIN_MS * 2 ** tile.attempts, RETRY_MAX_MS) * (0.75 + Math.random() / 2);
  tile.attempts += 1;
  tile.retry = setTimeout(() => {
    tile.retry = null;
    if (!tile.closed && !tile.pc && tile.state !== "offline") watch(tile);
  }, delay);
}

function cancelRetry(tile) {
  if (tile.retry) { clearTimeout(tile.retry); tile.retry = null; }
}

function retryNow(tile) {
  cancelRetry(tile);
  if (!tile.closed && !tile.pc) watch(tile);
}

function connectionLost(tile, pc) {
  if (tile.pc !== pc) return;
  if (tile.connectedAt !== null && performance.now() - tile.connectedAt >= RETRY_MAX_MS) tile.attempts = 0;
  stopViewer(tile);
  showNotice(tile, "观看连接中断，正在重新连接……", true);
  scheduleRetry(tile);
}

// Two media planes, one page: with the hub's built-in forwarder the page offers and the hub
// answers; with Janus (data.media "janus") the page asks to subscribe, Janus offers, and the
// page answers once with the one-time token the hub gave it. The reply's type says which.
async function watch(tile) {
  const pc = new RTCPeerConnection();
  tile.pc = pc;
  tile.stale = false;
  tile.stalledSince = null;
  const janus = tile.seat.media === "janus";
  if (!janus) {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  const stream = new MediaStream();
  pc.addEventListener("track", (ev) => {
    stream.addTrack(ev.track);
    tile.video.srcObject = stream;
    tile.video.play().catch(() => {});
  });
  pc.addEventListener("connectionstatechange", () => {
    if (tile.pc !== pc) return;
    const state = pc.connectionState;
    if (state !== "disconnected" && tile.disconnected) {
      clearTimeout(tile.disconnected);
      tile.disconnected = null;
    }
    if (state === "connected") {
      tile.connectedAt = performance.now();
      tile.republished = false;
      hideNotice(tile);
    } else if (state === "disconnected" && movedAway(tile, pc)) {
      // Reopened at once (see "a seat's media moving to another hub process").
    } else if (state === "disconnected" && !tile.disconnected) {
      // Often back by itself (ICE keeps checking); if not, a new viewer.
      tile.disconnected = setTimeout(() => {
        tile.disconnected = null;
        if (pc.connectionState === "disconnected") connectionLost(tile, pc);
      }, DISCONNECTED_GRACE_MS);
    } else if (state === "failed" || state === "closed") {
      connectionLost(tile, pc);
    }
  });
  try {
    const url = `/api/sessions/${tile.seat.session_id}/live/seats/${tile.seat.seat_id}/viewers`;
    let opened;
    if (janus) {
      opened = await api("POST", url, { type: "subscribe" });
    } else {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      opened = await api("POST", url, { type: "offer", sdp: pc.localDescription.sdp });
    }
    if (tile.pc !== pc) {
      // The tile was closed meanwhile: the hub's viewer goes too, not only the page's side.
      pc.close();
      api("DELETE", `/api/live/viewers/${opened.viewer_id}`).catch(() => {});
      return;
    }
    tile.viewerId = opened.viewer_id;
    tile.node.dataset.viewerId = String(opened.viewer_id);
    if (opened.type === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: opened.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await api("POST", `/api/live/viewers/${opened.viewer_id}/answer`,
        { type: "answer", sdp: pc.localDescription.sdp, token: opened.token });
    } else {
      await pc.setRemoteDescription({ type: "answer", sdp: opened.sdp });
    }
    window.wall.viewers.set(tile.seat.seat_id, pc);
  } catch (err) {
    if (tile.pc === pc) {
      stopViewer(tile);
      const final = err.status === 401 || err.status === 403 || err.status === 404;
      // The hub's refusal in its own words; otherwise the request or the SDP exchange failed.
      showNotice(tile, err.status ? err.message : "观看连接未能建立，稍后自动重试", !final);
      if (final) showMessage(err.message);
      else scheduleRetry(tile);
    }
  }
}

// --- a seat's media moving to another hub process ------------------------------------------
//
// With several hub processes, the one holding a seat's media also holds its viewers. When it
// dies, the seat publishes again through another within a second or two, and the wall hears of
// it (a live.seat event from that process) before Chromium notices its viewer is gone, which
// takes it some seconds. So a viewer that goes "disconnected" after such an event is not given
// DISCONNECTED_GRACE_MS to come back: its picture is elsewhere now, and a new viewer is asked
// for at once (the hub places it where the seat's media is). Any other drop keeps the grace.

function seatAnnounced(tile, state) {
  if (tile.seat.media === "janus") {
    janusPublication(tile, state);
    return;
  }
  if (!tile.pc || !WATCHABLE.has(state)) return;
  tile.republished = true;
  if (tile.pc.connectionState === "disconnected") movedAway(tile, tile.pc);
}

// Whether the tile's viewer ``pc``, disconnected, was dropped and a new one asked for.
function movedAway(tile, pc) {
  if (tile.pc !== pc || !tile.republished || tile.closed) return false;
  tile.republished = false;
  window.wall.moved += 1;
  reopen(tile);
  return true;
}

// With Janus the viewer's connection is to Janus, which outlives any hub process, and its
// subscription is to one publication of the seat (a Janus feed). When the seat publishes anew
// (its network dropped, or the hub process relaying its offers died), that feed is gone while
// the connection stays up, silent: it never fails, so nothing above would replace it. A seat
// announced "connecting" begins a new publication: the tile's viewer is stale from then on, and
// a new subscription is asked for as soon as the seat is watchable again (its new feed exists).
// A wall that missed the announcement (its event stream was on a process that died, and came
// back after it) notices the silence instead: see janusStalled.
function janusPublication(tile, state) {
  if (state === "connecting") {
    if (tile.pc) tile.stale = true;
    return;
  }
  if (!tile.pc || !tile.stale || !WATCHABLE.has(state) || tile.closed) return;
  window.wall.resubscribed += 1;
  reopen(tile);
}

// The tile's viewer dropped on both sides and a new one asked for at once.
function reopen(tile) {
  stopViewer(tile);
  cancelRetry(tile);
  showNotice(tile, "观看连接中断，正在重新连接……", true);
  watch(tile);
}

// Closes the tile's viewer, on both sides; a pending retry is left to its caller.
function stopViewer(tile) {
  if (tile.disconnected) { clearTimeout(tile.disconnected); tile.disconnected = null; }
  if (tile.pc) tile.pc.close();
  if (tile.viewerId) api("DELETE", `/api/live/viewers/${tile.viewerId}`).catch(() => {});
  window.wall.viewers.delete(tile.seat.seat_id);
  delete tile.node.dataset.viewerId;
  tile.pc = null;
  tile.viewerId = null;
  tile.previous = null;
  tile.connectedAt = null;
}

// The tile leaves the wall: no viewer, no retry, ever again.
function closeTile(tile) {
  tile.closed = true;
  cancelRetry(tile);
  stopViewer(tile);
}

// Whether the tile's Janus viewer ``pc``, connected to a live seat, has decoded no new frame
// (``frames`` so far) for STALLED_MS: then it was dropped and a new one asked for.
function janusStalled(tile, pc, frames) {
  if (tile.seat.media !== "janus" || tile.pc !== pc || tile.closed) return false;
  if (tile.state !== "live" || pc.connectionState !== "connected"
      || tile.stalledSince === null || frames !== tile.stalledSince.frames) {
    tile.stalledSince = { frames, at: performance.now() };
    return false;
  }
  if (performance.now() - tile.stalledSince.at < STALLED_MS) return false;
  window.wall.resubscribed += 1;
  reopen(tile);
  return true;
}

// --- statistics (from the browser's own receiving side) ---------------------------------------

async function updateStats(tile) {
  const pc = tile.pc;
  if (!pc) return;
  const report = await pc.getStats();
  let video = null;
  let pair = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") video = s;
    if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) pair = s;
  });
  if (janusStalled(tile, pc, video ? video.framesDecoded || 0 : 0)) return;
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
    seatAnnounced(tile, event.state);
    setState(tile, event.state);
  } else if (event.type === "live.recording" && tile) {
    // The seat's recorder stopped (its disk full) or resumed: the tile says so at once.
    tile.seat.recording = event.recording;
    renderBadges(tile);
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
  for (const tile of tiles.values()) closeTile(tile);
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
    seat.media = data.media;
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
  if (!data.seats.length) {
    $("#wall").append(el("p", { class: "hint", "data-testid": "wall-empty", textContent: data.on
      ? "本评标会暂无您可观看的工位。"
      : `评标会当前状态为「${data.state_name}」，工位实时音视频只在签到开始至评审结束期间提供。` }));
  }
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
// Leaving the page (closed, reloaded, another address, or kept in the back-forward cache)
// gives every viewer's place back at once: the hub would otherwise hold it until the connection
// times out, and a seat's places are few. A fetch with keepalive outlives the page; it is an
// ordinary same-origin request, within the page's CSP, and says it comes from the hub's pages
// (PAGE_HEADERS, common.js) like every cookie-signed write.
function releaseViewers() {
  for (const tile of tiles.values()) {
    if (tile.viewerId) {
      fetch(`/api/live/viewers/${tile.viewerId}`, {
        method: "DELETE", keepalive: true, credentials: "same-origin", headers: { ...PAGE_HEADERS },
      }).catch(() => {});
      tile.viewerId = null;  // released here: closing the tile must not ask a second time
    }
  }
  clearWall();
}

statsTimer = setInterval(updateAllStats, STATS_INTERVAL_MS);
window.addEventListener("pagehide", releaseViewers);
// Back from the back-forward cache: the viewers were released, so open them again.
window.addEventListener("pageshow", (ev) => { if (ev.persisted && me) refresh(); });
setupSignIn("#wall-panel", signedIn, signedOut);
