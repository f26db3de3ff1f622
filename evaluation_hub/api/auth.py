"""Authentication: password sign-in, signed bearer tokens, and the principal of each request.

Tokens are JWTs (HS256) signed with the hub's token secret and carry the user's role and venue;
they arrive as ``Authorization: Bearer`` from programs or as an HttpOnly, SameSite=Strict cookie
from the hub's own pages. Missing, forged and expired tokens are all 401, each with its own
message; a disabled user's token stops working at once because the user is re-read. Password
hashes are ``evaluation_hub.admin.passwords``' (re-exported here for the sign-in handler).
"""

from __future__ import annotations

from datetime import datetime

import jwt
from aiohttp import web
from sqlalchemy import select

from evaluation_hub.admin.passwords import hash_password, verify_password
from evaluation_hub.api.keys import CLOCK, CONFIG, DB
from evaluation_hub.db.models import User
from evaluation_hub.errors import Unauthenticated
from evaluation_hub.principal import Principal

__all__ = [
    "COOKIE",
    "authenticate",
    "hash_password",
    "issue_token",
    "principal",
    "verify_password",
]

COOKIE = "evalhub_token"
_ALGORITHM = "HS256"
_PRINCIPAL = web.RequestKey("principal", Principal)


def issue_token(secret: str, user: User, now: datetime, ttl_s: float) -> str:
    claims = {
        "sub": user.username,
        "role": user.role,
        "venue": user.venue_id,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp() + ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def _token_from(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("bad-authorization", "Authorization 头格式应为：Bearer <令牌>")
        return value.strip()
    return request.cookies.get(COOKIE)


async def authenticate(request: web.Request) -> Principal:
    """The request's principal, or 401 naming what is wrong with the credentials."""
    token = _token_from(request)
    if not token:
        raise Unauthenticated("missing-credentials", "未登录：请先登录后再操作")
    now = request.app[CLOCK]()
    try:
        claims = jwt.decode(
            token,
            request.app[CONFIG].token_secret,
            algorithms=[_ALGORITHM],
            options={
                "require": ["sub", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated("invalid-token", "登录凭证无效，请重新登录") from exc
    # Time claims are checked against the hub's clock, not the OS clock, so tests can move time.
    if int(claims["exp"]) <= now.timestamp():
        raise Unauthenticated("expired-token", "登录已过期，请重新登录")
    async with request.app[DB].read() as s:
        user = (
            await s.execute(select(User).where(User.username == claims["sub"]))
        ).scalar_one_or_none()
    if user is None or not user.active:
        raise Unauthenticated("invalid-token", "登录凭证无效，请重新登录")
    return Principal(user.username, user.role, user.venue_id)


async def principal(request: web.Request) -> Principal:
    """The authenticated principal, computed once per request."""
    if _PRINCIPAL in request:
        return request[_PRINCIPAL]
    found = await authenticate(request)
    request[_PRINCIPAL] = found
    return found
