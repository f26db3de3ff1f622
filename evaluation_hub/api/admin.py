"""Administration over HTTP (系统管理): venues, user accounts and the administrative changes.
Handlers parse, call one use case of ``evaluation_hub.admin`` and render; seats are the
directory's routes (``api.directory``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.access import USER_ROLES
from evaluation_hub.admin import changes, users, venues
from evaluation_hub.admin.errors import MAX_DISPLAY_NAME, MAX_PASSWORD_LENGTH
from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import int_param, path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.serialize import list_of, ref
from evaluation_hub.api.views.admin import change_log_json, user_json
from evaluation_hub.api.views.directory import venue_json

__all__ = ["routes"]

routes = ApiRoutes()

_TEXT = {"type": "string", "maxLength": 200}
_LATITUDE = {"type": "number", "minimum": -90, "maximum": 90}
_LONGITUDE = {"type": "number", "minimum": -180, "maximum": 180}
VENUE_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "name", "region_code", "supervising_department"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": 16},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "region_code": {"type": "string", "minLength": 1, "maxLength": 6},
        "supervising_department": {"type": "string", "minLength": 1, "maxLength": 200},
        "contact_name": {"type": "string", "maxLength": 100},
        "contact_phone": {"type": "string", "maxLength": 40},
        "latitude": _LATITUDE,
        "longitude": _LONGITUDE,
    },
}
VENUE_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{k: v for k, v in VENUE_CREATE["properties"].items() if k != "code"},
        "enabled": {"type": "boolean"},
    },
}
_PASSWORD = {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD_LENGTH}
USER_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "role", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "role": {"type": "string", "enum": list(USER_ROLES)},
        "venue_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "display_name": {"type": "string", "maxLength": MAX_DISPLAY_NAME},
        "password": _PASSWORD,
    },
}
USER_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["active"],
    "properties": {"active": {"type": "boolean"}},
}
PASSWORD_RESET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["password"],
    "properties": {"password": _PASSWORD},
}


@routes.route(
    "POST",
    "/api/venues",
    summary="登记场地（系统管理员）",
    tag="系统管理",
    body=VENUE_CREATE,
    response=ref("Venue"),
    status=201,
    errors=(403, 409, 422),
)
async def create_venue(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, VENUE_CREATE)
    draft = venues.VenueDraft(
        code=body["code"],
        name=body["name"],
        region_code=body["region_code"],
        supervising_department=body["supervising_department"],
        contact_name=body.get("contact_name", ""),
        contact_phone=body.get("contact_phone", ""),
        latitude=body.get("latitude"),
        longitude=body.get("longitude"),
    )
    venue = await venues.add_venue(request.app[SERVICES], who, draft, now=request.app[CLOCK]())
    return web.json_response(venue_json(venue), status=201)


@routes.route(
    "PATCH",
    "/api/venues/{venue_id}",
    summary="修改场地或停用、启用场地（系统管理员）",
    tag="系统管理",
    body=VENUE_UPDATE,
    response=ref("Venue"),
    errors=(403, 422),
)
async def update_venue(request: web.Request) -> web.Response:
    who = await principal(request)
    venue_id = path_id(request, "venue_id")
    body = await read_json(request, VENUE_UPDATE)
    changes_ = venues.VenueChanges(**body)
    venue = await venues.change_venue(
        request.app[SERVICES], who, venue_id, changes_, now=request.app[CLOCK]()
    )
    return web.json_response(venue_json(venue))


@routes.route(
    "GET",
    "/api/users",
    summary="列出用户（系统管理员：全部或某场地；场地管理员：本场地）",
    tag="系统管理",
    response=list_of("User"),
    query={"venue_id": {"type": "integer"}},
    errors=(403, 404),
)
async def list_users(request: web.Request) -> web.Response:
    who = await principal(request)
    venue_id = int_param(request, "venue_id")
    found = await users.list_users(request.app[SERVICES], who, venue_id)
    return web.json_response([user_json(u) for u in found])


@routes.route(
    "POST",
    "/api/users",
    summary="新增用户（系统管理员；场地管理员限本场地，且不能新增系统管理员）",
    tag="系统管理",
    body=USER_CREATE,
    response=ref("User"),
    status=201,
    errors=(403, 404, 409),
)
async def create_user(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, USER_CREATE)
    account = await users.add_user(
        request.app[SERVICES],
        who,
        body["username"],
        body["role"],
        body.get("venue_id"),
        body["password"],
        body.get("display_name", ""),
        now=request.app[CLOCK](),
    )
    return web.json_response(user_json(account), status=201)


@routes.route(
    "PATCH",
    "/api/users/{user_id}",
    summary="停用或启用用户（停用后其登录凭证立即失效）",
    tag="系统管理",
    body=USER_UPDATE,
    response=ref("User"),
    errors=(403, 409),
)
async def update_user(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = path_id(request, "user_id")
    body = await read_json(request, USER_UPDATE)
    account = await users.set_active(
        request.app[SERVICES], who, user_id, body["active"], now=request.app[CLOCK]()
    )
    return web.json_response(user_json(account))


@routes.route(
    "POST",
    "/api/users/{user_id}/password",
    summary="重置用户密码（由管理员设定新密码，原登录凭证立即失效）",
    tag="系统管理",
    body=PASSWORD_RESET,
    response=ref("User"),
    errors=(403,),
)
async def reset_password(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = path_id(request, "user_id")
    body = await read_json(request, PASSWORD_RESET)
    account = await users.reset_password(
        request.app[SERVICES], who, user_id, body["password"], now=request.app[CLOCK]()
    )
    return web.json_response(user_json(account))


@routes.route(
    "GET",
    "/api/admin/changes",
    summary="操作日志：场地、工位、用户的管理操作（系统管理员：全部；场地管理员：本场地）",
    tag="系统管理",
    query={
        "venue_id": {"type": "integer"},
        "before": {"type": "integer", "description": "只列出序号小于此值的记录（翻页）"},
        "limit": {"type": "integer"},
    },
    errors=(403, 404),
)
async def admin_changes(request: web.Request) -> web.Response:
    who = await principal(request)
    log = await changes.admin_changes(
        request.app[SERVICES],
        who,
        venue_id=int_param(request, "venue_id"),
        before=int_param(request, "before"),
        limit=int_param(request, "limit") or 100,
    )
    return web.json_response(change_log_json(log))
