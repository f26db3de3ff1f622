"""The seat's camera and microphone, published to the hub over WebRTC (音视频监督).

:class:`SeatPublisher` sends the seat's tracks (a camera and microphone from
``media.sources``, or ``media.testpattern`` in tests and demos) over one aiortc peer
connection. Signalling goes through the seat link: a ``media_offer`` with a fresh
``offer_id``, answered by the hub's ``media_answer`` with the same id (answers to older offers,
resent after a reconnect, are ignored; an ``error`` naming the offer means try again later).

A hub that does not answer in time may be starved rather than gone: it is still working on the
last offer. Each offer after one that went unanswered (or was refused) waits twice as long as
the one before (10, 20, 40 s, capped at ``max_answer_timeout``, each jittered by up to ±20 %
through the injected randomness so that a room's seats do not offer in step), back to the
first wait once an answer arrives (a refused offer is retried after 1, 2, 4… s, at most the
first wait); the hub drops a seat's older offers when a newer one comes
(``evaluation_hub.live.offers``), so what it still has to do never grows with the retries.

aiortc has no ICE restart, so recovery is always a NEW peer connection and a new offer: when
the connection fails, is closed by the hub, no answer arrives in time, or the seat link comes up
again after a drop. The last one matters most: after a hub process dies, the old connection
still looks "connected" here until its consent checks time out (about 30 s), while the new hub
process knows nothing of it; so every new control link closes the old connection and offers a
new one at once (the hub replaces the seat's old media when the new offer arrives). The source tracks
outlive the connections: each connection reads them through a lease (aiortc stops a closed
sender's track). Publishing starts only after the link's first
``Connected`` (an application message must not be sent on a fresh channel before it).

Never encodes or decodes itself (the peer connection does) and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random as _random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from seat_protocol.events import Connected, Event, MessageReceived
from seat_protocol.messages import MAX_SDP_CHARS, AppMessage, ErrorNotice, MediaAnswer, MediaOffer

__all__ = ["CAMERA_PAGE", "BrowserMediaRelay", "SeatPublisher"]

log = structlog.get_logger(__name__)

Send = Callable[[AppMessage], Awaitable[Any]]

# What the hub closing our connection or the network failing looks like to aiortc (browsers
# also report "disconnected"; aiortc goes straight to "failed" when consent checks fail).
_GONE = ("failed", "disconnected", "closed")


class _TrackLease(MediaStreamTrack):
    """One peer connection's use of a source track.

    aiortc stops a sender's track when its connection closes; the camera must outlive the
    connection, so each connection gets a lease that reads the source and stops only itself.
    Only one connection reads a source at a time (the old one is closed first), so no frame is
    shared between encoders (the trap of aiortc issue 767) and nothing is buffered.
    """

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source

    async def recv(self) -> Any:
        if self.readyState != "live" or self._source.readyState != "live":
            raise MediaStreamError
        return await self._source.recv()


def _offer_id() -> str:
    return "mo-" + secrets.token_hex(8)


class SeatPublisher:
    """Keeps this seat's media published to the hub, across network drops."""

    def __init__(
        self,
        send: Send,
        tracks: Sequence[MediaStreamTrack],
        *,
        configuration: RTCConfiguration | None = None,
        answer_timeout: float = 10.0,
        max_answer_timeout: float = 60.0,
        retry_delay: float = 1.0,
        new_offer_id: Callable[[], str] = _offer_id,
        random: Callable[[], float] = _random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not tracks:
            raise ValueError("a seat publishes at least one track")
        self._send = send
        self._tracks = list(tracks)
        self._configuration = configuration
        self._answer_timeout = answer_timeout
        self._max_answer_timeout = max_answer_timeout
        self._retry_delay = retry_delay
        self._new_offer_id = new_offer_id
        self._random = random
        self._sleep = sleep
        self._misses = 0  # offers in a row unanswered or refused: the back-off's exponent
        self._sent: collections.deque[str] = collections.deque(maxlen=16)  # for the logs
        self._pc: RTCPeerConnection | None = None
        self._pending: str | None = None  # the offer waiting for its answer
        self._current: str | None = None  # the offer of the live connection
        self._lock = asyncio.Lock()
        self._retry: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._sleeping = False  # the scheduled publish is still waiting for its delay
        self._links = 0  # Connected events seen: every one after the first is a new link
        self.offers = 0  # peer connections offered, for logs and tests
        self.answered = 0

    @property
    def connection(self) -> RTCPeerConnection | None:
        """The current peer connection (tests break it to simulate a network drop)."""
        return self._pc

    @property
    def state(self) -> str:
        return "closed" if self._pc is None else self._pc.connectionState

    async def on_event(self, event: Event) -> None:
        """Feed every event of the seat link here."""
        if self._closed:
            return
        if isinstance(event, Connected):
            self._links += 1
            if self._links > 1:
                # A new control link: whatever the old connection's state says, the hub (maybe
                # a new process) may have lost it; offer anew now instead of waiting it out.
                log.info("media.republish_on_reconnect", links=self._links)
                self._schedule(0.0, now=True)
            elif self._pc is None or self._pc.connectionState in _GONE:
                self._schedule(0.0)
        elif isinstance(event, MessageReceived):
            msg = event.message
            if isinstance(msg, MediaAnswer):
                await self._answered(msg)
            elif isinstance(msg, ErrorNotice) and msg.ref is not None and msg.ref == self._pending:
                delay = min(self._answer_timeout, self._backoff(self._retry_delay))
                log.warning("media.offer_refused", offer_id=msg.ref, code=msg.code, retry_in=delay)
                self._pending = None
                self._misses += 1
                self._schedule(delay)
            elif isinstance(msg, ErrorNotice) and msg.ref in self._sent:
                # An offer given up on already (the hub dropped it for a newer one): no news.
                log.info("media.old_offer_refused", offer_id=msg.ref, code=msg.code)

    async def close(self) -> None:
        self._closed = True
        for task in (self._retry, self._watchdog):
            if task is None or task is asyncio.current_task():
                continue
            if task is self._retry and not self._sleeping:
                # An offer being made: let it finish. A connection cancelled while aioice
                # gathers its candidates leaves their UDP sockets open; finished, it is closed
                # below like any other.
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._lock:
            if self._pc is not None:
                await self._pc.close()
                self._pc = None

    # --- internals ---------------------------------------------------------------------------

    def _schedule(self, delay: float, *, now: bool = False) -> None:
        """Publish after ``delay`` unless a publish is already scheduled; ``now``: a publish
        still waiting for its delay is replaced by one at once (one publishing already goes
        on: its offer is sent on the new link)."""
        if self._closed:
            return
        if self._retry is not None and not self._retry.done():
            if not (now and self._sleeping):
                return
            self._retry.cancel()
        self._retry = asyncio.ensure_future(self._publish_after(delay))

    async def _publish_after(self, delay: float) -> None:
        if delay > 0:
            self._sleeping = True
            try:
                await self._sleep(delay)
            finally:
                self._sleeping = False
        try:
            await self._publish()
        except Exception:
            log.exception("media.publish_failed")
            self._retry = None
            self._schedule(self._retry_delay)

    async def _publish(self) -> None:
        async with self._lock:
            if self._closed:
                return
            old, self._pc = self._pc, None
            self._pending = self._current = None
            if old is not None:
                await old.close()
            pc = RTCPeerConnection(self._configuration)
            for track in self._tracks:
                pc.addTrack(_TrackLease(track))
            await pc.setLocalDescription(await pc.createOffer())
            description = pc.localDescription
            assert description is not None
            offer_id = self._new_offer_id()
            self._pc = pc
            self._pending = offer_id
            self._sent.append(offer_id)
            self.offers += 1

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc is self._pc and pc.connectionState in _GONE and not self._closed:
                    log.info("media.connection_lost", state=pc.connectionState)
                    self._schedule(self._retry_delay if self.answered == 0 else 0.0)

            log.info("media.offer", offer_id=offer_id, attempt=self.offers, misses=self._misses)
            await self._send(MediaOffer(offer_id=offer_id, sdp=description.sdp))
            self._arm_watchdog(offer_id)

    def _backoff(self, first: float) -> float:
        """``first`` doubled for every miss in a row, capped, jittered by up to ±20 %."""
        base = min(self._max_answer_timeout, first * 2.0**self._misses)
        return base * (0.8 + 0.4 * self._random())

    def _arm_watchdog(self, offer_id: str) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        wait = self._backoff(self._answer_timeout)

        async def expire() -> None:
            await self._sleep(wait)
            if self._pending == offer_id and not self._closed:
                # The hub may be starved, not gone: the next offer waits longer for it.
                self._misses += 1
                log.warning("media.answer_timeout", offer_id=offer_id, waited=round(wait, 3))
                self._pending = None
                self._schedule(0.0)

        self._watchdog = asyncio.ensure_future(expire())

    async def _answered(self, msg: MediaAnswer) -> None:
        async with self._lock:
            pc = self._pc
            if pc is None or msg.offer_id != self._pending:
                log.info("media.stale_answer", offer_id=msg.offer_id)
                return
            self._pending = None
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=msg.sdp, type="answer"))
            except Exception:
                log.exception("media.bad_answer", offer_id=msg.offer_id)
                self._schedule(self._retry_delay)
                return
            self._current = msg.offer_id
            self._misses = 0
            self.answered += 1


class BrowserMediaRelay:
    """Publishes a browser's camera as this seat: the browser makes the peer connection.

    When the seat's screen is a browser, the camera is the browser's (``getUserMedia``). The
    seat agent serves :data:`CAMERA_PAGE` locally; the page posts its SDP offer to
    ``POST /media/offer``, the relay sends it to the hub as this seat's ``media_offer`` over the
    seat link (so the hub knows which authenticated seat publishes) and returns the hub's
    answer. After a drop the page makes a new connection and posts a new offer. Answers and
    refusals are matched to offers by ``offer_id``; a refusal becomes a 502 with the hub's
    Chinese message.
    """

    def __init__(
        self,
        send: Send,
        *,
        answer_timeout: float = 15.0,
        new_offer_id: Callable[[], str] = _offer_id,
    ) -> None:
        self._send = send
        self._answer_timeout = answer_timeout
        self._new_offer_id = new_offer_id
        self._waiting: dict[str, asyncio.Future[MediaAnswer | ErrorNotice]] = {}
        self.connected = asyncio.Event()  # the link finished its first handshake

    async def on_event(self, event: Event) -> None:
        """Feed every event of the seat link here."""
        if isinstance(event, Connected):
            self.connected.set()
        elif isinstance(event, MessageReceived):
            msg = event.message
            ref = (
                msg.offer_id
                if isinstance(msg, MediaAnswer)
                else msg.ref
                if isinstance(msg, ErrorNotice)
                else None
            )
            waiter = self._waiting.get(ref) if ref is not None else None
            if waiter is not None and not waiter.done():
                assert isinstance(msg, MediaAnswer | ErrorNotice)
                waiter.set_result(msg)

    async def relay(self, sdp: str) -> MediaAnswer | ErrorNotice:
        """Send the browser's offer as this seat's and wait for the hub's reply."""
        await asyncio.wait_for(self.connected.wait(), self._answer_timeout)
        offer_id = self._new_offer_id()
        waiter: asyncio.Future[MediaAnswer | ErrorNotice] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting[offer_id] = waiter
        try:
            await self._send(MediaOffer(offer_id=offer_id, sdp=sdp))
            return await asyncio.wait_for(waiter, self._answer_timeout)
        finally:
            self._waiting.pop(offer_id, None)

    def app(self) -> web.Application:
        """The local page and its signalling endpoint (serve on 127.0.0.1 only)."""
        app = web.Application(client_max_size=2 * MAX_SDP_CHARS)
        app.router.add_get("/", self._page)
        app.router.add_post("/media/offer", self._offer)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=CAMERA_PAGE, content_type="text/html", charset="utf-8")

    async def _offer(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            sdp = body["sdp"]
            if not isinstance(sdp, str) or not 0 < len(sdp) <= MAX_SDP_CHARS:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return web.json_response({"detail": "请求内容不是有效的 SDP offer"}, status=422)
        try:
            reply = await self.relay(sdp)
        except TimeoutError:
            return web.json_response({"detail": "主场枢纽未及时应答"}, status=504)
        if isinstance(reply, ErrorNotice):
            return web.json_response({"detail": reply.message, "code": reply.code}, status=502)
        return web.json_response({"type": "answer", "sdp": reply.sdp})


# The seat's local camera page: publishes the browser's camera and microphone through the
# seat agent, starts again with a new connection after a drop, and backs off between failed
# offers (``tests/browser/test_camera_page.py``).
CAMERA_PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>工位摄像头 · 音视频监督</title></head>
<body>
<h1>工位音视频监督</h1>
<p id="status">正在打开摄像头……</p>
<video id="preview" autoplay muted playsinline width="320"></video>
<script>
"use strict";
const statusText = (t) => { document.getElementById("status").textContent = t; };
let stream = null;
let pc = null;
// After a failed offer the next waits longer (3 s, doubling, at most 60 s, each wait times
// 0.5-1.5 so seats that failed together do not come back together); a working connection
// starts again from 3 s. Without it every seat's page asked every 3 s of an overloaded hub.
const FIRST_RETRY_MS = 3000;
const LAST_RETRY_MS = 60000;
let retryMs = FIRST_RETRY_MS;
let failures = 0;  // since the last working connection
window.seatCamera = { get pc() { return pc; } };
function retryLater(conn, why) {
  const wait = Math.round(retryMs * (0.5 + Math.random()));
  retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
  failures += 1;
  statusText(`${why}，${Math.round(wait / 1000)} 秒后重试（已失败 ${failures} 次）`);
  setTimeout(() => { if (conn === pc) publish(); }, wait);
}
function gathered(conn) {
  if (conn.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    conn.addEventListener("icegatheringstatechange", () => {
      if (conn.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 3000);
  });
}
async function publish() {
  if (pc) pc.close();
  const conn = new RTCPeerConnection();
  pc = conn;
  for (const track of stream.getTracks()) conn.addTrack(track, stream);
  conn.addEventListener("connectionstatechange", () => {
    if (conn !== pc) return;
    if (conn.connectionState === "connected") {
      retryMs = FIRST_RETRY_MS;
      failures = 0;
      statusText("正在向主场推送音视频");
    }
    if (["failed", "disconnected", "closed"].includes(conn.connectionState)) {
      statusText("连接中断，正在重新连接……");
      setTimeout(() => { if (conn === pc) publish(); }, 1000);
    }
  });
  try {
    await conn.setLocalDescription(await conn.createOffer());
    await gathered(conn);
    const res = await fetch("/media/offer", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "offer", sdp: conn.localDescription.sdp }),
    });
    const data = await res.json();
    if (!res.ok) throw new Error(data.detail || "推送请求失败");
    if (conn === pc) await conn.setRemoteDescription({ type: "answer", sdp: data.sdp });
  } catch (err) {
    retryLater(conn, err.message);
  }
}
navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true })
  .then((s) => { stream = s; document.getElementById("preview").srcObject = s; return publish(); })
  .catch((err) => statusText(`无法打开摄像头或麦克风：${err.message}`));
</script>
</body>
</html>
"""
