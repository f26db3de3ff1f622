"""Seat allocation for a session, against the database: gather candidates, run the pure
allocator, and optionally book the result; persist and reveal random draws (两随机、四不知).

The allocator itself (``allocation``) is pure; this module only reads the directory, writes
bookings through ``store`` and seals the draw seed with the hub's sealing key.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub.booking import allocation, store
from evaluation_hub.booking.allocation import (
    AllocationProposal,
    Assignment,
    AwayExpert,
    CandidateSeat,
    DrawInputs,
    RegionDistances,
)
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    EvaluationSession,
    Seat,
    SeatDraw,
    SessionExpert,
    Venue,
)
from evaluation_hub.errors import Conflict, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer

__all__ = [
    "AllocationRules",
    "DrawReveal",
    "candidates",
    "draw_and_book",
    "inputs_from_canonical",
    "propose",
    "reveal_draw",
]


@dataclass(frozen=True)
class AllocationRules:
    required_capabilities: frozenset[str] = frozenset({"camera", "microphone"})
    max_per_employer_per_venue: int = 1


async def _session(s: AsyncSession, session_id: int) -> EvaluationSession:
    session = (
        await s.execute(
            select(EvaluationSession)
            .where(EvaluationSession.id == session_id)
            .options(
                selectinload(EvaluationSession.experts).selectinload(SessionExpert.expert),
                selectinload(EvaluationSession.host_venue),
            )
        )
    ).scalar_one_or_none()
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    return session


async def candidates(
    s: AsyncSession, session: EvaluationSession
) -> tuple[list[AwayExpert], list[CandidateSeat]]:
    """The session's away experts not yet seated, and every other venue's seats."""
    seated = set(
        (
            await s.execute(
                select(BookingSeat.expert_id)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .where(
                    Booking.session_id == session.id,
                    BookingSeat.live.is_(True),
                    BookingSeat.expert_id.is_not(None),
                )
            )
        ).scalars()
    )
    experts = [
        AwayExpert(se.expert.id, se.expert.code, se.expert.home_region, se.expert.employer)
        for se in session.experts
        if se.placement == "away" and se.expert.id not in seated
    ]
    busy = set(
        (
            await s.execute(
                select(BookingSeat.seat_id).where(
                    BookingSeat.live.is_(True),
                    BookingSeat.starts_at < session.ends_at,
                    BookingSeat.ends_at > session.starts_at,
                )
            )
        ).scalars()
    )
    rows = (await s.execute(select(Seat, Venue).join(Venue).order_by(Venue.id, Seat.id))).all()
    seats = [
        CandidateSeat(
            seat.id,
            seat.label,
            venue.id,
            venue.name,
            venue.region_code,
            frozenset(seat.capabilities),
            seat.status == "available" and seat.shared and seat.id not in busy,
        )
        for seat, venue in rows
    ]
    return experts, seats


def _requests(assignments: Sequence[Assignment]) -> list[store.SeatRequest]:
    by_venue: dict[int, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_venue[a.venue_id].append(a)
    return [
        store.SeatRequest(
            venue_id,
            len(group),
            [a.seat_id for a in group],
            [a.expert_id for a in group],
        )
        for venue_id, group in sorted(by_venue.items())
    ]


async def propose(
    db: Database,
    actor: Principal,
    session_id: int,
    *,
    distances: RegionDistances,
    rules: AllocationRules,
    book: bool,
    now: datetime,
    policy: store.BookingPolicy,
) -> tuple[AllocationProposal, list[Booking]]:
    """The nearest-venue proposal (就近分配); with ``book`` the host's requests are made at once."""
    async with db.read() as s:
        session = await _session(s, session_id)
        actor.require_host(session.host_venue.id, session.host_venue.name)
        experts, seats = await candidates(s, session)
    proposal = allocation.propose_nearest(
        experts,
        seats,
        host_venue_id=session.host_venue_id,
        distances=distances,
        required_capabilities=rules.required_capabilities,
        max_per_employer_per_venue=rules.max_per_employer_per_venue,
    )
    bookings: list[Booking] = []
    if book and proposal.assignments:
        bookings = await store.request_bookings(
            db,
            actor,
            session_id=session_id,
            requests=_requests(proposal.assignments),
            now=now,
            policy=policy,
            drawn=False,
        )
    return proposal, bookings


async def draw_and_book(
    db: Database,
    actor: Principal,
    session_id: int,
    *,
    rules: AllocationRules,
    sealer: Sealer,
    now: datetime,
    policy: store.BookingPolicy,
    seed: bytes | None = None,
) -> tuple[str, list[Booking]]:
    """Draw away venues and seats at random and request them; returns only the commitment.

    The host sees the commitment and that requests were made, not where (四不知); the seed is
    sealed, stored beside the draw's canonical inputs, and revealed when the session starts.
    """
    async with db.read() as s:
        session = await _session(s, session_id)
        actor.require_host(session.host_venue.id, session.host_venue.name)
        if await s.scalar(select(SeatDraw.id).where(SeatDraw.session_id == session_id)):
            raise Conflict("already-drawn", f"评标会 #{session_id} 已进行过随机抽取，不能重复抽取")
        experts, seats = await candidates(s, session)
    seed = seed or secrets.token_bytes(32)
    result = allocation.draw(
        seed,
        experts,
        seats,
        session.host_venue_id,
        required_capabilities=rules.required_capabilities,
        max_per_employer_per_venue=rules.max_per_employer_per_venue,
    )

    async def record(s: AsyncSession, made: list[Booking]) -> None:
        s.add(
            SeatDraw(
                session_id=session_id,
                commitment=result.commitment,
                inputs=result.inputs.canonical().decode(),
                sealed_seed=sealer.seal(seed, _purpose(session_id)),
                drawn_by=actor.username,
                drawn_at=now,
            )
        )

    bookings = await store.request_bookings(
        db,
        actor,
        session_id=session_id,
        requests=_requests(result.assignments),
        now=now,
        policy=policy,
        drawn=True,
        before_commit=record,
    )
    return result.commitment, bookings


def _purpose(session_id: int) -> str:
    return f"seat-draw:session:{session_id}"


@dataclass(frozen=True)
class DrawReveal:
    commitment: str
    drawn_by: str
    drawn_at: datetime
    starts_at: datetime
    seed_hex: str | None  # None until the session starts
    inputs: dict[str, Any] | None


async def reveal_draw(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer, now: datetime
) -> DrawReveal:
    async with db.read() as s:
        session = await _session(s, session_id)
        actor.require_host(session.host_venue.id, session.host_venue.name)
        found = (
            await s.execute(select(SeatDraw).where(SeatDraw.session_id == session_id))
        ).scalar_one_or_none()
    if found is None:
        raise NotFound("draw-not-found", f"评标会 #{session_id} 没有随机抽取记录")
    started = now >= session.starts_at
    return DrawReveal(
        commitment=found.commitment,
        drawn_by=found.drawn_by,
        drawn_at=found.drawn_at,
        starts_at=session.starts_at,
        seed_hex=sealer.open(found.sealed_seed, _purpose(session_id)).hex() if started else None,
        inputs=json.loads(found.inputs) if started else None,
    )


def inputs_from_canonical(doc: dict[str, Any]) -> DrawInputs:
    """Rebuild the draw's inputs from their published canonical encoding, to re-derive it."""
    return DrawInputs(
        experts=tuple(AwayExpert(e[0], e[1], e[2], e[3]) for e in doc["experts"]),
        seats=tuple(
            CandidateSeat(s[0], s[1], s[2], s[3], s[4], frozenset(s[5]), s[6]) for s in doc["seats"]
        ),
        host_venue_id=doc["host_venue_id"],
        required_capabilities=frozenset(doc["required_capabilities"]),
        max_per_employer_per_venue=doc["max_per_employer_per_venue"],
        venue_caps=tuple((a, b) for a, b in doc["venue_caps"]),
        min_venues=doc["min_venues"],
    )
