"""Asking the other hub processes (``bus.asking``) over a real Redis, each process a bus of its
own: who answers, and when the asking ends."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from evaluation_hub.bus.asking import BusAsker
from evaluation_hub.bus.base import Event
from evaluation_hub.bus.redis import RedisBus
from tests.bus.conftest import DEADLINE_S
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def _processes(url: str, holdings: list[list[str]]) -> AsyncIterator[list[BusAsker]]:
    """One bus and asker per "process", each holding some seats; each answers what it holds
    (and "none here" too: a request every process answers)."""
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    buses = [await RedisBus.connect(url, namespace=namespace) for _ in holdings]
    askers: list[BusAsker] = []
    for bus, held in zip(buses, holdings, strict=True):

        async def answer(event: Event, held: list[str] = held) -> dict[str, Any] | None:
            return {"seats": [k for k in event["seats"] if k in held]}

        askers.append(BusAsker(bus, "asking-test", answer))
    serving = [asyncio.create_task(a.serve()) for a in askers]
    try:
        for asker in askers:
            await asyncio.wait_for(asker._ready.wait(), DEADLINE_S)
        yield askers
    finally:
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        for bus in buses:
            await bus.close()


async def test_a_request_every_process_answers_ends_when_all_have(
    redis_session: RedisServer,
) -> None:
    """Nobody holds seat C, so "all seats claimed" never comes; the asking still ends as soon
    as both other processes answered, not at its (here hour-long) wait."""
    async with _processes(redis_session.url, [[], ["A"], ["B"]]) as (me, *_):
        replies = await asyncio.wait_for(
            me.ask(
                {"op": "ears", "seats": ["A", "B", "C"]},
                wait=3600,
                enough=lambda got: {"A", "B", "C"} <= {k for r in got for k in r["seats"]},
                everyone=True,
            ),
            DEADLINE_S,
        )
    assert sorted(k for r in replies for k in r["seats"]) == ["A", "B"]
    assert len({r["process"] for r in replies}) == 2


async def test_without_everyone_the_asking_waits_for_enough(redis_session: RedisServer) -> None:
    """The other kind of request (only holders answer): the asker cannot tell silence from
    slowness, so it waits for what it asked for or its wait."""
    async with _processes(redis_session.url, [[], ["A"], []]) as (me, *_):
        replies = await me.ask(
            {"op": "ears", "seats": ["A", "C"]},
            wait=0.3,
            enough=lambda got: {"A", "C"} <= {k for r in got for k in r["seats"]},
        )
    assert sorted(k for r in replies for k in r["seats"]) == ["A"]
    assert len(replies) == 2  # the process holding nothing answered too, and was waited past
