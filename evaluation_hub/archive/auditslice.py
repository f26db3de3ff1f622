"""A session's slice of the audit chain: which events, and the checkpoints that vouch for them.

A session's events are scattered through the one hub-wide chain, interleaved with other
sessions' events, and an event's hash can only be recomputed from its full contents. So the
slice is the **contiguous** run of events from just after the last checkpoint before the
session's first event (or from event 1) to the first checkpoint at or after the session's last
event, with those two checkpoints and every checkpoint between. A verifier then checks the run
as the chain verifier does for the whole chain (``chain.verify(..., first_seq=...)``): the first
event links to the hash signed by the anchoring checkpoint, every later event links to the one
before it, every hash recomputes, and the closing checkpoint's signature covers the last one.
``session_seqs`` marks which events of the run concern the session; the others are included
only because the links run through them. See docs/archive.md.

``slice_bounds`` is pure; ``load_slice`` reads the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.archive.recordings import RESUMED_EVENT, SEGMENT_EVENT, STOPPED_EVENT
from evaluation_hub.audit.chain import AuditEvent
from evaluation_hub.audit.checkpoint import Checkpoint
from evaluation_hub.audit.models import AuditCheckpointRow, AuditEventRow
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession
from evaluation_hub.supervision.models import (
    AssistanceRequest,
    CopyNoticeRow,
    HandoverRow,
    Incident,
)

__all__ = ["AuditSlice", "load_slice", "session_subjects", "slice_bounds"]


@dataclass(frozen=True, slots=True)
class AuditSlice:
    first_seq: int
    last_seq: int
    events: list[AuditEvent]
    checkpoints: list[Checkpoint]
    session_seqs: list[int]

    @property
    def anchor_seq(self) -> int | None:
        return self.first_seq - 1 if self.first_seq > 1 else None

    def session_events(self) -> list[AuditEvent]:
        wanted = set(self.session_seqs)
        return [e for e in self.events if e.seq in wanted]


def slice_bounds(session_seqs: Sequence[int], checkpoint_seqs: Sequence[int]) -> tuple[int, int]:
    """``(first_seq, last_seq)`` of the contiguous run that covers ``session_seqs``.

    ``first_seq`` is one past the last checkpoint before the first session event (1 if there is
    none); ``last_seq`` is the first checkpoint at or after the last session event. Raises
    ``ArchiveError`` if no checkpoint covers the last event (the writer signs one first).
    """
    if not session_seqs:
        raise ArchiveError("the session has no audit events to archive")
    lo, hi = min(session_seqs), max(session_seqs)
    before = [c for c in checkpoint_seqs if c < lo]
    after = [c for c in checkpoint_seqs if c >= hi]
    if not after:
        raise ArchiveError(
            f"no signed checkpoint covers audit event {hi}; sign one before archiving"
        )
    return (max(before) + 1 if before else 1), min(after)


async def session_subjects(s: AsyncSession, session_id: int) -> tuple[set[str], set[str], set[int]]:
    """Subjects of the session's own records, its seats' subjects, and its booking ids."""
    subjects = {f"session:{session_id}"}
    bookings = set(
        (await s.execute(select(Booking.id).where(Booking.session_id == session_id))).scalars()
    )
    subjects |= {f"booking:{b}" for b in bookings}
    for prefix, model in (
        ("incident", Incident),
        ("assistance", AssistanceRequest),
        ("copy_notice", CopyNoticeRow),
        ("handover", HandoverRow),
    ):
        ids = (await s.execute(select(model.id).where(model.session_id == session_id))).scalars()
        subjects |= {f"{prefix}:{i}" for i in ids}
    seats = set(
        (
            await s.execute(select(BookingSeat.seat_id).where(BookingSeat.booking_id.in_(bookings)))
        ).scalars()
    )
    return subjects, {f"seat:{seat}" for seat in seats}, bookings


# Check-in events are subjects of the seat; their payload's booking id ties them to a session
# (a refusal without one was not for any booked expert and belongs to no session).
_CHECKIN_EVENTS = ("checkin.accepted", "checkin.refused")
# A recorder's outage is the seat's (by its key), not one session's: few, filtered by payload.
_OUTAGE_EVENTS = (STOPPED_EVENT, RESUMED_EVENT)


async def _session_seqs(s: AsyncSession, session_id: int) -> list[int]:
    session = await s.get(EvaluationSession, session_id)
    if session is None:
        raise ArchiveError(f"evaluation session {session_id} does not exist")
    subjects, seat_subjects, bookings = await session_subjects(s, session_id)
    rows = await s.execute(
        select(AuditEventRow).where(
            or_(
                AuditEventRow.subject.in_(subjects),
                AuditEventRow.subject.in_(seat_subjects)
                & (AuditEventRow.kind.in_([SEGMENT_EVENT, *_CHECKIN_EVENTS])),
                AuditEventRow.kind.in_(_OUTAGE_EVENTS),
            )
        )
    )

    def concerns_session(row: AuditEventRow) -> bool:
        if row.subject in subjects:
            return True
        if row.kind == SEGMENT_EVENT:
            return bool(row.payload.get("session_id") == session_id)
        if row.kind in _OUTAGE_EVENTS:  # named by seat key: the payload lists the sessions
            return session_id in (row.payload.get("session_ids") or ())
        return row.payload.get("booking_id") in bookings  # a check-in, accepted or refused

    return sorted(row.seq for row in rows.scalars() if concerns_session(row))


async def load_slice(s: AsyncSession, session_id: int) -> AuditSlice:
    """The session's slice as stored now (see the module docstring)."""
    seqs = await _session_seqs(s, session_id)
    checkpoint_seqs = list((await s.execute(select(AuditCheckpointRow.seq))).scalars())
    first, last = slice_bounds(seqs, checkpoint_seqs)
    events = await load_chain(s, first, last)
    checkpoints = await load_checkpoints(s, first - 1 if first > 1 else 1, last)
    return AuditSlice(first, last, events, checkpoints, seqs)
