"""What the protocol machines hand to their I/O shells: outputs to put on the wire, and events
for the application. Plain frozen dataclasses; no behaviour, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seat_protocol.messages import ChunkData, Message

__all__ = [
    "ChunkReceived",
    "ChunksRequested",
    "CloseConnection",
    "CommitScore",
    "Connected",
    "Disconnected",
    "EnrolmentRequested",
    "EnrolmentSubmitted",
    "Event",
    "MessageReceived",
    "Output",
    "ScoreCommitted",
    "ScoreRefused",
    "SendBytes",
    "SendText",
]


# --- outputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendText:
    """Send ``text`` as one websocket text frame."""

    text: str


@dataclass(frozen=True)
class SendBytes:
    """Send ``data`` as one websocket binary frame (a chunk, ``seat_protocol.chunk_frames``)."""

    data: bytes


@dataclass(frozen=True)
class CloseConnection:
    """Close the websocket with this code and reason (already within 123 bytes)."""

    code: int
    reason: str


Output = SendText | SendBytes | CloseConnection


# --- events, both ends ---------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    """The handshake finished. ``lost_incoming``: this end had acknowledged messages the peer
    no longer holds after a restart on this side, so they will not come again; ``peer_lost``:
    the peer forgot messages it had acknowledged. Either asks for a resync of application
    state. ``replaced`` (hub only) is the older connection of the same seat, now closing."""

    seat_id: str
    lost_incoming: bool
    peer_lost: bool
    replaced: object | None = None


@dataclass(frozen=True)
class Disconnected:
    """The connection is over. ``permanent``: a seat agent must not reconnect on its own."""

    seat_id: str | None
    code: int
    reason: str
    permanent: bool


@dataclass(frozen=True)
class MessageReceived:
    """An application message for the application (delivered once, in order)."""

    seat_id: str
    message: Message


# --- hub events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolmentRequested:
    """A terminal asks to be enrolled; its venue admin must compare ``enrolment_code``."""

    seat_id: str
    ed25519_public_key: bytes
    x25519_public_key: bytes
    enrolment_code: str


@dataclass(frozen=True)
class CommitScore:
    """Judge and commit this score sheet durably, then call ``score_committed(idempotency_key,
    accepted=…, code=…, message=…)`` with the verdict (or ``score_rejected`` when no verdict
    could be reached). ``digest`` identifies the payload for the database's own replay check
    across hub restarts; ``signature`` is the seat key's hex signature over the save's
    canonical document ("" from a version-1 seat)."""

    seat_id: str
    idempotency_key: str
    session_id: str
    sheet: dict[str, Any]
    digest: str
    signature: str = ""


@dataclass(frozen=True)
class ChunksRequested:
    """The seat asks for these chunks, all of them listed in manifests sent to it."""

    seat_id: str
    chunks: tuple[str, ...]


# --- seat events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCommitted:
    """The hub committed the score with this key and accepted it; it counts."""

    idempotency_key: str


@dataclass(frozen=True)
class ScoreRefused:
    """The hub committed its verdict on the score with this key: refused, for ``message``
    (the hub's reason, Chinese, for the expert). Sending it again changes nothing; the expert
    corrects the sheet and saves again (a new key)."""

    idempotency_key: str
    code: str
    message: str


@dataclass(frozen=True)
class ChunkReceived:
    """A chunk whose bytes passed the chunk check (its SHA-256, or the shell's check)."""

    sha256: str
    data: ChunkData


@dataclass(frozen=True)
class EnrolmentSubmitted:
    seat_id: str
    enrolment_code: str


Event = (
    Connected
    | Disconnected
    | MessageReceived
    | EnrolmentRequested
    | CommitScore
    | ChunksRequested
    | ScoreCommitted
    | ScoreRefused
    | ChunkReceived
    | EnrolmentSubmitted
)
