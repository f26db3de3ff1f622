"""Sign-in and sign-out endpoints."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from evaluation_hub.access import ROLE_NAMES
from evaluation_hub.api.auth import COOKIE, hash_password, issue_token, principal, verify_password
from evaluation_hub.api.keys import CLOCK, CONFIG, DB
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.db.models import User
from evaluation_hub.errors import Unauthenticated

__all__ = ["routes"]

routes = ApiRoutes()

LOGIN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}
# Verifying against a fixed hash when the user is unknown keeps the response time the same.
_DUMMY_HASH = hash_password("unused", salt=b"\0" * 16)


@routes.route(
    "POST",
    "/api/auth/token",
    summary="用户名和密码登录，返回令牌并设置 Cookie",
    tag="登录",
    body=LOGIN,
    auth=False,
    errors=(401,),
)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    async with request.app[DB].read() as s:
        user = (
            await s.execute(select(User).where(User.username == body["username"]))
        ).scalar_one_or_none()
    ok = verify_password(body["password"], user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok or not user.active:
        raise Unauthenticated("bad-login", "用户名或密码错误")
    config = request.app[CONFIG]
    now = request.app[CLOCK]()
    token = issue_token(config.token_secret, user, now, config.token_ttl.total_seconds())
    response = web.json_response(
        {
            "token": token,
            "expires_at": (now + config.token_ttl).isoformat(),
            "user": {
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "role_name": ROLE_NAMES[user.role],
                "venue_id": user.venue_id,
            },
        }
    )
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        max_age=int(config.token_ttl / timedelta(seconds=1)),
        path="/",
    )
    return response


@routes.route("POST", "/api/auth/logout", summary="退出登录", tag="登录", auth=False, status=204)
async def logout(request: web.Request) -> web.Response:
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


@routes.route("GET", "/api/me", summary="当前用户", tag="登录")
async def me(request: web.Request) -> web.Response:
    who = await principal(request)
    async with request.app[DB].read() as s:
        user = (await s.execute(select(User).where(User.username == who.username))).scalar_one()
    return web.json_response(
        {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "role_name": ROLE_NAMES[user.role],
            "venue_id": user.venue_id,
        }
    )
