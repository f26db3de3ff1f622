"""The way use cases reach seat terminals (推送到工位): a narrow port the seat websocket shell
implements, so a use case that must tell seats something (a review request, the result to
sign, a chapter manifest) never imports the websocket or aiohttp.

``send`` queues a message on the seat's protocol channel in this hub process: written now if
the seat is connected here, kept for its resume otherwise. It answers False when this process
has no channel for the seat (it has not authenticated here since the process started): the
message is then not delivered by push, and the seat receives the current state when it next
connects (``seat_connected`` work in the seat use cases). Delivery by push is always best
effort; what a seat must act on is also readable from the database when it reconnects.
"""

from __future__ import annotations

from typing import Protocol

from seat_protocol.messages import AppMessage

__all__ = ["NoSeats", "SeatOutlet"]


class SeatOutlet(Protocol):
    async def send(self, seat_key: str, msg: AppMessage) -> bool: ...

    def connected(self, seat_key: str) -> bool: ...


class NoSeats:
    """The outlet of a process that serves no seat links (the CLI, a test without seats)."""

    async def send(self, seat_key: str, msg: AppMessage) -> bool:
        return False

    def connected(self, seat_key: str) -> bool:
        return False
