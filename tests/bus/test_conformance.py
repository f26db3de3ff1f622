"""The promises of evaluation_hub.bus.base, checked against every implementation."""

from __future__ import annotations

import asyncio
import math

import pytest

from evaluation_hub.bus.base import Bus, Event, Subscription
from evaluation_hub.errors import BusError
from tests.bus.conftest import DEADLINE_S, Harness, eventually


async def next_event(sub: Subscription) -> tuple[str, Event]:
    return await asyncio.wait_for(anext(sub), DEADLINE_S)


async def test_implements_the_protocol(harness: Harness) -> None:
    assert isinstance(harness.bus, Bus)


async def test_events_arrive_in_order_as_decoded_copies(harness: Harness) -> None:
    bus = harness.bus
    async with bus.subscribe("booking") as sub:
        await bus.publish("booking", {"id": 1, "seats": (1, 2), "note": "已确认"})
        await bus.publish("booking", {"id": 2})
        assert await next_event(sub) == ("booking", {"id": 1, "seats": [1, 2], "note": "已确认"})
        assert await next_event(sub) == ("booking", {"id": 2})
        assert sub.dropped == 0


async def test_only_subscribed_channels_are_delivered(harness: Harness) -> None:
    bus = harness.bus
    async with bus.subscribe("a", "b", "a") as sub:
        assert sub.channels == ("a", "b")
        await bus.publish("c", {"n": 0})
        await bus.publish("b", {"n": 1})
        await bus.publish("a", {"n": 2})
        received = [await next_event(sub), await next_event(sub)]
        assert sorted(received, key=lambda item: item[0]) == [("a", {"n": 2}), ("b", {"n": 1})]
        assert sub.pending() == 0


async def test_nothing_from_before_subscribing_or_after_leaving(harness: Harness) -> None:
    bus = harness.bus
    await bus.publish("x", {"n": "before"})
    async with bus.subscribe("x") as sub:
        await bus.publish("x", {"n": "during"})
        assert await next_event(sub) == ("x", {"n": "during"})
    await bus.publish("x", {"n": "after"})
    assert [item async for item in sub] == []
    assert sub.closed


async def test_publish_says_how_many_took_it(harness: Harness) -> None:
    """What an asker counts answers by (``bus.asking``): none without a listener, one for a
    bus listening (Redis counts a bus's connection once, however many subscriptions it has)."""
    bus = harness.bus
    assert await bus.publish("nobody", {"n": 0}) == 0
    async with bus.subscribe("x") as sub:
        assert await bus.publish("x", {"n": 1}) == 1
        assert await next_event(sub) == ("x", {"n": 1})


async def test_every_subscriber_gets_its_own_copy(harness: Harness) -> None:
    bus = harness.bus
    async with bus.subscribe("x") as one, bus.subscribe("x") as two:
        await bus.publish("x", {"list": [1]})
        _, first = await next_event(one)
        first["list"].append(2)
        assert await next_event(two) == ("x", {"list": [1]})


async def test_slow_subscriber_drops_its_oldest_events(harness: Harness) -> None:
    bus = await harness.another(buffer_size=3)
    async with bus.subscribe("x") as sub, bus.subscribe("x") as fast:
        for n in range(10):
            await bus.publish("x", {"n": n})  # never waits for the slow subscriber
            assert await next_event(fast) == ("x", {"n": n})

        async def all_seen() -> bool:
            return sub.dropped + sub.pending() == 10

        await eventually(all_seen, "10 events buffered or dropped")
        assert sub.dropped == 7
        assert [await next_event(sub) for _ in range(3)] == [("x", {"n": n}) for n in (7, 8, 9)]
        assert fast.dropped == 0


async def test_bad_events_and_names_are_refused(harness: Harness) -> None:
    bus = harness.bus
    with pytest.raises(BusError) as info:
        await bus.publish("x", {"when": object()})
    assert str(info.value) == (
        "event for channel 'x' is not JSON-encodable: "
        "Object of type object is not JSON serializable"
    )
    with pytest.raises(BusError) as info:
        await bus.publish("x", {"score": math.nan})
    assert str(info.value) == (
        "event for channel 'x' is not JSON-encodable: "
        "Out of range float values are not JSON compliant"
    )
    with pytest.raises(BusError) as info:
        await bus.publish("x", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert str(info.value) == "event for channel 'x' must be a dict, got list"
    with pytest.raises(BusError) as info:
        await bus.publish("seat.*", {})
    assert str(info.value) == "channel name 'seat.*' must be a non-empty string without * ? [ ]"
    with pytest.raises(BusError) as info:
        async with bus.subscribe():
            pass
    assert str(info.value) == "subscribe needs at least one channel"


async def test_presence_set_refresh_and_clear(harness: Harness) -> None:
    bus = harness.bus
    assert await bus.present() == {}
    await bus.set_presence("venue-2/seat-07", {"expert": "E07", "media": False}, ttl_s=30)
    await bus.set_presence("venue-3/seat-01", {"expert": "E01"}, ttl_s=30)
    await bus.set_presence("venue-2/seat-07", {"expert": "E07", "media": True}, ttl_s=30)
    assert await bus.present() == {
        "venue-2/seat-07": {"expert": "E07", "media": True},
        "venue-3/seat-01": {"expert": "E01"},
    }
    await bus.clear_presence("venue-3/seat-01")
    await bus.clear_presence("never-seen")
    assert await bus.present() == {"venue-2/seat-07": {"expert": "E07", "media": True}}


async def test_presence_expires_unless_refreshed(harness: Harness) -> None:
    bus = harness.bus
    await bus.set_presence("short", {"n": 1}, ttl_s=0.2)
    await bus.set_presence("long", {"n": 2}, ttl_s=60)
    assert set(await bus.present()) == {"short", "long"}
    harness.advance(0.25)
    await harness.present_becomes({"long": {"n": 2}})


async def test_presence_arguments_are_checked(harness: Harness) -> None:
    bus = harness.bus
    with pytest.raises(BusError) as info:
        await bus.set_presence("s", {}, ttl_s=0)
    assert str(info.value) == "presence TTL must be positive seconds, got 0"
    with pytest.raises(BusError) as info:
        await bus.set_presence("", {}, ttl_s=1)
    assert str(info.value) == "seat key '' must be a non-empty string"
    with pytest.raises(BusError) as info:
        await bus.set_presence("s", {"x": {1, 2}}, ttl_s=1)
    assert str(info.value) == (
        "presence info for 's' is not JSON-encodable: Object of type set is not JSON serializable"
    )


async def test_ping_answers_while_the_bus_is_open(harness: Harness) -> None:
    # Readiness and the metrics ask it (evaluation_hub.ops); it returns nothing, it answers.
    assert await harness.bus.ping() is None


async def test_close_ends_subscriptions_and_refuses_use(harness: Harness) -> None:
    bus = await harness.another()
    async with bus.subscribe("x") as sub:
        reader = asyncio.create_task(anext(sub, None))
        await asyncio.sleep(0)
        await bus.close()
        assert await asyncio.wait_for(reader, DEADLINE_S) is None
    await bus.close()  # idempotent
    for call in (bus.publish("x", {}), bus.present(), bus.clear_presence("s"), bus.ping()):
        with pytest.raises(BusError) as info:
            await call
        assert str(info.value) == "the bus is closed"
