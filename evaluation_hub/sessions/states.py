"""The session states' named groups: every rule of the hub that asks "may this happen in the
session's current state?" reads its group here, and each group is defined only here.

The states themselves (``SessionState``, a ``StrEnum`` equal to the stored strings) and their
Chinese names are shared with the seats, so they live in ``seat_protocol.session_states``;
the transitions between them are ``evaluation_hub.sessions.lifecycle``. Pure: no I/O.
"""

from __future__ import annotations

from seat_protocol.session_states import READING_OVER, STATE_NAMES, SessionState

__all__ = [
    "BEFORE_START",
    "CHAIR_ELECTION",
    "CHAPTERS_RELEASABLE",
    "DURING_EVALUATION",
    "LIVE_ENDED",
    "MEDIA_RELEASED",
    "OVERRIDES_ALLOWED",
    "PAUSABLE",
    "READING_OVER",
    "RECUSAL_ALLOWED",
    "REPORT_FINAL",
    "REVEALED",
    "SEATS_IN_USE",
    "STATES",
    "STATE_NAMES",
    "SessionState",
    "state_name",
]

S = SessionState

STATES: tuple[SessionState, ...] = tuple(SessionState)

#: Before the review starts: the bid package may be attached, the committee may still change
#: (recusal, 增补专家), members confirm their integrity commitment, the session may be cancelled,
#: and an outage is judged against the planned start (2 h rule).
BEFORE_START = frozenset({S.SCHEDULED, S.SEATS_CONFIRMED, S.CHECK_IN})

#: The experts are scoring: seat saves are accepted and judged; an outage is judged against
#: the 4 h rule. (Also the states a session may be paused from, with check-in.)
DURING_EVALUATION = frozenset({S.EVALUATING, S.DEVIATION_REVIEW})

#: A pause stops the room (暂停) from these states; resuming returns to the same one.
PAUSABLE = frozenset({S.CHECK_IN, S.EVALUATING, S.DEVIATION_REVIEW})

#: Chapters may be released to the seats (发放章节) while experts may still read them.
CHAPTERS_RELEASABLE = frozenset({S.CHECK_IN, S.EVALUATING, S.DEVIATION_REVIEW, S.PAUSED})

#: A chapter flagged by the anonymity scan may be released with a reason until the seal.
OVERRIDES_ALLOWED = BEFORE_START | DURING_EVALUATION

#: A conflict of interest may surface late: a member may declare recusal (回避) until the scores
#: are sealed; the integrity commitment is confirmed before the start only (``BEFORE_START``).
RECUSAL_ALLOWED = BEFORE_START | DURING_EVALUATION | {S.PAUSED}

#: The chair (评标委员会主任) is elected by the members at check-in or during the evaluation.
CHAIR_ELECTION = frozenset({S.CHECK_IN, S.EVALUATING})

#: The session is over for its experts (the report signed, or the session ended without one):
#: a checked-in expert's seat media no longer belongs to it (``live.owners``).
MEDIA_RELEASED = frozenset({S.REPORT_SIGNED, S.ARCHIVED, S.CANCELLED, S.SEALED_FOR_NEW_COMMITTEE})

#: The seed is public and the result may be read (解密还原之后).
REVEALED = frozenset({S.REVEALED, S.REPORT_SIGNED, S.ARCHIVED})

#: The session is on at its seats: from the opening of check-in until the session ends (the
#: review is ended and sealed, or the room sealed for a new committee, or cancelled), paused
#: included. Only then does a seat's live picture belong to the session: a seat booked for it
#: shows another session's expert at any other time (issue 12).
SEATS_IN_USE = frozenset({S.CHECK_IN, S.EVALUATING, S.DEVIATION_REVIEW, S.PAUSED})

#: The session is over at its seats for good: it left ``SEATS_IN_USE`` (sealed, sealed for a
#: new committee, cancelled) or never returns to it (revealed, signed, archived). Its live media
#: ends with it: the Janus room held for it is destroyed (``live.janus_plane``).
LIVE_ENDED = frozenset(STATES) - BEFORE_START - SEATS_IN_USE

#: Every member signed (or had a refusal recorded): the report is final and exists as a PDF.
REPORT_FINAL = frozenset({S.REPORT_SIGNED, S.ARCHIVED})


def state_name(state: str) -> str:
    """The Chinese name of ``state`` (the raw string if the state is unknown)."""
    return STATE_NAMES.get(state, state)
