"""Tables of the seat directory, evaluation sessions and seat bookings.

A booking (预约) is a host site's request for ``seat_count`` seats at one venue for one
evaluation session's window. The seats it holds live in ``booking_seats``; those rows carry a
copy of the window and of the booking's liveness so the database itself can refuse two live
holds of one seat in overlapping windows (an exclusion constraint on PostgreSQL, a trigger on
SQLite — see the migration). Never enforce that rule by check-then-insert alone.

These are the tables several domains read (the directory, sessions, bookings, check-in
credentials); a domain's own tables live with its code (``audit.models``, ``evaluation.models``,
``supervision.models``) and the seat terminals' beside these (``db.seat_terminals``). This
module imports no domain package: ``evaluation_hub.tables`` gathers every table on one metadata
for migrations, ``create_all`` and the migration drift test.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evaluation_hub.db.base import Base

__all__ = [
    "Base",
    "Booking",
    "BookingEvent",
    "BookingSeat",
    "ChairRound",
    "ChairVote",
    "CheckinCredential",
    "EvaluationSession",
    "Expert",
    "RevokedToken",
    "Seat",
    "SeatDraw",
    "SessionExpert",
    "SessionTransition",
    "Throttle",
    "User",
    "Venue",
]


class Venue(Base):
    """A trading centre's evaluation venue (评标场地)."""

    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(12))  # 6-digit administrative division code
    supervising_department: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    #: WGS-84 degrees of the venue itself (None: not recorded)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    #: a disabled venue (停用) takes no new bookings; what it already holds stays
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    seats: Mapped[list[Seat]] = relationship(back_populates="venue", order_by="Seat.id")


class Seat(Base):
    """One evaluation desk (工位) with its terminal, camera and microphone."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("venue_id", "label"),
        CheckConstraint("status IN ('available', 'maintenance', 'retired')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"), index=True)
    label: Mapped[str] = mapped_column(String(50))
    room: Mapped[str] = mapped_column(String(100), default="")
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="available")
    shared: Mapped[bool] = mapped_column(Boolean, default=True)

    venue: Mapped[Venue] = relationship(back_populates="seats")


class Expert(Base):
    """An evaluation expert (评标专家) drawn from the shared pool."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    home_region: Mapped[str] = mapped_column(String(12))
    employer: Mapped[str] = mapped_column(String(200))
    # The pool's export (evaluation_hub.pool): phone, specialties (专业), and whether the person
    # is in the pool at all (False: a purchaser's representative entered for one session).
    phone: Mapped[str] = mapped_column(String(32), default="", server_default="")
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    in_pool: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class EvaluationSession(Base):
    """One sitting of one committee for one bid section (评标会), hosted by exactly one venue."""

    __tablename__ = "evaluation_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("committee_size >= 1", name="committee_size"),
        CheckConstraint(
            "procurement_type IN ('engineering', 'government')", name="procurement_type"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_code: Mapped[str] = mapped_column(String(64))
    project_name: Mapped[str] = mapped_column(String(300))
    section: Mapped[str] = mapped_column(String(100))
    host_venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    committee_size: Mapped[int] = mapped_column(Integer)
    # The committee's composition follows the procurement type (工程招标 engineering / 政府采购
    # government) and, for government procurement, the budget (sessions.committee).
    procurement_type: Mapped[str] = mapped_column(
        String(20), default="engineering", server_default="engineering"
    )
    budget: Mapped[Decimal | None] = mapped_column(Numeric(18, 2), default=None)
    #: how many of committee_size are the purchaser's representatives (采购人代表)
    representatives: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: whether a representative may be elected chair (fixed from the configuration at creation)
    representatives_may_chair: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default="1"
    )
    state: Mapped[str] = mapped_column(String(30), default="scheduled")
    # Set exactly while the session is paused: the state a resume returns to.
    paused_from: Mapped[str | None] = mapped_column(String(30), default=None)
    # An unresolved fault (设备/网络故障) and when it began: the outage clocks run from here.
    fault_started_at: Mapped[datetime | None] = mapped_column(default=None)
    fault_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]

    host_venue: Mapped[Venue] = relationship()
    experts: Mapped[list[SessionExpert]] = relationship(
        back_populates="session", order_by="SessionExpert.id"
    )


class SessionExpert(Base):
    """An expert drawn for a session, seated at the host or at an away venue."""

    __tablename__ = "session_experts"
    __table_args__ = (
        UniqueConstraint("session_id", "expert_id"),
        CheckConstraint("placement IN ('host', 'away')", name="placement"),
        CheckConstraint("decision IN ('pending', 'confirmed', 'recused')", name="decision"),
        CheckConstraint("kind IN ('expert', 'tenderer_representative')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    placement: Mapped[str] = mapped_column(String(10), default="away")
    # An expert from the pool or the purchaser's / tenderer's representative (采购人代表).
    kind: Mapped[str] = mapped_column(String(30), default="expert", server_default="expert")
    # Committee formation at check-in (evaluation_hub.sessions.formation): the member's
    # integrity commitment or recusal (回避), and whether the committee elected them chair.
    decision: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    decision_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    decided_at: Mapped[datetime | None]
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    session: Mapped[EvaluationSession] = relationship(back_populates="experts")
    expert: Mapped[Expert] = relationship()


class ChairVote(Base):
    """One member's ballot in one round of the chair election (主任委员推选): cast at the
    member's seat (``recorded_by`` is ``seat:<key>``), or typed in by the host operator for a
    member not at a seat, with the reason (代录)."""

    __tablename__ = "chair_votes"
    __table_args__ = (UniqueConstraint("session_id", "round", "voter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    voter_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    recorded_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    #: why the host operator recorded this ballot for the member (empty: cast at the seat)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class ChairRound(Base):
    """A closed round of the chair election: every member confirmed then had voted. Its
    candidates are kept as they stood, so the round counts the same later whoever joins."""

    __tablename__ = "chair_rounds"
    __table_args__ = (UniqueConstraint("session_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime]


BOOKING_STATES = (
    "requested",
    "confirmed",
    "checked_in",
    "released",
    "rejected",
    "cancelled",
    "expired",
    "changed",
)


class Booking(Base):
    """A request for ``seat_count`` seats at ``venue_id`` for a session's window (工位预约)."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("seat_count >= 1", name="seat_count"),
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in BOOKING_STATES) + ")", name="state"
        ),
        Index("ix_bookings_venue_state", "venue_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"))
    seat_count: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default="requested")
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    # Set when the hub drew this venue at random (两随机): hidden from the host until the start.
    drawn: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]

    session: Mapped[EvaluationSession] = relationship()
    seats: Mapped[list[BookingSeat]] = relationship(
        back_populates="booking", order_by="BookingSeat.seat_id"
    )
    events: Mapped[list[BookingEvent]] = relationship(
        back_populates="booking", order_by="BookingEvent.id"
    )


class BookingSeat(Base):
    """One seat held by a booking. ``live`` mirrors whether the booking still holds it."""

    __tablename__ = "booking_seats"
    __table_args__ = (
        UniqueConstraint("booking_id", "seat_id"),
        CheckConstraint("ends_at > starts_at", name="window"),
        Index("ix_booking_seats_seat_live", "seat_id", "live"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("experts.id"), default=None)

    booking: Mapped[Booking] = relationship(back_populates="seats")
    seat: Mapped[Seat] = relationship()


class BookingEvent(Base):
    """Who changed a booking's state, when, and why."""

    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    booking: Mapped[Booking] = relationship(back_populates="events")


class User(Base):
    """A person who signs in to the hub: a venue admin, a host-site operator or a supervisor."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('venue_admin', 'host_operator', 'supervisor', 'system_admin')", name="role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id"), default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every token names the version it was issued under; disabling the user or resetting the
    # password moves it on, so every token issued before stops working at once.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RevokedToken(Base):
    """A signed-out token (its ``jti``), refused until it would have expired anyway; rows past
    ``expires_at`` mean nothing and are deleted as new ones arrive."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Throttle(Base):
    """One attempt counter (``evaluation_hub.throttling``): failed sign-ins of a user, an
    address or both, enrolment requests of an address or a seat. Shared by every hub process;
    rows past ``expires_at`` mean nothing and are deleted as new ones arrive."""

    __tablename__ = "throttles"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What is counted: "signin.user_address", "signin.address", "signin.user",
    # "enrolment.address", "enrolment.seat".
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SessionTransition(Base):
    """One move of a session's lifecycle: who, in which role, from where to where, when, why."""

    __tablename__ = "session_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")


class CheckinCredential(Base):
    """A one-time check-in PIN for one expert at one booked seat, stored as a keyed MAC."""

    __tablename__ = "checkin_credentials"
    __table_args__ = (
        CheckConstraint(
            "presence IS NULL OR presence IN ('confirmed', 'unconfirmed', 'confirmed_by_hand')",
            name="presence",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_seat_id: Mapped[int] = mapped_column(ForeignKey("booking_seats.id"), unique=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    pin_mac: Mapped[str] = mapped_column(String(64))
    attempts_left: Mapped[int] = mapped_column(Integer)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    # Presence at check-in (在场核验): ``confirmed`` when the seat's conduct monitor saw exactly
    # one face, ``unconfirmed`` otherwise (``presence_note`` says what it saw), and
    # ``confirmed_by_hand`` once a host supervisor confirmed it with a reason.
    presence: Mapped[str | None] = mapped_column(String(20), default=None)
    presence_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    presence_faces: Mapped[int | None] = mapped_column(Integer, default=None)
    presence_confirmed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    presence_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    presence_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    booking_seat: Mapped[BookingSeat] = relationship()


class SeatDraw(Base):
    """A random draw of away venues and seats for a session (两随机).

    The seed is sealed with the hub's sealing key (not stored in the database) and only its
    commitment is shown before the session starts; after the start the seed is revealed so
    anyone can re-derive the draw from ``inputs`` (the draw's canonical input encoding).
    """

    __tablename__ = "seat_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), unique=True)
    commitment: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[str] = mapped_column(Text)
    sealed_seed: Mapped[str] = mapped_column(Text)
    drawn_by: Mapped[str] = mapped_column(String(100))
    drawn_at: Mapped[datetime]
