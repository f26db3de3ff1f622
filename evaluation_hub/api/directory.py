"""The seat directory (工位共享目录) over HTTP: venues, seats, and which seats are free in a
window. Handlers parse, call one use case of ``evaluation_hub.booking.directory`` and render."""

from __future__ import annotations

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import date_param, int_param, path_id, query_window
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.serialize import list_of, ref
from evaluation_hub.api.views.directory import seat_json, timeline_json, venue_json
from evaluation_hub.booking import directory
from evaluation_hub.booking.directory import CAPABILITIES, SEAT_STATUSES

__all__ = ["routes"]

routes = ApiRoutes()

SEAT_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label"],
    "properties": {
        "label": {"type": "string", "minLength": 1, "maxLength": 50},
        "room": {"type": "string", "maxLength": 100},
        "capabilities": {
            "type": "array",
            "items": {"type": "string", "enum": list(CAPABILITIES)},
            "uniqueItems": True,
        },
        "status": {"type": "string", "enum": list(SEAT_STATUSES)},
        "shared": {"type": "boolean"},
    },
}
SEAT_UPDATE = {**SEAT_CREATE, "required": []}


@routes.route("GET", "/api/venues", summary="列出场地", tag="工位目录", response=list_of("Venue"))
async def list_venues(request: web.Request) -> web.Response:
    venues = await directory.list_venues(request.app[SERVICES], await principal(request))
    return web.json_response([venue_json(v) for v in venues])


@routes.route(
    "GET",
    "/api/seats",
    summary="按场地、地区、设备和空闲时段查询共享工位",
    tag="工位目录",
    response=list_of("Seat"),
    query={
        "venue_id": {"type": "integer"},
        "region": {"type": "string", "description": "行政区划代码，前缀匹配（如 5329 匹配大理州）"},
        "capability": {"type": "string", "enum": list(CAPABILITIES), "description": "可重复"},
        "free_from": {"type": "string", "format": "date-time"},
        "free_to": {"type": "string", "format": "date-time"},
        "include_unshared": {"type": "boolean"},
    },
    errors=(422,),
)
async def list_seats(request: web.Request) -> web.Response:
    who = await principal(request)
    query = directory.SeatQuery(
        venue_id=int_param(request, "venue_id"),
        region=request.query.get("region", "").strip(),
        capabilities=tuple(request.query.getall("capability", [])),
        free_in=query_window(request),
        include_unshared=request.query.get("include_unshared") == "true",
    )
    seats = await directory.list_seats(request.app[SERVICES], who, query, now=request.app[CLOCK]())
    return web.json_response([seat_json(x) for x in seats])


@routes.route(
    "POST",
    "/api/venues/{venue_id}/seats",
    summary="发布工位到共享目录（本场地管理员）",
    tag="工位目录",
    body=SEAT_CREATE,
    response=ref("Seat"),
    status=201,
    errors=(403, 404, 409),
)
async def create_seat(request: web.Request) -> web.Response:
    who = await principal(request)
    venue_id = path_id(request, "venue_id")
    body = await read_json(request, SEAT_CREATE)
    seat = await directory.create_seat(
        request.app[SERVICES],
        who,
        venue_id,
        label=body["label"],
        room=body.get("room", ""),
        capabilities=body.get("capabilities", []),
        status=body.get("status", "available"),
        shared=body.get("shared", True),
        now=request.app[CLOCK](),
    )
    return web.json_response(seat_json(seat), status=201)


@routes.route(
    "PATCH",
    "/api/seats/{seat_id}",
    summary="修改工位（本场地管理员）",
    tag="工位目录",
    body=SEAT_UPDATE,
    response=ref("Seat"),
    errors=(403, 404, 409),
)
async def update_seat(request: web.Request) -> web.Response:
    who = await principal(request)
    seat_id = path_id(request, "seat_id")
    body = await read_json(request, SEAT_UPDATE)
    changes = directory.SeatChanges(
        label=body.get("label"),
        room=body.get("room"),
        capabilities=body.get("capabilities"),
        status=body.get("status"),
        shared=body.get("shared"),
    )
    seat = await directory.change_seat(
        request.app[SERVICES], who, seat_id, changes, now=request.app[CLOCK]()
    )
    return web.json_response(seat_json(seat))


@routes.route(
    "GET",
    "/api/venues/{venue_id}/timeline",
    summary="本场地某一天各工位的预约时间轴（本场地管理员）",
    tag="工位目录",
    query={"date": {"type": "string", "format": "date", "description": "YYYY-MM-DD，北京时间"}},
    errors=(403, 404, 422),
)
async def venue_timeline(request: web.Request) -> web.Response:
    who = await principal(request)
    venue_id = path_id(request, "venue_id")
    day = date_param(request, "date")
    timeline = await directory.venue_timeline(request.app[SERVICES], who, venue_id, day)
    return web.json_response(timeline_json(timeline))
