"""The seat link reads each message as ``websockets`` parsed it (``connection._messages``): one
frame as that frame's own buffer, with no copy joining it, and a message of several frames
joined as ``recv`` joins it; a normal close ends the stream quietly and a close with an error
code raises, as iterating the connection does. A real websockets server on loopback sends them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError

from seat_agent.connection import _messages


async def _received(
    handler: Callable[[ServerConnection], Awaitable[None]],
) -> list[str | bytes | bytearray]:
    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            return [message async for message in _messages(ws)]


async def test_messages_of_one_or_several_frames_then_a_normal_close() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(b"SPCK one frame")
        await ws.send("一条消息")
        await ws.send(["分片", "的文本"])  # a text message in two frames
        await ws.send([b"two ", b"frames"])  # a binary message in two frames
        await ws.close()

    got = await _received(handler)
    assert got == [b"SPCK one frame", "一条消息", "分片的文本", b"two frames"]
    assert [type(m) for m in got] == [bytearray, str, str, bytes]


async def test_a_close_with_an_error_code_raises_as_iterating_the_connection_does() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(b"first")
        await ws.close(code=4001, reason="protocol error")

    with pytest.raises(ConnectionClosedError) as raised:
        await _received(handler)
    assert raised.value.rcvd is not None
    assert (raised.value.rcvd.code, raised.value.rcvd.reason) == (4001, "protocol error")
