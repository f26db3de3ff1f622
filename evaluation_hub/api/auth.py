"""Authentication: signed bearer tokens, and the principal of each request.

Tokens are JWTs (HS256) signed with the hub's token secret; they arrive as
``Authorization: Bearer`` from programs or as an HttpOnly, SameSite=Strict cookie (``Secure``
over HTTPS) from the hub's own pages. This module checks the signature and the claims' form (a
token whose time claims are not numbers is forged as far as the hub is concerned); whether the
token is still honoured — its lifetime, its user, a sign-out, a disabled account or a reset
password — is ``evaluation_hub.admin.tokens``'. Missing, forged, expired and revoked tokens are
all 401, each with its own message.

A cookie is sent by the browser whoever wrote the page that makes the request, so a write
authenticated by the cookie must also carry :data:`PAGE_HEADER` (the hub's pages send it from
``web/static/common.js``; a cross-site form cannot set a header, and a cross-site script would
need a CORS grant the hub never gives) and, when the browser says where it comes from
(``Origin``), come from the hub's own origin. Programs sending ``Authorization: Bearer`` carry
no ambient credential and are exempt.
"""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp import web
from yarl import URL

from evaluation_hub.admin.tokens import INVALID, TokenClaims, claims_from, token_holder
from evaluation_hub.api.keys import CLOCK, CONFIG, SERVICES
from evaluation_hub.api.routes import UNSAFE_METHODS
from evaluation_hub.errors import Forbidden, Unauthenticated
from evaluation_hub.principal import Principal

__all__ = [
    "COOKIE",
    "PAGE_HEADER",
    "authenticate",
    "issue_token",
    "presented_claims",
    "principal",
]

COOKIE = "evalhub_token"
#: the request header the hub's pages send with every API call (see the module's docstring)
PAGE_HEADER = "X-Evaluation-Hub"
_ALGORITHM = "HS256"
_PRINCIPAL = web.RequestKey("principal", Principal)


def issue_token(secret: str, claims: TokenClaims, role: str, venue_id: int | None) -> str:
    return jwt.encode(claims.encoded(role, venue_id), secret, algorithm=_ALGORITHM)


def _token_from(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("bad-authorization", "Authorization 头格式应为：Bearer <令牌>")
        return value.strip()
    token = request.cookies.get(COOKIE)
    if token and request.method.lower() in UNSAFE_METHODS:
        _require_same_site(request)
    return token


def _require_same_site(request: web.Request) -> None:
    """A write authenticated by the cookie comes from the hub's own pages."""
    if not request.headers.get(PAGE_HEADER):
        raise Forbidden(
            "cross-site-request",
            f"通过 Cookie 登录的修改请求必须带有 {PAGE_HEADER} 请求头（防止跨站请求伪造）；"
            "程序调用请使用 Authorization: Bearer 令牌",
        )
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request):
        raise Forbidden("cross-site-request", "请求来自其他网站，已拒绝（防止跨站请求伪造）")


def _same_origin(origin: str, request: web.Request) -> bool:
    """``origin`` names the host (and port) the request was sent to, as its Host header says;
    both leave a scheme's default port out, so this holds behind a TLS proxy too."""
    try:
        url, here = URL(origin), URL(f"//{request.host}")
    except ValueError:
        return False
    if url.scheme not in ("http", "https") or url.host is None or here.host is None:
        return False
    return (url.host.lower(), url.explicit_port) == (here.host.lower(), here.explicit_port)


def _decode(request: web.Request, token: str) -> TokenClaims:
    try:
        raw: dict[str, Any] = jwt.decode(
            token,
            request.app[CONFIG].token_secret,
            algorithms=[_ALGORITHM],
            # Time claims are checked against the hub's clock, not the OS clock, so tests can
            # move time (admin.tokens.check_lifetime).
            options={
                "require": ["sub", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated("invalid-token", INVALID) from exc
    return claims_from(raw)


def presented_claims(request: web.Request) -> TokenClaims | None:
    """The claims of the token this request carries, if it carries one that is ours."""
    try:
        token = _token_from(request)
        return None if not token else _decode(request, token)
    except Unauthenticated:
        return None


async def authenticate(request: web.Request) -> Principal:
    """The request's principal, or 401 naming what is wrong with the credentials."""
    token = _token_from(request)
    if not token:
        raise Unauthenticated("missing-credentials", "未登录：请先登录后再操作")
    claims = _decode(request, token)
    return await token_holder(request.app[SERVICES], claims, now=request.app[CLOCK]())


async def principal(request: web.Request) -> Principal:
    """The authenticated principal, computed once per request."""
    if _PRINCIPAL in request:
        return request[_PRINCIPAL]
    found = await authenticate(request)
    request[_PRINCIPAL] = found
    return found
