from __future__ import annotations

import pytest

from seat_protocol.closecodes import CloseCode
from seat_protocol.exceptions import MessageTooBig, SequenceError
from seat_protocol.messages import AppMessage, ScoreAck, SubmitScore, decode
from seat_protocol.streams import Channel, ReceiveCursor, SendBuffer


def _buffer(n: int) -> SendBuffer:
    buf = SendBuffer()
    for i in range(n):
        buf.number(ScoreAck(idempotency_key=f"k{i + 1}"))
    return buf


def _seqs(texts: list[str]) -> list[int]:
    msgs = [decode(t) for t in texts]
    return [m.seq for m in msgs if isinstance(m, AppMessage)]


def _key(text: str) -> str:
    msg = decode(text)
    assert isinstance(msg, ScoreAck)
    return msg.idempotency_key


def test_numbering_and_cumulative_acks() -> None:
    buf = _buffer(4)
    assert (buf.last_sent, buf.acked) == (4, 0)
    buf.ack(2)
    assert _seqs(buf.frames_after(0)) == [3, 4]
    buf.ack(1)  # a late ack changes nothing
    assert [m.seq for m in buf.unacked()] == [3, 4]
    buf.ack(4)
    assert buf.unacked() == []
    with pytest.raises(SequenceError) as info:
        buf.ack(5)
    assert (info.value.code, info.value.reason) == (
        CloseCode.SEQUENCE_ERROR,
        "ack for seq 5, but only 4 were sent",
    )


def test_a_message_too_big_is_not_numbered() -> None:
    buf = _buffer(1)
    with pytest.raises(MessageTooBig):
        buf.number(SubmitScore(idempotency_key="k", session_id="s", sheet={"x": "y" * 70_000}))
    assert buf.last_sent == 1


def test_resume_when_the_peer_is_behind_resends_the_rest() -> None:
    buf = _buffer(5)
    buf.ack(2)
    assert buf.resume(3) == (3, False)
    assert _seqs(buf.frames_after(3)) == [4, 5]


def test_resume_when_the_peer_forgot_acknowledged_messages() -> None:
    buf = _buffer(5)
    buf.ack(3)
    assert buf.resume(0) == (3, True)
    assert _seqs(buf.frames_after(3)) == [4, 5]


def test_resume_after_this_end_restarted_continues_the_peers_numbering() -> None:
    buf = _buffer(2)  # queued by a fresh process before it reconnected
    assert buf.resume(40) == (40, False)
    texts = buf.frames_after(40)
    assert _seqs(texts) == [41, 42]
    assert [_key(t) for t in texts] == ["k1", "k2"]
    assert (buf.last_sent, buf.acked) == (42, 40)


def test_cursor_delivers_in_order_once() -> None:
    cur = ReceiveCursor()
    assert cur.is_new(1)
    cur.advance(1)
    assert not cur.is_new(1)
    with pytest.raises(SequenceError) as info:
        cur.is_new(3)
    assert info.value.reason == "expected seq 2, got 3"


def test_cursor_resume() -> None:
    cur = ReceiveCursor()
    cur.advance(1)
    cur.advance(2)
    assert cur.resume_to(2) is False
    assert cur.resume_to(5) is True
    assert cur.last == 5
    with pytest.raises(SequenceError) as info:
        cur.resume_to(4)
    assert info.value.reason == "peer resumes after seq 4, but seq 5 was already received"


def test_channel_sends_through_a_live_connection_only() -> None:
    class Wire:
        def __init__(self) -> None:
            self.texts: list[str | bytes] = []

        def transmit(self, text: str | bytes) -> None:
            self.texts.append(text)

    channel = Channel()
    channel.send(ScoreAck(idempotency_key="a"))
    wire = Wire()
    channel.live = wire
    numbered = channel.send(ScoreAck(idempotency_key="b"))
    assert numbered.seq == 2
    assert _seqs(wire.texts) == [2]
    assert _seqs(channel.outgoing.frames_after(0)) == [1, 2]
