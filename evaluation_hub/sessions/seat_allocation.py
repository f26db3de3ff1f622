"""Seat allocation for a session, as use cases: gather the candidates from the directory, run
the pure allocator (``evaluation_hub.booking.allocation``), and book the result; persist and
reveal random draws (两随机、四不知).

Proposing and drawing are host business (``access.Action.BOOK_SEATS``); the draw's record
(commitment, and after the start its seed and inputs) is read by whoever sees the session
(``access.Action.SEE_SESSION``). The draw's seed is sealed with the hub's sealing key.
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

from evaluation_hub import access
from evaluation_hub.booking import allocation
from evaluation_hub.booking.allocation import (
    AllocationProposal,
    Assignment,
    AwayExpert,
    CandidateSeat,
)
from evaluation_hub.booking.records import BookingRecord
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
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.seat_requests import SeatRequest, request_bookings

__all__ = [
    "AllocationRules",
    "DrawMade",
    "DrawReveal",
    "Proposal",
    "candidates",
    "draw_and_book",
    "propose",
    "reveal_draw",
]


@dataclass(frozen=True)
class AllocationRules:
    required_capabilities: frozenset[str] = frozenset({"camera", "microphone"})
    max_per_employer_per_venue: int = 1


@dataclass(frozen=True)
class Proposal:
    """The nearest-venue proposal, and the bookings requested for it (when asked to book)."""

    proposal: AllocationProposal
    bookings: tuple[BookingRecord, ...]


@dataclass(frozen=True)
class DrawMade:
    """What the host learns of a random draw: the commitment and how many requests were made,
    not where (四不知)."""

    commitment: str
    booking_count: int


@dataclass(frozen=True)
class DrawReveal:
    commitment: str
    drawn_by: str
    drawn_at: datetime
    starts_at: datetime
    seed_hex: str | None  # None until the session starts
    inputs: dict[str, Any] | None


async def _with_experts(s: AsyncSession, session_id: int) -> EvaluationSession:
    """The session with its experts (the access check has loaded it already)."""
    found = await s.execute(
        select(EvaluationSession)
        .where(EvaluationSession.id == session_id)
        .options(selectinload(EvaluationSession.experts).selectinload(SessionExpert.expert))
    )
    return found.scalar_one()


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
            seat.status == "available" and seat.shared and venue.enabled and seat.id not in busy,
        )
        for seat, venue in rows
    ]
    return experts, seats


def _requests(assignments: Sequence[Assignment]) -> list[SeatRequest]:
    by_venue: dict[int, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_venue[a.venue_id].append(a)
    return [
        SeatRequest(
            venue_id,
            len(group),
            [a.seat_id for a in group],
            [a.expert_id for a in group],
        )
        for venue_id, group in sorted(by_venue.items())
    ]


async def propose(
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    rules: AllocationRules,
    book: bool,
    now: datetime,
) -> Proposal:
    """The nearest-venue proposal (就近分配); with ``book`` the host's requests are made at once."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.BOOK_SEATS, loaded.target)
        session = await _with_experts(s, session_id)
        experts, seats = await candidates(s, session)
    proposal = allocation.propose_nearest(
        experts,
        seats,
        host_venue_id=session.host_venue_id,
        distances=hub.distances,
        required_capabilities=rules.required_capabilities,
        max_per_employer_per_venue=rules.max_per_employer_per_venue,
    )
    bookings: list[BookingRecord] = []
    if book and proposal.assignments:
        bookings = await request_bookings(
            hub,
            actor,
            session_id=session_id,
            requests=_requests(proposal.assignments),
            now=now,
            drawn=False,
        )
    return Proposal(proposal, tuple(bookings))


def _purpose(session_id: int) -> str:
    return f"seat-draw:session:{session_id}"


async def draw_and_book(
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    rules: AllocationRules,
    now: datetime,
    seed: bytes | None = None,
) -> DrawMade:
    """Draw away venues and seats at random and request them; returns only the commitment.

    The host sees the commitment and that requests were made, not where (四不知); the seed is
    sealed, stored beside the draw's canonical inputs, and revealed when the session starts.
    """
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.BOOK_SEATS, loaded.target)
        if await s.scalar(select(SeatDraw.id).where(SeatDraw.session_id == session_id)):
            raise Conflict("already-drawn", f"评标会 #{session_id} 已进行过随机抽取，不能重复抽取")
        session = await _with_experts(s, session_id)
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
                sealed_seed=hub.sealer.seal(seed, _purpose(session_id)),
                drawn_by=actor.username,
                drawn_at=now,
            )
        )

    bookings = await request_bookings(
        hub,
        actor,
        session_id=session_id,
        requests=_requests(result.assignments),
        now=now,
        drawn=True,
        before_commit=record,
    )
    return DrawMade(result.commitment, len(bookings))


async def reveal_draw(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> DrawReveal:
    """The draw's record: its commitment always, its seed and inputs once the session started,
    so anyone can re-derive it (``evaluation-hub draw verify``)."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        session = loaded.session
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
        seed_hex=hub.sealer.open(found.sealed_seed, _purpose(session_id)).hex()
        if started
        else None,
        inputs=json.loads(found.inputs) if started else None,
    )
