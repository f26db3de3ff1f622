"""MemoryBus specifics: presence against the injected clock, and the factory's default."""

from __future__ import annotations

from evaluation_hub.bus import MemoryBus, open_bus
from tests.bus.conftest import FakeClock


async def test_presence_lasts_exactly_its_ttl_on_the_injected_clock() -> None:
    clock = FakeClock()
    bus = MemoryBus(clock=clock)
    await bus.set_presence("seat", {"n": 1}, ttl_s=10)
    clock.advance(9.999)
    assert await bus.present() == {"seat": {"n": 1}}
    await bus.set_presence("seat", {"n": 2}, ttl_s=10)  # a refresh extends it
    clock.advance(9.999)
    assert await bus.present() == {"seat": {"n": 2}}
    clock.advance(0.001)
    assert await bus.present() == {}


async def test_open_bus_defaults_to_memory() -> None:
    assert isinstance(await open_bus(None), MemoryBus)
    assert isinstance(await open_bus("memory://", buffer_size=5), MemoryBus)
