"""The seat protocol's exception tree. Every error this package raises on purpose derives from
:class:`SeatProtocolError`.

    SeatProtocolError
    ├── ProtocolError          the peer broke the protocol; carries the close code and reason
    │   ├── MalformedMessage   4001: not JSON, unknown type, missing/extra/wrongly typed field
    │   ├── OutOfState         4001: a valid message at the wrong moment or from the wrong end
    │   ├── UnsupportedVersion 4002: the seat speaks a protocol version the hub does not
    │   ├── AuthFailed         4003: the challenge signature does not verify
    │   ├── MessageTooBig      4006: over the size limit (also raised by ``encode`` for our own)
    │   └── SequenceError      4007: a sequence number skipped, or an ack for an unsent message
    └── InvalidState           the local caller used a machine wrongly (a bug in the shell)

``ProtocolError.reason`` is short English text that goes into the websocket close frame; the
peer's own input never reaches it unescaped beyond a few bytes, and it never carries secrets.
This module must never import anything from ``evaluation_hub`` or ``seat_agent``.
"""

from __future__ import annotations

from seat_protocol.closecodes import CloseCode

__all__ = [
    "AuthFailed",
    "InvalidState",
    "MalformedMessage",
    "MessageTooBig",
    "OutOfState",
    "ProtocolError",
    "SeatProtocolError",
    "SequenceError",
    "UnsupportedVersion",
]


class SeatProtocolError(Exception):
    """Root of every error the seat protocol raises on purpose."""


class ProtocolError(SeatProtocolError):
    """The peer broke the protocol; the connection closes with ``code`` and ``reason``."""

    default_code: CloseCode = CloseCode.PROTOCOL_ERROR

    def __init__(self, reason: str, code: CloseCode | None = None) -> None:
        self.code = code if code is not None else self.default_code
        self.reason = reason
        super().__init__(f"{int(self.code)} {reason}")


class MalformedMessage(ProtocolError):
    """The text is not a well-formed message of a known type."""


class OutOfState(ProtocolError):
    """A well-formed message that this end must not receive now (or ever)."""


class UnsupportedVersion(ProtocolError):
    default_code = CloseCode.UNSUPPORTED_VERSION


class AuthFailed(ProtocolError):
    default_code = CloseCode.AUTH_FAILED


class MessageTooBig(ProtocolError):
    default_code = CloseCode.MESSAGE_TOO_BIG


class SequenceError(ProtocolError):
    default_code = CloseCode.SEQUENCE_ERROR


class InvalidState(SeatProtocolError):
    """The local caller asked a machine for something its state does not allow."""
