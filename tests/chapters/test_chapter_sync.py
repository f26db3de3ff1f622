"""Encrypted chapter sync, hub to seat, on the real hub app (SQLite and PostgreSQL) and real
``SeatLink`` websockets: release, full sync, decryption, resume after a dropped link and after
an agent restart (no stored chunk asked for again), another seat's chunk refused, a chunk
tampered with on disk found and fetched again, and the wipe at the session's end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.api.seat_link import CHAPTERS, SEAT_HUB
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from seat_agent.chapter_files import open_chapter_file
from seat_agent.chapters import ChapterCache
from seat_agent.connection import SeatLink
from seat_agent.errors import ChapterNotReady
from seat_protocol.chapter_crypto import chapter_context
from seat_protocol.events import ChunkReceived, MessageReceived
from seat_protocol.messages import (
    AppMessage,
    ChapterManifest,
    ChunkRequest,
    ErrorNotice,
    ManifestChapter,
    SessionStateNotice,
)
from tests.chapters.helpers import (
    Client,
    Send,
    complete,
    release_finding,
    seated_session,
    shuffle_of,
    start_seat,
    until,
)
from tests.conftest import FakeClock
from tests.evaluation.helpers import demo_package, identities
from tests.hub.helpers import login, problem

A, B = "QJ.QJ-01", "QJ.QJ-02"


def _chapter_files(root: Path) -> set[str]:
    """The chapters on the seat's disk (whole, synced): one file each, named by its hash."""
    return {p.name for p in (root / "chapters" / "sealed").iterdir()}


def _stored_chunks(root: Path, cache: ChapterCache) -> set[str]:
    """The chunks of the chapters on disk."""
    files = _chapter_files(root)
    return {h for c in cache._chapters if c.sha256 in files for h in c.chunks}


async def test_release_sync_read_and_wipe_at_the_session_end(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path)
    shuffle = await shuffle_of(client, database, hub.sid)
    seat = await start_seat(ids[A])
    # Compatibility: B's agent is of the previous chunk framing (JSON/base64), A's current.
    other = await start_seat(ids[B], previous_framing=True)
    try:
        await until(lambda: seat.link.connections == 1 and other.link.connections == 1, "links")
        channels = client.app[SEAT_HUB].channels
        assert (channels.get(A).chunk_framing, channels.get(B).chunk_framing) == (1, None)
        assert (channels.get(A).peer_version, channels.get(B).peer_version) == (3, 2)
        body = await hub.release()
        assert body["skipped"] == []
        assert [(s["seat_key"], s["expert_code"], s["chapters"], s["delivery"]) for s in body["seats"]] == [
            (A, "E06", 15, "sent"),
            (B, "E07", 15, "sent"),
        ]  # fmt: skip
        await until(lambda: complete(seat) and complete(other), "both seats' chapters")
        # The seat holds back a chunk's ack for company (one ack per run of chunks), but every
        # chunk is acknowledged in the end: the hub keeps none of them for a resend.
        await until(
            lambda: (
                not channels.get(A).outgoing.unacked() and not channels.get(B).outgoing.unacked()
            ),
            "every chunk acknowledged",
        )

        # The expert's order and labels, the rubric chapter's title, the bid's text.
        expected = hub.expected_texts(shuffle, "E06")
        entries = seat.cache.entries()
        assert [e.label for e in entries] == list(expected)
        assert [e.position for e in entries] == list(range(15))
        assert [e.title for e in entries] == [t for t, _ in expected.values()]
        assert all(e.received == e.size and e.complete for e in entries)
        for label, (_, text) in expected.items():
            assert await seat.cache.read(label) == text
        assert [e.label for e in other.cache.entries()] == list(hub.expected_texts(shuffle, "E07"))
        for label, (_, text) in hub.expected_texts(shuffle, "E07").items():
            assert await other.cache.read(label) == text

        # Nothing of a bidder's identity travels in a manifest; the disk holds ciphertext only.
        [manifest] = [
            e.message
            for e in seat.events
            if isinstance(e, MessageReceived) and isinstance(e.message, ChapterManifest)
        ]
        wire = json.dumps([c.__dict__ for c in manifest.chapters], ensure_ascii=False, default=list)
        for mark in identities(demo_package()):
            assert mark not in wire
        shown = " ".join(f"{c.label} {c.title}" for c in manifest.chapters)
        for bidder in demo_package().bidder_ids:
            assert bidder not in shown
        root = ids[A].state_dir
        files = _chapter_files(root)
        assert files == {c.sha256 for c in manifest.chapters}
        stored = {h for c in manifest.chapters for h in c.chunks}
        disk = b"".join((root / "chapters" / "sealed" / h).read_bytes() for h in files)
        some_text = next(iter(expected.values()))[1]
        assert some_text[:20].encode() not in disk
        # Each chunk was asked for exactly once; the seats' chapters are disjoint.
        asked = [h for k, h in hub.requested if k == A]
        assert sorted(asked) == sorted(stored)
        assert files.isdisjoint(_chapter_files(ids[B].state_dir))

        # Another seat's key cannot open this seat's chapter.
        first = manifest.chapters[0]
        path = root / "chapters" / "sealed" / first.sha256
        context = chapter_context(str(hub.sid), A, first.label, first.position)
        assert open_chapter_file(path, first, ids[A].x25519, context).text is not None
        elsewhere = open_chapter_file(path, first, ids[B].x25519, context)
        assert (elsewhere.text, elsewhere.damaged) == (None, False)  # whole, not for B's key
        assert "cannot be opened with this seat's key" in elsewhere.error

        # Released once, recorded once, without texts or bidders.
        async with database.read() as s:
            [event] = [e for e in await load_chain(s) if e.kind == "session.chapters_released"]
        assert (event.subject, event.actor) == (f"session:{hub.sid}", "km_operator")
        assert event.payload == {
            "release": 1,
            "seats": [
                {"seat_key": A, "expert": "E06", "chapters": 15},
                {"seat_key": B, "expert": "E07", "chapters": 15},
            ],
            "skipped": [],
        }

        # The session is sealed: the hub says so and every cached byte goes.
        heard: list[int] = []
        seat.cache.add_listener(lambda: heard.append(len(seat.cache.entries())))
        notice = SessionStateNotice(session_id=str(hub.sid), state="sealed", at=1.0)
        assert await client.app[SEAT_HUB].send(A, notice) is True
        await until(lambda: seat.cache.entries() == [], "the wipe")
        assert heard[-1] == 0
        assert list((root / "chapters").rglob("*")) == [root / "chapters" / "sealed"]
        with pytest.raises(ChapterNotReady) as err:
            await seat.cache.read(next(iter(expected)))
        assert (
            str(err.value) == f"章节「{next(iter(expected))}」不在本工位的评审材料中，或材料已清除"
        )
        # A notice for another session leaves the other seat's cache alone; an explicit wipe
        # clears it.
        await client.app[SEAT_HUB].send(
            B, SessionStateNotice(session_id="other-session", state="archived", at=2.0)
        )
        await client.app[SEAT_HUB].send(
            B, SessionStateNotice(session_id=str(hub.sid), state="evaluating", at=2.0)
        )
        await until(
            lambda: sum(isinstance(e, MessageReceived) for e in other.events) >= 3, "notices"
        )
        assert complete(other)
        await other.cache.wipe()
        assert other.cache.entries() == [] and _chapter_files(ids[B].state_dir) == set()
    finally:
        await seat.stop()
        await other.stop()


async def test_the_sessions_end_wipes_every_seat_and_the_hubs_chunks(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    # Nobody sends a notice by hand here: the session's own move is what the seats hear.
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path)
    seat = await start_seat(ids[A])
    other = await start_seat(ids[B])
    try:
        await until(lambda: seat.link.connections == 1 and other.link.connections == 1, "links")
        await hub.release()
        await until(lambda: complete(seat) and complete(other), "both seats' chapters")
        held = client.app[CHAPTERS]
        assert held.held_bytes > 0
        # B's agent is down when the session ends.
        await other.stop()
        host = await login(client, "km_operator")
        resp = await client.post(
            f"/api/sessions/{hub.sid}/actions",
            json={"action": "cancel", "reason": "招标人决定终止本次评标"},
            headers=host,
        )
        assert resp.status == 200, await resp.text()

        await until(lambda: seat.cache.entries() == [], "the connected seat's wipe")
        assert _chapter_files(ids[A].state_dir) == set()
        notices = [
            (e.message.session_id, e.message.state)
            for e in seat.events
            if isinstance(e, MessageReceived) and isinstance(e.message, SessionStateNotice)
        ]
        assert notices[-1] == (str(hub.sid), "cancelled")
        # The hub holds nothing of the session any more.
        assert held.held_bytes == 0
        assert held.manifest(A) is None and held.manifest(B) is None

        # B still has its encrypted cache on disk; it is wiped as soon as B is back.
        assert _chapter_files(ids[B].state_dir) != set()
        other = await start_seat(ids[B])
        assert other.cache.entries() != []
        await until(lambda: other.cache.entries() == [], "the returning seat's wipe")
        assert _chapter_files(ids[B].state_dir) == set()
    finally:
        await seat.stop()
        await other.stop()


async def test_a_dropped_link_and_an_agent_restart_resume_without_fetching_stored_chunks(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path, enrol=(A[3:],))
    shuffle = await shuffle_of(client, database, hub.sid)
    requests = 0
    resumed: list[AppMessage] = []
    hold = asyncio.Event()

    def dropping(link: SeatLink, send: Send) -> Send:
        async def wrapped(msg: AppMessage) -> object:
            nonlocal requests
            requests += 1
            if requests == 4 and link.socket is not None:
                # The network fails in the middle of the sync; the request still goes on the
                # channel and is resent after the reconnect.
                link.socket.transport.abort()
            if link.connections >= 2:
                resumed.append(msg)
                if len(resumed) == 3:
                    await hold.wait()  # the agent "hangs" here until the test kills it
            return await send(msg)

        return wrapped

    seat = await start_seat(ids[A], send=dropping)
    try:
        await until(lambda: seat.link.connections == 1, "the link")
        body = await hub.release()
        assert body["seats"][0]["delivery"] == "sent"
        assert body["skipped"] == [{"seat_key": B, "expert_code": "E07", "reason": "工位终端尚未登记或登记未获批准，无法为其加密章节"}]  # fmt: skip
        await until(lambda: len(resumed) >= 3, "three chunk requests after the reconnect")
        assert seat.link.connections == 2
    finally:
        await seat.kill()  # mid-sync
        # The dead agent's chapter writes in flight end (in a real kill they end with the
        # process, leaving a .tmp file at most) before the new agent opens the directory.
        await seat.cache.settled()
    # Across the drop, no chunk was asked for twice.
    asked = [h for _, h in hub.requested]
    assert len(asked) == len(set(asked))
    stored = _stored_chunks(ids[A].state_dir, seat.cache)
    total = {h for e in seat.cache.entries() for h in _hashes(seat.cache, e.label)}
    assert 0 < len(stored) < len(total)

    # A new agent process: the whole chapters on disk count, only the rest is asked for (the
    # chunks of a chapter cut off by the kill were in memory only: that chapter comes again).
    before = len(hub.requested)
    restarted = await start_seat(ids[A])
    try:
        entries = restarted.cache.entries()
        files = _chapter_files(ids[A].state_dir)
        assert [e.complete for e in entries] == [
            c.sha256 in files for c in sorted(seat.cache._chapters, key=lambda c: c.position)
        ]
        assert sum(e.received for e in entries) == sum(e.size for e in entries if e.complete)
        await until(lambda: complete(restarted), "the rest of the chapters")
        after = [h for _, h in hub.requested[before:]]
        assert stored.isdisjoint(after)
        # The rest came asked for, or resent by the protocol (chunks the dead agent had not
        # acknowledged), never asked for: no chunk of a chapter already on disk was asked for.
        received = {e.sha256 for e in restarted.events if isinstance(e, ChunkReceived)}
        assert set(after) <= received
        assert received | stored == total
        for label, (_, text) in hub.expected_texts(shuffle, "E06").items():
            assert await restarted.cache.read(label) == text
    finally:
        await restarted.stop()


def _chapter_of(cache: ChapterCache, label: str) -> ManifestChapter:
    [chapter] = [c for c in cache._chapters if c.label == label]
    return chapter


def _hashes(cache: ChapterCache, label: str) -> tuple[str, ...]:
    return _chapter_of(cache, label).chunks


async def test_another_seats_chunk_is_refused_and_a_tampered_chunk_is_fetched_again(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path)
    shuffle = await shuffle_of(client, database, hub.sid)
    seat = await start_seat(ids[A])
    other = await start_seat(ids[B])
    try:
        await until(lambda: seat.link.connections == 1 and other.link.connections == 1, "links")
        await hub.release()
        await until(lambda: complete(seat) and complete(other), "both seats' chapters")

        # Seat B asks for one of seat A's chunks: refused whole, nothing sent or stored.
        theirs = sorted(_stored_chunks(ids[A].state_dir, seat.cache))[0]
        theirs_not_b = _chapter_files(ids[B].state_dir)
        served = len(hub.requested)
        await other.link.send(ChunkRequest(chunks=(theirs,)))

        def refusal() -> ErrorNotice | None:
            for e in other.events:
                if isinstance(e, MessageReceived) and isinstance(e.message, ErrorNotice):
                    return e.message
            return None

        await until(lambda: refusal() is not None, "the refusal")
        notice = refusal()
        assert notice is not None
        assert (notice.code, notice.message, notice.ref) == (
            "chunk-not-in-manifest",
            "请求的章节数据不属于本工位的评审材料，已拒绝",
            theirs,
        )
        assert len(hub.requested) == served
        assert _chapter_files(ids[B].state_dir) == theirs_not_b

        # A chapter altered on seat A's disk: reading finds it, deletes it and fetches it again.
        expected = hub.expected_texts(shuffle, "E06")
        label = next(iter(expected))
        victim = _hashes(seat.cache, label)[0]
        path = ids[A].state_dir / "chapters" / "sealed" / _chapter_of(seat.cache, label).sha256
        data = bytearray(path.read_bytes())
        data[-1] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(ChapterNotReady) as err:
            await seat.cache.read(label)
        assert (
            str(err.value) == f"章节「{label}」的本地缓存校验未通过，已自动重新下载，请稍候再打开"
        )
        await until(lambda: complete(seat), "the chunk fetched again")
        assert [h for k, h in hub.requested if k == A].count(victim) == 2
        assert await seat.cache.read(label) == expected[label][1]
    finally:
        await seat.stop()
        await other.stop()

    # Damage found while the agent was down: opening the cache drops the chapter.
    path = ids[A].state_dir / "chapters" / "sealed" / _chapter_of(seat.cache, label).sha256
    path.write_bytes(b"not the chapter")
    reopened = await ChapterCache.open(ids[A].state_dir, ids[A])
    [entry] = [e for e in reopened.entries() if e.label == label]
    assert not entry.complete and not path.exists()
    with pytest.raises(ChapterNotReady) as err:
        await reopened.read(label)
    assert str(err.value).startswith(f"章节「{label}」尚未下载完成（已接收 ")


async def test_release_refusals_and_late_delivery(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(
        client, seeded, database, clock, tmp_path, enrol=(A[3:],), override=False
    )
    url = f"/api/sessions/{hub.sid}/chapters"
    # The engine's own refusal: a chapter with identifying marks and no recorded reason.
    data = await problem(await client.post(url, headers=hub.host), 409)
    assert data["detail"] == (
        "尚有 1 个章节含识别标记且未记录放行理由，不能向专家发放：b03/ch2（4 处）"
    )
    await release_finding(client, hub.host, hub.sid)
    qj = await login(client, "qj_admin")
    data = await problem(await client.post(url, headers=qj), 403)
    assert data["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以向工位发放评标会 #{hub.sid} 的章节，"
        "当前用户 qj_admin（场地管理员）无此权限"
    )
    data = await problem(await client.post("/api/sessions/9999/chapters", headers=hub.host), 404)
    assert data["detail"] == "评标会 #9999 不存在"

    # Released before the seat ever connected: delivered when it connects.
    body = await hub.release()
    assert [(s["seat_key"], s["delivery"]) for s in body["seats"]] == [(A, "waiting")]
    seat = await start_seat(ids[A])
    try:
        await until(lambda: complete(seat), "the late delivery")
        asked = len(hub.requested)

        # Releasing again (as after a hub restart) yields the same chunks under a freshly
        # wrapped key: the seat takes the new manifest and asks for nothing.
        body = await hub.release()
        assert [(s["seat_key"], s["delivery"]) for s in body["seats"]] == [(A, "sent")]

        def manifests() -> list[ChapterManifest]:
            return [
                e.message
                for e in seat.events
                if isinstance(e, MessageReceived) and isinstance(e.message, ChapterManifest)
            ]

        await until(lambda: len(manifests()) == 2, "the second manifest")
        first, second = manifests()
        assert [c.chunks for c in first.chapters] == [c.chunks for c in second.chapters]
        assert [c.wrapped_key for c in first.chapters] != [c.wrapped_key for c in second.chapters]
        assert complete(seat) and len(hub.requested) == asked
        label = seat.cache.entries()[0].label
        assert await seat.cache.read(label)  # opens with the new wrapped key
    finally:
        await seat.stop()
    assert client.app is not None
    kept = client.app[CHAPTERS].manifest(A)
    assert kept is not None and kept.chapters == second.chapters

    # Sealed sessions release nothing.
    async with database.write() as s:
        from evaluation_hub.db.models import EvaluationSession

        row = await s.get(EvaluationSession, hub.sid)
        assert row is not None
        row.state = "sealed"
    data = await problem(await client.post(url, headers=hub.host), 409)
    assert data["detail"] == (
        f"评标会 #{hub.sid} 当前状态不能发放章节，只有签到中、评审中、偏离复核中或已暂停时可以发放"
    )
