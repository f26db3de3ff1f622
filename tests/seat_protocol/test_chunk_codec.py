"""Chunk messages on the fast path: decoded once, encoded without a JSON scan of their data,
and exactly as strict as before (same wire text, same refusals)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seat_protocol import messages
from seat_protocol.events import ChunkReceived
from seat_protocol.exceptions import MalformedMessage
from seat_protocol.hub_side import HubChannels
from seat_protocol.messages import (
    CHUNK_SIZE,
    ChapterManifest,
    Chunk,
    ChunkRequest,
    ManifestChapter,
    b64,
    decode,
    encode,
    unb64,
)
from seat_protocol.streams import Channel, SendBuffer
from tests.seat_protocol.wire import connect


def _generic_json(msg: Chunk) -> str:
    """What the general encoder makes of any message: the reference for the fast path."""
    body = {"type": msg.type, **{f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _old_unb64(text: str) -> bytes:
    """``unb64`` as it was before its one-pass fast path."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("is not standard base64") from exc


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> bytes:
        self.calls += 1
        return _old_unb64(text)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, CHUNK_SIZE])
def test_chunk_text_is_what_json_dumps_makes_and_decodes_back(size: int) -> None:
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    for seq in (1, 7, 2**53 - 1):
        msg = Chunk.of(digest, data, seq=seq)
        text = encode(msg)
        assert text == _generic_json(msg)
        back = decode(text)
        assert isinstance(back, Chunk)
        assert back == msg == Chunk(seq=seq, sha256=digest, data=b64(data))
        assert back.raw == msg.raw == data


def test_of_checks_like_the_constructor() -> None:
    with pytest.raises(ValueError, match="field 'sha256' must be 64 lowercase hex digits"):
        Chunk.of("ABC", b"x")
    with pytest.raises(ValueError, match="field 'data' must decode to at most 262144 bytes"):
        Chunk.of("0" * 64, bytes(CHUNK_SIZE + 1))


def test_a_chunk_is_decoded_once_from_the_wire_to_the_seat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A seat that reads chunks as JSON only (an agent from before binary chunk framing).
    link = connect(channels=HubChannels(), seat_channel=Channel(), chunk_framings=())
    contents = [os.urandom(3000), os.urandom(CHUNK_SIZE)]
    hashes = [hashlib.sha256(c).hexdigest() for c in contents]
    chapter = ManifestChapter(
        label="第一章 A",
        position=0,
        sha256=hashlib.sha256(b"".join(contents)).hexdigest(),
        size=sum(map(len, contents)),
        wrapped_key=b64(bytes(60)),
        chunks=tuple(hashes),
    )
    link.hub.send(ChapterManifest(session_id="S1", chapters=(chapter,)))
    link.seat.send(ChunkRequest(chunks=tuple(hashes)))
    link.pump()
    counting = _Counting()
    monkeypatch.setattr(messages, "unb64", counting)
    for digest, data in zip(hashes, contents, strict=True):
        link.hub.send_chunk(digest, data)
    # Built from bytes and numbered by the channel: nothing decoded at the hub.
    assert counting.calls == 0
    link.pump()
    # One decode per chunk frame at the seat, whose event carries those bytes.
    assert counting.calls == 2
    received = [e for e in link.seat_events if isinstance(e, ChunkReceived)]
    assert received == [ChunkReceived(h, c) for h, c in zip(hashes, contents, strict=True)]


def test_numbering_keeps_the_decoded_bytes_and_replace_still_checks() -> None:
    data = b"chunk data"
    msg = Chunk(sha256=hashlib.sha256(data).hexdigest(), data=b64(data))
    numbered, text = SendBuffer().number(msg)
    assert isinstance(numbered, Chunk)
    assert (numbered.seq, numbered.raw, numbered.data) == (1, data, msg.data)
    assert decode(text) == numbered
    with pytest.raises(ValueError, match="field 'data' is not standard base64"):
        dataclasses.replace(numbered, data="not base64!")


@pytest.mark.parametrize(
    "data",
    ["AB=", "A", "=ABC", "AB\nCD", "AB-_", "ABC\u00e9", "\ud800AAA"],
)
def test_bad_chunk_data_is_still_refused(data: str) -> None:
    text = json.dumps({"type": "chunk", "seq": 1, "sha256": "0" * 64, "data": data})
    with pytest.raises(MalformedMessage):
        decode(text)


_B64ISH = st.text(alphabet="ABCabc0189+/=-_ \n\u00e9", max_size=12)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_B64ISH, st.binary(max_size=40).map(b64)))
def test_unb64_accepts_and_refuses_exactly_as_before(text: str) -> None:
    try:
        expected: bytes | None = _old_unb64(text)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError, match="is not standard base64"):
            unb64(text)
    else:
        assert unb64(text) == expected
