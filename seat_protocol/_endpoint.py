"""The machinery both connection machines share: output and event queues, heartbeats,
acknowledgements, in-order delivery of application messages, and closing.

Sans-I/O in the manner of the ``websockets`` library: the shell feeds received text with
``receive_text(text, now)`` and binary frames with ``receive_bytes(data, now)``, calls ``tick(now)`` at ``next_deadline()``, reports a dropped
transport with ``connection_lost``, and after every call drains ``data_to_send()`` (frames and a
possible close) and ``events_received()``. Nothing here reads a clock, sleeps or touches a socket.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from seat_protocol.closecodes import CloseCode, close_reason, is_permanent
from seat_protocol.events import (
    CloseConnection,
    Disconnected,
    Event,
    Output,
    SendBytes,
    SendText,
)
from seat_protocol.exceptions import MalformedMessage, OutOfState, ProtocolError
from seat_protocol.messages import Ack, AppMessage, Message, Ping, Pong, decode, encode
from seat_protocol.streams import Channel, Frame

__all__ = ["ABNORMAL_CLOSURE", "ConnectionState", "Endpoint", "Timing"]

# RFC 6455: the code a shell reports when the transport dropped without a close frame.
ABNORMAL_CLOSURE = 1006


class ConnectionState(enum.Enum):
    AWAIT_HELLO = "await_hello"  # hub: nothing received yet
    AWAIT_CHALLENGE = "await_challenge"  # seat: hello sent
    AWAIT_AUTH = "await_auth"  # hub: challenge sent
    AWAIT_WELCOME = "await_welcome"  # seat: auth sent
    AWAIT_RESUME = "await_resume"  # hub: welcome sent, the seat's resume point not yet known
    AWAIT_ENROLMENT = "await_enrolment"  # seat: enroll sent
    OPEN = "open"
    CLOSING = "closing"  # this end decided to close; waiting for the transport to go
    CLOSED = "closed"


_DONE = (ConnectionState.CLOSING, ConnectionState.CLOSED)


@dataclass(frozen=True)
class Timing:
    """Heartbeat and handshake deadlines, in seconds."""

    heartbeat_interval: float = 5.0
    # Any frame from the peer proves it alive, not only a pong: a pong can queue behind a
    # large chunk on a slow line, and the line is evidently working.
    heartbeat_timeout: float = 15.0
    handshake_timeout: float = 10.0


class Endpoint:
    """One end of one websocket connection."""

    peer: ClassVar[str]  # "hub" or "seat": who sends to this end

    def __init__(self, *, now: float, timing: Timing, state: ConnectionState) -> None:
        self.state = state
        self.timing = timing
        self.seat_id: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._channel: Channel | None = None
        self._outputs: list[Output] = []
        # Acknowledgements are cumulative: one waiting in ``_outputs`` (at ``_ack_at``) is
        # raised to the latest seq instead of queueing another, and encoded when drained.
        self._ack_at: int | None = None
        self._ack_seq = 0
        self._events: list[Event] = []
        self._started_at = now
        self._last_heard = now
        self._next_ping_at = 0.0
        self._ping_id = 0

    # --- what the shell calls --------------------------------------------------------------

    def data_to_send(self) -> list[Output]:
        out, self._outputs = self._outputs, []
        if self._ack_at is not None:
            out[self._ack_at] = SendText(encode(Ack(seq=self._ack_seq)))
            self._ack_at = None
        return out

    @property
    def only_ack_waiting(self) -> bool:
        """Whether all that waits to be sent is an acknowledgement: a shell may hold it back
        for a moment, so that one ack answers a run of messages (acks are cumulative; the
        peer only keeps the unacknowledged messages meanwhile, bounded by what was asked)."""
        return self._ack_at == 0 and len(self._outputs) == 1

    def events_received(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def receive_text(self, text: str, now: float) -> None:
        if self.state in _DONE:
            return  # frames racing our close frame are dropped, as websockets does
        self._last_heard = now
        try:
            msg = decode(text)
            if msg.sender not in (self.peer, "both"):
                raise OutOfState(
                    f"{msg.type} message is sent by the {msg.sender}, not by a {self.peer}"
                )
            self._dispatch(msg, now)
        except ProtocolError as exc:
            self._fail(exc)

    def receive_bytes(self, data: bytes | bytearray, now: float) -> None:
        """A binary frame: a chunk in a framing this end agreed to (``_decode_binary``)."""
        if self.state in _DONE:
            return
        self._last_heard = now
        try:
            msg = self._decode_binary(data)
            self._dispatch(msg, now)
        except ProtocolError as exc:
            self._fail(exc)

    def tick(self, now: float) -> None:
        if self.state in _DONE:
            return
        if not self._authenticated:
            if now - self._started_at >= self.timing.handshake_timeout:
                self.close(
                    CloseCode.HANDSHAKE_TIMEOUT,
                    f"no handshake within {self.timing.handshake_timeout:g} s",
                )
            return
        if now - self._last_heard >= self.timing.heartbeat_timeout:
            self.close(
                CloseCode.HEARTBEAT_TIMEOUT,
                f"nothing received for {self.timing.heartbeat_timeout:g} s",
            )
        elif now >= self._next_ping_at:
            self._ping_id += 1
            self._queue(Ping(id=self._ping_id))
            self._next_ping_at = now + self.timing.heartbeat_interval

    def next_deadline(self) -> float | None:
        """When the shell should call ``tick`` next (None once closing)."""
        if self.state in _DONE:
            return None
        if not self._authenticated:
            return self._started_at + self.timing.handshake_timeout
        return min(self._next_ping_at, self._last_heard + self.timing.heartbeat_timeout)

    def close(self, code: CloseCode, detail: str = "") -> None:
        """Close from this end (also used for protocol failures and timeouts)."""
        self._close(int(code), close_reason(code, detail))

    def connection_lost(self, code: int | None = None, reason: str = "") -> None:
        """The transport is gone: the peer's close frame (``code``), or none (1006)."""
        if self.state is ConnectionState.CLOSED:
            return
        was_closing = self.state is ConnectionState.CLOSING
        self.state = ConnectionState.CLOSED
        self._unlink()
        if not was_closing:
            self.close_code = code if code is not None else ABNORMAL_CLOSURE
            self.close_reason = reason
            self._disconnected()

    # --- for the subclasses ----------------------------------------------------------------

    @property
    def _authenticated(self) -> bool:
        return self.state in (ConnectionState.AWAIT_RESUME, ConnectionState.OPEN)

    def transmit(self, frame: Frame) -> None:
        """Queue an already encoded frame (the channel calls this for sequenced messages)."""
        self._outputs.append(SendText(frame) if isinstance(frame, str) else SendBytes(frame))

    def _queue(self, msg: Message) -> None:
        self._outputs.append(SendText(encode(msg)))

    def _queue_ack(self, seq: int) -> None:
        self._ack_seq = seq
        if self._ack_at is None:
            self._ack_at = len(self._outputs)
            self._outputs.append(SendText(""))  # encoded in ``data_to_send``

    def _start_heartbeat(self, now: float) -> None:
        self._last_heard = now
        self._next_ping_at = now + self.timing.heartbeat_interval

    def _link(self, channel: Channel) -> None:
        self._channel = channel
        channel.live = self

    def _unlink(self) -> None:
        if self._channel is not None and self._channel.live is self:
            self._channel.live = None

    def _close(self, code: int, reason: str) -> None:
        if self.state in _DONE:
            return
        self.state = ConnectionState.CLOSING
        self.close_code = code
        self.close_reason = reason
        self._unlink()
        self._outputs.append(CloseConnection(code, reason))
        self._disconnected()

    def _disconnected(self) -> None:
        assert self.close_code is not None
        self._events.append(
            Disconnected(
                seat_id=self.seat_id,
                code=self.close_code,
                reason=self.close_reason,
                permanent=is_permanent(self.close_code),
            )
        )

    def _fail(self, exc: ProtocolError) -> None:
        self.close(exc.code, exc.reason)

    def _dispatch(self, msg: Message, now: float) -> None:
        if isinstance(msg, Ping | Pong | Ack | AppMessage):
            if not self._authenticated or (
                isinstance(msg, AppMessage) and self.state is not ConnectionState.OPEN
            ):
                raise OutOfState(f"unexpected {msg.type} message before the handshake completed")
            assert self._channel is not None
            if isinstance(msg, Ping):
                self._queue(Pong(id=msg.id))
            elif isinstance(msg, Ack):
                self._channel.outgoing.ack(msg.seq)
            elif isinstance(msg, AppMessage):
                self._receive_app(msg, now)
            # A pong needs no handling: hearing anything already counts as liveness.
            return
        self._handle_control(msg, now)

    def _receive_app(self, msg: AppMessage, now: float) -> None:
        assert self._channel is not None
        cursor = self._channel.incoming
        if cursor.is_new(msg.seq):
            # Handle before advancing: if handling refuses the message the connection closes
            # unacknowledged, and the peer sends it again after the reconnect.
            self._handle_app(msg, now)
            cursor.advance(msg.seq)
        if self.state not in _DONE:
            self._queue_ack(cursor.last)

    def _decode_binary(self, data: bytes | bytearray) -> Message:
        raise MalformedMessage("binary frame where no binary framing was agreed")

    def _handle_control(self, msg: Message, now: float) -> None:
        raise NotImplementedError

    def _handle_app(self, msg: AppMessage, now: float) -> None:
        raise NotImplementedError
