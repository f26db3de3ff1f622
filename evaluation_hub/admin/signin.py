"""Signing in (登录): a password checked off the event loop, failed attempts throttled, and the
claims of a fresh token.

The rule (``throttling.SigninPolicy``, numbers in ``HubConfig.signin``): every failed attempt
counts against the username from that address, against the address, and against the username
from anywhere. Whichever first reaches its limit locks; while any of the three is locked, an
attempt is refused with ``SigninLocked`` (429) before the password is looked at. So five wrong
passwords for ``km_operator`` from one machine lock ``km_operator`` *on that machine*; the same
user signing in from another machine is not affected, unless guesses from many machines
together reach the per-user limit. Each lock writes ``auth.locked_out`` on the audit chain
(subject ``user:<username>`` or ``address:<address>``) and a warning to the log; every failed
attempt is logged with its username, address and cause, never its password. A successful
sign-in clears its own username-and-address counter only (an attacker who holds one account
cannot reset the count of their address).

Passwords are checked in a small thread pool (``PasswordChecks``): scrypt is slow on purpose
and would otherwise stop the event loop, and with it every other request, for each attempt.
The pool's threads run at a lower priority than the event loop, so when the machine is busy the
hub's other requests are served first. At most ``SigninPolicy.max_waiting`` checks wait for a
thread; beyond that, sign-in answers ``SigninBusy`` (503) at once.

An unknown username is checked against a fixed hash, so its answer takes as long as a wrong
password's, and its attempts count like any other (locks do not tell which usernames exist).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from evaluation_hub import access, localtime
from evaluation_hub.admin.errors import SigninBusy, SigninLocked
from evaluation_hub.admin.passwords import hash_password, verify_password
from evaluation_hub.admin.tokens import TokenClaims, new_claims
from evaluation_hub.audit.store import append_event
from evaluation_hub.db import throttles
from evaluation_hub.db.models import User
from evaluation_hub.errors import Unauthenticated
from evaluation_hub.throttling import Limit, SigninPolicy, address_key, latest_lock

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = ["PasswordChecks", "SignedIn", "sign_in"]

log = structlog.get_logger(__name__)

BAD_LOGIN = "用户名或密码错误"
# Checked when the username is unknown, so that answer takes as long as a wrong password's.
_DUMMY_HASH = hash_password("unused", salt=b"\0" * 16)

USER_ADDRESS, ADDRESS, USER = "signin.user_address", "signin.address", "signin.user"


@dataclass(frozen=True)
class SignedIn:
    """The user who signed in and the claims of their new token."""

    username: str
    display_name: str
    role: str
    venue_id: int | None
    claims: TokenClaims

    @property
    def role_name(self) -> str:
        return access.ROLE_NAMES[self.role]


#: how much lower than the event loop's the password-check threads' priority is (Linux nice)
CHECK_NICENESS = 10


def _lower_priority() -> None:
    """Run this password-check thread at a lower priority: under load, the event loop (every
    other request) goes first, and sign-ins wait their turn. Linux sets niceness per thread;
    elsewhere (or if refused) the thread simply keeps the normal priority."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + CHECK_NICENESS)
    except (AttributeError, OSError):
        pass


#: locks one process remembers (beyond this it asks the database, as for any other key)
MAX_KNOWN_LOCKS = 10_000


class PasswordChecks:
    """Who may have a password checked: ``workers`` low-priority threads with at most
    ``max_waiting`` checks queued for them, and the locks this process already knows of (a
    locked key is refused without a database read: a flood against it costs next to nothing;
    a lock only ends with time, so remembering it until then is exact)."""

    def __init__(self, workers: int = 1, max_waiting: int = 16) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="password-check", initializer=_lower_priority
        )
        self._capacity = workers + max_waiting
        self._taken = 0
        self._locks: dict[tuple[str, str], datetime] = {}

    @property
    def full(self) -> bool:
        return self._taken >= self._capacity

    def known_lock(self, keys: list[tuple[str, str]], now: datetime) -> datetime | None:
        """The latest lock this process knows on any of ``keys`` that still holds at ``now``."""
        locks = [until for key in keys if (until := self._locks.get(key)) is not None]
        latest = max(locks, default=None)
        return latest if latest is not None and latest > now else None

    def remember_lock(self, key: tuple[str, str], until: datetime, now: datetime) -> None:
        if len(self._locks) >= MAX_KNOWN_LOCKS:
            self._locks = {k: u for k, u in self._locks.items() if u > now}
        if len(self._locks) < MAX_KNOWN_LOCKS:
            self._locks[key] = until

    @classmethod
    def for_policy(cls, policy: SigninPolicy) -> PasswordChecks:
        return cls(policy.hash_workers, policy.max_waiting)

    async def verify(self, password: str, stored: str) -> bool:
        """Whether ``password`` matches ``stored``; ``SigninBusy`` if too many checks wait."""
        if self._taken >= self._capacity:
            raise SigninBusy()
        loop = asyncio.get_running_loop()
        self._taken += 1

        # Released when the check itself ends, not when its caller stops waiting for it: a
        # cancelled request's check still occupies its thread until it is done.
        def release(_: Future[bool]) -> None:
            loop.call_soon_threadsafe(self._release)

        future = self._pool.submit(verify_password, password, stored)
        future.add_done_callback(release)
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        self._taken -= 1

    @property
    def taken(self) -> int:
        """Checks running or waiting now."""
        return self._taken

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _counted(policy: SigninPolicy, username: str, address: str) -> list[tuple[str, str, Limit]]:
    where = address_key(address)
    return [
        (USER_ADDRESS, f"{username}@{where}", policy.per_user_address),
        (ADDRESS, where, policy.per_address),
        (USER, username, policy.per_user),
    ]


async def sign_in(
    hub: Services,
    checks: PasswordChecks,
    username: str,
    password: str,
    address: str,
    *,
    now: datetime,
) -> SignedIn:
    """Check ``password`` for ``username`` signing in from ``address``.

    Refused with ``SigninLocked`` while a counter is locked (nothing checked, nothing counted),
    ``SigninBusy`` when too many checks wait, and ``Unauthenticated`` (``bad-login``, the same
    message for an unknown user, a wrong password and a disabled account) otherwise.
    """
    policy = hub.config.signin
    counted = _counted(policy, username, address)
    keys = [(scope, key) for scope, key, _ in counted]
    # The cheap refusals first: a lock already known, a full queue (no database work for them).
    until = checks.known_lock(keys, now)
    if until is None:
        if checks.full:
            raise SigninBusy()
        async with hub.db.read() as s:
            found = await throttles.counters(s, keys)
            until = latest_lock(found.values(), now)
            user = None
            if until is None:
                user = (
                    await s.execute(select(User).where(User.username == username))
                ).scalar_one_or_none()
        for key, counter in found.items():
            if counter.locked_until is not None and counter.locked_until > now:
                checks.remember_lock(key, counter.locked_until, now)
    if until is not None:
        log.info(
            "auth.signin_refused_locked",
            username=username,
            address=address,
            locked_until=until.isoformat(),
        )
        raise SigninLocked(until, now)
    ok = await checks.verify(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok or not user.active:
        cause = "unknown-user" if user is None else "wrong-password" if not ok else "disabled"
        for locked_key, locked_until in await _failed(hub, counted, username, address, cause, now):
            checks.remember_lock(locked_key, locked_until, now)
        raise Unauthenticated("bad-login", BAD_LOGIN)
    pair = keys[0]  # the user at this address: a success starts its count afresh
    if pair in found:
        async with hub.db.write() as s:
            await throttles.clear(s, *pair)
    log.info("auth.signed_in", username=username, address=address)
    claims = new_claims(
        user.username, user.token_version, secrets.token_urlsafe(24), now, hub.config.token_ttl
    )
    return SignedIn(user.username, user.display_name, user.role, user.venue_id, claims)


async def _failed(
    hub: Services,
    counted: list[tuple[str, str, Limit]],
    username: str,
    address: str,
    cause: str,
    now: datetime,
) -> list[tuple[tuple[str, str], datetime]]:
    """Count a failed attempt against each key; a key it locks goes on the audit chain. The
    keys it locked, and until when."""
    log.warning("auth.signin_failed", username=username, address=address, cause=cause)
    locked_now: list[tuple[tuple[str, str], datetime]] = []
    async with hub.db.write() as s:
        for scope, key, limit in counted:
            counter, locked = await throttles.record_attempt(s, scope, key, limit, now)
            if not locked:
                continue
            assert counter.locked_until is not None
            locked_now.append(((scope, key), counter.locked_until))
            rule = scope.removeprefix("signin.")
            log.warning(
                "auth.locked_out",
                rule=rule,
                username=username,
                address=address,
                attempts=counter.attempts,
                locked_until=counter.locked_until.isoformat(),
            )
            await append_event(
                s,
                kind="auth.locked_out",
                subject=f"address:{key}" if scope == ADDRESS else f"user:{username}",
                actor="hub",
                payload={
                    "rule": rule,
                    "username": username,
                    "address": address,
                    "attempts": counter.attempts,
                    "window_minutes": int(limit.window.total_seconds() // 60),
                    "locked_until": counter.locked_until.isoformat(),
                    "locked_until_local": localtime.format_minutes(counter.locked_until),
                },
                at=now,
            )
    return locked_now
