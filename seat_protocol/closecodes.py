"""Websocket close codes of the seat protocol (the 4000-4999 application range).

Each code has one fixed English reason; a close frame may append a short detail after it.
``PERMANENT`` lists the codes after which a seat agent must not reconnect on its own: retrying
cannot help until a person acts (upgrades the agent, re-enrols, or stops a second instance).
This module is imported by both ends and must import nothing from either.
"""

from __future__ import annotations

import enum

__all__ = ["PERMANENT", "REASONS", "CloseCode", "close_reason", "is_permanent"]

# RFC 6455 caps a close frame's payload at 125 bytes, two of which hold the code.
MAX_REASON_BYTES = 123


class CloseCode(enum.IntEnum):
    PROTOCOL_ERROR = 4001
    UNSUPPORTED_VERSION = 4002
    AUTH_FAILED = 4003
    UNKNOWN_SEAT = 4004
    SEAT_REVOKED = 4005
    MESSAGE_TOO_BIG = 4006
    SEQUENCE_ERROR = 4007
    HEARTBEAT_TIMEOUT = 4008
    REPLACED = 4009
    HANDSHAKE_TIMEOUT = 4010
    ENROLMENT_PENDING = 4011
    HUB_SHUTTING_DOWN = 4012
    TOO_MANY_REQUESTS = 4013


REASONS: dict[CloseCode, str] = {
    CloseCode.PROTOCOL_ERROR: "protocol error",
    CloseCode.UNSUPPORTED_VERSION: "unsupported protocol version",
    CloseCode.AUTH_FAILED: "authentication failed",
    CloseCode.UNKNOWN_SEAT: "unknown seat",
    CloseCode.SEAT_REVOKED: "seat revoked",
    CloseCode.MESSAGE_TOO_BIG: "message too big",
    CloseCode.SEQUENCE_ERROR: "sequence error",
    CloseCode.HEARTBEAT_TIMEOUT: "heartbeat timeout",
    CloseCode.REPLACED: "replaced by a newer connection",
    CloseCode.HANDSHAKE_TIMEOUT: "handshake timeout",
    CloseCode.ENROLMENT_PENDING: "enrolment pending approval",
    CloseCode.HUB_SHUTTING_DOWN: "hub shutting down",
    CloseCode.TOO_MANY_REQUESTS: "too many requests",
}

PERMANENT = frozenset(
    {
        CloseCode.UNSUPPORTED_VERSION,
        CloseCode.AUTH_FAILED,
        CloseCode.UNKNOWN_SEAT,
        CloseCode.SEAT_REVOKED,
        CloseCode.REPLACED,
    }
)


def close_reason(code: CloseCode, detail: str = "") -> str:
    """The close-frame reason: the code's fixed reason, then ``: detail``, cut to 123 bytes."""
    text = REASONS[code] if not detail else f"{REASONS[code]}: {detail}"
    raw = text.encode("utf-8", "replace")
    if len(raw) <= MAX_REASON_BYTES:
        return text
    # Cut on a character boundary so the frame stays valid UTF-8.
    return raw[:MAX_REASON_BYTES].decode("utf-8", "ignore")


def is_permanent(code: int | None) -> bool:
    """Whether a seat agent should stop reconnecting after a close with ``code``."""
    return code in PERMANENT
