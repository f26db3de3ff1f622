"""The way use cases reach seat terminals (推送到工位): a narrow port the seat websocket shell
implements (``evaluation_hub.api.seat_link.SeatHub``), so a use case that must tell seats
something (a review request, the result to sign, a chapter manifest) or drop a terminal whose
key was revoked never imports the websocket or aiohttp.

``send`` queues a message on the seat's protocol channel in this hub process: written now if
the seat is connected here, kept for its resume otherwise. It answers False when this process
has no channel for the seat (it has not authenticated here since the process started): the
message is then not delivered by push, and the seat receives the current state when it next
connects (``evaluation_hub.seats.catch_up``). Delivery by push is always best effort; what a
seat must act on is also readable from the database when it reconnects.

``disconnect`` closes the seat's live connection in this process with a close code (a revoked
terminal must not stay connected on its old key); False if it has none here.
"""

from __future__ import annotations

from typing import Protocol

from seat_protocol.closecodes import CloseCode
from seat_protocol.messages import AppMessage

__all__ = ["NoSeats", "SeatOutlet"]


class SeatOutlet(Protocol):
    async def send(self, seat_key: str, msg: AppMessage) -> bool: ...

    def connected(self, seat_key: str) -> bool: ...

    async def disconnect(self, seat_key: str, code: CloseCode, detail: str) -> bool: ...


class NoSeats:
    """The outlet of a process that serves no seat links (the CLI, a test without seats)."""

    async def send(self, seat_key: str, msg: AppMessage) -> bool:
        return False

    def connected(self, seat_key: str) -> bool:
        return False

    async def disconnect(self, seat_key: str, code: CloseCode, detail: str) -> bool:
        return False
