"""Live audio and video supervision (音视频监督) over HTTP: the wall's seat list with state,
alerts and stats, viewer signalling, and the wall's live event stream.

Access is decided by the use cases (``live.watching``, rule ``access.Action.WATCH_LIVE``) on
every request, from the session's seats as they are now: a host supervisor watches every seat
of the session, an away supervisor only the seats at their venue, nobody else anything. A
viewer is signalled in one request: the page posts its SDP offer (ICE candidates gathered) and
gets the hub's answer. With ``media_backend = janus`` (``live.janus_plane``) the page asks to
subscribe, gets Janus's offer with a one-time token, and posts its answer with the token.

:func:`setup_live` puts the :class:`~evaluation_hub.live.hub.LiveHub` on the app, lets the seat
websocket hand seats' media offers to it, hands its audit events and conduct alerts, with
``now``, to ``live.records`` (alerts become incidents of the sessions the seat's media belongs
to), and lets check-in look at the seats' pictures through it (``Services.pictures``). The
wall's requests go through ``live.relay.LiveRelay`` (``RELAY``): on a shared bus the hub process
holding a seat's media or a viewer answers, whichever process the request landed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from typing import Any

import structlog
from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.events import KEEPALIVE_S, LIVE_STREAMS
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.seat_link import SEAT_HUB
from evaluation_hub.api.views.live import (
    opened_json,
    recording_json,
    snapshot_events,
    viewer_figures_json,
    wall_json,
)
from evaluation_hub.bus.base import Bus
from evaluation_hub.live import janus_ends, records, watching
from evaluation_hub.live.hub import AlertSink, AuditSink, LiveHub
from evaluation_hub.live.janus_monitor import JanusMonitors
from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.janus_recording import JanusRecordings
from evaluation_hub.live.janus_relay import JanusRelay
from evaluation_hub.live.janus_rooms import JanusSettings
from evaluation_hub.live.publishing import ended_sessions, publishing_session
from evaluation_hub.live.recording import (
    RecordingState,
    outage_audit_sink,
    recordings_from_config,
    segment_audit_sink,
)
from evaluation_hub.live.relay import LiveRelay
from evaluation_hub.live.status import seat_channel
from evaluation_hub.seats import session_notices
from evaluation_hub.services import Services
from media.conduct import ConductAlert
from seat_protocol.messages import MAX_SDP_CHARS

__all__ = ["LIVE", "MEDIA", "RELAY", "routes", "setup_live"]

log = structlog.get_logger(__name__)
routes = ApiRoutes()
TAG = "音视频监督"

LIVE = web.AppKey("live_hub", LiveHub)
# The wall's way to the live media of every hub process (``live.relay``).
RELAY = web.AppKey("live_relay", LiveRelay)
# The media plane the wall's requests go to: the relay (built-in forwarder) or Janus.
MEDIA: web.AppKey[watching.Media] = web.AppKey("live_media")

# The built-in forwarder: the browser's offer; Janus: a request to subscribe (no SDP).
VIEWER_OFFER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["offer", "subscribe"]},
        "sdp": {"type": "string", "minLength": 1, "maxLength": MAX_SDP_CHARS},
    },
}
VIEWER_ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "sdp", "token"],
    "properties": {
        "type": {"type": "string", "enum": ["answer"]},
        "sdp": {"type": "string", "minLength": 1, "maxLength": MAX_SDP_CHARS},
        "token": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}
_OBJECT: dict[str, Any] = {"type": "object"}


def _recording_announcer(
    bus: Bus,
) -> Callable[[str, RecordingState], Coroutine[Any, Any, None]]:
    """Tell the walls watching a seat that its recording stopped or resumed (``live.recording``,
    on the seat's channel like its state and alerts)."""

    async def announce(seat_key: str, state: RecordingState) -> None:
        event = {"type": "live.recording", "seat_key": seat_key, "recording": recording_json(state)}
        try:
            await bus.publish(seat_channel(seat_key), event)
        except Exception as exc:  # the wall then learns it on its next load
            log.warning("live.recording_unannounced", seat_key=seat_key, error=str(exc))

    return announce


def setup_live(app: web.Application, live: LiveHub | None = None) -> LiveHub:
    """Put a :class:`LiveHub` on the app (one is made from the app's services, recording as
    configured)."""
    if live is None:
        services = app[SERVICES]
        live = LiveHub(services.bus, audit=_audit_sink(app), alerts=_alert_sink(app))
        live.recordings = recordings_from_config(services.config, services.db, app[CLOCK])
        if live.recordings is not None:
            live.recordings.announce = _recording_announcer(services.bus)
    app[LIVE] = live
    # Check-in confirms presence from what the seat's conduct monitor sees (签到在场核验).
    app[SERVICES].pictures = live
    if SEAT_HUB in app:
        # Seats' media offers arrive over the seat websocket; this hub answers them.
        app[SEAT_HUB].media_offer_handler = live.publish
        live.link_up = app[SEAT_HUB].connected

    services = app[SERVICES]
    # Other hub processes exist only on a shared bus (Redis): then the relay asks them.
    relay = LiveRelay(live, services.bus, remote=services.config.redis_url is not None)
    app[RELAY] = relay
    app[MEDIA] = relay
    plane = _janus_plane(app) if services.config.media_backend == "janus" else None
    janus = None if plane is None else JanusRelay(plane, services.bus, remote=relay.remote)
    if plane is not None and janus is not None:
        app[MEDIA] = janus
        services.pictures = plane
        if SEAT_HUB in app:
            # Seats' media offers go on to Janus; the seat never learns of it.
            app[SEAT_HUB].media_offer_handler = plane.publish
            plane.link_up = app[SEAT_HUB].connected

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        live.start()
        async with contextlib.AsyncExitStack() as stack:
            servers = [relay.serve()] if relay.remote else []
            if plane is not None and janus is not None:
                plane.start()
                if janus.remote:
                    servers.append(janus.serve())
                # Every process hears every session move: the rooms of those that end go.
                moves = await stack.enter_async_context(
                    services.bus.subscribe(session_notices.CHANNEL)
                )
                servers.append(janus_ends.follow_sessions(plane, moves))
                # And those that ended while no hub process listened.
                servers.append(_sweep(plane, services))
            serving = [asyncio.create_task(server) for server in servers]
            yield
            for task in serving:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if plane is not None:
            await plane.close()
        await live.close()

    app.cleanup_ctx.append(lifecycle)
    return live


async def _sweep(plane: JanusPlane, services: Services) -> None:
    async def ended(session_ids: list[int]) -> list[int]:
        return await ended_sessions(services, session_ids)

    try:
        destroyed = await janus_ends.sweep(plane, ended)
    except Exception:  # the database away: the next start sweeps
        log.exception("janus.rooms_not_swept")
        return
    if destroyed:
        log.info("janus.rooms_swept", sessions=destroyed)


def _janus_plane(app: web.Application) -> JanusPlane:
    """The Janus media plane as configured; rooms' secrets and PINs derive from the token
    secret every hub process shares."""
    services = app[SERVICES]
    config = services.config
    settings = JanusSettings(
        urls=config.janus_urls,
        api_secret=config.janus_api_secret,
        admin_key=config.janus_admin_key,
        room_key=config.token_secret.encode(),
    )

    async def session_of(seat_key: str) -> int | None:
        return await publishing_session(services, seat_key, now=app[CLOCK]())

    recordings = None
    if config.recordings_enabled:
        # Janus writes into <recordings>/janus (a folder both reach); the hub converts and
        # audits each publication's recording like the built-in recorder's segments.
        recordings = JanusRecordings(
            config.recordings_dir,
            config.recordings_dir / "janus",
            segment_audit_sink(services.db, app[CLOCK]),
            segment_seconds=config.recording_segment_s,
            outages=outage_audit_sink(services.db, app[CLOCK]),
        )
        recordings.announce = _recording_announcer(services.bus)
    return JanusPlane(
        services.bus,
        settings,
        session_of=session_of,
        audit=_audit_sink(app),
        recordings=recordings,
        monitors=JanusMonitors(services.bus, audit=_audit_sink(app), alerts=_alert_sink(app)),
    )


def _audit_sink(app: web.Application) -> AuditSink:
    async def record(kind: str, subject: str, actor: str, payload: Mapping[str, Any]) -> None:
        await records.record_live_event(
            app[SERVICES], kind, subject, actor, payload, now=app[CLOCK]()
        )

    return record


def _alert_sink(app: web.Application) -> AlertSink:
    async def record(seat_key: str, alert: ConductAlert) -> None:
        recordings = app[LIVE].recordings
        where = (
            recordings.position(seat_key, alert.started_at)
            if recordings is not None and alert.cleared_at is None
            else None
        )
        await records.record_alert(
            app[SERVICES], seat_key, alert, recording=where, now=app[CLOCK]()
        )

    return record


@routes.route(
    "GET",
    "/api/sessions/{session_id}/live/seats",
    summary="监督视频墙：本人可观看的工位及其在线状态、告警和媒体统计（客场监督只见本场地工位）",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404),
)
async def list_live_seats(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    wall = await watching.live_wall(
        request.app[SERVICES], request.app[MEDIA], who, session_id, now=request.app[CLOCK]()
    )
    return web.json_response(wall_json(wall))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/live/seats/{seat_id}/viewers",
    summary=(
        "观看一个工位的音视频：内置转发时提交浏览器的 SDP offer，返回主场枢纽的 SDP answer；"
        "Janus 时请求订阅（type: subscribe），返回 Janus 的 SDP offer 与一次性观看授权"
    ),
    tag=TAG,
    body=VIEWER_OFFER,
    response=_OBJECT,
    status=201,
    errors=(403, 404, 409),
)
async def open_viewer(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    seat_id = path_id(request, "seat_id")
    body = await read_json(request, VIEWER_OFFER)
    opened = await watching.open_viewer(
        request.app[SERVICES],
        request.app[MEDIA],
        who,
        session_id,
        seat_id,
        body.get("sdp"),
        now=request.app[CLOCK](),
    )
    return web.json_response(opened_json(opened), status=201)


@routes.route(
    "POST",
    "/api/live/viewers/{viewer_id}/answer",
    summary="提交浏览器对 Janus SDP offer 的 SDP answer（附一次性观看授权，仅可使用一次）",
    tag=TAG,
    body=VIEWER_ANSWER,
    status=204,
    errors=(403, 404, 409),
)
async def answer_viewer(request: web.Request) -> web.Response:
    who = await principal(request)
    viewer_id = path_id(request, "viewer_id")
    body = await read_json(request, VIEWER_ANSWER)
    await watching.answer_viewer(request.app[MEDIA], who, viewer_id, body["token"], body["sdp"])
    return web.Response(status=204)


@routes.route(
    "DELETE",
    "/api/live/viewers/{viewer_id}",
    summary="关闭本人的一个观看连接",
    tag=TAG,
    status=204,
    errors=(403, 404),
)
async def close_viewer(request: web.Request) -> web.Response:
    who = await principal(request)
    viewer_id = path_id(request, "viewer_id")
    await watching.close_viewer(request.app[MEDIA], who, viewer_id)
    return web.Response(status=204)


@routes.route(
    "GET",
    "/api/live/viewers/{viewer_id}/stats",
    summary="本人一个观看连接的媒体统计（帧率、码率、丢包、往返时延），与上次读取之间的数值",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404),
)
async def viewer_stats(request: web.Request) -> web.Response:
    who = await principal(request)
    viewer_id = path_id(request, "viewer_id")
    figures = await watching.viewer_figures(request.app[MEDIA], who, viewer_id)
    return web.json_response(viewer_figures_json(figures))


@routes.route(
    "GET",
    "/api/sessions/{session_id}/live/events",
    summary="监督视频墙的实时事件流（text/event-stream）：本人可观看工位的在线状态变化与行为告警",
    tag=TAG,
    errors=(403, 404),
)
async def live_events(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    services = request.app[SERVICES]
    visible = await watching.watched_seats(services, who, session_id, now=request.app[CLOCK]())
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    channels = tuple(seat_channel(seat.seat_key) for seat in visible)
    if not await _write(response, b": connected\n\n") or not channels:
        return response
    by_key = {seat.seat_key: seat.seat_id for seat in visible}
    async with services.bus.subscribe(*channels) as subscription:
        request.app[LIVE_STREAMS].add(subscription)
        # Subscribed first, then the current state: an alert raised after the wall fetched its
        # seats and before this stream opened is in this snapshot, so the wall never misses it.
        snapshot = snapshot_events(
            await watching.on_wall(request.app[MEDIA], visible, session_id=session_id)
        )
        if not await _write_events(response, snapshot):
            return response
        iterator = aiter(subscription)
        while True:
            try:
                _channel, event = await asyncio.wait_for(anext(iterator), KEEPALIVE_S)
            except TimeoutError:
                # The wall that went away is found here, between events: not an error.
                if not await _write(response, b": keep-alive\n\n"):
                    break
                continue
            except StopAsyncIteration:
                break
            event = {**event, "seat_id": by_key.get(str(event.get("seat_key")))}
            if not await _write_events(response, [event]):
                break
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def _write_events(response: web.StreamResponse, events: Iterable[Mapping[str, Any]]) -> bool:
    """Send ``events`` as server-sent events; False once the viewer has gone."""
    for event in events:
        text = json.dumps(event, ensure_ascii=False)
        if not await _write(response, f"data: {text}\n\n".encode()):
            return False
    return True


async def _write(response: web.StreamResponse, data: bytes) -> bool:
    """Write to the stream; False once the viewer has gone (aiohttp's
    ``ClientConnectionResetError`` is a ``ConnectionResetError``)."""
    try:
        await response.write(data)
    except ConnectionResetError:
        return False
    return True
