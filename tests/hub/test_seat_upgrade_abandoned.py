"""A seat that gives up before ``/ws/seat`` answers its upgrade is no server error.

Under load (``bench/day.py``, 270 seat links on two busy cores) seats whose handshake timed out
closed their socket before the hub's 101 went out; each one was answered as an unexpected
error (``request.failed``, 500) with a rendered traceback, which cost the late hub's event loop
more time, so more seats gave up. Now it is an info line and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
from typing import Any

import structlog
from aiohttp.test_utils import TestClient

from seat_protocol.messages import SUBPROTOCOL


def _abandon_upgrade(port: int) -> None:
    """Send the upgrade request and reset the connection at once (SO_LINGER 0: RST)."""
    key = base64.b64encode(b"0123456789abcdef").decode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(
            (
                "GET /ws/seat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
            ).encode()
        )


async def test_a_seat_gone_before_the_upgrade_is_answered_is_logged_at_info_only(
    client: TestClient[Any, Any],
) -> None:
    port = client.server.port
    assert port is not None
    with structlog.testing.capture_logs() as logs:
        _abandon_upgrade(port)
        for _ in range(200):
            if any(e["event"] in ("seat.left_before_upgrade", "request.failed") for e in logs):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    seen = [(e["event"], e["log_level"]) for e in logs if e["event"].startswith(("seat", "req"))]
    assert seen == [("seat.left_before_upgrade", "info")]
    resp = await client.get("/api/health")  # the hub serves on
    assert resp.status == 200
