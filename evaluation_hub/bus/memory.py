"""The in-process bus and presence store: the embedded default (one hub process, no Redis).

Events go through a JSON round trip so subscribers see exactly what the Redis bus would give
them (tuples become lists, nothing is shared between subscribers). Presence expires against an
injectable clock, so tests move time by hand. It must never touch the network or a thread.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from evaluation_hub.bus.base import (
    DEFAULT_BUFFER_SIZE,
    Event,
    Subscription,
    check_channel,
    check_seat_key,
    check_ttl,
    decode_json,
    encode_json,
)
from evaluation_hub.errors import BusError

__all__ = ["MemoryBus"]


class MemoryBus:
    """:class:`~evaluation_hub.bus.base.Bus` for one process."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        self._clock = clock
        self._buffer_size = buffer_size
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._presence: dict[str, tuple[float, str]] = {}
        self._closed = False

    async def __aenter__(self) -> MemoryBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("the bus is closed")

    async def publish(self, channel: str, event: Mapping[str, Any]) -> int:
        self._check_open()
        check_channel(channel)
        text = encode_json(f"event for channel {channel!r}", event)
        subscribers = list(self._subscribers.get(channel, ()))
        for sub in subscribers:
            sub.push(channel, decode_json(text))
        # One bus in one process: each subscription stands for a listener (tests run several
        # relays on one memory bus as if each were a process).
        return len(subscribers)

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        self._check_open()
        if not channels:
            raise BusError("subscribe needs at least one channel")
        for channel in channels:
            check_channel(channel)
        sub = Subscription(tuple(dict.fromkeys(channels)), self._buffer_size)
        for channel in sub.channels:
            self._subscribers[channel].add(sub)
        try:
            yield sub
        finally:
            sub.close()
            for channel in sub.channels:
                self._subscribers[channel].discard(sub)
                if not self._subscribers[channel]:
                    del self._subscribers[channel]

    async def set_presence(self, seat_key: str, info: Mapping[str, Any], ttl_s: float) -> None:
        self._check_open()
        check_seat_key(seat_key)
        check_ttl(ttl_s)
        text = encode_json(f"presence info for {seat_key!r}", info)
        self._presence[seat_key] = (self._clock() + ttl_s, text)

    async def clear_presence(self, seat_key: str) -> None:
        self._check_open()
        check_seat_key(seat_key)
        self._presence.pop(seat_key, None)

    async def present(self) -> dict[str, Event]:
        self._check_open()
        now = self._clock()
        # Purge on read: expired entries would otherwise accumulate from seats that vanished.
        for key in [k for k, (expires, _) in self._presence.items() if expires <= now]:
            del self._presence[key]
        return {key: decode_json(text) for key, (_, text) in sorted(self._presence.items())}

    async def ping(self) -> None:
        self._check_open()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for subs in self._subscribers.values():
            for sub in subs:
                sub.close()
