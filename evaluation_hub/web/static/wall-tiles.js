// The video wall's tiles (音视频监督): one per seat, its picture, state, alert badges and the
// notice over the picture; loaded before wall.js, which opens and renews the tiles' viewers.
"use strict";

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
  const notice = el("div", { class: "notice", hidden: true },
    el("span", { class: "reason" }),
    el("button", { type: "button", class: "retry", textContent: "立即重试" }));
  // Over the video: position, colours and size here, as wall.css has no rule for it.
  notice.style.cssText = "position:absolute;top:0;left:0;right:0;padding:0.5rem;"
    + "background:rgba(0,0,0,0.75);color:#ffcc80;font-size:0.85rem;";
  node.append(notice);
  const tile = {
    seat, node, video, notice, pc: null, viewerId: null, alerts: new Map(), previous: null,
    retry: null, attempts: 0, connectedAt: null, disconnected: null, closed: false,
    republished: false, stale: false, stalledSince: null,
  };
  node.addEventListener("click", () => toggleEnlarged(tile));
  notice.querySelector(".retry").addEventListener("click", (ev) => {
    ev.stopPropagation();  // a retry, not an enlargement
    retryNow(tile);
  });
  for (const alert of seat.alerts) tile.alerts.set(alert.kind, alert);
  setState(tile, seat.state);
  renderBadges(tile);
  return tile;
}

function setState(tile, state) {
  tile.state = state;
  tile.node.classList.remove(...Object.keys(STATE_NAMES));
  tile.node.classList.add(state);
  tile.node.querySelector(".state").textContent = STATE_NAMES[state] || state;
  // A pending retry keeps its turn: a state event does not cut the backoff short.
  if (WATCHABLE.has(state) && !tile.pc && !tile.retry && !tile.closed) {
    watch(tile);
  }
}

function renderBadges(tile) {
  const box = tile.node.querySelector(".badges");
  const badges = [...tile.alerts.values()].map(
    (a) => el("span", { class: "badge", "data-kind": a.kind, textContent: a.label }));
  // The hub could not record this seat (its recordings disk is full): say so on the tile.
  const recording = tile.seat.recording;
  if (recording && recording.state === "stopped") {
    badges.push(el("span", { class: "badge", "data-kind": "recording-stopped", textContent: recording.label }));
  }
  box.replaceChildren(...badges);
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

function showNotice(tile, text, retrying) {
  tile.notice.querySelector(".reason").textContent = text;
  tile.notice.querySelector(".retry").hidden = !retrying;
  tile.notice.hidden = false;
}

function hideNotice(tile) {
  tile.notice.hidden = true;
  tile.notice.querySelector(".reason").textContent = "";
}
