"""The seat agent's end of the connection to the hub, as a pure state machine.

    AWAIT_CHALLENGE --challenge--> AWAIT_WELCOME --welcome--> OPEN
                                                  (sends resume, then resends its unacked)
    any state: refused -> CLOSING (with the hub's code); failure -> CLOSING -> CLOSED

A new :class:`SeatConnection` is made for every connection attempt and given the same
:class:`~seat_protocol.streams.Channel`, which remembers the last hub message received and the
seat's unacknowledged messages; ``auth`` carries that position so the hub resends exactly what
is missing. Chunks are checked before they are acknowledged (a chunk that fails closes the
connection unacknowledged, 4001, and the hub sends it again after the reconnect): against their
SHA-256 by default, or by the shell's ``chunk_check`` (the seat agent's cache proves a chunk of
its manifest by its AEAD tag, ``seat_agent.chapters.ChapterCache.check_chunk``, and falls back to
the SHA-256). They come as JSON ``chunk`` messages or, once ``hello`` offered a binary chunk
framing (``chunk_framings``, ``seat_protocol.chunk_frames``), as binary frames: both give the
same ``ChunkReceived``.
:class:`SeatEnrolment` is the one-shot conversation of ``seat-agent enroll``.

After a close, the shell waits ``seat_protocol.backoff`` delays before the next attempt, unless
``Disconnected.permanent`` says a person must act first. Never does I/O or reads a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

from seat_protocol.auth import enrolment_code, sign_challenge
from seat_protocol.chunk_frames import SUPPORTED_FRAMINGS, decode_chunk_frame
from seat_protocol.closecodes import CloseCode
from seat_protocol.events import (
    ChunkReceived,
    Connected,
    EnrolmentSubmitted,
    MessageReceived,
    ScoreCommitted,
    ScoreRefused,
)
from seat_protocol.exceptions import AuthFailed, MalformedMessage, OutOfState
from seat_protocol.messages import (
    PROTOCOL_VERSION,
    AppMessage,
    Auth,
    Challenge,
    Chunk,
    ChunkData,
    Enroll,
    EnrollReceived,
    Hello,
    Message,
    Refused,
    Resume,
    ScoreAck,
    SubmitScore,
    Welcome,
    b64,
    unb64,
)
from seat_protocol.streams import Channel
from seat_protocol.suites import SigningKey

from ._endpoint import ConnectionState, Endpoint, Timing

__all__ = [
    "ChunkCheck",
    "ConnectionState",
    "SeatConnection",
    "SeatEnrolment",
    "Timing",
    "sha256_matches",
]

# Whether a chunk's bytes are the chunk of that name: True only if they are exactly its bytes or
# proven authentic for its place in its chapter (see ``ChunkCheck`` users).
ChunkCheck = Callable[[str, ChunkData], bool]


def sha256_matches(sha256: str, data: ChunkData) -> bool:
    """The default chunk check: the bytes hash to the chunk's name."""
    return hashlib.sha256(data).hexdigest() == sha256


# The hub dictates the ping interval in ``welcome``; the seat gives up after this many missed.
_TIMEOUT_INTERVALS = 3


class SeatConnection(Endpoint):
    """The seat's end of one websocket connection to the hub."""

    peer: ClassVar[str] = "hub"

    def __init__(
        self,
        *,
        seat_id: str,
        hub_id: str,
        key: SigningKey,
        channel: Channel,
        now: float,
        handshake_timeout: float = 10.0,
        agent: str = "seat-agent",
        protocol_version: int = PROTOCOL_VERSION,
        chunk_framings: tuple[int, ...] = SUPPORTED_FRAMINGS,
        chunk_check: ChunkCheck = sha256_matches,
    ) -> None:
        super().__init__(
            now=now,
            timing=Timing(handshake_timeout=handshake_timeout),
            state=ConnectionState.AWAIT_CHALLENGE,
        )
        self._chunk_check = chunk_check
        self.seat_id = seat_id
        self.hub_id = hub_id
        self._key = key
        self.channel = channel
        # A hello of version 2 or older has no chunk_framings field (an older hub refuses it).
        self._framings = chunk_framings if protocol_version >= 3 else ()
        self._queue(
            Hello(
                protocol_version=protocol_version,
                seat_id=seat_id,
                agent=agent,
                chunk_framings=self._framings,
            )
        )

    def send(self, msg: AppMessage) -> AppMessage:
        """Send an application message now, or after the next resume if not connected."""
        return self.channel.send(msg)

    def submit_score(
        self, idempotency_key: str, session_id: str, sheet: dict[str, Any], signature: str = ""
    ) -> AppMessage:
        return self.send(
            SubmitScore(
                idempotency_key=idempotency_key,
                session_id=session_id,
                sheet=sheet,
                signature=signature,
            )
        )

    def _decode_binary(self, data: bytes | bytearray) -> Message:
        if not self._framings:
            raise MalformedMessage("binary frame, but this seat offered no binary chunk framing")
        return decode_chunk_frame(data)

    def _handle_control(self, msg: Message, now: float) -> None:
        state = self.state
        if isinstance(msg, Refused) and state in (
            ConnectionState.AWAIT_CHALLENGE,
            ConnectionState.AWAIT_WELCOME,
        ):
            # Mirror the hub's close so the shell sees its code (and whether it is permanent)
            # even if the close frame never arrives.
            self._close(msg.code, msg.reason)
        elif state is ConnectionState.AWAIT_CHALLENGE and isinstance(msg, Challenge):
            self._challenge(msg)
        elif state is ConnectionState.AWAIT_WELCOME and isinstance(msg, Welcome):
            self._welcome(msg, now)
        elif state is ConnectionState.OPEN:
            raise OutOfState(f"unexpected {msg.type} message on an open connection")
        else:
            expected = "challenge" if state is ConnectionState.AWAIT_CHALLENGE else "welcome"
            raise OutOfState(f"expected {expected}, got {msg.type}")

    def _check_hub(self, hub_id: str) -> None:
        if hub_id != self.hub_id:
            # Signing for another hub id would let that hub replay our answer here; refuse.
            raise AuthFailed(f"connected to hub '{hub_id}', expected '{self.hub_id}'")

    def _challenge(self, msg: Challenge) -> None:
        self._check_hub(msg.hub_id)
        assert self.seat_id is not None
        signature = sign_challenge(self._key, unb64(msg.nonce), self.seat_id, self.hub_id)
        self._queue(Auth(signature=b64(signature), last_received=self.channel.incoming.last))
        self.state = ConnectionState.AWAIT_WELCOME

    def _welcome(self, msg: Welcome, now: float) -> None:
        self._check_hub(msg.hub_id)
        lost = self.channel.incoming.resume_to(msg.resume_after)
        resume_after, peer_lost = self.channel.outgoing.resume(msg.last_received)
        self._queue(Resume(resume_after=resume_after))
        for frame in self.channel.outgoing.frames_after(resume_after):
            self.transmit(frame)
        self._link(self.channel)
        self.timing = Timing(
            heartbeat_interval=msg.heartbeat_interval,
            heartbeat_timeout=msg.heartbeat_interval * _TIMEOUT_INTERVALS,
            handshake_timeout=self.timing.handshake_timeout,
        )
        self.state = ConnectionState.OPEN
        self._start_heartbeat(now)
        assert self.seat_id is not None
        self._events.append(
            Connected(seat_id=self.seat_id, lost_incoming=lost, peer_lost=peer_lost)
        )

    def _handle_app(self, msg: AppMessage, now: float) -> None:
        if isinstance(msg, ScoreAck):
            if msg.accepted:
                self._events.append(ScoreCommitted(idempotency_key=msg.idempotency_key))
            else:
                self._events.append(ScoreRefused(msg.idempotency_key, msg.code, msg.message))
        elif isinstance(msg, Chunk):
            data = msg.raw  # decoded once, when the message was checked
            if not self._chunk_check(msg.sha256, data):
                raise MalformedMessage(f"chunk data does not match its SHA-256 {msg.sha256[:16]}")
            self._events.append(ChunkReceived(sha256=msg.sha256, data=data))
        else:
            assert self.seat_id is not None
            self._events.append(MessageReceived(seat_id=self.seat_id, message=msg))


class SeatEnrolment(Endpoint):
    """``seat-agent enroll``: send this terminal's public keys, learn that they were recorded.

    Success is :class:`EnrolmentSubmitted` followed by the hub's close 4011 (enrolment pending
    approval); the venue admin then compares ``enrolment_code`` with the one printed here.
    """

    peer: ClassVar[str] = "hub"

    def __init__(
        self,
        *,
        seat_id: str,
        ed25519_public_key: bytes,
        x25519_public_key: bytes,
        now: float,
        handshake_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            now=now,
            timing=Timing(handshake_timeout=handshake_timeout),
            state=ConnectionState.AWAIT_ENROLMENT,
        )
        self.seat_id = seat_id
        self.enrolment_code = enrolment_code(ed25519_public_key, x25519_public_key)
        self._queue(
            Enroll(
                seat_id=seat_id,
                ed25519_public_key=b64(ed25519_public_key),
                x25519_public_key=b64(x25519_public_key),
                enrolment_code=self.enrolment_code,
            )
        )

    def _handle_control(self, msg: Message, now: float) -> None:
        if isinstance(msg, Refused):
            self._close(msg.code, msg.reason)
        elif isinstance(msg, EnrollReceived) and msg.enrolment_code == self.enrolment_code:
            assert self.seat_id is not None
            self._events.append(
                EnrolmentSubmitted(seat_id=self.seat_id, enrolment_code=msg.enrolment_code)
            )
        elif isinstance(msg, EnrollReceived):
            self.close(
                CloseCode.PROTOCOL_ERROR,
                f"hub recorded code {msg.enrolment_code}, expected {self.enrolment_code}",
            )
        else:
            raise OutOfState(f"expected enroll_received, got {msg.type}")
