"""Push to talk across hub processes: two hub apps on one PostgreSQL database and a real Redis
bus, seats' talk-back connections held by one process or the other. A speaker (an aiortc peer
sending a tone, as the browser sends its microphone) whose request lands on the other process
than the seat's is heard by the seat; "all seats" reaches the seats of both processes through
one request; the turn is ended by a request landing on either process, and each turn is stored
and audited once, with the seats it reached on every process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.api.talkback import VOICE, VOICE_RELAY
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.live.conftest import Rig, eventually, two_running_rigs
from tests.talkback.test_voice import listening_seat, offer_to_speak


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
async def two_rigs(
    database: Database, tmp_path: Path, clock: FakeClock, loopback: None, redis_url: str
) -> AsyncIterator[tuple[Rig, Rig]]:
    async with two_running_rigs(database, tmp_path, clock, redis_url) as rigs:
        for rig in rigs:
            rig.app[VOICE_RELAY].ask_timeout = 2.0
        yield rigs


async def _end(rig: Rig, user: str, talk_id: int, status: int) -> dict[str, Any]:
    headers = await rig.login(user)
    async with rig.http.delete(f"{rig.base}/api/talkback/voice/{talk_id}", headers=headers) as r:
        assert r.status == status, await r.text()
        body: dict[str, Any] = await r.json()
    return body


async def test_a_speaker_on_one_process_is_heard_by_seats_on_the_other(
    two_rigs: tuple[Rig, Rig],
) -> None:
    one, two = two_rigs
    sid, seats = one.ids["session"], one.ids["seats"]
    async with (
        listening_seat(one, "DL-01", "DL") as dl01,
        listening_seat(two, "QJ-01", "QJ") as qj01,
    ):
        assert one.app[VOICE].listening("DL.DL-01") and not two.app[VOICE].listening("DL.DL-01")
        assert two.app[VOICE].listening("QJ.QJ-01") and not one.app[VOICE].listening("QJ.QJ-01")

        # 大理's supervisor, on the second process, to 大理's seat held by the first.
        speaker, started = await offer_to_speak(
            two, "dl_supervisor", {"seat_id": seats["DL-01"]}, 201
        )
        try:
            assert (started["seats"], started["listening"]) == (["DL.DL-01"], ["DL.DL-01"])
            await eventually(lambda: dl01.frames >= 25, "the seat decoded half a second of voice")
            assert qj01.frames == 0
            # Released: the request lands on the first process; the second ends its turn.
            await _end(one, "km_supervisor", started["talk_id"], 403)
            ended = await _end(one, "dl_supervisor", started["talk_id"], 200)
            assert ended["talk_id"] == started["talk_id"] and ended["frames"] > 0
            await _end(two, "dl_supervisor", started["talk_id"], 404)
        finally:
            await speaker.close()

        # The host site's supervisor, on the first process, to every seat of the session.
        heard = dl01.frames, qj01.frames
        speaker, to_all = await offer_to_speak(one, "km_supervisor", {}, 201)
        try:
            assert {"DL.DL-01", "QJ.QJ-01"} <= set(to_all["seats"])
            assert sorted(to_all["listening"]) == ["DL.DL-01", "QJ.QJ-01"]
            await eventually(
                lambda: dl01.frames >= heard[0] + 25 and qj01.frames >= heard[1] + 25,
                "both seats decoded half a second of voice",
            )
            ended = await _end(two, "km_supervisor", to_all["talk_id"], 200)
            assert ended["frames"] > 0
        finally:
            await speaker.close()
        # Nothing is left open on either process, relayed or not.
        for rig in (one, two):
            assert not rig.app[VOICE_RELAY]._legs and not rig.app[VOICE]._turns

    async with one.db.read() as s:
        events = (
            (
                await s.execute(
                    select(AuditEventRow)
                    .where(AuditEventRow.kind.like("talkback.voice%"))
                    .order_by(AuditEventRow.seq)
                )
            )
            .scalars()
            .all()
        )
        chain = await load_chain(s)
    assert verify(chain, [], Ed25519PrivateKey.generate().public_key()).ok
    # Once per turn, whichever processes it went through.
    assert [(e.kind, e.actor, e.subject, e.payload["talk_id"]) for e in events] == [
        ("talkback.voice_started", "dl_supervisor", f"session:{sid}", started["talk_id"]),
        ("talkback.voice_ended", "dl_supervisor", f"session:{sid}", started["talk_id"]),
        ("talkback.voice_started", "km_supervisor", f"session:{sid}", to_all["talk_id"]),
        ("talkback.voice_ended", "km_supervisor", f"session:{sid}", to_all["talk_id"]),
    ]
    assert events[0].payload["listening"] == ["DL.DL-01"]
    assert events[1].payload["reached"] == ["DL.DL-01"]
    assert (events[2].payload["to"], sorted(events[2].payload["listening"])) == (
        "all",
        ["DL.DL-01", "QJ.QJ-01"],
    )
    assert events[3].payload["reached"] == ["DL.DL-01", "QJ.QJ-01"]


async def test_a_relayed_turn_ends_with_the_connection_of_the_process_relaying_it(
    two_rigs: tuple[Rig, Rig],
) -> None:
    one, two = two_rigs
    async with listening_seat(one, "DL-01", "DL") as dl01:
        speaker, started = await offer_to_speak(
            two, "km_supervisor", {"seat_id": one.ids["seats"]["DL-01"]}, 201
        )
        try:
            await eventually(lambda: dl01.frames >= 5, "the seat hears the relayed turn")
            [relayed] = one.app[VOICE]._turns.values()
            assert relayed.talk_id is None and relayed.seat_keys == ("DL.DL-01",)
            # The relaying process's side goes (as when it dies): the seat's process closes
            # its relayed turn by itself, nothing is left forwarding there.
            [leg] = two.app[VOICE_RELAY]._legs[two.app[VOICE].stored_turn(started["talk_id"]).id]
            await leg.pc.close()
            await eventually(lambda: not one.app[VOICE]._turns, "the relayed turn closed")
            # The speaker still ends their turn, recorded once.
            ended = await _end(one, "km_supervisor", started["talk_id"], 200)
            assert ended["frames"] > 0
        finally:
            await speaker.close()
    assert not two.app[VOICE]._turns and not two.app[VOICE_RELAY]._legs
