"""RedisBus against a real redis-server: across processes' connections, TTLs, restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from evaluation_hub.bus import open_bus
from evaluation_hub.bus.redis import RedisBus
from evaluation_hub.errors import BusError
from tests.bus.conftest import DEADLINE_S, eventually
from tests.bus.test_conformance import next_event
from tests.support.redis_server import RedisServer, free_port, redis_server

pytestmark = pytest.mark.redis


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def raw(redis_session: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_session.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of this test's own, because the test stops and restarts it."""
    with redis_server() as server:
        yield server


async def test_two_buses_see_each_others_events_and_presence(
    redis_session: RedisServer, namespace: str
) -> None:
    async with (
        await RedisBus.connect(redis_session.url, namespace=namespace) as hub_a,
        await RedisBus.connect(redis_session.url, namespace=namespace) as hub_b,
        await RedisBus.connect(redis_session.url, namespace=namespace + "-other") as other,
        hub_a.subscribe("seats") as on_a,
        other.subscribe("seats") as on_other,
    ):
        await hub_b.publish("seats", {"seat": 7, "state": "online"})
        assert await next_event(on_a) == ("seats", {"seat": 7, "state": "online"})
        await hub_b.set_presence("seat-7", {"hub": "b"}, ttl_s=30)
        assert await hub_a.present() == {"seat-7": {"hub": "b"}}
        # namespaces keep deployments (and tests) apart
        assert await other.present() == {}
        await other.publish("seats", {"mine": True})
        assert await next_event(on_other) == ("seats", {"mine": True})
        assert on_other.dropped == 0 and on_a.pending() == 0


async def test_presence_is_a_key_with_a_px_ttl(
    redis_session: RedisServer, raw: Redis, namespace: str
) -> None:
    async with await RedisBus.connect(redis_session.url, namespace=namespace) as bus:
        await bus.set_presence("seat-1", {"n": 1}, ttl_s=30)
        ttl = await raw.pttl(f"{namespace}:presence:seat-1")
        assert 0 < ttl <= 30_000
        await bus.set_presence("seat-2", {"n": 2}, ttl_s=0.05)

        async def gone() -> bool:
            return int(await raw.exists(f"{namespace}:presence:seat-2")) == 0

        await eventually(gone, "Redis expires the key by itself")
        assert await bus.present() == {"seat-1": {"n": 1}}


async def test_many_presence_entries_are_listed_without_keys(
    redis_session: RedisServer, namespace: str
) -> None:
    async with await RedisBus.connect(redis_session.url, namespace=namespace) as bus:
        for n in range(1200):  # more than one SCAN / MGET batch
            await bus.set_presence(f"seat-{n:04d}", {"n": n}, ttl_s=30)
        present = await bus.present()
        assert len(present) == 1200
        assert present["seat-1199"] == {"n": 1199}


async def test_foreign_garbage_on_a_channel_is_dropped(
    redis_session: RedisServer, raw: Redis, namespace: str
) -> None:
    async with (
        await RedisBus.connect(redis_session.url, namespace=namespace) as bus,
        bus.subscribe("x") as sub,
    ):
        await raw.publish(f"{namespace}:ch:x", "not json")
        await raw.publish(f"{namespace}:ch:x", "[1, 2]")
        await bus.publish("x", {"ok": True})
        assert await next_event(sub) == ("x", {"ok": True})


async def test_connecting_to_nothing_is_a_bus_error() -> None:
    port = free_port()
    with pytest.raises(BusError) as info:
        await RedisBus.connect(f"redis://:secret@127.0.0.1:{port}/0")
    message = str(info.value)
    assert message.startswith(f"Redis at redis://:***@127.0.0.1:{port}/0 failed to connect: ")
    assert message.endswith("; check that redis-server is running and reachable")
    assert "secret" not in message


async def test_open_bus_picks_the_implementation(redis_session: RedisServer) -> None:
    bus = await open_bus(redis_session.url, namespace="open-bus")
    assert isinstance(bus, RedisBus)
    await bus.close()
    with pytest.raises(BusError) as info:
        await open_bus("amqp://guest:guest@localhost/")
    assert str(info.value) == (
        "unsupported bus URL scheme 'amqp': use memory:// or redis://host:port/db"
    )


async def test_survives_a_redis_server_restart(own_server: RedisServer) -> None:
    options = {"reconnect_delay_s": (0.02, 0.2), "subscribe_timeout_s": DEADLINE_S}
    async with (
        await RedisBus.connect(own_server.url, **options) as bus,
        await RedisBus.connect(own_server.url, **options) as peer,
        bus.subscribe("booking") as sub,
    ):
        await peer.publish("booking", {"n": 0})
        assert await next_event(sub) == ("booking", {"n": 0})

        own_server.stop()
        with pytest.raises(BusError) as info:
            await peer.publish("booking", {"n": "lost"})
        assert str(info.value).startswith(
            f"Redis at {own_server.url} failed to publish to 'booking': "
        )
        with pytest.raises(BusError, match="failed to list presence"):
            await peer.present()
        with pytest.raises(BusError) as pinged:
            await peer.ping()
        assert str(pinged.value).startswith(f"Redis at {own_server.url} failed to answer PING: ")
        own_server.start()

        # The subscription comes back by itself; keep publishing until one gets through.
        async def delivered() -> bool:
            await peer.publish("booking", {"n": 1})
            return sub.pending() > 0

        await eventually(delivered, "an event after the restart reaches the old subscription")
        assert (await next_event(sub))[1] == {"n": 1}
        assert sub.interruptions == 1

        # A subscription opened after the restart works, and so does presence.
        async with bus.subscribe("later") as later:
            await peer.publish("later", {"n": 2})
            assert await next_event(later) == ("later", {"n": 2})
        await peer.set_presence("seat-1", {"back": True}, ttl_s=30)
        assert await bus.present() == {"seat-1": {"back": True}}
        await peer.ping()


async def test_subscribing_during_an_outage_waits_for_the_server(own_server: RedisServer) -> None:
    options = {"reconnect_delay_s": (0.02, 0.2), "subscribe_timeout_s": DEADLINE_S}
    async with await RedisBus.connect(own_server.url, **options) as bus:
        own_server.stop()

        async def subscribe_and_read() -> tuple[str, dict[str, object]]:
            async with bus.subscribe("late") as sub:
                started.set()
                return await next_event(sub)

        started = asyncio.Event()
        reader = asyncio.create_task(subscribe_and_read())
        await asyncio.sleep(0.1)  # let the subscription attempt start while Redis is down
        assert not started.is_set()
        own_server.start()
        await asyncio.wait_for(started.wait(), DEADLINE_S)
        await bus.publish("late", {"n": 1})
        assert await asyncio.wait_for(reader, DEADLINE_S) == ("late", {"n": 1})


async def test_subscription_times_out_with_a_clear_error(own_server: RedisServer) -> None:
    bus = await RedisBus.connect(
        own_server.url, reconnect_delay_s=(0.02, 0.05), subscribe_timeout_s=0.3
    )
    try:
        own_server.stop()
        with pytest.raises(BusError) as info:
            async with bus.subscribe("nobody-home"):
                pass
        assert str(info.value) == (
            f"Redis at {own_server.url} did not confirm the subscription to nobody-home "
            "within 0.3 s; check that redis-server is running"
        )
    finally:
        await bus.close()


async def test_a_bus_built_without_connect_starts_its_reader_lazily(
    redis_session: RedisServer, namespace: str
) -> None:
    bus = RedisBus(redis_session.url, namespace=namespace)
    try:
        async with bus.subscribe("x") as sub:
            await bus.publish("x", {"n": 1})
            assert await next_event(sub) == ("x", {"n": 1})
    finally:
        await bus.close()
