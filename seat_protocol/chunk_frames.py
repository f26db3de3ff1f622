"""Binary chunk framing (version 1): a ``chunk`` message as one binary websocket frame.

The JSON form of a chunk carries its bytes as base64 inside a text frame: the hub encodes
them, the seat scans the JSON and decodes them, and the frame is a third larger. A seat that
announces framing version 1 in its ``hello`` (``chunk_framings``) gets every chunk as one
binary frame instead: a fixed 52-byte header, then the raw ciphertext. Every other message
stays a JSON text frame. Layout (integers big-endian)::

    offset  size  field
         0     4  magic      b"SPCK"
         4     1  version    1 (the framing version)
         5     1  kind       1 (chunk; no other kind exists)
         6     2  reserved   0
         8     8  seq        the message's sequence number, 1 .. 2^53-1
        16    32  sha256     the chunk's SHA-256, raw (its name in the manifest)
        48     4  length     bytes of ciphertext that follow, 0 .. CHUNK_SIZE
        52     …  data       exactly ``length`` bytes

A frame is decoded once, by :func:`decode_chunk_frame`, into the same :class:`Chunk` the JSON
form gives (its bytes kept as :attr:`Chunk.raw`, a read-only view of the frame, never turned
into base64 or copied); anything it does
not accept raises :class:`MalformedMessage` (close 4001) with the exact reason, and nothing
else happens: the chunk is not acknowledged, so the hub sends it again after the reconnect.

This module must never import anything from ``evaluation_hub`` or ``seat_agent``; no I/O.
"""

from __future__ import annotations

import struct

from seat_protocol.exceptions import MalformedMessage, MessageTooBig
from seat_protocol.messages import CHUNK_SIZE, MAX_MESSAGE_BYTES, Chunk

__all__ = [
    "FRAMING_VERSION",
    "HEADER_SIZE",
    "KIND_CHUNK",
    "MAGIC",
    "SUPPORTED_FRAMINGS",
    "choose_framing",
    "decode_chunk_frame",
    "encode_chunk_frame",
]

MAGIC = b"SPCK"
FRAMING_VERSION = 1
# The framings this code speaks, best last; a hub picks the highest both ends speak.
SUPPORTED_FRAMINGS: tuple[int, ...] = (1,)
KIND_CHUNK = 1
_HEADER = struct.Struct(">4sBBHQ32sI")
HEADER_SIZE = _HEADER.size  # 52
_MAX_SEQ = 2**53 - 1


def choose_framing(offered: tuple[int, ...], spoken: tuple[int, ...]) -> int | None:
    """The highest framing version both ends speak, or None (chunks go as JSON)."""
    common = set(offered) & set(spoken)
    return max(common) if common else None


def encode_chunk_frame(msg: Chunk) -> bytes:
    """The binary frame of a numbered chunk (the header, then its bytes: one copy)."""
    if msg.seq < 1:
        raise ValueError("chunk message has no sequence number; send it through a channel")
    raw = msg.raw
    header = _HEADER.pack(
        MAGIC, FRAMING_VERSION, KIND_CHUNK, 0, msg.seq, bytes.fromhex(msg.sha256), len(raw)
    )
    return header + raw


def decode_chunk_frame(frame: bytes | bytearray) -> Chunk:
    """The chunk in a binary frame; any defect raises ``MalformedMessage`` (or
    ``MessageTooBig`` over the protocol's frame limit) with the reason the close carries.

    The frame is handed over: the chunk's bytes are a read-only view of it (no copy; the seat
    agent takes single-frame messages as ``websockets`` parsed them, each frame a buffer of
    its own, ``seat_agent.connection``), so the caller must not change or reuse it."""
    size = len(frame)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooBig(f"binary frame is {size} bytes, the limit is {MAX_MESSAGE_BYTES}")
    if size < HEADER_SIZE:
        raise MalformedMessage(f"binary frame of {size} bytes is shorter than its 52-byte header")
    magic, version, kind, reserved, seq, digest, length = _HEADER.unpack_from(frame)
    if magic != MAGIC:
        raise MalformedMessage(f"binary frame starts with {magic.hex()}, not the magic SPCK")
    if version != FRAMING_VERSION:
        raise MalformedMessage(
            f"binary frame is framing version {version}, this end speaks {FRAMING_VERSION}"
        )
    if kind != KIND_CHUNK:
        raise MalformedMessage(f"binary frame is of unknown kind {kind}")
    if reserved != 0:
        raise MalformedMessage("binary frame has reserved bits set")
    if not 1 <= seq <= _MAX_SEQ:
        raise MalformedMessage(f"binary frame's seq {seq} is not in 1 .. 2^53-1")
    if length > CHUNK_SIZE:
        raise MalformedMessage(f"binary frame's length {length} is over the chunk limit")
    if length != size - HEADER_SIZE:
        raise MalformedMessage(
            f"binary frame's length field says {length} bytes, it carries {size - HEADER_SIZE}"
        )
    return Chunk.of(digest.hex(), memoryview(frame).toreadonly()[HEADER_SIZE:], seq=seq)
