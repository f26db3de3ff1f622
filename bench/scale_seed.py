"""``bench/scale.py``'s database: seats with approved terminal keys, and sessions in check-in
holding the publishing seats, each watched by supervisors of its host venue.

Rows are written directly (as ``bench/control_plane.py`` writes its seats): what the bench
measures is the running hubs, not the host's preparation (``bench/day.py`` measures that). Every
seat is at one venue, ``BN``, which also hosts every session: its supervisors are each session's
host supervisors (``access.Action.WATCH_LIVE``). A session holds ``per_session`` publishing
seats through one confirmed booking over a window around now, and is in check-in
(``SEATS_IN_USE``), so a seat's ``media_offer`` is relayed into its session's Janus room
(``live.publishing``). Each seat of a session is watched by ``viewers`` supervisors, one
viewer each: the hub allows a user two viewers of one seat (``live.viewer_places``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from evaluation_hub.admin.passwords import hash_password
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession, Seat, User, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.sessions.states import SessionState
from seat_protocol.auth import enrolment_code

__all__ = ["PASSWORD", "VENUE", "ScalePlan", "SeatKeys", "WatchedSession", "seed_scale"]

VENUE = "BN"
PASSWORD = "demo-2026"  # bench.day.login's


@dataclass(frozen=True)
class SeatKeys:
    seat_key: str
    ed25519: bytes  # raw private keys, handed to the seat workers
    x25519: bytes


@dataclass(frozen=True)
class WatchedSession:
    session_id: int
    labels: tuple[str, ...]  # its publishing seats
    supervisors: tuple[str, ...]  # one viewer of every seat each


@dataclass(frozen=True)
class ScalePlan:
    seats: tuple[SeatKeys, ...]  # the first ``publishers`` publish
    sessions: tuple[WatchedSession, ...]


async def seed_scale(
    url: str, *, seat_links: int, publishers: int, per_session: int, viewers: int
) -> ScalePlan:
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    seats: list[SeatKeys] = []
    sessions: list[WatchedSession] = []
    try:
        async with db.write() as s:
            venue = Venue(code=VENUE, name="压测场地", region_code="530100",
                          supervising_department="压测监督部门")  # fmt: skip
            s.add(venue)
            await s.flush()
            seat_ids: list[int] = []
            for n in range(seat_links):
                seat = Seat(venue_id=venue.id, label=f"{VENUE}-{n:04d}", room="压测",
                            capabilities=["camera", "microphone"], status="available")  # fmt: skip
                s.add(seat)
                await s.flush()
                seat_ids.append(seat.id)
                ed, x = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
                ed_pub = ed.public_key().public_bytes_raw()
                x_pub = x.public_key().public_bytes_raw()
                key = f"{VENUE}.{seat.label}"
                s.add(SeatEnrolment(
                    seat_key=key, seat_id=seat.id, ed25519_public_key=ed_pub,
                    x25519_public_key=x_pub, enrolment_code=enrolment_code(ed_pub, x_pub),
                    status="approved", requested_at=now, decided_by="bench", decided_at=now,
                ))  # fmt: skip
                seats.append(SeatKeys(key, ed.private_bytes_raw(), x.private_bytes_raw()))
            password = hash_password(PASSWORD)
            starts, ends = now - timedelta(hours=1), now + timedelta(hours=8)
            for k, first in enumerate(range(0, publishers, per_session), start=1):
                members = list(range(first, min(first + per_session, publishers)))
                session = EvaluationSession(
                    project_code=f"SCALE-{k:03d}", project_name=f"压测项目 {k:03d}",
                    section="一标段", host_venue_id=venue.id, starts_at=starts, ends_at=ends,
                    committee_size=len(members), state=SessionState.CHECK_IN, created_at=now,
                )  # fmt: skip
                s.add(session)
                await s.flush()
                booking = Booking(
                    session_id=session.id, venue_id=venue.id, seat_count=len(members),
                    starts_at=starts, ends_at=ends, state="confirmed", requested_by="bench",
                    requested_at=now, expires_at=ends, updated_at=now,
                )  # fmt: skip
                s.add(booking)
                await s.flush()
                for n in members:
                    s.add(BookingSeat(booking_id=booking.id, seat_id=seat_ids[n],
                                      starts_at=starts, ends_at=ends))  # fmt: skip
                names = tuple(f"scale_sup_{k:03d}_{v}" for v in range(1, viewers + 1))
                for name in names:
                    s.add(User(username=name, display_name=f"压测监督 {k:03d}", role="supervisor",
                               venue_id=venue.id, password_hash=password))  # fmt: skip
                labels = tuple(seats[n].seat_key.split(".", 1)[1] for n in members)
                sessions.append(WatchedSession(session.id, labels, names))
    finally:
        await db.dispose()
    return ScalePlan(tuple(seats), tuple(sessions))
