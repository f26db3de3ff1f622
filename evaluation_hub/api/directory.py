"""The seat directory (工位共享目录): venues, seats, and which seats are free in a window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from evaluation_hub import localtime
from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import DB
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.serialize import list_of, ref, seat_json, venue_json
from evaluation_hub.booking import rules
from evaluation_hub.db.models import Booking, BookingSeat, Seat, Venue
from evaluation_hub.errors import Conflict, InvalidInput, NotFound

__all__ = ["int_param", "path_id", "query_window", "routes"]

routes = ApiRoutes()

CAPABILITIES = ("camera", "microphone", "dual_screen", "speaker", "id_reader")

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
        "status": {"type": "string", "enum": ["available", "maintenance", "retired"]},
        "shared": {"type": "boolean"},
    },
}
SEAT_UPDATE = {**SEAT_CREATE, "required": []}


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput("bad-query", f"查询参数 {name} 必须是整数") from exc


def _dt_param(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            "bad-query",
            f"查询参数 {name} 必须是带时区的 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00",
        ) from exc
    if value.tzinfo is None:
        raise InvalidInput(
            "bad-query",
            f"查询参数 {name} 必须是带时区的 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00",
        )
    return value


def query_window(request: web.Request) -> rules.Window | None:
    start, end = _dt_param(request, "free_from"), _dt_param(request, "free_to")
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidInput("bad-query", "查询空闲工位时必须同时给出 free_from 和 free_to")
    if end <= start:
        raise InvalidInput("bad-query", "free_to 必须晚于 free_from")
    return rules.Window(start, end)


def path_id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise NotFound("not-found", "请求的地址不存在") from exc


@routes.route("GET", "/api/venues", summary="列出场地", tag="工位目录", response=list_of("Venue"))
async def list_venues(request: web.Request) -> web.Response:
    await principal(request)
    async with request.app[DB].read() as s:
        venues = (await s.execute(select(Venue).order_by(Venue.id))).scalars()
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
    venue_id = int_param(request, "venue_id")
    region = request.query.get("region", "").strip()
    wanted = request.query.getall("capability", [])
    unknown = [c for c in wanted if c not in CAPABILITIES]
    if unknown:
        raise InvalidInput(
            "bad-query", f"未知的设备能力：{', '.join(unknown)}（可选：{', '.join(CAPABILITIES)}）"
        )
    window = query_window(request)
    include_unshared = request.query.get("include_unshared") == "true"
    query = select(Seat, Venue).join(Venue).order_by(Venue.id, Seat.id)
    if venue_id is not None:
        query = query.where(Seat.venue_id == venue_id)
    if region:
        query = query.where(Venue.region_code.startswith(region))
    async with request.app[DB].read() as s:
        rows = list((await s.execute(query)).all())
        busy: set[int] = set()
        if window is not None:
            busy = set(
                (
                    await s.execute(
                        select(BookingSeat.seat_id).where(
                            BookingSeat.live.is_(True),
                            BookingSeat.starts_at < window.ends_at,
                            BookingSeat.ends_at > window.starts_at,
                        )
                    )
                ).scalars()
            )
    out: list[dict[str, Any]] = []
    for seat, venue in rows:
        own_venue = who.is_system or (who.role == "venue_admin" and who.venue_id == venue.id)
        if not seat.shared and not (include_unshared and own_venue):
            continue
        if not set(wanted) <= set(seat.capabilities):
            continue
        if window is not None and (seat.id in busy or seat.status != "available"):
            continue
        out.append(seat_json(seat, venue))
    return web.json_response(out)


async def _own_venue(request: web.Request, venue_id: int) -> Venue:
    who = await principal(request)
    async with request.app[DB].read() as s:
        venue = await s.get(Venue, venue_id)
    if venue is None:
        raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
    who.require_venue_admin(venue.id, venue.name)
    return venue


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
    venue = await _own_venue(request, path_id(request, "venue_id"))
    body = await read_json(request, SEAT_CREATE)
    async with request.app[DB].write() as s:
        exists = (
            await s.execute(
                select(Seat.id).where(Seat.venue_id == venue.id, Seat.label == body["label"])
            )
        ).first()
        if exists:
            raise Conflict(
                "seat-label-taken", f"场地「{venue.name}」已有编号为 {body['label']} 的工位"
            )
        seat = Seat(
            venue_id=venue.id,
            label=body["label"].strip(),
            room=body.get("room", ""),
            capabilities=sorted(body.get("capabilities", [])),
            status=body.get("status", "available"),
            shared=body.get("shared", True),
        )
        s.add(seat)
        await s.flush()
        result = seat_json(seat, venue)
    return web.json_response(result, status=201)


@routes.route(
    "PATCH",
    "/api/seats/{seat_id}",
    summary="修改工位（本场地管理员）",
    tag="工位目录",
    body=SEAT_UPDATE,
    response=ref("Seat"),
    errors=(403, 404),
)
async def update_seat(request: web.Request) -> web.Response:
    who = await principal(request)
    seat_id = path_id(request, "seat_id")
    body = await read_json(request, SEAT_UPDATE)
    async with request.app[DB].write() as s:
        seat = await s.get(Seat, seat_id)
        if seat is None:
            raise NotFound("seat-not-found", f"工位 #{seat_id} 不存在")
        venue = await s.get(Venue, seat.venue_id)
        assert venue is not None
        who.require_venue_admin(venue.id, venue.name)
        for name in ("label", "room", "status", "shared"):
            if name in body:
                setattr(seat, name, body[name])
        if "capabilities" in body:
            seat.capabilities = sorted(body["capabilities"])
        await s.flush()
        return web.json_response(seat_json(seat, venue))


@routes.route(
    "GET",
    "/api/venues/{venue_id}/timeline",
    summary="本场地某一天各工位的预约时间轴（本场地管理员）",
    tag="工位目录",
    query={"date": {"type": "string", "format": "date", "description": "YYYY-MM-DD，北京时间"}},
    errors=(403, 404, 422),
)
async def venue_timeline(request: web.Request) -> web.Response:
    venue = await _own_venue(request, path_id(request, "venue_id"))
    raw = request.query.get("date", "")
    try:
        day = date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput("bad-query", "查询参数 date 必须是日期，例如 2026-12-01") from exc
    start = localtime.midnight(day)
    end = start + timedelta(days=1)
    async with request.app[DB].read() as s:
        seats = list(
            (
                await s.execute(select(Seat).where(Seat.venue_id == venue.id).order_by(Seat.id))
            ).scalars()
        )
        holds = (
            await s.execute(
                select(BookingSeat, Booking)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .where(
                    BookingSeat.seat_id.in_([x.id for x in seats]),
                    BookingSeat.live.is_(True),
                    BookingSeat.starts_at < end,
                    BookingSeat.ends_at > start,
                )
                .order_by(BookingSeat.starts_at)
            )
        ).all()
    by_seat: dict[int, list[dict[str, Any]]] = {x.id: [] for x in seats}
    for hold, booking in holds:
        by_seat[hold.seat_id].append(
            {
                "booking_id": booking.id,
                "session_id": booking.session_id,
                "state": booking.state,
                "state_name": rules.STATE_NAMES[booking.state],
                "starts_at": hold.starts_at.isoformat(),
                "ends_at": hold.ends_at.isoformat(),
            }
        )
    return web.json_response(
        {
            "venue": venue_json(venue),
            "date": day.isoformat(),
            "seats": [{**seat_json(x), "holds": by_seat[x.id]} for x in seats],
        }
    )
