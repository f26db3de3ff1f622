"""The seat link holds back a chunk's acknowledgement for company (``_Socket.flush_soon``):
it goes out on its own after ``ACK_DELAY`` if nothing else is sent, or with whatever is sent
first, once. The protocol machines run in memory; the websocket is a recorder."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

import seat_agent.connection
from seat_agent.connection import _Socket
from seat_protocol.events import SendBytes
from seat_protocol.hub_side import HubChannels
from seat_protocol.messages import ChunkRequest
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import Link, connect

DATA = b"sealed chunk"
DIGEST = hashlib.sha256(DATA).hexdigest()


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def send(self, data: str | bytes) -> None:
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        raise AssertionError("nothing closes here")


def _chunk_received() -> Link:
    link = connect(channels=HubChannels(), seat_channel=Channel())
    link.hub.send_chunk(DIGEST, DATA)
    [frame] = link.hub.data_to_send()
    assert isinstance(frame, SendBytes)
    link.seat.receive_bytes(frame.data, 0.0)
    assert link.seat.only_ack_waiting
    return link


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_held_back_ack_goes_out_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seat_agent.connection, "ACK_DELAY", 0.0)
    link = _chunk_received()
    ws = _Recorder()
    sock = _Socket(ws, link.seat)  # type: ignore[arg-type]
    sock.flush_soon()
    assert ws.sent == []  # not at once
    await _turns()
    assert ws.sent == ['{"type":"ack","seq":1}']


async def test_a_held_back_ack_goes_with_the_next_message_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seat_agent.connection, "ACK_DELAY", 0.0)
    link = _chunk_received()
    ws = _Recorder()
    sock = _Socket(ws, link.seat)  # type: ignore[arg-type]
    sock.flush_soon()
    link.seat.send(ChunkRequest(chunks=(DIGEST,)))
    await sock.flush()
    await _turns()  # the ack went with the request, once; the held-back flush sends nothing
    assert ws.sent == [
        '{"type":"ack","seq":1}',
        f'{{"type":"chunk_request","seq":1,"chunks":["{DIGEST}"]}}',
    ]
