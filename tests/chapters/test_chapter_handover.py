"""Chapters from any hub process: two hub apps on one PostgreSQL database and a real Redis bus.
A release through one reaches a seat connected to the other (which re-derives the chunks and
serves them), and a seat that moves to the other process afterwards is handed its manifest
there and asks for nothing it holds; a message a use case of one process pushes to a seat
connected to the other is routed there."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.api.keys import SERVICES
from evaluation_hub.api.seat_link import CHAPTERS
from evaluation_hub.audit.store import load_chain
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from seat_protocol.events import MessageReceived
from seat_protocol.messages import ChapterManifest, SessionStateNotice
from tests.chapters.helpers import (
    CHUNK_SIZE,
    Client,
    complete,
    seated_session,
    shuffle_of,
    start_seat,
    until,
)
from tests.chapters.test_delivery_status import _until_status
from tests.conftest import FakeClock

A, B = "QJ.QJ-01", "QJ.QJ-02"


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
async def two_hubs(
    database: Database, clock: FakeClock, tmp_path: Path, redis_url: str
) -> AsyncIterator[tuple[Client, Client]]:
    clients: list[Client] = []
    for name in ("one", "two"):
        config = HubConfig(
            database_url=database.url,
            redis_url=redis_url,
            token_secret="t" * 40,
            sealing_key_file=tmp_path / "sealing.key",
            hub_key_file=tmp_path / "hub-key.pem",
            recordings_dir=tmp_path / f"recordings-{name}",
            state_dir=tmp_path / f"state-{name}",
        )
        app = create_app(config, db=database, clock=clock, sweep=False)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        client.app[CHAPTERS].chunk_size = CHUNK_SIZE
        clients.append(client)
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()


def _manifests(events: list[Any]) -> list[ChapterManifest]:
    return [
        e.message
        for e in events
        if isinstance(e, MessageReceived) and isinstance(e.message, ChapterManifest)
    ]


async def test_a_release_through_one_process_reaches_a_seat_connected_to_the_other(
    two_hubs: tuple[Client, Client],
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    one, two = two_hubs
    hub, ids = await seated_session(one, seeded, database, clock, tmp_path)
    shuffle = await shuffle_of(one, database, hub.sid)
    to_two = f"ws://127.0.0.1:{two.server.port}/ws/seat"
    seat = await start_seat(dataclasses.replace(ids[A], hub_url=to_two))
    other = await start_seat(ids[B])  # connected to the releasing process
    try:
        await until(lambda: seat.link.connections == 1 and other.link.connections == 1, "links")
        body = await hub.release()
        # Not connected to the releasing process: announced, and handed over by the other.
        assert [(s["seat_key"], s["delivery"]) for s in body["seats"]] == [
            (A, "waiting"),
            (B, "sent"),
        ]
        await until(lambda: complete(seat) and complete(other), "both seats' chapters")
        for label, (_, text) in hub.expected_texts(shuffle, "E06").items():
            assert await seat.cache.read(label) == text
        # A's chunks came from the second process, re-derived there: none was asked of one.
        assert hub.requested and {k for k, _ in hub.requested} == {B}
        held = two.app[CHAPTERS]
        [manifest] = _manifests(seat.events)
        assert (kept := held.manifest(A)) is not None and kept.chapters == manifest.chapters
        assert held.served_chunks == sum(len(c.chunks) for c in manifest.chapters)

        # Each seat's delivery is recorded and verified, whichever process served it.
        assert (await _until_status(hub, A, "verified"))["release"] == 1
        assert (await _until_status(hub, B, "verified"))["release"] == 1
        async with database.read() as s:
            kinds = [
                (e.kind, e.payload.get("seat_key"))
                for e in await load_chain(s)
                if e.kind.startswith("chapters.")
            ]
        assert sorted(kinds, key=str) == sorted(
            [
                ("chapters.sent", None),  # B, by the releasing process
                ("chapters.sent", A),  # A, by the second process
                ("chapters.received", A),
                ("chapters.verified", A),
                ("chapters.verified", B),
            ]
            + ([("chapters.received", B)] if ("chapters.received", B) in kinds else []),
            key=str,
        )

        # The other seat moves to the second process: it is handed the same manifest there and
        # asks for nothing (it holds every chunk).
        [first] = _manifests(other.events)
        await other.kill()
        before = held.served_chunks
        other = await start_seat(dataclasses.replace(ids[B], hub_url=to_two))
        await until(lambda: len(_manifests(other.events)) == 1, "the manifest on the other hub")
        [again] = _manifests(other.events)
        assert (again.session_id, again.chapters) == (first.session_id, first.chapters)
        assert (kept := held.manifest(B)) is not None and kept.chapters == again.chapters
        assert complete(other)
        assert held.served_chunks == before
        assert (await _until_status(hub, B, "verified"))["release"] == 1

        # A use case of the first process pushing to a seat connected to the second: routed
        # over the bus, delivered there.
        notice = SessionStateNotice(session_id="999", state="sealed", at=1.0)
        assert await one.app[SERVICES].seats.send(A, notice) is True
        await until(
            lambda: any(
                isinstance(e, MessageReceived) and e.message == notice.with_seq(e.message.seq)
                for e in seat.events
            ),
            "the routed notice",
        )
    finally:
        await seat.stop()
        await other.stop()
