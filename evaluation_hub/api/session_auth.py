"""Sign-in and sign-out endpoints.

Sign-in is ``admin.signin.sign_in`` (throttled per user and per client address, the password
checked off the event loop); sign-out revokes the token it is called with
(``admin.tokens.revoke_token``), so a copy of it kept elsewhere stops working too. The cookie
is HttpOnly and SameSite=Strict, and ``Secure`` whenever the request came over HTTPS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from evaluation_hub.access import ROLE_NAMES
from evaluation_hub.admin.signin import PasswordChecks, sign_in
from evaluation_hub.admin.tokens import revoke_token
from evaluation_hub.api.auth import COOKIE, issue_token, presented_claims, principal
from evaluation_hub.api.keys import CLOCK, CONFIG, DB, SERVICES
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.transport import client_address, is_https
from evaluation_hub.db.models import User

__all__ = ["PASSWORD_CHECKS", "routes", "setup"]

routes = ApiRoutes()

#: the application's password-check threads (``admin.signin.PasswordChecks``)
PASSWORD_CHECKS = web.AppKey("password_checks", PasswordChecks)

LOGIN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}


def setup(app: web.Application) -> None:
    """Give the application its password-check threads (closed with it)."""
    app[PASSWORD_CHECKS] = PasswordChecks.for_policy(app[CONFIG].signin)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        yield
        app[PASSWORD_CHECKS].close()

    app.cleanup_ctx.append(lifecycle)


@routes.route(
    "POST",
    "/api/auth/token",
    summary="用户名和密码登录，返回令牌并设置 Cookie（失败过多将暂时锁定）",
    tag="登录",
    body=LOGIN,
    auth=False,
    errors=(401, 429, 503),
)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    config = request.app[CONFIG]
    now = request.app[CLOCK]()
    signed = await sign_in(
        request.app[SERVICES],
        request.app[PASSWORD_CHECKS],
        body["username"],
        body["password"],
        client_address(request, config.trusted_proxies),
        now=now,
    )
    token = issue_token(config.token_secret, signed.claims, signed.role, signed.venue_id)
    response = web.json_response(
        {
            "token": token,
            "expires_at": signed.claims.expires_at.isoformat(),
            "user": {
                "username": signed.username,
                "display_name": signed.display_name,
                "role": signed.role,
                "role_name": signed.role_name,
                "venue_id": signed.venue_id,
            },
        }
    )
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
        max_age=int(config.token_ttl / timedelta(seconds=1)),
        path="/",
    )
    return response


@routes.route(
    "POST",
    "/api/auth/logout",
    summary="退出登录：所持令牌随即作废",
    tag="登录",
    auth=False,
    status=204,
)
async def logout(request: web.Request) -> web.Response:
    claims = presented_claims(request)
    if claims is not None:
        await revoke_token(request.app[SERVICES], claims, now=request.app[CLOCK]())
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/", secure=is_https(request), samesite="Strict")
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
