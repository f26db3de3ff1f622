from __future__ import annotations

from seat_protocol.closecodes import PERMANENT, REASONS, CloseCode, close_reason, is_permanent


def test_every_code_is_in_the_application_range_and_has_a_reason() -> None:
    assert set(REASONS) == set(CloseCode)
    assert all(4000 <= code <= 4999 for code in CloseCode)
    assert all(reason.isascii() for reason in REASONS.values())


def test_documented_numbers() -> None:
    assert {c.name: int(c) for c in CloseCode} == {
        "PROTOCOL_ERROR": 4001,
        "UNSUPPORTED_VERSION": 4002,
        "AUTH_FAILED": 4003,
        "UNKNOWN_SEAT": 4004,
        "SEAT_REVOKED": 4005,
        "MESSAGE_TOO_BIG": 4006,
        "SEQUENCE_ERROR": 4007,
        "HEARTBEAT_TIMEOUT": 4008,
        "REPLACED": 4009,
        "HANDSHAKE_TIMEOUT": 4010,
        "ENROLMENT_PENDING": 4011,
        "HUB_SHUTTING_DOWN": 4012,
        "TOO_MANY_REQUESTS": 4013,
    }


def test_reason_with_detail_is_cut_to_123_bytes_on_a_character_boundary() -> None:
    assert close_reason(CloseCode.AUTH_FAILED) == "authentication failed"
    assert close_reason(CloseCode.AUTH_FAILED, "bad") == "authentication failed: bad"
    long = close_reason(CloseCode.PROTOCOL_ERROR, "é" * 100)
    assert len(long.encode()) == 122  # 16 ASCII bytes, then 53 two-byte characters
    assert long == "protocol error: " + "é" * 53


def test_permanent_codes_stop_reconnecting() -> None:
    assert {4002, 4003, 4004, 4005, 4009} == PERMANENT
    assert is_permanent(4005)
    assert not is_permanent(4008)
    assert not is_permanent(None)
    assert not is_permanent(1006)
