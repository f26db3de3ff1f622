"""Whether a seat terminal may ask to enrol (终端登记申请的准入): checked before its ``enroll``
message is read, so a flood of requests is turned away before it costs more than a count.

The rule (``throttling.EnrolmentPolicy``, numbers in ``HubConfig.enrolment``):

* every ``enroll`` counts against its client address (``per_address``); over the limit the
  address is refused (close 4013, ``too many requests``) until the stated time;
* a seat not in the directory is refused (4004);
* the same terminal asking again (the same keys) is let through and records nothing new;
* a seat whose request from another terminal still waits for its venue admin takes no second
  one (4011): one pending request per seat, so a flood cannot bury the genuine request among
  look-alikes, and the venue admin rejects a wrong one on the admin page;
* every new request counts against its seat (``per_seat``); over the limit: 4013.

A count that starts a lock writes ``seat_enrolment.locked_out`` on the audit chain (subject
``address:<address>`` or ``seat:<seat key>``). Refusal details are English, as every close
reason of the seat protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.db import throttles
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.seats.enrolment import pending_other, resolve_seat
from evaluation_hub.services import Services
from evaluation_hub.throttling import Limit, address_key, locked_until
from seat_protocol.closecodes import CloseCode

__all__ = ["ADDRESS", "SEAT", "EnrolmentRefusal", "admit_enrolment"]

log = structlog.get_logger(__name__)

ADDRESS, SEAT = "enrolment.address", "enrolment.seat"


@dataclass(frozen=True)
class EnrolmentRefusal:
    """Why an ``enroll`` is refused before it is read: the close code and its English detail."""

    code: CloseCode
    detail: str


async def _same_keys_known(s: AsyncSession, seat_key: str, ed25519: bytes, x25519: bytes) -> bool:
    found = await s.execute(
        select(SeatEnrolment.id).where(
            SeatEnrolment.seat_key == seat_key,
            SeatEnrolment.ed25519_public_key == ed25519,
            SeatEnrolment.x25519_public_key == x25519,
            SeatEnrolment.status != "revoked",
        )
    )
    return found.first() is not None


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


async def _count(
    s: AsyncSession, scope: str, key: str, limit: Limit, address: str, now: datetime
) -> None:
    """Count one request; a lock it starts goes on the audit chain."""
    counter, locked = await throttles.record_attempt(s, scope, key, limit, now)
    if not locked:
        return
    assert counter.locked_until is not None
    rule = scope.removeprefix("enrolment.")
    log.warning(
        "seat.enrolment_locked_out", rule=rule, key=key, address=address, requests=counter.attempts
    )
    await append_event(
        s,
        kind="seat_enrolment.locked_out",
        subject=f"address:{key}" if scope == ADDRESS else f"seat:{key}",
        actor="hub",
        payload={
            "rule": rule,
            "address": address,
            "requests": counter.attempts,
            "locked_until": counter.locked_until.isoformat(),
        },
        at=now,
    )


async def admit_enrolment(
    hub: Services,
    seat_key: str,
    ed25519_public_key: bytes,
    x25519_public_key: bytes,
    address: str,
    *,
    now: datetime,
) -> EnrolmentRefusal | None:
    """Whether a terminal at ``address`` may ask to enrol at ``seat_key`` now (``None``: it
    may); see the module docstring for the rule. Counts the request either way."""
    suite = hub.suite
    if len(ed25519_public_key) != suite.public_key_size:
        # Seat keys are of the hub's suite: SM2 keys at a national-suite hub, Ed25519/X25519
        # at a default one. Refused before anything is read or counted: it costs nothing.
        log.warning("seat.enrolment_refused", seat_key=seat_key, address=address, why="suite")
        return EnrolmentRefusal(
            CloseCode.UNSUPPORTED_VERSION,
            f"this hub uses the {suite.name} cryptographic suite ({suite.label}): initialise "
            f"the terminal with `seat-agent init --suite {suite.name}`",
        )
    policy = hub.config.enrolment
    where = address_key(address)
    async with hub.db.write() as s:
        found = await throttles.counters(s, [(ADDRESS, where), (SEAT, seat_key)])
        until = locked_until(found.get((ADDRESS, where)), now)
        if until is not None:
            log.warning("seat.enrolment_refused", seat_key=seat_key, address=address, why="address")
            return EnrolmentRefusal(
                CloseCode.TOO_MANY_REQUESTS,
                f"too many enrolment requests from {where}; retry after {_utc(until)}",
            )
        await _count(s, ADDRESS, where, policy.per_address, address, now)
        seat = await resolve_seat(s, seat_key)
        if seat is None:
            log.warning("seat.enrolment_unknown_seat", seat_key=seat_key, address=address)
            return EnrolmentRefusal(
                CloseCode.UNKNOWN_SEAT, f"seat '{seat_key}' is not in the seat directory"
            )
        if await _same_keys_known(s, seat_key, ed25519_public_key, x25519_public_key):
            return None  # the same terminal asking again: nothing new is recorded
        if await pending_other(s, seat_key, ed25519_public_key, x25519_public_key):
            log.warning("seat.enrolment_refused", seat_key=seat_key, address=address, why="pending")
            return EnrolmentRefusal(
                CloseCode.ENROLMENT_PENDING,
                f"seat '{seat_key}' already has a request from another terminal awaiting its "
                "venue admin",
            )
        until = locked_until(found.get((SEAT, seat_key)), now)
        if until is not None:
            log.warning("seat.enrolment_refused", seat_key=seat_key, address=address, why="seat")
            return EnrolmentRefusal(
                CloseCode.TOO_MANY_REQUESTS,
                f"too many enrolment requests for seat '{seat_key}'; retry after {_utc(until)}",
            )
        await _count(s, SEAT, seat_key, policy.per_seat, address, now)
    return None
