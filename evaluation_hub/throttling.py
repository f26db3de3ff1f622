"""Attempt throttling with lockout (尝试次数限制): the pure rule shared by sign-in and seat
enrolment.

A *counter* counts attempts of one kind (a failed sign-in for one user from one address, an
enrolment request from one address, ...) inside a fixed window that opens with the first
attempt. The attempt that brings the count to ``Limit.attempts`` locks the key until
``now + Limit.lockout``; while locked, further attempts are refused without being judged (no
password hashed, no request recorded). When the window has passed (and no lock holds), the
next attempt opens a fresh window at 1.

The stores (``evaluation_hub.db.models.Throttle``, ``evaluation_hub.admin.throttles``) keep
counters in the database so every hub process behind a proxy shares them. Pure: takes ``now``,
no clock, no I/O.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from evaluation_hub.errors import ConfigError

__all__ = [
    "Counter",
    "EnrolmentPolicy",
    "Limit",
    "SigninPolicy",
    "address_key",
    "count",
    "latest_lock",
    "locked_until",
]


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` in ``window``; the one that reaches it locks for ``lockout``."""

    attempts: int
    window: timedelta
    lockout: timedelta

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"a throttling limit needs at least 1 attempt, got {self.attempts}")
        if self.window <= timedelta(0) or self.lockout <= timedelta(0):
            raise ConfigError("a throttling window and lockout must be longer than 0")


@dataclass(frozen=True)
class Counter:
    """One key's attempts in its current window, and the lock they caused, if any."""

    attempts: int
    window_started_at: datetime
    locked_until: datetime | None = None

    def expires_at(self, limit: Limit) -> datetime:
        """When the counter stops mattering (its window is over and no lock holds)."""
        end = self.window_started_at + limit.window
        return end if self.locked_until is None else max(end, self.locked_until)


def locked_until(counter: Counter | None, now: datetime) -> datetime | None:
    """Until when ``counter`` refuses attempts, or ``None`` if it does not now."""
    if counter is None or counter.locked_until is None or counter.locked_until <= now:
        return None
    return counter.locked_until


def latest_lock(counters: Iterable[Counter | None], now: datetime) -> datetime | None:
    """The latest time until which any of ``counters`` refuses attempts, or ``None``."""
    locks = [until for c in counters if (until := locked_until(c, now)) is not None]
    return max(locks, default=None)


def address_key(address: str) -> str:
    """The key an address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6
    address as its IPv4 form), an IPv6 address by its /64 network, since one machine usually
    holds a whole /64 and could otherwise step around any per-address limit."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def count(counter: Counter | None, limit: Limit, now: datetime) -> tuple[Counter, bool]:
    """The counter after one more attempt at ``now``, and whether this attempt locked it."""
    window_over = counter is None or now >= counter.window_started_at + limit.window
    if counter is None or (window_over and locked_until(counter, now) is None):
        counter = Counter(0, now)
    attempts = counter.attempts + 1
    if attempts >= limit.attempts and locked_until(counter, now) is None:
        return Counter(attempts, counter.window_started_at, now + limit.lockout), True
    return Counter(attempts, counter.window_started_at, counter.locked_until), False


@dataclass(frozen=True)
class SigninPolicy:
    """Sign-in throttling (登录限制). Failed attempts count against three keys:

    * ``per_user_address``: one username from one client address. The person mistyping at
      their desk (or a guesser at one machine) is locked there; the same user signing in from
      another address is not affected, so a guesser cannot lock a colleague out from afar.
    * ``per_address``: every username from one address (password spraying, a flood).
    * ``per_user``: one username from every address together (guessing spread over many
      machines); set above the other two, as reaching it locks the user out everywhere.

    ``hash_workers`` threads (default: half the machine's cores) check passwords off the event
    loop; at most ``max_waiting`` checks queue for them, beyond which sign-in answers "busy" at once (503) instead of
    letting a flood queue up unbounded work.
    """

    per_user_address: Limit = Limit(5, timedelta(minutes=15), timedelta(minutes=15))
    per_address: Limit = Limit(20, timedelta(minutes=15), timedelta(minutes=15))
    per_user: Limit = Limit(50, timedelta(minutes=15), timedelta(minutes=15))
    # Half the cores: scrypt takes a core for ~0.1 s per check, and the event loop must keep one.
    hash_workers: int = max(1, (os.cpu_count() or 2) // 2)
    max_waiting: int = 32


@dataclass(frozen=True)
class EnrolmentPolicy:
    """Seat enrolment requests (终端登记申请): every ``enroll`` from one client address counts
    against ``per_address``; every request recorded for one seat against ``per_seat``. One
    request per seat may wait for its venue admin at a time."""

    per_address: Limit = Limit(20, timedelta(minutes=10), timedelta(minutes=10))
    per_seat: Limit = Limit(5, timedelta(hours=1), timedelta(hours=1))
