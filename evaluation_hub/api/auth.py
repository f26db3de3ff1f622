"""Authentication: signed bearer tokens, and the principal of each request.

Tokens are JWTs (HS256) signed with the hub's token secret; they arrive as
``Authorization: Bearer`` from programs or as an HttpOnly, SameSite=Strict cookie (``Secure``
over HTTPS) from the hub's own pages. This module checks the signature and the claims' form;
whether the token is still honoured — its lifetime, its user, a sign-out, a disabled account or
a reset password — is ``evaluation_hub.admin.tokens``'. Missing, forged, expired and revoked
tokens are all 401, each with its own message.
"""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp import web

from evaluation_hub.admin.tokens import INVALID, TokenClaims, claims_from, token_holder
from evaluation_hub.api.keys import CLOCK, CONFIG, SERVICES
from evaluation_hub.errors import Unauthenticated
from evaluation_hub.principal import Principal

__all__ = [
    "COOKIE",
    "authenticate",
    "issue_token",
    "presented_claims",
    "principal",
]

COOKIE = "evalhub_token"
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
    return request.cookies.get(COOKIE)


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
