"""Live audio and video supervision (音视频监督) over HTTP: the wall's seat list with state,
alerts and stats, viewer signalling, and the wall's live event stream.

Access is decided by ``live.seats`` on every request, from the session's bookings as they are
now: a host supervisor watches every seat of the session, an away supervisor only the seats at
their venue, nobody else anything. A viewer is signalled in one request: the page posts its
SDP offer (ICE candidates gathered) and gets the hub's answer.

:func:`setup_live` puts the :class:`~evaluation_hub.live.hub.LiveHub` on the app, lets the seat
websocket hand seats' media offers to it, audits its state changes and turns every raised
conduct alert into an incident of each session seating an expert there now
(``supervision.alert_incidents.raise_alert_incident``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import path_id
from evaluation_hub.api.events import KEEPALIVE_S, LIVE_STREAMS
from evaluation_hub.api.keys import BUS, CLOCK, DB
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.audit.store import append_event
from evaluation_hub.bus.base import Bus
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.live.hub import (
    LiveHub,
    MediaRefused,
    ViewerSession,
    alert_json,
    seat_channel,
    stats_json,
)
from evaluation_hub.live.seats import (
    LiveSeat,
    load_session_seats,
    require_seat,
    seated_sessions,
    visible_seats,
)
from evaluation_hub.seats.websocket import SEAT_HUB
from evaluation_hub.supervision import alert_incidents as supervision_store
from evaluation_hub.supervision.alerts import AlertEvidence
from media.conduct import ConductAlert
from seat_protocol.messages import MAX_SDP_CHARS

__all__ = ["LIVE", "routes", "setup_live"]

routes = ApiRoutes()
TAG = "音视频监督"

LIVE = web.AppKey("live_hub", LiveHub)

VIEWER_OFFER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "sdp"],
    "properties": {
        "type": {"type": "string", "enum": ["offer"]},
        "sdp": {"type": "string", "minLength": 1, "maxLength": MAX_SDP_CHARS},
    },
}
_OBJECT: dict[str, Any] = {"type": "object"}


def setup_live(app: web.Application, live: LiveHub | None = None) -> LiveHub:
    """Put a :class:`LiveHub` on the app (one is made from the app's bus and database)."""
    if live is None:
        live = LiveHub(app[BUS], audit=_audit_sink(app), alerts=_alert_incidents(app))
    app[LIVE] = live
    if SEAT_HUB in app:
        # Seats' media offers arrive over the seat websocket; this hub answers them.
        app[SEAT_HUB].media_offer_handler = live.publish

    async def lifecycle(app: web.Application) -> Any:
        live.start()
        yield
        await live.close()

    app.cleanup_ctx.append(lifecycle)
    return live


def _audit_sink(app: web.Application) -> Any:
    async def record(kind: str, subject: str, actor: str, payload: Mapping[str, Any]) -> None:
        db: Database = app[DB]
        async with db.write() as s:
            await append_event(
                s, kind=kind, subject=subject, actor=actor, payload=payload, at=app[CLOCK]()
            )

    return record


def _alert_incidents(app: web.Application) -> Any:
    """Each raised conduct alert becomes (or repeats) an incident of every session with an
    expert seated at that seat now: the supervision record's automatic incidents. A cleared
    alert closes its occurrence on that incident (when it ended, how long it lasted)."""

    async def record(seat_key: str, alert: ConductAlert) -> None:
        db: Database = app[DB]
        now = app[CLOCK]()
        if alert.cleared_at is not None:
            for session_id, seat_id in await seated_sessions(db, seat_key, now):
                await supervision_store.clear_alert_incident(
                    db,
                    session_id,
                    seat_id=seat_id,
                    alert=alert.kind,
                    started_at=datetime.fromtimestamp(alert.started_at, UTC),
                    cleared_at=datetime.fromtimestamp(alert.cleared_at, UTC),
                    now=now,
                )
            return
        recordings = app[LIVE].recordings
        where = recordings.position(seat_key, alert.started_at) if recordings else None
        evidence = AlertEvidence(
            alert.kind,
            datetime.fromtimestamp(alert.started_at, UTC),
            recording_segment_id=where[0] if where else None,
            offset_s=int(where[1]) if where else None,
        )
        for session_id, seat_id in await seated_sessions(db, seat_key, now):
            await supervision_store.raise_alert_incident(
                db, session_id, seat_id=seat_id, evidence=evidence, now=now
            )

    return record


def _seat_json(seat: LiveSeat, live: LiveHub) -> dict[str, Any]:
    status = live.status(seat.seat_key)
    return {
        "seat_id": seat.seat_id,
        "seat_key": seat.seat_key,
        "label": seat.label,
        "room": seat.room,
        "venue_id": seat.venue_id,
        "venue_name": seat.venue_name,
        "expert_code": seat.expert_code,
        "state": status.state,
        "alerts": [alert_json(a) for a in status.alerts],
        "stats": [stats_json(s) for s in status.stats],
        "viewers": status.viewers,
        "publications": status.publications,
    }


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
    seats = await load_session_seats(request.app[DB], session_id)
    visible = visible_seats(who, seats)
    live = request.app[LIVE]
    return web.json_response(
        {
            "session_id": session_id,
            "scope": "all" if who.venue_id == seats.host_venue_id else "venue",
            "seats": [_seat_json(seat, live) for seat in visible],
        }
    )


@routes.route(
    "POST",
    "/api/sessions/{session_id}/live/seats/{seat_id}/viewers",
    summary="观看一个工位的音视频：提交浏览器的 SDP offer，返回主场枢纽的 SDP answer",
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
    seats = await load_session_seats(request.app[DB], session_id)
    seat = require_seat(who, seats, seat_id)
    try:
        viewer, answer = await request.app[LIVE].watch(seat.seat_key, who.username, body["sdp"])
    except MediaRefused as exc:
        if exc.status == 409:
            raise Conflict(exc.code, exc.message) from exc
        raise InvalidInput(exc.code, exc.message) from exc
    return web.json_response(
        {"viewer_id": viewer.id, "seat_id": seat.seat_id, "type": "answer", "sdp": answer},
        status=201,
    )


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
    live = request.app[LIVE]
    _own_viewer(live, who.username, viewer_id)
    await live.stop_viewer(viewer_id)
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
    live = request.app[LIVE]
    viewer = _own_viewer(live, who.username, viewer_id)
    stats = await live.viewer_stats(viewer)
    return web.json_response({"viewer_id": viewer.id, "streams": [stats_json(s) for s in stats]})


def _own_viewer(live: LiveHub, username: str, viewer_id: int) -> ViewerSession:
    viewer = live.viewer(viewer_id)
    if viewer is None:
        raise NotFound("viewer-not-found", f"观看连接 #{viewer_id} 不存在或已关闭")
    if viewer.username != username:
        raise Forbidden("not-your-viewer", f"观看连接 #{viewer_id} 不是当前用户打开的")
    return viewer


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
    visible = visible_seats(who, await load_session_seats(request.app[DB], session_id))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    channels = tuple(seat_channel(seat.seat_key) for seat in visible)
    if not channels:
        return response
    by_key = {seat.seat_key: seat.seat_id for seat in visible}
    bus: Bus = request.app[BUS]
    async with bus.subscribe(*channels) as subscription:
        request.app[LIVE_STREAMS].add(subscription)
        # Subscribed first, then the current state: an alert raised after the wall fetched its
        # seats and before this stream opened is in this snapshot, so the wall never misses it.
        if not await _write_events(response, _snapshot(visible, request.app[LIVE])):
            return response
        iterator = aiter(subscription)
        while True:
            try:
                _channel, event = await asyncio.wait_for(anext(iterator), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            except StopAsyncIteration:
                break
            event = {**event, "seat_id": by_key.get(str(event.get("seat_key")))}
            if not await _write_events(response, [event]):
                break
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def _snapshot(visible: Sequence[LiveSeat], live: LiveHub) -> list[dict[str, Any]]:
    """Each visible seat's state and active alerts, as the events that would have set them."""
    events: list[dict[str, Any]] = []
    for seat in visible:
        status = live.status(seat.seat_key)
        events.append(
            {
                "type": "live.seat",
                "seat_key": seat.seat_key,
                "seat_id": seat.seat_id,
                "state": status.state,
                "snapshot": True,
            }
        )
        for alert in status.alerts:
            events.append(
                {
                    "type": "live.alert",
                    **alert_json(alert),
                    "seat_id": seat.seat_id,
                    "snapshot": True,
                }
            )
    return events


async def _write_events(response: web.StreamResponse, events: Iterable[Mapping[str, Any]]) -> bool:
    """Send ``events`` as server-sent events; False once the viewer has gone."""
    try:
        for event in events:
            text = json.dumps(event, ensure_ascii=False)
            await response.write(f"data: {text}\n\n".encode())
    except ConnectionResetError:
        return False
    return True
