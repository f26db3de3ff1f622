"""Fixtures for the bus tests: one real redis-server per session, and a harness per bus kind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from evaluation_hub.bus.base import Bus, Event
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.bus.redis import RedisBus
from tests.support.redis_server import RedisServer, redis_server

DEADLINE_S = 10.0


@pytest.fixture(scope="session")
def redis_session() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail after a generous deadline (never assert on time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting for: {what}")
        await asyncio.sleep(0.02)


@dataclass
class Harness:
    """A bus plus how to make time pass for it: a fake clock in memory, real TTLs in Redis."""

    kind: str
    bus: Bus
    make_bus: Callable[..., Awaitable[Bus]]
    clock: FakeClock | None = None
    extra: list[Bus] = field(default_factory=list)

    def advance(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)

    async def another(self, **options: Any) -> Bus:
        bus = await self.make_bus(**options)
        self.extra.append(bus)
        return bus

    async def present_becomes(self, expected: dict[str, Event]) -> None:
        async def check() -> bool:
            return await self.bus.present() == expected

        await eventually(check, f"presence == {expected}")


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.redis)],
)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()

        async def make_memory(**options: Any) -> Bus:
            return MemoryBus(clock=clock, **options)

        h = Harness("memory", await make_memory(), make_memory, clock)
    else:
        server: RedisServer = request.getfixturevalue("redis_session")
        namespace = f"test-{uuid.uuid4().hex[:12]}"

        async def make_redis(**options: Any) -> Bus:
            return await RedisBus.connect(server.url, namespace=namespace, **options)

        h = Harness("redis", await make_redis(), make_redis)
    try:
        yield h
    finally:
        for bus in [h.bus, *h.extra]:
            await bus.close()
