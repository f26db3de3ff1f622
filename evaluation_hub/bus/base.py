"""The event bus and seat presence interface, and the bounded subscriber buffer both buses share.

A bus carries notifications (a booking changed, a seat's media went live) between the parts of
one hub process or between hub processes; durable state lives in the database, so a missed
event must never lose data. Delivery is at most once and in publish order per subscriber.
Presence says which seats are online right now: each seat refreshes its entry before the TTL
runs out, and a seat that stops refreshing disappears.

Every bus must keep these promises (``tests/bus`` runs one suite against every implementation):

* events are JSON-encodable dicts; a subscriber receives its own decoded copy;
* a subscriber receives every event published to its channels after ``subscribe`` returned,
  until its buffer is full: then the oldest buffered event is dropped and counted, so a slow
  subscriber never grows memory and never blocks the publisher;
* errors are :class:`~evaluation_hub.errors.BusError`, whatever the transport raised.

This module must never import a transport (redis, aiohttp); the implementations do.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from evaluation_hub.errors import BusError

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "Bus",
    "Event",
    "Subscription",
    "check_channel",
    "check_seat_key",
    "check_ttl",
    "decode_json",
    "encode_json",
]

Event = dict[str, Any]
DEFAULT_BUFFER_SIZE = 1000


def check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not channel or any(c in channel for c in "*?[]"):
        raise BusError(f"channel name {channel!r} must be a non-empty string without * ? [ ]")


def check_seat_key(seat_key: str) -> None:
    if not isinstance(seat_key, str) or not seat_key:
        raise BusError(f"seat key {seat_key!r} must be a non-empty string")


def check_ttl(ttl_s: float) -> None:
    if not ttl_s > 0:
        raise BusError(f"presence TTL must be positive seconds, got {ttl_s!r}")


def encode_json(what: str, value: Mapping[str, Any]) -> str:
    """Compact JSON for the wire; refuses anything a JSON peer could not read back."""
    if not isinstance(value, Mapping):
        raise BusError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BusError(f"{what} is not JSON-encodable: {exc}") from exc


def decode_json(text: str | bytes) -> Event:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class Subscription:
    """One subscriber's bounded buffer; iterate it with ``async for channel, event in sub``.

    ``dropped`` counts events discarded because the subscriber fell ``maxlen`` events behind;
    ``interruptions`` counts transport outages during which events may have been missed (the
    subscriber should re-read the state it cares about from the database).
    """

    def __init__(self, channels: tuple[str, ...], maxlen: int = DEFAULT_BUFFER_SIZE) -> None:
        if maxlen < 1:
            raise BusError(f"subscriber buffer size must be at least 1, got {maxlen}")
        self.channels = channels
        self.dropped = 0
        self.interruptions = 0
        self._buffer: deque[tuple[str, Event]] = deque()
        self._maxlen = maxlen
        self._ready = asyncio.Event()
        self._closed = False

    def push(self, channel: str, event: Event) -> None:
        """Buffer one event without ever blocking; drop the oldest when full."""
        if self._closed:
            return
        if len(self._buffer) >= self._maxlen:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append((channel, event))
        self._ready.set()

    def close(self) -> None:
        """End iteration once the buffered events are consumed."""
        self._closed = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> AsyncIterator[tuple[str, Event]]:
        return self

    async def __anext__(self) -> tuple[str, Event]:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._buffer.popleft()

    def pending(self) -> int:
        return len(self._buffer)


@runtime_checkable
class Bus(Protocol):
    """The narrow interface the hub uses; :mod:`.memory` and :mod:`.redis` implement it."""

    async def publish(self, channel: str, event: Mapping[str, Any]) -> int:
        """Send ``event`` to every current subscriber of ``channel``; never waits for them.
        Returns how many buses took it (hub processes subscribed to ``channel``, this one
        included if it is), so an asker knows how many answers can come."""

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[Subscription]:
        """Listen to ``channels`` for the duration of the ``async with`` block."""

    async def set_presence(self, seat_key: str, info: Mapping[str, Any], ttl_s: float) -> None:
        """Mark ``seat_key`` present with ``info`` for ``ttl_s`` seconds (refresh to extend)."""

    async def clear_presence(self, seat_key: str) -> None:
        """Remove ``seat_key`` now (a clean sign-off); unknown keys are fine."""

    async def present(self) -> dict[str, Event]:
        """Every seat present now, with its latest info."""

    async def ping(self) -> None:
        """One round trip to the transport (readiness and metrics); BusError if it fails."""

    async def close(self) -> None:
        """Release the transport; open subscriptions end. Idempotent."""
