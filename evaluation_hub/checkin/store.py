"""Check-in use cases (签到): seating the session's experts at booked seats and issuing their
one-time PINs (host business, ``access.Action.SEAT_EXPERTS``), and judging a check-in attempt
a seat terminal reports.

A member is seated on their own side only (``booking.rules.check_placement``): host members at
seats of the host venue, away members anywhere else. A wrong PIN must use up an attempt even
though the attempt is refused, so the attempt counter is committed before the refusal is
raised. An accepted check-in also records whether the seat's live picture showed the expert
alone (``checkin.presence``: presence unconfirmed is raised to the supervisors). Every seating,
issue, acceptance and refusal is an audit event. The host is told the venue and seat of an
expert's PIN, or of a seat an expert already holds, only once a random draw's venue is no
secret from them (两随机、四不知, ``booking.records.hold_visible``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.booking.records import hold_visible, session_started
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.checkin import rules
from evaluation_hub.checkin.presence import record_presence
from evaluation_hub.db.models import (
    Booking,
    BookingEvent,
    BookingSeat,
    CheckinCredential,
    Expert,
    Seat,
    SessionExpert,
    Venue,
)
from evaluation_hub.errors import Conflict, InvalidInput, NotFound, ProblemError
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session

__all__ = ["IssuedPin", "assign_expert", "check_in", "issue_pins"]

_LIVE = tuple(booking_rules.LIVE_STATES)


def _purpose(booking_seat_id: int) -> str:
    return f"checkin-pin:booking-seat:{booking_seat_id}"


@dataclass(frozen=True)
class IssuedPin:
    expert_code: str
    expert_name: str
    #: None while the seat is a random draw's secret from the caller
    venue_name: str | None
    seat_label: str | None
    pin: str


async def assign_expert(
    hub: Services,
    actor: Principal,
    booking_id: int,
    seat_id: int,
    expert_id: int,
    *,
    now: datetime,
) -> None:
    """The host seats one of the session's experts at a seat its booking holds."""
    async with hub.db.write() as s:
        booking = await s.get(Booking, booking_id)
        if booking is None:
            raise NotFound("booking-not-found", f"预约 #{booking_id} 不存在")
        loaded = await load_session(s, booking.session_id)
        access.require(actor, access.Action.SEAT_EXPERTS, loaded.target)
        session = loaded.session
        if not hold_visible(
            actor,
            session_id=session.id,
            host_venue_id=session.host_venue_id,
            venue_id=booking.venue_id,
            drawn=booking.drawn,
            started=session_started(session.starts_at, now),
        ):
            # Refused whatever the seat, so trying seat ids tells nothing about the draw.
            raise Conflict(
                "drawn-booking",
                f"预约 #{booking.id} 来自随机抽取，专家的工位由抽取结果安排，评标开始前不能调整",
            )
        hold = (
            await s.execute(
                select(BookingSeat).where(
                    BookingSeat.booking_id == booking.id,
                    BookingSeat.seat_id == seat_id,
                    BookingSeat.live.is_(True),
                )
            )
        ).scalar_one_or_none()
        if hold is None:
            raise NotFound("seat-not-held", f"预约 #{booking.id} 未占用工位 #{seat_id}")
        member = (
            await s.execute(
                select(SessionExpert).where(
                    SessionExpert.session_id == session.id, SessionExpert.expert_id == expert_id
                )
            )
        ).scalar_one_or_none()
        if member is None:
            raise InvalidInput(
                "expert-not-in-session",
                f"专家 #{expert_id} 不是评标会 #{session.id} 的评标委员会成员",
            )
        seat = await s.get(Seat, seat_id)
        expert = await s.get(Expert, expert_id)
        assert seat is not None and expert is not None  # foreign keys
        venue = await s.get(Venue, seat.venue_id)
        assert venue is not None
        booking_rules.check_placement(
            expert.code,
            member.placement,
            at_host=venue.id == session.host_venue_id,
            venue_name=venue.name,
            host_venue_name=session.host_venue.name,
        )
        elsewhere = (
            await s.execute(
                select(BookingSeat.seat_id, Booking.venue_id, Booking.drawn)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .where(
                    Booking.session_id == session.id,
                    BookingSeat.live.is_(True),
                    BookingSeat.expert_id == expert_id,
                    BookingSeat.id != hold.id,
                )
            )
        ).first()
        if elsewhere is not None:
            other_seat, venue_id, drawn = elsewhere
            if hold_visible(
                actor,
                session_id=session.id,
                host_venue_id=session.host_venue_id,
                venue_id=venue_id,
                drawn=drawn,
                started=session_started(session.starts_at, now),
            ):
                raise Conflict(
                    "expert-already-seated", f"专家 #{expert_id} 已安排在工位 #{other_seat}"
                )
            raise Conflict("expert-already-seated", f"专家 #{expert_id} 已安排在其他工位")
        hold.expert_id = expert_id
        await append_event(
            s,
            kind="booking.expert_seated",
            subject=f"booking:{booking.id}",
            actor=actor.username,
            payload={"seat_id": seat_id, "expert_id": expert_id},
            at=now,
        )


async def issue_pins(
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    now: datetime,
    random_below: Callable[[int], int] = secrets.randbelow,
) -> list[IssuedPin]:
    """New PINs for every seated expert of the session's confirmed bookings; older ones stop
    working. The PINs are returned once, to be handed to the experts, and never stored."""
    sealer, policy = hub.sealer, hub.regulation.checkin
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEAT_EXPERTS, loaded.target)
        session = loaded.session
        rows = (
            await s.execute(
                select(BookingSeat, Expert, Seat, Venue, Booking.drawn)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .join(Expert, Expert.id == BookingSeat.expert_id)
                .join(Seat, Seat.id == BookingSeat.seat_id)
                .join(Venue, Venue.id == Seat.venue_id)
                .where(
                    Booking.session_id == session.id,
                    Booking.state.in_(("confirmed", "checked_in")),
                    BookingSeat.live.is_(True),
                )
                .order_by(Expert.code)
            )
        ).all()
        if not rows:
            raise Conflict(
                "nobody-seated",
                f"评标会 #{session.id} 还没有安排到已确认工位的专家，无法发放签到码",
            )
        started = session_started(session.starts_at, now)
        issued = []
        for hold, expert, seat, venue, drawn in rows:
            pin = rules.new_pin(random_below(10**rules.PIN_DIGITS))
            existing = (
                await s.execute(
                    select(CheckinCredential).where(CheckinCredential.booking_seat_id == hold.id)
                )
            ).scalar_one_or_none()
            if existing is not None and existing.used_at is not None:
                continue  # already checked in: nothing to re-issue
            credential = existing or CheckinCredential(booking_seat_id=hold.id)
            credential.expert_id = expert.id
            credential.pin_mac = sealer.mac(pin.encode(), _purpose(hold.id))
            credential.attempts_left = policy.max_attempts
            credential.issued_by = actor.username
            credential.issued_at = now
            s.add(credential)
            shown = hold_visible(
                actor,
                session_id=session.id,
                host_venue_id=session.host_venue_id,
                venue_id=venue.id,
                drawn=drawn,
                started=started,
            )
            issued.append(
                IssuedPin(
                    expert.code,
                    expert.name,
                    venue.name if shown else None,
                    seat.label if shown else None,
                    pin,
                )
            )
        await append_event(
            s,
            kind="checkin.pins_issued",
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={"experts": [p.expert_code for p in issued]},
            at=now,
        )
        return issued


async def check_in(
    hub: Services,
    *,
    seat_id: int,
    expert_code: str,
    pin: str,
    now: datetime,
) -> int:
    """Check ``expert_code`` in at ``seat_id`` (the seat terminal's authenticated identity: the
    seat is the actor, and the PIN decides, ``checkin.rules``).

    Returns the booking id on success; raises the refusal's problem otherwise. Wrong PINs are
    counted even though they are refused."""
    sealer, policy = hub.sealer, hub.regulation.checkin
    refusal: Exception | None = None
    booking_id = 0
    async with hub.db.write() as s:
        row = (
            await s.execute(
                select(CheckinCredential, BookingSeat, Booking)
                .join(BookingSeat, BookingSeat.id == CheckinCredential.booking_seat_id)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .join(Expert, Expert.id == CheckinCredential.expert_id)
                .where(Expert.code == expert_code, Booking.state.in_(_LIVE))
                .order_by(BookingSeat.seat_id != seat_id, Booking.starts_at)
                .limit(1)
            )
        ).first()
        stored = None
        mac = ""
        if row is not None:
            credential, hold, booking = row
            stored = rules.CheckinCredential(
                seat_id=hold.seat_id,
                expert_code=expert_code,
                pin_mac=credential.pin_mac,
                window_start=booking.starts_at,
                window_end=booking.ends_at,
                attempts_left=credential.attempts_left,
                used_at=credential.used_at,
                live=hold.live,
            )
            mac = sealer.mac(pin.encode(), _purpose(hold.id))
        outcome = rules.decide(
            stored, seat_id=seat_id, expert_code=expert_code, pin_mac=mac, now=now, policy=policy
        )
        subject = f"seat:{seat_id}"
        if not outcome.accepted:
            if row is not None:
                credential.attempts_left = outcome.attempts_left
            refusal = outcome.refusal
            if isinstance(refusal, ProblemError) and row is not None:
                # The seat shows how many attempts are left (None: not this seat's PIN at all).
                refusal.extra.setdefault("attempts_left", outcome.attempts_left)
            # The booking the expert's credential belongs to, when there is one: the refusal
            # is then one of that session's events (its archive's audit slice holds it).
            refused: dict[str, object] = {"reason": getattr(refusal, "code", "refused")}
            if row is not None:
                refused["booking_id"] = booking.id
            await append_event(
                s,
                kind="checkin.refused",
                subject=subject,
                actor=expert_code,
                payload=refused,
                at=now,
            )
        else:
            assert row is not None
            credential.used_at = now
            booking_id = booking.id
            await s.flush()
            (seating,) = [
                x
                for x in await seatings(s, session_id=booking.session_id, checked_in=True)
                if x.booking_seat_id == hold.id
            ]
            # What the seat's conduct monitor sees right now decides presence.
            verdict = rules.judge_presence(hub.pictures.latest(str(seating.seat_key)))
            if booking.state == "confirmed":
                transition = booking_rules.next_state(booking.id, booking.state, "check_in")
                booking.state = transition.to_state
                booking.updated_at = now
                s.add(
                    BookingEvent(
                        booking_id=booking.id,
                        from_state=transition.from_state,
                        to_state=transition.to_state,
                        actor=expert_code,
                        at=now,
                        reason=f"专家 {expert_code} 在工位 #{seat_id} 签到",
                    )
                )
            await append_event(
                s,
                kind="checkin.accepted",
                subject=subject,
                actor=expert_code,
                payload={
                    "booking_id": booking.id,
                    "presence": verdict.presence,
                    "presence_finding": verdict.finding,
                    "faces": verdict.faces,
                },
                at=now,
            )
            await record_presence(s, credential, seating, verdict, now=now)
    if refusal is not None:
        raise refusal
    return booking_id
