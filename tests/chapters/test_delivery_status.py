"""Chapter delivery per seat and release (``GET /api/sessions/{id}/chapters``), on the real hub
app and real seat links: sent when the manifest is handed to the seat's channel (at the release,
or when an offline seat connects), received when its last chunk went, verified when the seat
says it opened every chapter of exactly that manifest; a re-release of unchanged material is
received at once; a seat that cannot open its chapters is shown with their labels; a seat with
no approved terminal is shown as skipped; what a seat says about a manifest it was never sent
changes nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.api.seat_link import CHAPTERS
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.deliveries import manifest_digest, record_chapter_status
from seat_protocol.messages import ChapterManifest, ChapterStatus, ManifestChapter
from tests.chapters.helpers import Client, Hub, seated_session, start_seat, until
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem

A, B = "QJ.QJ-01", "QJ.QJ-02"
H = [f"{n:064x}" for n in range(1, 5)]


async def _board(hub: Hub) -> dict[str, Any]:
    resp = await hub.client.get(f"/api/sessions/{hub.sid}/chapters", headers=hub.host)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def _seat(hub: Hub, key: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in (await _board(hub))["seats"] if s["seat_key"] == key]
    [seat] = found
    return seat


async def _until_status(hub: Hub, key: str, status: str) -> dict[str, Any]:
    """The seat's row once it shows ``status``; the bound only turns a hang into a failure."""
    seen: dict[str, Any] = {}
    for _ in range(2000):
        seen = await _seat(hub, key)
        if seen["status"] == status:
            return seen
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} never reached {status}: {seen}")


async def _kinds(database: Database, sid: int) -> list[tuple[str, dict[str, Any]]]:
    async with database.read() as s:
        return [
            (e.kind, e.payload)
            for e in await load_chain(s)
            if e.subject == f"session:{sid}" and e.kind.startswith("chapters.")
        ]


async def test_sent_received_verified_per_seat_and_release(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path)
    seat = await start_seat(ids[A])  # B's terminal is off
    other = None
    try:
        await until(lambda: seat.link.connections == 1, "A's link")
        board = await _board(hub)
        assert (board["releases"], [s["status_name"] for s in board["seats"]]) == (
            0,
            ["未发放", "未发放"],
        )
        body = await hub.release()
        assert body["seats"][1]["delivery"] == "waiting"
        a = await _until_status(hub, A, "verified")
        t0 = "2026-11-30T01:00:00+00:00"
        assert a == {
            "seat_key": A,
            "venue_name": "曲靖市公共资源交易中心",
            "expert": "E06",
            "seated": True,
            "checked_in": False,
            "release": 1,
            "status": "verified",
            "status_name": "已校验",
            "chapters": 15,
            "skipped": None,
            "failed": [],
            "released_at": t0,
            "sent_at": t0,
            "received_at": t0,
            "verified_at": t0,
        }
        b = await _seat(hub, B)
        assert (b["status"], b["status_name"], b["sent_at"]) == ("waiting", "待工位连接", None)
        # Every chunk asked for once, all of them: received, then the seat's word.
        kinds = await _kinds(database, hub.sid)
        assert sorted(k for k, _ in kinds) == [
            "chapters.received",
            "chapters.sent",
            "chapters.verified",
        ]
        assert dict(kinds)["chapters.verified"] == {
            "seat_key": A,
            "expert": "E06",
            "release": 1,
            "chapters": 15,
        }
        assert dict(kinds)["chapters.sent"] == {"release": 1, "seats": [A], "received": []}

        # B's terminal comes on: its waiting manifest is handed over on connection, then the
        # same steps.
        clock.advance(minutes=1)
        other = await start_seat(ids[B])
        b = await _until_status(hub, B, "verified")
        t1 = "2026-11-30T01:01:00+00:00"
        assert (b["release"], b["released_at"], b["sent_at"], b["verified_at"]) == (1, t0, t1, t1)

        # A re-release of the same material: both seats hold every chunk already, so it is
        # received as it is sent, and no chunk is asked for again.
        asked = len(hub.requested)
        clock.advance(minutes=1)
        body = await hub.release()
        assert [s["delivery"] for s in body["seats"]] == ["sent", "sent"]
        t2 = "2026-11-30T01:02:00+00:00"
        for key in (A, B):
            again = await _until_status(hub, key, "verified")
            assert (again["release"], again["sent_at"], again["received_at"]) == (2, t2, t2)
        assert len(hub.requested) == asked
        assert (await _board(hub))["releases"] == 2
        last_sent = [p for k, p in await _kinds(database, hub.sid) if k == "chapters.sent"][-1]
        assert last_sent == {"release": 2, "seats": [A, B], "received": [A, B]}
    finally:
        await seat.stop()
        if other is not None:
            await other.stop()


async def test_a_seat_that_cannot_open_its_chapters_is_shown_with_their_labels(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path)
    # The terminal lost its chapter key (a reinstall without re-enrolment): it still signs in,
    # but no chapter sealed for the enrolled key opens.
    broken = dataclasses.replace(ids[A], x25519=X25519PrivateKey.generate())
    seat = await start_seat(broken)
    try:
        await until(lambda: seat.link.connections == 1, "A's link")
        await hub.release()
        a = await _until_status(hub, A, "failed")
        assert client.app is not None
        manifest = client.app[CHAPTERS].manifest(A)
        assert manifest is not None
        labels = [c.label for c in sorted(manifest.chapters, key=lambda c: c.position)]
        assert (a["status_name"], a["failed"], a["verified_at"]) == ("校验失败", labels, None)
        [payload] = [p for k, p in await _kinds(database, hub.sid) if k == "chapters.unverified"]
        assert payload == {
            "seat_key": A,
            "expert": "E06",
            "release": 1,
            "chapters": 15,
            "failed": labels,
        }
    finally:
        await seat.stop()


async def test_a_seat_without_an_approved_terminal_is_shown_as_skipped(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, _ = await seated_session(client, seeded, database, clock, tmp_path, enrol=("QJ-01",))
    body = await hub.release()
    assert [s["seat_key"] for s in body["skipped"]] == [B]
    b = await _seat(hub, B)
    assert (b["release"], b["status"], b["status_name"], b["chapters"], b["skipped"]) == (
        1,
        "skipped",
        "未能发放",
        0,
        "工位终端尚未登记或登记未获批准，无法为其加密章节",
    )


async def test_material_prepared_for_another_expert_is_not_the_new_experts(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, _ = await seated_session(client, seeded, database, clock, tmp_path)
    await hub.release()  # no terminal is connected: both wait
    assert [(s["expert"], s["status"]) for s in (await _board(hub))["seats"]] == [
        ("E06", "waiting"),
        ("E07", "waiting"),
    ]
    # E05 takes QJ-01: what was prepared there was E06's, so nothing is released to E05 yet.
    booking = await (
        await client.get(f"/api/bookings?session_id={hub.sid}", headers=hub.host)
    ).json()
    [qujing] = [b for b in booking if b["seats"] and b["seats"][0]["label"] == "QJ-01"]
    resp = await client.post(
        f"/api/bookings/{qujing['id']}/seats/{seeded['seats']['QJ-01']}/expert",
        json={"expert_id": seeded["experts"]["E05"]},
        headers=hub.host,
    )
    assert resp.status == 204, await resp.text()
    a = await _seat(hub, A)
    assert (a["expert"], a["release"], a["status"], a["status_name"]) == (
        "E05",
        None,
        "not_released",
        "未发放",
    )


async def test_what_a_seat_says_about_a_manifest_it_was_not_sent_changes_nothing(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, _ = await seated_session(client, seeded, database, clock, tmp_path)
    await hub.release()  # no terminal is connected: both wait
    assert client.app is not None
    services = client.app[SERVICES]
    manifest = client.app[CHAPTERS].manifest(A)
    assert manifest is not None
    before = await _kinds(database, hub.sid)
    now = clock()
    forged = ChapterStatus(
        session_id=str(hub.sid), manifest="0" * 64, chapters=15, verified=15, failed=()
    )
    assert await record_chapter_status(services, A, forged, now=now) is False
    # B speaking of A's manifest is not A's word.
    real = ChapterStatus(
        session_id=str(hub.sid),
        manifest=manifest_digest(manifest),
        chapters=15,
        verified=15,
        failed=(),
    )
    assert await record_chapter_status(services, B, real, now=now) is False
    assert await _kinds(database, hub.sid) == before
    assert [s["status"] for s in (await _board(hub))["seats"]] == ["waiting", "waiting"]
    # A's own word is recorded once; a repeat writes nothing.
    assert await record_chapter_status(services, A, real, now=now) is True
    assert await record_chapter_status(services, A, real, now=now) is True
    kinds = [k for k, _ in await _kinds(database, hub.sid)]
    assert kinds[len(before) :] == ["chapters.verified"]
    assert (await _seat(hub, A))["status"] == "verified"


async def test_the_board_is_for_those_who_may_see_the_session(
    client: Client, seeded: dict[str, Any]
) -> None:
    sid = int(seeded["session"])
    url = f"/api/sessions/{sid}/chapters"
    resp = await client.get(url, headers=await login(client, "dl_admin"))
    assert (await problem(resp, 403))["detail"] == f"评标会 #{sid} 不由本场地主办，无权查看"
    resp = await client.get(url, headers=await login(client, "km_supervisor"))
    assert resp.status == 200
    assert await resp.json() == {"session_id": sid, "releases": 0, "seats": []}


def _manifest(chunks: tuple[str, ...], session: str = "7") -> ChapterManifest:
    chapter = ManifestChapter(
        label="ch1-AB", position=0, sha256=H[0], size=4, wrapped_key="a2V5", chunks=chunks
    )
    return ChapterManifest(session_id=session, chapters=(chapter,))


def test_the_last_chunk_handed_over_completes_the_manifest_once() -> None:
    chunks = ChapterChunks()
    first = _manifest((H[1], H[2]))
    chunks.put(A, first, {H[1]: b"1", H[2]: b"2"})
    assert chunks.served(A, H[1]) is None
    assert chunks.served(B, H[2]) is None  # another seat's request says nothing about A
    assert chunks.served(A, H[2]) == first
    assert chunks.served(A, H[2]) is None  # told once
    assert chunks.completed(A) is None
    # A new manifest naming chunks A already has: only the new one is missing.
    second = _manifest((H[2], H[3]))
    chunks.put(A, second, {H[2]: b"2", H[3]: b"3"})
    assert chunks.completed(A) is None
    assert chunks.served(A, H[3]) == second
    # The same material again: complete as soon as it is put.
    chunks.put(A, second, {H[2]: b"2", H[3]: b"3"})
    assert chunks.completed(A) == second
    assert chunks.forget_session("7") == [A]
    assert chunks.completed(A) is None
