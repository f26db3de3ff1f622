"""Every way a peer can break the protocol, with the exact close code and reason it earns."""

from __future__ import annotations

import hashlib
import json

import pytest

from seat_protocol.auth import enrolment_code, public_key_bytes, sign_challenge
from seat_protocol.chunk_frames import decode_chunk_frame
from seat_protocol.events import (
    ChunkReceived,
    CloseConnection,
    Disconnected,
    EnrolmentRequested,
    EnrolmentSubmitted,
    SendText,
)
from seat_protocol.exceptions import InvalidState
from seat_protocol.hub_side import ConnectionState, EnrolledSeat, HubChannels, HubConnection
from seat_protocol.messages import (
    MAX_MESSAGE_BYTES,
    Chunk,
    ErrorNotice,
    Refused,
    b64,
    decode,
    encode,
)
from seat_protocol.seat_side import SeatConnection, SeatEnrolment
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import (
    HUB_ID,
    NONCE,
    OTHER_KEY,
    SEAT_ID,
    SEAT_KEY,
    connect,
    seat_directory,
)

HELLO = json.dumps({"type": "hello", "protocol_version": 1, "seat_id": SEAT_ID, "agent": "t"})


def _auth(key: object = SEAT_KEY, hub_id: str = HUB_ID, last: int = 0) -> str:
    signature = sign_challenge(key, NONCE, SEAT_ID, hub_id)  # type: ignore[arg-type]
    return json.dumps({"type": "auth", "signature": b64(signature), "last_received": last})


RESUME = json.dumps({"type": "resume", "resume_after": 0})


def _hub(seats: dict[str, EnrolledSeat] | None = None) -> tuple[HubConnection, HubChannels]:
    channels = HubChannels()
    directory = seat_directory() if seats is None else seats
    hub = HubConnection(hub_id=HUB_ID, seats=directory.get, channels=channels, nonce=NONCE, now=0.0)
    return hub, channels


def _feed(hub: HubConnection, *texts: str) -> list[object]:
    for text in texts:
        hub.receive_text(text, 0.0)
    return list(hub.data_to_send())


def _refusal(outputs: list[object], code: int, reason: str) -> None:
    """Before the connection opens, a refusal is a ``refused`` message, then the close."""
    assert outputs[-2:] == [
        SendText(encode(Refused(code=code, reason=reason))),
        CloseConnection(code, reason),
    ]


PRE_OPEN = [
    (
        "{",
        [],
        4001,
        "protocol error: message is not valid JSON (Expecting property name enclosed in double quotes at character 1)",
    ),
    (
        json.dumps({"type": "hello", "protocol_version": 4, "seat_id": SEAT_ID, "agent": "t"}),
        [],
        4002,
        "unsupported protocol version: seat speaks version 4, this hub speaks 1, 2, 3",
    ),
    (
        json.dumps({"type": "hello", "protocol_version": 1, "seat_id": "ghost", "agent": "t"}),
        [],
        4004,
        "unknown seat: seat 'ghost' is not enrolled",
    ),
    (
        json.dumps(
            {
                "type": "welcome",
                "hub_id": "h",
                "heartbeat_interval": 5,
                "resume_after": 0,
                "last_received": 0,
            }
        ),
        [],
        4001,
        "protocol error: welcome message is sent by the hub, not by a seat",
    ),
    (
        json.dumps(
            {
                "type": "submit_score",
                "seq": 1,
                "idempotency_key": "k",
                "session_id": "s",
                "sheet": {},
            }
        ),
        [],
        4001,
        "protocol error: unexpected submit_score message before the handshake completed",
    ),
    (
        json.dumps({"type": "ping", "id": 1}),
        [],
        4001,
        "protocol error: unexpected ping message before the handshake completed",
    ),
    (
        json.dumps({"type": "ack", "seq": 1}),
        [],
        4001,
        "protocol error: unexpected ack message before the handshake completed",
    ),
    (RESUME, [], 4001, "protocol error: expected hello or enroll, got resume"),
    (HELLO, [HELLO], 4001, "protocol error: expected auth, got hello"),
    (
        _auth(OTHER_KEY),
        [HELLO],
        4003,
        "authentication failed: signature does not verify for seat 'seat-a1'",
    ),
    (
        _auth(hub_id="hub-2"),
        [HELLO],
        4003,
        "authentication failed: signature does not verify for seat 'seat-a1'",
    ),
    (
        "x" * (MAX_MESSAGE_BYTES + 1),
        [],
        4006,
        "message too big: message is 524289 bytes, the limit is 524288",
    ),
]


@pytest.mark.parametrize(("text", "before", "code", "reason"), PRE_OPEN)
def test_refusals_before_the_connection_opens(
    text: str, before: list[str], code: int, reason: str
) -> None:
    hub, channels = _hub()
    _feed(hub, *before)
    outputs = _feed(hub, text)
    _refusal(outputs, code, reason)
    assert hub.state is ConnectionState.CLOSING
    events = hub.events_received()
    assert events[-1] == Disconnected(
        hub.seat_id, code, reason, permanent=code in (4002, 4003, 4004, 4005, 4009)
    )
    assert SEAT_ID not in channels  # nothing about the seat changed


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        ("revoked", 4005, "seat revoked: seat 'seat-a1' was revoked"),
        (
            "pending",
            4011,
            "enrolment pending approval: seat 'seat-a1' awaits approval by its venue admin",
        ),
    ],
)
def test_revoked_and_unapproved_seats_are_refused(status: str, code: int, reason: str) -> None:
    seat = EnrolledSeat(SEAT_ID, public_key_bytes(SEAT_KEY), status)  # type: ignore[arg-type]
    hub, _ = _hub({SEAT_ID: seat})
    _refusal(_feed(hub, HELLO), code, reason)


def _open_hub() -> tuple[HubConnection, HubChannels]:
    hub, channels = _hub()
    _feed(hub, HELLO, _auth(), RESUME)
    assert hub.state is ConnectionState.OPEN
    hub.events_received()
    return hub, channels


@pytest.mark.parametrize(
    ("text", "code", "reason"),
    [
        (HELLO, 4001, "protocol error: unexpected hello message on an open connection"),
        (RESUME, 4001, "protocol error: unexpected resume message on an open connection"),
        (
            json.dumps({"type": "chunk_request", "seq": 2, "chunks": ["0" * 64]}),
            4007,
            "sequence error: expected seq 1, got 2",
        ),
        (
            json.dumps({"type": "ack", "seq": 1}),
            4007,
            "sequence error: ack for seq 1, but only 0 were sent",
        ),
        (
            json.dumps({"type": "score_ack", "seq": 1, "idempotency_key": "k"}),
            4001,
            "protocol error: score_ack message is sent by the hub, not by a seat",
        ),
        ('{"type":"ping"}', 4001, "protocol error: ping message is missing field 'id'"),
    ],
)
def test_violations_on_an_open_connection_close_it(text: str, code: int, reason: str) -> None:
    hub, channels = _open_hub()
    assert _feed(hub, text) == [CloseConnection(code, reason)]  # no `refused` once open
    assert channels.get(SEAT_ID).incoming.last == 0


def test_await_resume_accepts_pings_but_not_application_messages() -> None:
    hub, _ = _hub()
    _feed(hub, HELLO, _auth())
    assert _feed(hub, json.dumps({"type": "ping", "id": 7})) == [SendText('{"type":"pong","id":7}')]
    assert _feed(hub, HELLO) == [
        CloseConnection(4001, "protocol error: expected resume, got hello")
    ]


def test_sending_before_authentication_is_a_local_error() -> None:
    hub, _ = _hub()
    with pytest.raises(InvalidState, match="the seat has not authenticated on this connection"):
        hub.send(ErrorNotice(code="x", message="y", ref=None))
    with pytest.raises(ValueError, match="nonce must be 32 random bytes"):
        HubConnection(
            hub_id=HUB_ID, seats=lambda _: None, channels=HubChannels(), nonce=b"", now=0.0
        )


# --- the seat's end ------------------------------------------------------------------------


def _seat() -> SeatConnection:
    seat = SeatConnection(seat_id=SEAT_ID, hub_id=HUB_ID, key=SEAT_KEY, channel=Channel(), now=0.0)
    seat.data_to_send()
    return seat


CHALLENGE = json.dumps({"type": "challenge", "hub_id": HUB_ID, "nonce": b64(NONCE)})


@pytest.mark.parametrize(
    ("texts", "code", "reason"),
    [
        (
            [
                json.dumps(
                    {
                        "type": "welcome",
                        "hub_id": HUB_ID,
                        "heartbeat_interval": 5,
                        "resume_after": 0,
                        "last_received": 0,
                    }
                )
            ],
            4001,
            "protocol error: expected challenge, got welcome",
        ),
        (
            [json.dumps({"type": "challenge", "hub_id": "hub-2", "nonce": b64(NONCE)})],
            4003,
            "authentication failed: connected to hub 'hub-2', expected 'hub-1'",
        ),
        ([CHALLENGE, CHALLENGE], 4001, "protocol error: expected welcome, got challenge"),
        (
            [json.dumps({"type": "hello", "protocol_version": 1, "seat_id": "s", "agent": "a"})],
            4001,
            "protocol error: hello message is sent by the seat, not by a hub",
        ),
    ],
)
def test_seat_closes_on_a_misbehaving_hub(texts: list[str], code: int, reason: str) -> None:
    seat = _seat()
    for text in texts:
        seat.receive_text(text, 0.0)
    assert seat.data_to_send()[-1] == CloseConnection(code, reason)


def test_seat_mirrors_a_refusal_and_knows_it_is_permanent() -> None:
    seat = _seat()
    seat.receive_text(
        encode(Refused(code=4005, reason="seat revoked: seat 'seat-a1' was revoked")), 0.0
    )
    assert seat.events_received() == [
        Disconnected(SEAT_ID, 4005, "seat revoked: seat 'seat-a1' was revoked", permanent=True)
    ]
    assert seat.state is ConnectionState.CLOSING


def test_a_corrupt_chunk_closes_unacknowledged_and_is_resent_after_reconnect() -> None:
    channels = HubChannels()
    seat_channel = Channel()
    link = connect(channels=channels, seat_channel=seat_channel)
    good = b"chapter bytes"
    digest = hashlib.sha256(good).hexdigest()
    corrupt = Chunk(seq=1, sha256=digest, data=b64(b"tampered bytes"))
    link.seat.receive_text(encode(corrupt), 0.0)
    assert link.seat.data_to_send() == [
        CloseConnection(
            4001, f"protocol error: chunk data does not match its SHA-256 {digest[:16]}"
        )
    ]
    assert seat_channel.incoming.last == 0  # not delivered, not acknowledged


@pytest.mark.parametrize("framings", [(), (1,)], ids=["json", "binary"])
def test_hub_resends_an_unacknowledged_chunk_after_reconnect(framings: tuple[int, ...]) -> None:
    channels = HubChannels()
    seat_channel = Channel()
    link = connect(channels=channels, seat_channel=seat_channel, chunk_framings=framings)
    good = b"chapter bytes"
    digest = hashlib.sha256(good).hexdigest()
    link.hub.send_chunk(digest, good)
    link.drop()  # the chunk was lost in flight
    again = connect(channels=channels, seat_channel=seat_channel, chunk_framings=framings)
    texts = [type(decode(t)).__name__ for t in again.sent_by_hub]
    binary = [decode_chunk_frame(f) for f in again.binary_by_hub]
    if framings:
        assert texts == ["Challenge", "Welcome"]
        assert [(c.seq, c.sha256, c.raw) for c in binary] == [(1, digest, good)]
    else:
        assert (texts, binary) == (["Challenge", "Welcome", "Chunk"], [])
    received = [e for e in again.seat_events if isinstance(e, ChunkReceived)]
    assert received == [ChunkReceived(digest, good)]


# --- enrolment -----------------------------------------------------------------------------

X25519 = bytes(range(32, 64))


def test_enrolment_conversation() -> None:
    hub, channels = _hub({})
    enrol = SeatEnrolment(
        seat_id="seat-new",
        ed25519_public_key=public_key_bytes(SEAT_KEY),
        x25519_public_key=X25519,
        now=0.0,
    )
    (hello,) = enrol.data_to_send()
    assert isinstance(hello, SendText)
    outputs = _feed(hub, hello.text)
    code = enrolment_code(public_key_bytes(SEAT_KEY), X25519)
    assert hub.events_received() == [
        EnrolmentRequested("seat-new", public_key_bytes(SEAT_KEY), X25519, code),
        Disconnected(
            "seat-new", 4011, "enrolment pending approval: seat 'seat-new' awaits approval", False
        ),
    ]
    for item in outputs:
        if isinstance(item, SendText):
            enrol.receive_text(item.text, 0.0)
        else:
            assert item == CloseConnection(
                4011, "enrolment pending approval: seat 'seat-new' awaits approval"
            )
            enrol.connection_lost(item.code, item.reason)
    assert enrol.events_received() == [
        EnrolmentSubmitted("seat-new", code),
        Disconnected(
            "seat-new", 4011, "enrolment pending approval: seat 'seat-new' awaits approval", False
        ),
    ]
    assert "seat-new" not in channels


def test_enrolment_with_a_code_that_does_not_match_the_keys_is_refused() -> None:
    hub, _ = _hub({})
    text = json.dumps(
        {
            "type": "enroll",
            "seat_id": "seat-new",
            "ed25519_public_key": b64(public_key_bytes(SEAT_KEY)),
            "x25519_public_key": b64(X25519),
            "enrolment_code": "00000 00000 00000 00000 00000",
        }
    )
    _refusal(
        _feed(hub, text), 4001, "protocol error: enrolment code does not match the public keys"
    )
    assert not any(isinstance(e, EnrolmentRequested) for e in hub.events_received())


def test_seat_enrolment_refuses_a_hub_recording_another_code() -> None:
    enrol = SeatEnrolment(
        seat_id="seat-new",
        ed25519_public_key=public_key_bytes(SEAT_KEY),
        x25519_public_key=X25519,
        now=0.0,
    )
    enrol.data_to_send()
    enrol.receive_text(
        json.dumps(
            {
                "type": "enroll_received",
                "seat_id": "seat-new",
                "enrolment_code": "00000 00000 00000 00000 00000",
            }
        ),
        0.0,
    )
    assert enrol.data_to_send() == [
        CloseConnection(
            4001,
            f"protocol error: hub recorded code 00000 00000 00000 00000 00000, expected {enrol.enrolment_code}",
        )
    ]
    other = SeatEnrolment(
        seat_id="s", ed25519_public_key=bytes(32), x25519_public_key=X25519, now=0.0
    )
    other.data_to_send()
    other.receive_text(CHALLENGE, 0.0)
    assert other.data_to_send() == [
        CloseConnection(4001, "protocol error: expected enroll_received, got challenge")
    ]
    other.connection_lost()
    assert other.events_received()[-1].code == 4001  # type: ignore[union-attr]
