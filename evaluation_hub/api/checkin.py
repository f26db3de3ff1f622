"""Seating experts at booked seats and issuing their one-time check-in PINs (签到码) over HTTP.
Handlers parse, call one use case of ``evaluation_hub.checkin.store`` and render."""

from __future__ import annotations

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.views.sessions import pins_json
from evaluation_hub.checkin import store

__all__ = ["routes"]

routes = ApiRoutes()

SEAT_EXPERT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expert_id"],
    "properties": {"expert_id": ID},
}


@routes.route(
    "POST",
    "/api/bookings/{booking_id}/seats/{seat_id}/expert",
    summary="安排评标委员会成员到预约占用的工位（主场）",
    tag="专家签到",
    body=SEAT_EXPERT,
    status=204,
    errors=(403, 404, 409),
)
async def seat_expert(request: web.Request) -> web.Response:
    who = await principal(request)
    booking_id = path_id(request, "booking_id")
    seat_id = path_id(request, "seat_id")
    body = await read_json(request, SEAT_EXPERT)
    await store.assign_expert(
        request.app[SERVICES], who, booking_id, seat_id, body["expert_id"], now=request.app[CLOCK]()
    )
    return web.Response(status=204)


@routes.route(
    "POST",
    "/api/sessions/{session_id}/checkin-pins",
    summary="为已安排工位的专家发放一次性签到码（仅此一次显示，主场）",
    tag="专家签到",
    status=201,
    errors=(403, 404, 409),
)
async def issue_pins(request: web.Request) -> web.Response:
    issued = await store.issue_pins(
        request.app[SERVICES],
        await principal(request),
        path_id(request, "session_id"),
        now=request.app[CLOCK](),
    )
    return web.json_response(pins_json(issued), status=201, headers={"Cache-Control": "no-store"})
