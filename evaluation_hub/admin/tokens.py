"""Session tokens (登录令牌): what a token claims, how long it is honoured, and revocation.

A token names its user (``sub``), a random id (``jti``), the user's token version when it was
issued (``ver``), and when it was issued and expires (``iat``, ``exp``). It is honoured only
while every one of these holds (:func:`token_holder`):

* ``exp`` is in the future, ``iat`` is not, and the token is not older than
  ``HubConfig.token_max_lifetime`` nor was issued for longer than that (a token whose ``exp``
  says 2100 is refused, whoever signed it);
* the user exists and is active, and ``ver`` is the user's token version: disabling the user
  or resetting the password moves the version on (``admin.users``), which ends every token
  issued before;
* its ``jti`` was not signed out (:func:`revoke_token`; the ``revoked_tokens`` row lives until
  the token would have expired anyway).

Signing and checking the signature is the HTTP shell's job (``api.auth``); this module sees
claims only. Nothing here imports ``evaluation_hub.api``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from evaluation_hub.db.models import RevokedToken, User
from evaluation_hub.errors import Unauthenticated
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = [
    "TokenClaims",
    "check_lifetime",
    "claims_from",
    "end_tokens",
    "new_claims",
    "revoke_token",
    "token_holder",
]

# Every refusal of a token says what to do: sign in again.
INVALID = "登录凭证无效，请重新登录"
EXPIRED = "登录已过期，请重新登录"
TOO_LONG = "登录凭证的有效期超过系统上限，请重新登录"
REVOKED = "登录已失效（已退出登录、账号已停用或密码已重置），请重新登录"
#: the largest integer a time claim may hold (beyond it a datetime cannot be made)
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
_JTI_LENGTH = 64


@dataclass(frozen=True)
class TokenClaims:
    username: str
    jti: str
    version: int
    issued_at: datetime
    expires_at: datetime

    def encoded(self, role: str, venue_id: int | None) -> dict[str, object]:
        """The JWT claims; ``role`` and ``venue`` tell a program who signed in (the hub itself
        re-reads the user on every request)."""
        return {
            "sub": self.username,
            "jti": self.jti,
            "ver": self.version,
            "role": role,
            "venue": venue_id,
            "iat": int(self.issued_at.timestamp()),
            "exp": int(self.expires_at.timestamp()),
        }


def new_claims(username: str, version: int, jti: str, now: datetime, ttl: timedelta) -> TokenClaims:
    issued = now.replace(microsecond=0)
    return TokenClaims(username, jti, version, issued, issued + ttl)


def _epoch(value: object) -> datetime | None:
    # bool is an int in Python; a token with "exp": true is simply malformed.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value <= _MAX_EPOCH:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def claims_from(raw: Mapping[str, object]) -> TokenClaims:
    """The claims of a token whose signature verified; ``Unauthenticated`` if any is missing
    or of the wrong type (a string ``exp``, say)."""
    sub, jti, version = raw.get("sub"), raw.get("jti"), raw.get("ver")
    issued, expires = _epoch(raw.get("iat")), _epoch(raw.get("exp"))
    if (
        not isinstance(sub, str)
        or not isinstance(jti, str)
        or not 0 < len(jti) <= _JTI_LENGTH
        or isinstance(version, bool)
        or not isinstance(version, int)
        or issued is None
        or expires is None
    ):
        raise Unauthenticated("invalid-token", INVALID)
    return TokenClaims(sub, jti, version, issued, expires)


def check_lifetime(claims: TokenClaims, now: datetime, max_lifetime: timedelta) -> None:
    """Refuse a token that expired, is not yet issued, or lives longer than ``max_lifetime``."""
    if claims.expires_at <= now:
        raise Unauthenticated("expired-token", EXPIRED)
    if claims.issued_at > now + timedelta(minutes=1):  # a minute's skew between hub processes
        raise Unauthenticated("invalid-token", INVALID)
    if claims.expires_at - claims.issued_at > max_lifetime:
        raise Unauthenticated("token-lifetime", TOO_LONG)
    if now - claims.issued_at >= max_lifetime:
        raise Unauthenticated("expired-token", EXPIRED)


async def token_holder(hub: Services, claims: TokenClaims, *, now: datetime) -> Principal:
    """Who holds a token with these (signature-checked) claims; ``Unauthenticated`` otherwise."""
    check_lifetime(claims, now, hub.config.token_max_lifetime)
    # One Core statement (the user and whether this token was signed out), run as a lookup:
    # this runs for every request, and an ORM session and transaction around it cost more than
    # the statement.
    async with hub.db.lookup() as conn:
        found = (
            await conn.execute(
                select(
                    User.username,
                    User.role,
                    User.venue_id,
                    User.active,
                    User.token_version,
                    RevokedToken.jti,
                )
                .outerjoin(RevokedToken, RevokedToken.jti == claims.jti)
                .where(User.username == claims.username)
            )
        ).first()
    if found is None or not found.active:
        raise Unauthenticated("invalid-token", INVALID)
    if found.token_version != claims.version or found.jti is not None:
        raise Unauthenticated("revoked-token", REVOKED)
    return Principal(found.username, found.role, found.venue_id)


async def revoke_token(hub: Services, claims: TokenClaims, *, now: datetime) -> None:
    """Sign out: the token with these claims is refused from now on (a repeat changes nothing).

    The row is kept only until the token could no longer be honoured anyway."""
    until = min(claims.expires_at, claims.issued_at + hub.config.token_max_lifetime)
    async with hub.db.write() as s:
        await s.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
        if await s.get(RevokedToken, claims.jti) is None:
            s.add(
                RevokedToken(
                    jti=claims.jti, username=claims.username, revoked_at=now, expires_at=until
                )
            )


def end_tokens(user: User) -> None:
    """End every token issued to ``user`` so far (inside the caller's unit of work)."""
    user.token_version = user.token_version + 1
