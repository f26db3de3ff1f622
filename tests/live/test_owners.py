"""Whose record a seat's media belongs to (``live.owners.owns_media``), as a pure rule: from the
expert's check-in until the session is over for its experts, whatever the booked window; inside
the window an expert seated there counts before checking in too; a seat with no expert belongs
to nobody."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from evaluation_hub.booking.seatings import Seating
from evaluation_hub.live.owners import owns_media
from evaluation_hub.sessions.states import MEDIA_RELEASED, SessionState
from seat_protocol.seat_key import SeatKey

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 Beijing
END = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # 17:30 Beijing
CHECKED_IN = START - timedelta(minutes=30)

SEATED = Seating(
    session_id=1,
    booking_id=2,
    booking_seat_id=3,
    seat_id=4,
    seat_key=SeatKey.of("DL", "DL-01"),
    seat_label="DL-01",
    room="远程评标室 A",
    venue_id=2,
    venue_code="DL",
    venue_name="大理州公共资源交易中心",
    starts_at=START,
    ends_at=END,
    expert_id=5,
    expert_code="E03",
    booking_state="confirmed",
    drawn=False,
    checked_in=False,
)
IN = dataclasses.replace(SEATED, checked_in=True, checked_in_at=CHECKED_IN)


@pytest.mark.parametrize(
    ("seating", "state", "at", "owned"),
    [
        # Seated, not checked in: the booked window decides, as before.
        (SEATED, SessionState.CHECK_IN, START, True),
        (SEATED, SessionState.EVALUATING, END - timedelta(seconds=1), True),
        (SEATED, SessionState.EVALUATING, END, False),
        (SEATED, SessionState.CHECK_IN, CHECKED_IN, False),
        # Checked in: from the check-in on, past the booked end, until the session is over.
        (IN, SessionState.CHECK_IN, CHECKED_IN, True),
        (IN, SessionState.EVALUATING, END + timedelta(hours=3), True),
        (IN, SessionState.REVEALED, END + timedelta(days=1), True),
        (IN, SessionState.PAUSED, END + timedelta(hours=1), True),
        (IN, SessionState.REPORT_SIGNED, END + timedelta(hours=1), False),
        (IN, SessionState.ARCHIVED, END + timedelta(hours=1), False),
        (IN, SessionState.CANCELLED, END + timedelta(hours=1), False),
        (IN, SessionState.SEALED_FOR_NEW_COMMITTEE, END + timedelta(hours=1), False),
        (IN, SessionState.CHECK_IN, CHECKED_IN - timedelta(seconds=1), False),
        # Nobody seated: nobody's.
        (
            dataclasses.replace(SEATED, expert_id=None, expert_code=None),
            SessionState.EVALUATING,
            START,
            False,
        ),
    ],
)
def test_a_seats_media_follows_the_session(
    seating: Seating, state: SessionState, at: datetime, owned: bool
) -> None:
    assert owns_media(seating, state, at) is owned


def test_the_session_is_over_for_its_experts_once_signed_or_ended() -> None:
    assert (
        frozenset(
            {
                SessionState.REPORT_SIGNED,
                SessionState.ARCHIVED,
                SessionState.CANCELLED,
                SessionState.SEALED_FOR_NEW_COMMITTEE,
            }
        )
        == MEDIA_RELEASED
    )
