"""The audit event that records a closed recording segment, as the archive reads it.

``media.recording`` reports each closed WebM segment with its SHA-256 and duration; the hub
records it with :func:`append_segment_event` (in the caller's transaction, like every audit
append) as::

    kind     recording.segment_closed
    subject  seat:<seat id>
    payload  {"session_id": 4, "seat_id": 12, "file": "seat-12/seg-00003.webm",
              "sha256": "<hex>", "size": 1048576, "duration_ms": 10000}

``file`` is the segment's path relative to the recordings directory of the hub process that
recorded it; ``duration_ms`` is an integer because the audit encoding refuses
floats. The archive lists every such event of the session (``recordings/segments.json``) and,
when asked, copies the files after checking each one against its event's hash. Each hub process
records into its own directory, so ``archive --with-recordings`` takes one per process (the
option repeated): each segment is looked for in all of them (:func:`find_segment`), and one
found in none is named (:func:`missing_message`) and listed as not included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.archive.bundle import path_problem
from evaluation_hub.audit.chain import AuditEvent
from evaluation_hub.audit.errors import InvalidAuditEvent
from evaluation_hub.audit.store import append_event

__all__ = [
    "SEGMENT_EVENT",
    "RecordingSegment",
    "append_segment_event",
    "find_segment",
    "missing_message",
    "segment_of",
]

SEGMENT_EVENT = "recording.segment_closed"
# A seat's recorder stopping (its disk full) and resuming: seat events whose payload names the
# sessions the seat's media belonged to then (``session_ids``); in each one's audit slice.
STOPPED_EVENT = "recording.stopped"
RESUMED_EVENT = "recording.resumed"


@dataclass(frozen=True, slots=True)
class RecordingSegment:
    """One closed segment as its audit event states it."""

    seq: int  # the audit event's sequence number
    session_id: int
    seat_id: int
    file: str
    sha256: str
    size: int
    duration_ms: int

    def as_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "session_id": self.session_id,
            "seat_id": self.seat_id,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "duration_ms": self.duration_ms,
        }


async def append_segment_event(
    db: AsyncSession,
    *,
    session_id: int,
    seat_id: int,
    file: str,
    sha256: str,
    size: int,
    duration_s: float,
    actor: str,
    at: datetime,
) -> None:
    """Record one closed segment in the audit chain (caller's open transaction, caller commits)."""
    if (problem := path_problem(file)) is not None:
        raise InvalidAuditEvent(f"recording segment file {problem}")
    await append_event(
        db,
        kind=SEGMENT_EVENT,
        subject=f"seat:{seat_id}",
        actor=actor,
        payload={
            "session_id": session_id,
            "seat_id": seat_id,
            "file": file,
            "sha256": sha256,
            "size": size,
            "duration_ms": round(duration_s * 1000),
        },
        at=at,
    )


def segment_of(event: AuditEvent) -> RecordingSegment | None:
    """The segment an event records, or ``None`` if it is not a well-formed segment event."""
    if event.kind != SEGMENT_EVENT:
        return None
    p = event.payload
    numbers = [p.get(k) for k in ("session_id", "seat_id", "size", "duration_ms")]
    ints = [v for v in numbers if isinstance(v, int) and not isinstance(v, bool)]
    file, sha = p.get("file"), p.get("sha256")
    if len(ints) != len(numbers):
        return None
    if not isinstance(file, str) or path_problem(file) is not None or not isinstance(sha, str):
        return None
    session_id, seat_id, size, duration_ms = ints
    return RecordingSegment(event.seq, session_id, seat_id, file, sha, size, duration_ms)


def find_segment(segment: RecordingSegment, directories: Sequence[Path]) -> Path | None:
    """The file of ``segment`` in one of the hub processes' recordings ``directories``.

    Found in one, that one (the writer checks its hash and refuses an altered file). Found in
    several (the same relative name in two processes' folders), the one whose SHA-256 is the
    audit event's, else the first, which the writer then refuses as altered."""
    found = [d / segment.file for d in directories if (d / segment.file).is_file()]
    if len(found) > 1:
        for path in found:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() == segment.sha256:
                return path
    return found[0] if found else None


def missing_message(segment: RecordingSegment, directories: Sequence[Path]) -> str:
    """What the archive says of a segment found in none of ``directories``."""
    where = ", ".join(str(d) for d in directories)
    return (
        f"recording segment {segment.file} of seat {segment.seat_id} (audit event "
        f"{segment.seq}, SHA-256 {segment.sha256}) is in none of the recordings directories "
        f"({where}): listed as not included"
    )
