"""Reaching a seat connected to another hub process (跨进程推送到工位).

With several hub processes a seat's link is held by one of them, and a use case that pushes to
a seat (a review request, the result to sign, a chair election notice) runs in whichever
process took the request. :class:`RoutedSeats` is then the application's ``Services.seats``: a
message for a seat connected here goes on its channel here; any other is published on the bus
(:data:`CHANNEL`) and the process holding the seat's live connection hands it to the seat's
channel there (:meth:`RoutedSeats.listen`). ``connected`` stays this process's own answer.

Delivery by push is best effort as before: a seat connected nowhere at that moment receives
what it must act on when it next connects (``seats.catch_up``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import structlog

from evaluation_hub.bus.base import Bus, Subscription
from evaluation_hub.errors import BusError
from evaluation_hub.seats.outlet import SeatOutlet
from seat_protocol.closecodes import CloseCode
from seat_protocol.exceptions import ProtocolError
from seat_protocol.messages import AppMessage, decode, encode

__all__ = ["CHANNEL", "RoutedSeats"]

log = structlog.get_logger(__name__)

#: bus channel of messages (and disconnections) for seats connected to another process
CHANNEL = "seat-outlet"


@dataclass
class RoutedSeats:
    """``SeatOutlet`` over this process's seat links (``local``) and the bus."""

    local: SeatOutlet
    bus: Bus
    process: str = field(default_factory=lambda: uuid.uuid4().hex)

    def connected(self, seat_key: str) -> bool:
        return self.local.connected(seat_key)

    async def send(self, seat_key: str, msg: AppMessage) -> bool:
        """On the seat's channel here if it is connected here, else to the process holding it
        (True once published: that process, if any, delivers it)."""
        if self.local.connected(seat_key):
            return await self.local.send(seat_key, msg)
        # Numbered 1 only to be encodable; the receiving channel numbers it again.
        text = encode(msg.with_seq(1))
        try:
            await self.bus.publish(CHANNEL, {"from": self.process, "seat": seat_key, "text": text})
        except BusError as exc:
            log.warning("seat.route_failed", seat_key=seat_key, error=str(exc))
            return await self.local.send(seat_key, msg)
        return True

    async def disconnect(self, seat_key: str, code: CloseCode, detail: str) -> bool:
        if self.local.connected(seat_key):
            return await self.local.disconnect(seat_key, code, detail)
        try:
            await self.bus.publish(
                CHANNEL,
                {"from": self.process, "seat": seat_key, "close": int(code), "detail": detail},
            )
        except BusError as exc:
            log.warning("seat.route_failed", seat_key=seat_key, error=str(exc))
        return False

    async def listen(self, subscription: Subscription) -> None:
        """Hand what other processes routed to the seats connected here (until cancelled)."""
        async for _, event in subscription:
            seat_key = str(event.get("seat", ""))
            if event.get("from") == self.process or not self.local.connected(seat_key):
                continue
            try:
                if "close" in event:
                    code = CloseCode(int(event["close"]))
                    await self.local.disconnect(seat_key, code, str(event.get("detail", "")))
                    continue
                msg = decode(str(event["text"]))
                if isinstance(msg, AppMessage):
                    await self.local.send(seat_key, msg)
            except (ProtocolError, ValueError, KeyError):
                log.warning("seat.route_unreadable", seat_key=seat_key)
            except Exception:
                log.exception("seat.route_delivery_failed", seat_key=seat_key)
