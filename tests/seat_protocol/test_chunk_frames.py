"""Binary chunk framing: the documented layout, its negotiation in hello, the compatibility
with agents that read JSON chunks only, and the refusal of malformed frames (4001, nothing
delivered or acknowledged)."""

from __future__ import annotations

import hashlib
import json
import struct

import pytest

from seat_protocol.chunk_frames import (
    HEADER_SIZE,
    choose_framing,
    decode_chunk_frame,
    encode_chunk_frame,
)
from seat_protocol.events import ChunkReceived, CloseConnection, SendBytes, SendText
from seat_protocol.hub_side import ConnectionState, HubChannels
from seat_protocol.messages import CHUNK_SIZE, Chunk, decode
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import Link, connect

DATA = b"sealed chapter bytes"
DIGEST = hashlib.sha256(DATA).hexdigest()


def _frame(
    *,
    magic: bytes = b"SPCK",
    version: int = 1,
    kind: int = 1,
    reserved: int = 0,
    seq: int = 1,
    digest: str = DIGEST,
    length: int | None = None,
    data: bytes = DATA,
) -> bytes:
    size = len(data) if length is None else length
    head = struct.pack(
        ">4sBBHQ32sI", magic, version, kind, reserved, seq, bytes.fromhex(digest), size
    )
    return head + data


def test_a_frame_handed_over_gives_the_chunk_as_a_read_only_view_of_it() -> None:
    # The seat agent hands over each binary frame as websockets parsed it (a bytearray of its
    # own): the chunk's bytes stay in it, not copied out, and cannot be changed through it.
    buffer = bytearray(encode_chunk_frame(Chunk.of(DIGEST, DATA, seq=3)))
    chunk = decode_chunk_frame(buffer)
    raw = chunk.raw
    assert isinstance(raw, memoryview) and raw.obj is buffer and raw.readonly
    assert (chunk.seq, chunk.sha256, raw) == (3, DIGEST, DATA)
    with pytest.raises(TypeError):
        raw[0] = 0  # type: ignore[index]


def test_the_frame_is_the_documented_header_then_the_raw_bytes() -> None:
    frame = encode_chunk_frame(Chunk.of(DIGEST, DATA, seq=7))
    assert HEADER_SIZE == 52
    assert frame == (
        b"SPCK\x01\x01\x00\x00" + (7).to_bytes(8, "big") + bytes.fromhex(DIGEST)
        + len(DATA).to_bytes(4, "big") + DATA
    )  # fmt: skip
    back = decode_chunk_frame(frame)
    assert (back.seq, back.sha256, back.raw) == (7, DIGEST, DATA)
    # The same message the JSON form gives; its base64 is made only when something asks.
    assert back == decode(json.dumps({"type": "chunk", "seq": 7, "sha256": DIGEST,
                                      "data": back.data}))  # fmt: skip


def test_an_unnumbered_chunk_has_no_frame() -> None:
    with pytest.raises(ValueError, match="chunk message has no sequence number"):
        encode_chunk_frame(Chunk.of(DIGEST, DATA))


def test_the_hub_picks_the_highest_framing_both_speak() -> None:
    assert choose_framing((1,), (1,)) == 1
    assert choose_framing((1, 2), (1,)) == 1
    assert choose_framing((), (1,)) is None
    assert choose_framing((2,), (1,)) is None


def _hello(link: Link) -> dict[str, object]:
    body: dict[str, object] = json.loads(link.sent_by_seat[0])
    return body


def test_a_new_seat_offers_binary_and_gets_its_chunks_in_binary_frames() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel())
    assert _hello(link) == {
        "type": "hello", "protocol_version": 3, "seat_id": "seat-a1", "agent": "seat-agent",
        "chunk_framings": [1],
    }  # fmt: skip
    link.hub.send_chunk(DIGEST, DATA)
    link.pump()
    assert [decode_chunk_frame(f).sha256 for f in link.binary_by_hub] == [DIGEST]
    assert [json.loads(t)["type"] for t in link.sent_by_hub] == ["challenge", "welcome"]
    assert [e for e in link.seat_events if isinstance(e, ChunkReceived)] == [
        ChunkReceived(DIGEST, DATA)
    ]
    assert link.hub.channel.outgoing.acked == 1  # acknowledged like any message


def test_compatibility_an_agent_of_the_previous_framing_gets_json_chunks() -> None:
    """An agent from before binary framing says version 2 and offers nothing: its hello is
    the frame it always sent, and the new hub sends it the JSON ``chunk`` it reads."""
    link = connect(
        channels=HubChannels(), seat_channel=Channel(), protocol_version=2, chunk_framings=()
    )
    assert _hello(link) == {
        "type": "hello", "protocol_version": 2, "seat_id": "seat-a1", "agent": "seat-agent"
    }  # fmt: skip
    link.hub.send_chunk(DIGEST, DATA)
    link.pump()
    assert link.binary_by_hub == []
    chunk = json.loads(link.sent_by_hub[-1])
    assert chunk == {
        "type": "chunk",
        "seq": 1,
        "sha256": DIGEST,
        "data": Chunk.of(DIGEST, DATA).data,
    }
    assert [e for e in link.seat_events if isinstance(e, ChunkReceived)] == [
        ChunkReceived(DIGEST, DATA)
    ]


@pytest.mark.parametrize(
    ("first", "then"), [((1,), ()), ((), (1,))], ids=["downgraded", "upgraded"]
)
def test_chunks_in_flight_are_resent_in_the_framing_of_the_agent_that_reconnects(
    first: tuple[int, ...], then: tuple[int, ...]
) -> None:
    channels, seat_channel = HubChannels(), Channel()
    link = connect(channels=channels, seat_channel=seat_channel, chunk_framings=first)
    link.hub.send_chunk(DIGEST, DATA)
    link.drop()  # lost in flight; meanwhile the terminal's agent is replaced
    again = connect(channels=channels, seat_channel=seat_channel, chunk_framings=then)
    assert len(again.binary_by_hub) == (1 if then else 0)
    assert again.seat.state is ConnectionState.OPEN
    assert [e for e in again.seat_events if isinstance(e, ChunkReceived)] == [
        ChunkReceived(DIGEST, DATA)
    ]


_PROTOCOL = "protocol error: "


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"SPCK\x01", "binary frame of 5 bytes is shorter than its 52-byte header"),
        (_frame(magic=b"SPCX"), "binary frame starts with 53504358, not the magic SPCK"),
        (_frame(version=2), "binary frame is framing version 2, this end speaks 1"),
        (_frame(kind=2), "binary frame is of unknown kind 2"),
        (_frame(reserved=1), "binary frame has reserved bits set"),
        (_frame(seq=0), "binary frame's seq 0 is not in 1 .. 2^53-1"),
        (_frame(seq=2**53), "binary frame's seq 9007199254740992 is not in 1 .. 2^53-1"),
        (
            _frame(length=CHUNK_SIZE + 1),
            f"binary frame's length {CHUNK_SIZE + 1} is over the chunk limit",
        ),
        (_frame(length=len(DATA) + 1), "binary frame's length field says 21 bytes, it carries 20"),
        (_frame(data=b"tampered"), f"chunk data does not match its SHA-256 {DIGEST[:16]}"),
        (_frame(seq=2), "sequence error: expected seq 1, got 2"),
    ],
    ids=[
        "short", "magic", "version", "kind", "reserved", "seq0", "seq-big", "over-limit",
        "length", "hash", "gap",
    ],
)  # fmt: skip
def test_a_malformed_frame_closes_and_changes_nothing(frame: bytes, reason: str) -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel())
    link.seat.receive_bytes(frame, 0.0)
    code = 4007 if reason.startswith("sequence") else 4001
    shown = reason if reason.startswith("sequence") else _PROTOCOL + reason
    assert link.seat.data_to_send() == [CloseConnection(code, shown)]
    assert link.seat.channel.incoming.last == 0  # not delivered, not acknowledged
    assert not [e for e in link.seat.events_received() if isinstance(e, ChunkReceived)]


def test_a_frame_over_the_protocol_limit_closes_with_4006() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel())
    link.seat.receive_bytes(bytes(512 * 1024 + 1), 0.0)
    assert link.seat.data_to_send() == [
        CloseConnection(4006, "message too big: binary frame is 524289 bytes, the limit is 524288")
    ]


def test_a_seat_that_offered_no_binary_framing_refuses_a_binary_frame() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel(), chunk_framings=())
    link.seat.receive_bytes(_frame(), 0.0)
    assert link.seat.data_to_send() == [
        CloseConnection(
            4001, "protocol error: binary frame, but this seat offered no binary chunk framing"
        )
    ]
    assert link.seat.channel.incoming.last == 0


def test_the_hub_refuses_a_binary_frame_from_a_seat() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel())
    link.hub.receive_bytes(_frame(), 0.0)
    assert link.hub.data_to_send() == [
        CloseConnection(4001, "protocol error: a seat sends no binary frames")
    ]


def test_a_run_of_chunks_is_acknowledged_once() -> None:
    """Acks are cumulative: chunks that arrive before the seat's output is drained get one
    ack, raised to the latest seq, and the shell may hold it back (``only_ack_waiting``)."""
    link = connect(channels=HubChannels(), seat_channel=Channel())
    data = [DATA + bytes([n]) for n in range(3)]
    for piece in data:
        link.hub.send_chunk(hashlib.sha256(piece).hexdigest(), piece)
    for out in link.hub.data_to_send():
        assert isinstance(out, SendBytes)
        link.seat.receive_bytes(out.data, 0.0)
    assert link.seat.only_ack_waiting
    [ack] = link.seat.data_to_send()
    assert ack == SendText('{"type":"ack","seq":3}')
    assert not link.seat.only_ack_waiting
    assert [e.data for e in link.seat.events_received() if isinstance(e, ChunkReceived)] == data
    link.hub.receive_text(ack.text, 0.0)
    assert link.hub.channel.outgoing.acked == 3
    assert link.hub.channel.outgoing.unacked() == []


def test_the_shells_chunk_check_decides_before_the_ack() -> None:
    """The seat agent's cache checks chunks its own way (``SeatLink.chunk_check``); what it
    refuses closes the connection unacknowledged, with the same reason as a hash mismatch."""
    refusing = connect(channels=HubChannels(), seat_channel=Channel(), chunk_check=lambda *_: False)
    refusing.seat.receive_bytes(_frame(), 0.0)
    assert refusing.seat.data_to_send() == [
        CloseConnection(4001, _PROTOCOL + f"chunk data does not match its SHA-256 {DIGEST[:16]}")
    ]
    assert refusing.seat.channel.incoming.last == 0
    seen: list[tuple[str, bytes]] = []

    def accepting(sha256: str, data: bytes) -> bool:
        seen.append((sha256, data))
        return True

    link = connect(channels=HubChannels(), seat_channel=Channel(), chunk_check=accepting)
    link.seat.receive_bytes(_frame(), 0.0)
    assert seen == [(DIGEST, DATA)]
    assert link.seat.data_to_send() == [SendText('{"type":"ack","seq":1}')]
