"""Sequencing for application messages: numbering, acknowledgement, resend and resume.

Each direction of a seat's conversation is a numbered stream (seq 1, 2, 3, ...). The sender
keeps every message until the receiver acknowledges it (cumulatively); the receiver delivers
each number once, in order, and re-acknowledges duplicates. A :class:`Channel` holds both
directions for one seat and outlives connections, so that after a reconnect both ends say how
far they got and continue from there ("resume from the last acknowledged message").

When one end lost its state (a process restart), the resume arithmetic still lines the streams
up and reports the loss; callers resynchronise what matters through their own durable stores
(the seat's score outbox, the hub's database). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from seat_protocol.chunk_frames import encode_chunk_frame
from seat_protocol.exceptions import SequenceError
from seat_protocol.messages import AppMessage, Chunk, encode

__all__ = ["Channel", "Encoder", "Frame", "ReceiveCursor", "SendBuffer", "Transmitter"]

# A message on the wire: JSON text, or a binary frame (``seat_protocol.chunk_frames``).
Frame = str | bytes
Encoder = Callable[[AppMessage], Frame]


class SendBuffer:
    """The sending half: numbers messages and keeps them until acknowledged."""

    def __init__(self) -> None:
        self._next_seq = 1
        self._acked = 0
        # seq -> (message, its wire frame); kept encoded so a resend costs no re-encoding.
        self._unacked: dict[int, tuple[AppMessage, Frame]] = {}

    @property
    def last_sent(self) -> int:
        return self._next_seq - 1

    @property
    def acked(self) -> int:
        return self._acked

    def unacked(self) -> list[AppMessage]:
        return [msg for msg, _ in self._unacked.values()]

    def number(self, msg: AppMessage, encoder: Encoder = encode) -> tuple[AppMessage, Frame]:
        """Give ``msg`` the next seq and keep it; raises (keeping nothing) if it is too big."""
        numbered = msg.with_seq(self._next_seq)
        frame = encoder(numbered)
        self._unacked[numbered.seq] = (numbered, frame)
        self._next_seq += 1
        return numbered, frame

    def reframe(self, encoder: Encoder) -> None:
        """Encode the unacknowledged chunks again (the peer now reads another chunk framing,
        e.g. an agent upgraded or downgraded while chunks were in flight)."""
        for seq, (msg, _) in self._unacked.items():
            if isinstance(msg, Chunk):
                self._unacked[seq] = (msg, encoder(msg))

    def ack(self, seq: int) -> None:
        if seq > self.last_sent:
            raise SequenceError(f"ack for seq {seq}, but only {self.last_sent} were sent")
        if seq <= self._acked:
            return  # a late or repeated ack
        for done in [s for s in self._unacked if s <= seq]:
            del self._unacked[done]
        self._acked = seq

    def frames_after(self, seq: int) -> list[Frame]:
        return [frame for s, (_, frame) in sorted(self._unacked.items()) if s > seq]

    def resume(self, peer_last_received: int) -> tuple[int, bool]:
        """Line up with a peer that has received up to ``peer_last_received``.

        Returns ``(resume_after, peer_lost)``: this end sends again everything after
        ``resume_after``; ``peer_lost`` says the peer forgot messages it had acknowledged.
        """
        if peer_last_received > self.last_sent:
            # This end restarted and numbers from 1 again, but the peer has seen higher numbers:
            # continue the peer's numbering so it takes the queued messages as new ones.
            pending = [(msg, frame) for _, (msg, frame) in sorted(self._unacked.items())]
            self._unacked = {}
            self._next_seq = peer_last_received + 1
            self._acked = peer_last_received
            for msg, frame in pending:
                # Renumbered in the form (JSON or binary) it was first encoded in.
                self.number(msg, _encoder_like(frame))
            return peer_last_received, False
        if peer_last_received >= self._acked:
            self.ack(peer_last_received)
            return peer_last_received, False
        return self._acked, True


class ReceiveCursor:
    """The receiving half: the last seq delivered in order."""

    def __init__(self) -> None:
        self.last = 0

    def is_new(self, seq: int) -> bool:
        """True for the next number, False for a duplicate; raises on a gap."""
        if seq <= self.last:
            return False
        if seq != self.last + 1:
            raise SequenceError(f"expected seq {self.last + 1}, got {seq}")
        return True

    def advance(self, seq: int) -> None:
        self.last = seq

    def resume_to(self, resume_after: int) -> bool:
        """The peer continues after ``resume_after``; True if messages were lost in between."""
        if resume_after < self.last:
            raise SequenceError(
                f"peer resumes after seq {resume_after}, but seq {self.last} was already received"
            )
        lost = resume_after > self.last
        self.last = resume_after
        return lost


def _encoder_like(frame: Frame) -> Encoder:
    return encode if isinstance(frame, str) else _binary


def _binary(msg: AppMessage) -> Frame:
    assert isinstance(msg, Chunk)  # a chunk is the only message with a binary form
    return encode_chunk_frame(msg)


class Transmitter(Protocol):
    def transmit(self, frame: Frame) -> None: ...


class Channel:
    """Both directions of one seat's conversation; outlives any single connection."""

    def __init__(self) -> None:
        self.outgoing = SendBuffer()
        self.incoming = ReceiveCursor()
        self.live: Transmitter | None = None

    def send(self, msg: AppMessage) -> AppMessage:
        """Number ``msg`` and send it now if a connection is open, else on the next resume."""
        numbered, frame = self.outgoing.number(msg, self.encoder)
        if self.live is not None:
            self.live.transmit(frame)
        return numbered

    def encoder(self, msg: AppMessage) -> Frame:
        """The wire form of a numbered message (JSON; the hub's channel may choose binary)."""
        return encode(msg)
