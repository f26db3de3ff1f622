"""The hub's seat websocket at ``/ws/seat``: a thin aiohttp shell around ``HubConnection``.

The shell only moves frames, runs the heartbeat timer and hands each thing the machine asks for
to one use case: it looks up a seat before feeding its ``hello`` (``seats.enrolment``), asks
whether an ``enroll`` may be made from the client's address before feeding it
(``seats.enrolment_admission``: rate limits, one pending request per seat; a refusal is the
machine's ``refuse``), records enrolment requests, has each score stored and judged before
telling the machine the verdict (``score_committed``: ``score_ack`` leaves only after the commit
and carries the verdict; ``score_rejected`` when the commit failed, so the seat sends it again;
``seats.scores``), answers the expert's requests (``seats.expert_requests``), brings a
(re)connected seat up to date (``seats.catch_up``), serves
chunk requests from the released chapters, records the seat's chapter delivery
(``seats.deliveries``) and hands media offers to the live hub. It sends what
the use cases return. One live connection per seat is the machine's rule; the shell flushes the
replaced connection's close frame (4009). Protocol decisions are never made here.

Must never acknowledge a score before its database commit, and never leak internal errors to a
seat beyond a slug and a Chinese message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime

import structlog
from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WSCloseCode

from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.seat_link.hub import SEAT_HUB, SeatHub, SeatSocket
from evaluation_hub.api.transport import client_address
from evaluation_hub.db.unavailable import is_unavailable
from evaluation_hub.errors import ProblemError
from evaluation_hub.seats import (
    catch_up,
    chair_ballots,
    deliveries,
    enrolment,
    enrolment_admission,
    expert_requests,
    scores,
)
from evaluation_hub.seats.enrolment_admission import EnrolmentRefusal
from evaluation_hub.seats.expert_requests import ExpertRequest
from evaluation_hub.services import Services
from seat_protocol.closecodes import CloseCode
from seat_protocol.events import (
    ChunksRequested,
    CommitScore,
    Connected,
    EnrolmentRequested,
    Event,
    MessageReceived,
)
from seat_protocol.exceptions import ProtocolError
from seat_protocol.hub_side import EnrolledSeat, HubConnection
from seat_protocol.messages import (
    MAX_MESSAGE_BYTES,
    SUBPROTOCOL,
    AppMessage,
    ChairBallot,
    ChapterManifest,
    ChapterStatus,
    CheckinRequest,
    Chunk,
    CommitmentDecision,
    Enroll,
    ErrorNotice,
    Hello,
    MediaAnswer,
    MediaOffer,
    ReportSignature,
    ReviewAnswer,
    TalkbackAnswer,
    TalkbackOffer,
    decode,
    unb64,
)

__all__ = ["seat_socket", "shutdown"]

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

_MEDIA_FAILED = "主场枢纽暂时无法接收本工位的音视频，终端将自动重试"
_CHUNK_UNAVAILABLE = "主场枢纽暂时没有本工位请求的章节数据，请联系主场重新发放章节"
_COMMIT_FAILED = "评分暂未保存成功，终端将自动重新提交，请勿关闭评标终端"


def _failed(event: str, exc: Exception, **fields: object) -> None:
    """Log a failure of work for a seat: a database out of reach (a full pool, a restart) is
    an outage, a warning without the traceback (rendering hundreds of them under load cost the
    event loop what it lacked); anything else is a bug, with its traceback."""
    if is_unavailable(exc):
        log.warning(
            event, database_unavailable=True, error=f"{type(exc).__name__}: {exc}", **fields
        )
    else:
        log.exception(event, **fields)


async def _heartbeat(sock: SeatSocket, hub: SeatHub) -> None:
    """Call ``tick`` at the machine's deadlines; ticking early is harmless."""
    while (deadline := sock.conn.next_deadline()) is not None:
        sock.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sock.wake.wait(), max(0.0, deadline - hub.monotonic()))
        async with sock.busy:
            sock.conn.tick(hub.monotonic())
            await sock.flush()


async def _lookup(services: Services, text: str) -> EnrolledSeat | None:
    """Fetch the seat a ``hello`` names, so the machine's synchronous lookup can answer."""
    try:
        msg = decode(text)
    except ProtocolError:
        return None  # the machine refuses it with the right code itself
    if not isinstance(msg, Hello):
        return None
    return await enrolment.lookup_seat(services.db, msg.seat_id)


async def _admission(
    services: Services, text: str, address: str, now: datetime
) -> EnrolmentRefusal | None:
    """Whether the first frame, if it is an ``enroll``, may be read at all."""
    try:
        msg = decode(text)
    except ProtocolError:
        return None  # the machine refuses it with the right code itself
    if not isinstance(msg, Enroll):
        return None
    return await enrolment_admission.admit_enrolment(
        services,
        msg.seat_id,
        unb64(msg.ed25519_public_key),
        unb64(msg.x25519_public_key),
        address,
        now=now,
    )


async def _shielded(hub: SeatHub, work: asyncio.Task[None]) -> None:
    # Shielded: if the connection's handler is cancelled (the seat vanished), the work and its
    # answer still finish; a score commit's ledger entry would otherwise wait for ever.
    hub.spawn(work)
    await asyncio.shield(work)


async def _handle_events(services: Services, hub: SeatHub, events: list[Event], now: Clock) -> None:
    for event in events:
        if isinstance(event, EnrolmentRequested):
            await enrolment.request_enrolment(
                services,
                event.seat_id,
                event.ed25519_public_key,
                event.x25519_public_key,
                event.enrolment_code,
                now=now(),
            )
        elif isinstance(event, CommitScore):
            await _shielded(hub, asyncio.create_task(_commit(services, hub, event, now)))
        elif isinstance(event, MessageReceived) and isinstance(
            event.message, CheckinRequest | CommitmentDecision | ReviewAnswer | ReportSignature
        ):
            # Inline and shielded, like a score commit: a review answer after a new save is
            # judged after that save's commit, and its answer is sent even if the seat vanished.
            work = _expert_request(services, hub, event.seat_id, event.message, now)
            await _shielded(hub, asyncio.create_task(work))
        elif isinstance(event, MessageReceived) and isinstance(event.message, ChapterStatus):
            await _chapter_status(services, event.seat_id, event.message, now)
        elif isinstance(event, MessageReceived) and isinstance(event.message, ChairBallot):
            work = _chair_ballot(services, hub, event.seat_id, event.message, now)
            await _shielded(hub, asyncio.create_task(work))
        elif isinstance(event, MessageReceived) and isinstance(
            event.message, MediaOffer | TalkbackOffer
        ):
            # Answering takes ICE gathering; it runs beside the connection, not in its way.
            hub.spawn(asyncio.create_task(_answer_media(hub, event.seat_id, event.message)))
        elif isinstance(event, ChunksRequested):
            completed = _send_chunks(hub, event)
            if completed is not None:
                # The last chunks go out first: they must not wait for the delivery record's
                # commit (the record still precedes whatever the seat says next, as the
                # reader handles its next frame only after this).
                await hub.flush_live(event.seat_id)
                await _received(services, event.seat_id, completed, now)
        elif isinstance(event, Connected):
            await _catch_up(services, hub, event.seat_id, now)
            replaced = event.replaced
            if isinstance(replaced, HubConnection) and replaced in hub.sockets:
                hub.spawn(asyncio.create_task(hub.sockets[replaced].flush()))
            log.info(
                "seat.connected",
                seat_key=event.seat_id,
                lost_incoming=event.lost_incoming,
                peer_lost=event.peer_lost,
            )
        else:
            log.info("seat.event", seat_key=getattr(event, "seat_id", None), detail=repr(event))


async def _answer(
    services: Services, seat_key: str, msg: ExpertRequest, now: datetime
) -> list[AppMessage]:
    if isinstance(msg, CheckinRequest):
        return await expert_requests.check_in(services, seat_key, msg, now=now)
    if isinstance(msg, CommitmentDecision):
        return await expert_requests.decide_commitment(services, seat_key, msg, now=now)
    if isinstance(msg, ReviewAnswer):
        return await expert_requests.answer_review(services, seat_key, msg, now=now)
    return await expert_requests.sign_report(services, seat_key, msg, now=now)


async def _expert_request(
    services: Services, hub: SeatHub, seat_key: str, msg: ExpertRequest, now: Clock
) -> None:
    """Judge one request of the seat and send the answer(s) to it."""
    try:
        answers = await _answer(services, seat_key, msg, now())
    except Exception as exc:
        _failed("seat.expert_request_failed", exc, seat_key=seat_key, message=msg.type)
        answers = [expert_requests.failure_answer(msg)]
    for answer in answers:
        await hub.send(seat_key, answer)


async def _chair_ballot(
    services: Services, hub: SeatHub, seat_key: str, msg: ChairBallot, now: Clock
) -> None:
    """Record the seated expert's chair ballot and send the answer to the seat."""
    try:
        answers = await chair_ballots.cast_ballot(services, seat_key, msg, now=now())
    except Exception as exc:
        _failed("seat.expert_request_failed", exc, seat_key=seat_key, message=msg.type)
        answers = [chair_ballots.failure_answer(msg)]
    for answer in answers:
        await hub.send(seat_key, answer)


async def _catch_up(services: Services, hub: SeatHub, seat_key: str, now: Clock) -> None:
    """Send a (re)connected seat what it missed; a failure is logged, never closes it."""
    try:
        messages = await catch_up.seat_connected(
            services, seat_key, chunks=hub.chapter_source, now=now()
        )
    except Exception as exc:
        _failed("seat.resync_failed", exc, seat_key=seat_key)
        return
    for msg in messages:
        await hub.send(seat_key, msg)


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


async def _commit(services: Services, hub: SeatHub, event: CommitScore, now: Clock) -> None:
    channel = hub.channels.get(event.seat_id)
    started = time.perf_counter()
    outcome = "failed"
    try:
        judged = await scores.commit_score(
            services,
            seat_key=event.seat_id,
            idempotency_key=event.idempotency_key,
            session_ref=event.session_id,
            sheet=event.sheet,
            digest=event.digest,
            signature=event.signature,
            now=now(),
        )
        outcome = _save_outcome(judged)
        if judged.outcome == "committed":
            await _tell_listeners(hub, event)
    except Exception as exc:
        # No verdict (the database is down, say): the seat sends the save again. An unreachable
        # database is an outage, not a bug: a warning without the traceback.
        if is_unavailable(exc):
            log.warning(
                "seat.score_commit_deferred",
                idempotency_key=event.idempotency_key,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            log.exception("seat.score_commit_failed", idempotency_key=event.idempotency_key)
        channel.score_rejected(event.idempotency_key, "commit-failed", _COMMIT_FAILED)
    else:
        if judged.outcome == "refused" or not judged.accepted:
            log.warning(
                "seat.score_refused",
                seat_key=event.seat_id,
                idempotency_key=event.idempotency_key,
                code=judged.code,
            )
        channel.score_committed(
            event.idempotency_key,
            accepted=judged.accepted,
            code=judged.code,
            message=judged.message,
        )
    if hub.save_observer is not None:
        hub.save_observer("seat", outcome, time.perf_counter() - started)
    # The acknowledgement goes on whichever connection of the seat is live now.
    await hub.flush_live(event.seat_id)


def _save_outcome(judged: scores.ScoreCommit) -> str:
    if judged.outcome == "replayed":
        return "replayed"
    return "accepted" if judged.accepted else "refused"


def _send_chunks(hub: SeatHub, event: ChunksRequested) -> ChapterManifest | None:
    """Queue the requested chunks on the seat's channel (the frame's flush writes them); the
    seat's manifest if these were the last of its chunks to hand over."""
    channel = hub.channels.get(event.seat_id)
    source = hub.chapter_source
    completed = None
    for digest in event.chunks:
        data = source.chunk(event.seat_id, digest) if source is not None else None
        if data is None:
            log.warning("seat.chunk_unavailable", seat_key=event.seat_id, sha256=digest)
            channel.send(
                ErrorNotice(code="chunk-unavailable", message=_CHUNK_UNAVAILABLE, ref=digest)
            )
            return completed
        channel.send(Chunk.of(digest, data))
        if source is not None:
            completed = source.served(event.seat_id, digest) or completed
    return completed


async def _received(
    services: Services, seat_key: str, manifest: ChapterManifest, now: Clock
) -> None:
    """Every chunk of the seat's manifest is on its way: record it (``seats.deliveries``); a
    failure is logged, the chunks go regardless."""
    try:
        await deliveries.record_progress(
            services, seat_key, manifest, sent=True, received=True, now=now()
        )
    except Exception as exc:
        _failed("seat.delivery_record_failed", exc, seat_key=seat_key)


async def _chapter_status(
    services: Services, seat_key: str, status: ChapterStatus, now: Clock
) -> None:
    """The seat's word on its chapters (``seats.deliveries``); a failure is logged."""
    try:
        await deliveries.record_chapter_status(services, seat_key, status, now=now())
    except Exception as exc:
        _failed("seat.chapter_status_failed", exc, seat_key=seat_key)


async def _answer_media(hub: SeatHub, seat_id: str, offer: MediaOffer | TalkbackOffer) -> None:
    channel = hub.channels.get(seat_id)
    talkback = isinstance(offer, TalkbackOffer)
    handler = hub.talkback_offer_handler if talkback else hub.media_offer_handler
    answer = TalkbackAnswer if talkback else MediaAnswer
    if handler is None:
        channel.send(
            ErrorNotice(code="media-not-served", message=_MEDIA_FAILED, ref=offer.offer_id)
        )
    else:
        try:
            sdp = await handler(seat_id, offer.offer_id, offer.sdp)
        except ProblemError as exc:
            channel.send(ErrorNotice(code=exc.code, message=exc.detail, ref=offer.offer_id))
        except Exception as exc:
            _failed("seat.media_offer_failed", exc, seat_key=seat_id)
            channel.send(
                ErrorNotice(code="media-failed", message=_MEDIA_FAILED, ref=offer.offer_id)
            )
        else:
            channel.send(answer(offer_id=offer.offer_id, sdp=sdp))
    await hub.flush_live(seat_id)


async def seat_socket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[SEAT_HUB]
    services = request.app[SERVICES]
    now = request.app[CLOCK]
    # The codec refuses frames over the protocol's limits with 4006. aiohttp's own cap sits
    # above them only to bound memory: it closes with the standard 1009 before the codec sees
    # the frame, so it must not be the limit the protocol documents.
    # No permessage-deflate, even to a client that offers it: chunks are ciphertext, which
    # does not compress, and deflating 256 KiB per chunk would cost the hub's CPU for nothing.
    ws = web.WebSocketResponse(
        protocols=(SUBPROTOCOL,), max_msg_size=2 * MAX_MESSAGE_BYTES, compress=False
    )
    try:
        await ws.prepare(request)
    except ConnectionResetError:
        # The seat gave up before the upgrade was answered (its handshake timed out while the
        # hub was late): no server error and no traceback. Rendering hundreds of those on the
        # event loop made a late hub later, and more seats give up (bench/day.py). aiohttp
        # ends the answer quietly, as for any client gone mid-response.
        log.info(
            "seat.left_before_upgrade",
            address=client_address(request, services.config.trusted_proxies),
        )
        return ws
    enrolled: EnrolledSeat | None = None
    conn = HubConnection(
        hub_id=hub.hub_id,
        seats=lambda seat_id: enrolled if enrolled and enrolled.seat_id == seat_id else None,
        channels=hub.channels,
        nonce=hub.nonce(),
        now=hub.monotonic(),
        timing=hub.timing,
    )
    sock = SeatSocket(ws, conn)
    hub.sockets[conn] = sock
    timer = asyncio.create_task(_heartbeat(sock, hub))
    address = client_address(request, services.config.trusted_proxies)
    first = True
    try:
        async for frame in ws:
            async with sock.busy:
                if frame.type is WSMsgType.TEXT:
                    refusal = None
                    if first:
                        refusal = await _admission(services, frame.data, address, now())
                        first = False
                    if enrolled is None:
                        enrolled = await _lookup(services, frame.data)
                    if refusal is not None:
                        conn.refuse(refusal.code, refusal.detail)
                    else:
                        conn.receive_text(frame.data, hub.monotonic())
                elif frame.type is WSMsgType.BINARY:
                    conn.receive_bytes(frame.data, hub.monotonic())  # the machine refuses it
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
                await _handle_events(services, hub, conn.events_received(), now)
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
                await _handle_events(services, hub, conn.events_received(), now)
    return ws


async def shutdown(app: web.Application) -> None:
    """Tell every seat to reconnect (4012) when the hub stops, each between two frames: a score
    commit or request in flight finishes and its answer goes out first. Closing in the middle of
    one would deadlock until aiohttp's close timeout: the close waits for the seat's closing
    frame, which only the connection's reader takes in, and the reader waits for the commit,
    whose answer waits for the writer the close holds. All seats at once, each bounded by the
    hub's shutdown time."""
    hub = app[SEAT_HUB]
    limit = app[SERVICES].config.shutdown_timeout_s

    async def close(sock: SeatSocket) -> None:
        async with sock.busy:
            sock.conn.close(CloseCode.HUB_SHUTTING_DOWN, "the hub is restarting")
            await sock.flush()

    async def bounded(sock: SeatSocket) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(close(sock), limit)

    await asyncio.gather(*(bounded(sock) for sock in list(hub.sockets.values())))
