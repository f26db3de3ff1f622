"""The hub's seat websocket at ``/ws/seat``: a thin aiohttp shell around ``HubConnection``.

The shell only moves frames, runs the heartbeat timer and does the database work the machine
asks for: it looks up a seat before feeding its ``hello``, records enrolment requests, and
commits scores before telling the machine ``score_committed`` (so ``score_ack`` leaves only
after the commit). One live connection per seat is the machine's rule; the shell flushes the
replaced connection's close frame (4009). Protocol decisions are never made here.

Must never acknowledge a score before its database commit, and never leak internal errors to a
seat beyond a slug and a Chinese message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog
from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WSCloseCode

from evaluation_hub.api.keys import BUS, CLOCK, DB
from evaluation_hub.errors import Conflict
from evaluation_hub.seats import expert, store
from seat_protocol.closecodes import CloseCode
from seat_protocol.events import (
    ChunksRequested,
    CloseConnection,
    CommitScore,
    Connected,
    EnrolmentRequested,
    Event,
    MessageReceived,
    SendText,
)
from seat_protocol.exceptions import ProtocolError
from seat_protocol.hub_side import EnrolledSeat, HubChannels, HubConnection, Timing
from seat_protocol.messages import (
    MAX_MESSAGE_BYTES,
    SUBPROTOCOL,
    AppMessage,
    CheckinRequest,
    Chunk,
    CommitmentDecision,
    ErrorNotice,
    Hello,
    MediaAnswer,
    MediaOffer,
    ReportSignature,
    ReviewAnswer,
    decode,
)

__all__ = ["SEAT_HUB", "ScoreListener", "SeatHub", "publish_enrolment", "setup"]

log = structlog.get_logger(__name__)

# Told about every committed score (new ones only) before the seat gets its acknowledgement;
# the session engine hangs its scoring work here. The commit is durable by then: a listener's
# failure is logged and does not withhold the acknowledgement (the row is in
# ``submitted_scores`` for whoever reads it there).
ScoreListener = Callable[[CommitScore], Awaitable[None]]
# Called with the seat key whenever a seat (re)connects to this process, to bring it up to date
# (``evaluation_hub.seats.session_notices``); a failure is logged, never closes the connection.
ConnectListener = Callable[["SeatHub", str], Awaitable[None]]
# Answers a seat's media offer (seat key, offer id, SDP) with an SDP answer; the live module
# (evaluation_hub.live) is the one. It raises an exception with ``code`` and a Chinese
# ``message`` to refuse.
MediaOfferHandler = Callable[[str, str, str], Awaitable[str]]
_MEDIA_FAILED = "主场枢纽暂时无法接收本工位的音视频，终端将自动重试"


class ChapterSource(Protocol):
    """Where chunk requests are answered from (evaluation_hub.seats.chapters)."""

    def chunk(self, seat_key: str, sha256: str) -> bytes | None: ...

    async def seat_connected(self, hub: SeatHub, seat_key: str) -> None: ...


_CHUNK_UNAVAILABLE = "主场枢纽暂时没有本工位请求的章节数据，请联系主场重新发放章节"

_COMMIT_FAILED = "评分暂未保存成功，终端将在重新连接后自动重新提交，请勿关闭评标终端"


@dataclass
class SeatHub:
    """Per-process state of the seat websocket: channels and the live sockets."""

    hub_id: str
    timing: Timing
    monotonic: Callable[[], float] = time.monotonic
    nonce: Callable[[], bytes] = field(default=lambda: os.urandom(32))
    # Other parts of the hub append to this list (see ``ScoreListener``); called in order.
    score_listeners: list[ScoreListener] = field(default_factory=list)
    media_offer_handler: MediaOfferHandler | None = None
    # Answers ChunksRequested (set by evaluation_hub.seats.chapters.setup).
    chapter_source: ChapterSource | None = None
    connect_listeners: list[ConnectListener] = field(default_factory=list)
    channels: HubChannels = field(default_factory=HubChannels)
    sockets: dict[HubConnection, _SeatSocket] = field(default_factory=dict)
    # Closing a replaced socket waits for its peer's close frame (or aiohttp's timeout); that
    # runs beside the new connection, never in its way. Kept here so the tasks are not lost.
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def connected(self, seat_key: str) -> bool:
        """Whether the seat has a live, authenticated connection to this hub process."""
        if seat_key not in self.channels:
            return False
        live = self.channels.get(seat_key).connection
        return live is not None and live in self.sockets

    async def send(self, seat_key: str, msg: AppMessage) -> AppMessage | None:
        """Push ``msg`` to the seat: written now if it is connected, else kept for its resume.

        Returns the numbered message, or None (nothing queued) if the seat has not
        authenticated to this hub process since it started: a fresh process has no channel to
        number the message on.
        """
        if seat_key not in self.channels:
            return None
        channel = self.channels.get(seat_key)
        numbered = channel.send(msg)
        live = channel.connection
        if live is not None and live in self.sockets:
            await self.sockets[live].flush()
        return numbered

    async def disconnect(self, seat_key: str, code: CloseCode, detail: str) -> bool:
        """Close the seat's live connection (e.g. its key was just revoked); False if none."""
        if not self.connected(seat_key):
            return False
        live = self.channels.get(seat_key).connection
        assert live is not None
        sock = self.sockets[live]
        async with sock.busy:  # not in the middle of a frame's database work
            live.close(code, detail)
            await sock.flush()
        return True


SEAT_HUB = web.AppKey("seat_hub", SeatHub)


class _SeatSocket:
    """One accepted websocket and its machine; ``flush`` writes what the machine queued."""

    def __init__(self, ws: web.WebSocketResponse, conn: HubConnection) -> None:
        self.ws = ws
        self.conn = conn
        self._lock = asyncio.Lock()
        # Held while a frame is handled (its events before its outputs) and while ticking, so
        # the timer cannot send a frame's answer before the database work it promises is done.
        self.busy = asyncio.Lock()
        # Set after every frame: the machine's deadline may have moved earlier (the handshake
        # finished and heartbeats started), and the timer must not sleep past it.
        self.wake = asyncio.Event()

    async def flush(self) -> None:
        async with self._lock:
            for out in self.conn.data_to_send():
                if self.ws.closed:
                    return
                try:
                    if isinstance(out, SendText):
                        await self.ws.send_str(out.text)
                    else:
                        assert isinstance(out, CloseConnection)
                        await self.ws.close(code=out.code, message=out.reason.encode("utf-8"))
                except ConnectionError:
                    # The transport is gone; the reader reports it to the machine, and what was
                    # not delivered is resent from the channel after the seat reconnects.
                    return


async def _heartbeat(sock: _SeatSocket, hub: SeatHub) -> None:
    """Call ``tick`` at the machine's deadlines; ticking early is harmless."""
    while (deadline := sock.conn.next_deadline()) is not None:
        sock.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sock.wake.wait(), max(0.0, deadline - hub.monotonic()))
        async with sock.busy:
            sock.conn.tick(hub.monotonic())
            await sock.flush()


async def _lookup(request: web.Request, text: str) -> EnrolledSeat | None:
    """Fetch the seat a ``hello`` names, so the machine's synchronous lookup can answer."""
    try:
        msg = decode(text)
    except ProtocolError:
        return None  # the machine refuses it with the right code itself
    if not isinstance(msg, Hello):
        return None
    return await store.lookup_seat(request.app[DB], msg.seat_id)


async def _handle_events(
    request: web.Request, hub: SeatHub, events: list[Event], now: Callable[[], datetime]
) -> None:
    db = request.app[DB]
    for event in events:
        if isinstance(event, EnrolmentRequested):
            record = await store.record_enrolment(
                db,
                event.seat_id,
                event.ed25519_public_key,
                event.x25519_public_key,
                event.enrolment_code,
                now(),
            )
            if record is None:
                log.warning("seat.enrolment_unknown_seat", seat_key=event.seat_id)
            else:
                log.info("seat.enrolment_requested", seat_key=event.seat_id, created=record.created)
                if record.created and record.venue_id is not None:
                    await publish_enrolment(request.app, record.venue_id, event.seat_id, "pending")
        elif isinstance(event, CommitScore):
            # Shielded: if the connection's handler is cancelled (the seat vanished), the commit
            # and its acknowledgement still finish; otherwise the machine's ledger would wait
            # for this commit for ever and every replay of the key would go unanswered.
            task = asyncio.create_task(_commit(request, hub, event, now))
            hub.background.add(task)
            task.add_done_callback(hub.background.discard)
            await asyncio.shield(task)
        elif isinstance(event, MessageReceived) and isinstance(
            event.message, CheckinRequest | CommitmentDecision | ReviewAnswer | ReportSignature
        ):
            # Inline and shielded, like a score commit: a review answer after a new save is
            # judged after that save's commit, and its answer is sent even if the seat vanished.
            task = asyncio.create_task(
                expert.handle(request.app, hub, event.seat_id, event.message)
            )
            hub.background.add(task)
            task.add_done_callback(hub.background.discard)
            await asyncio.shield(task)
        elif isinstance(event, MessageReceived) and isinstance(event.message, MediaOffer):
            # Answering takes ICE gathering; it runs beside the connection, not in its way.
            task = asyncio.create_task(_answer_media(hub, event.seat_id, event.message))
            hub.background.add(task)
            task.add_done_callback(hub.background.discard)
        elif isinstance(event, ChunksRequested):
            _send_chunks(hub, event)
        elif isinstance(event, Connected):
            for listener in list(hub.connect_listeners):
                try:
                    await listener(hub, event.seat_id)
                except Exception:
                    log.exception("seat.connect_listener_failed", seat_key=event.seat_id)
            if hub.chapter_source is not None:
                await hub.chapter_source.seat_connected(hub, event.seat_id)
            # The expert's check-in, open review requests and result to sign, again.
            await expert.seat_connected(request.app, hub, event.seat_id)
            replaced = event.replaced
            if isinstance(replaced, HubConnection) and replaced in hub.sockets:
                task = asyncio.create_task(hub.sockets[replaced].flush())
                hub.background.add(task)
                task.add_done_callback(hub.background.discard)
            log.info(
                "seat.connected",
                seat_key=event.seat_id,
                lost_incoming=event.lost_incoming,
                peer_lost=event.peer_lost,
            )
        else:
            log.info("seat.event", seat_key=getattr(event, "seat_id", None), detail=repr(event))


async def publish_enrolment(
    app: web.Application, venue_id: int, seat_key: str, status: str
) -> None:
    """Tell open admin pages of the venue (and system admins) that its enrolments changed.

    Like booking events, it says only *that* something changed; pages re-read through the API.
    Best effort: a bus failure never undoes or blocks the enrolment itself.
    """
    if BUS not in app:
        return
    event = {
        "type": "seat_enrolment.changed",
        "venue_id": venue_id,
        "seat_key": seat_key,
        "status": status,
    }
    try:
        await app[BUS].publish(f"venue:{venue_id}", event)
        await app[BUS].publish("all", event)
    except Exception:
        log.exception("seat.enrolment_publish_failed", seat_key=seat_key)


async def _tell_listeners(hub: SeatHub, event: CommitScore) -> None:
    for listener in list(hub.score_listeners):
        try:
            await listener(event)
        except Exception:
            log.exception(
                "seat.score_listener_failed",
                idempotency_key=event.idempotency_key,
                listener=getattr(listener, "__qualname__", repr(listener)),
            )


async def _commit(
    request: web.Request, hub: SeatHub, event: CommitScore, now: Callable[[], datetime]
) -> None:
    channel = hub.channels.get(event.seat_id)
    try:
        outcome = await store.commit_score(
            request.app[DB],
            seat_key=event.seat_id,
            idempotency_key=event.idempotency_key,
            session_ref=event.session_id,
            sheet=event.sheet,
            digest=event.digest,
            now=now(),
        )
        if outcome == "committed":
            await _tell_listeners(hub, event)
    except Conflict as exc:
        channel.score_rejected(event.idempotency_key, exc.code, exc.detail)
    except Exception:
        log.exception("seat.score_commit_failed", idempotency_key=event.idempotency_key)
        channel.score_rejected(event.idempotency_key, "commit-failed", _COMMIT_FAILED)
    else:
        channel.score_committed(event.idempotency_key)
    # The acknowledgement goes on whichever connection of the seat is live now.
    live = channel.connection
    if live is not None and live in hub.sockets:
        await hub.sockets[live].flush()


def _send_chunks(hub: SeatHub, event: ChunksRequested) -> None:
    """Queue the requested chunks on the seat's channel (the frame's flush writes them)."""
    channel = hub.channels.get(event.seat_id)
    source = hub.chapter_source
    for digest in event.chunks:
        data = source.chunk(event.seat_id, digest) if source is not None else None
        if data is None:
            log.warning("seat.chunk_unavailable", seat_key=event.seat_id, sha256=digest)
            channel.send(
                ErrorNotice(code="chunk-unavailable", message=_CHUNK_UNAVAILABLE, ref=digest)
            )
            return
        channel.send(Chunk.of(digest, data))


async def _answer_media(hub: SeatHub, seat_id: str, offer: MediaOffer) -> None:
    channel = hub.channels.get(seat_id)
    if hub.media_offer_handler is None:
        channel.send(
            ErrorNotice(code="media-not-served", message=_MEDIA_FAILED, ref=offer.offer_id)
        )
    else:
        try:
            sdp = await hub.media_offer_handler(seat_id, offer.offer_id, offer.sdp)
        except Exception as exc:
            code = getattr(exc, "code", None)
            message = getattr(exc, "message", None)
            if not isinstance(code, str) or not isinstance(message, str):
                log.exception("seat.media_offer_failed", seat_key=seat_id)
                code, message = "media-failed", _MEDIA_FAILED
            channel.send(ErrorNotice(code=code, message=message, ref=offer.offer_id))
        else:
            channel.send(MediaAnswer(offer_id=offer.offer_id, sdp=sdp))
    live = channel.connection
    if live is not None and live in hub.sockets:
        await hub.sockets[live].flush()


async def seat_socket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[SEAT_HUB]
    now = request.app[CLOCK]
    # The codec refuses frames over the protocol's limits with 4006. aiohttp's own cap sits
    # above them only to bound memory: it closes with the standard 1009 before the codec sees
    # the frame, so it must not be the limit the protocol documents.
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), max_msg_size=2 * MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    enrolled: EnrolledSeat | None = None
    conn = HubConnection(
        hub_id=hub.hub_id,
        seats=lambda seat_id: enrolled if enrolled and enrolled.seat_id == seat_id else None,
        channels=hub.channels,
        nonce=hub.nonce(),
        now=hub.monotonic(),
        timing=hub.timing,
    )
    sock = _SeatSocket(ws, conn)
    hub.sockets[conn] = sock
    timer = asyncio.create_task(_heartbeat(sock, hub))
    try:
        async for frame in ws:
            async with sock.busy:
                if frame.type is WSMsgType.TEXT:
                    if enrolled is None:
                        enrolled = await _lookup(request, frame.data)
                    conn.receive_text(frame.data, hub.monotonic())
                elif frame.type is WSMsgType.BINARY:
                    conn.close(
                        CloseCode.PROTOCOL_ERROR, "binary frames are not part of the protocol"
                    )
                elif frame.type is WSMsgType.ERROR:
                    exc = ws.exception()
                    if getattr(exc, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
                        conn.close(
                            CloseCode.MESSAGE_TOO_BIG, f"frame over {MAX_MESSAGE_BYTES} bytes"
                        )
                    else:
                        conn.close(CloseCode.PROTOCOL_ERROR, "unreadable websocket frame")
                # Events first: an enrolment is recorded before enroll_received leaves, and a
                # score is committed before anything after it is answered.
                await _handle_events(request, hub, conn.events_received(), now)
                await sock.flush()
            sock.wake.set()
            if ws.closed:
                break
    finally:
        # Not ``suppress(CancelledError)`` around ``await timer``: that would swallow this
        # handler's own cancellation (at server shutdown) if it arrived during the await.
        timer.cancel()
        try:
            await asyncio.wait({timer})
        finally:
            if timer.done() and not timer.cancelled() and timer.exception() is not None:
                log.error("seat.heartbeat_failed", exc_info=timer.exception())
            conn.connection_lost(ws.close_code, "")
            hub.sockets.pop(conn, None)
            with contextlib.suppress(Exception):
                await _handle_events(request, hub, conn.events_received(), now)
    return ws


async def _shutdown(app: web.Application) -> None:
    hub = app[SEAT_HUB]
    for sock in list(hub.sockets.values()):
        sock.conn.close(CloseCode.HUB_SHUTTING_DOWN, "the hub is restarting")
        with contextlib.suppress(Exception):
            await sock.flush()


def setup(
    app: web.Application,
    *,
    hub_id: str,
    timing: Timing | None = None,
    score_listener: ScoreListener | None = None,
    media_offer_handler: MediaOfferHandler | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> SeatHub:
    """Serve the seat websocket at ``/ws/seat``; needs ``DB`` and ``CLOCK`` on the app.

    The returned ``SeatHub`` (also ``app[SEAT_HUB]``) takes more score listeners
    (``score_listeners.append``) and pushes application messages to seats (``send``).
    """
    hub = SeatHub(
        hub_id=hub_id,
        timing=timing or Timing(),
        monotonic=monotonic,
        media_offer_handler=media_offer_handler,
    )
    if score_listener is not None:
        hub.score_listeners.append(score_listener)
    app[SEAT_HUB] = hub
    app.router.add_get("/ws/seat", seat_socket)
    app.on_shutdown.append(_shutdown)
    return hub
